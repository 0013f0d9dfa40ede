from rest_framework import serializers

from jobs.serializers import JobSerializer
from predictions.models import DriftReport, ModelVersion, Prediction, PredictionRun


class ModelVersionSerializer(serializers.ModelSerializer):
    snapshot_name = serializers.CharField(source="snapshot.name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    label_sets = serializers.SlugRelatedField(slug_field="number", many=True, read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "algorithm",
            "target",
            "status",
            "metrics",
            "interval",
            "params",
            "features",
            "options",
            "snapshot",
            "snapshot_name",
            "label_sets",
            "training_job",
            "artifact",
            "sha256",
            "code_version",
            "library_versions",
            "training_seconds",
            "training_rows",
            "promoted_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class TrainInputSerializer(serializers.Serializer):
    target = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="disparity_ece18_4p (default), disparity_ece19_2s or dropout",
    )
    snapshot = serializers.IntegerField(required=False, help_text="feature table; default: Línea base nacional")
    algorithms = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=("ridge, random_forest, hist_gradient_boosting, mlp, ensemble (default: all)"),
    )
    options = serializers.JSONField(
        required=False,
        default=dict,
        help_text=("groups ({group: bool}), weighting (reliability|none), fast (bool), n_splits"),
    )


class PromoteInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class RunInputSerializer(serializers.Serializer):
    model = serializers.IntegerField(required=False, help_text="model version; default: the champion")
    snapshot = serializers.IntegerField(required=False, help_text="feature table; default: the model's")


class RunSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    status = serializers.CharField(read_only=True)
    model_algorithm = serializers.CharField(source="model.algorithm", read_only=True)
    target = serializers.CharField(source="model.target", read_only=True)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = PredictionRun
        fields = ["id", "model", "model_algorithm", "target", "snapshot", "status", "job", "summary", "created_at"]
        read_only_fields = fields

    def get_summary(self, run) -> dict:
        """Totals, and per-department figures of the caller's region only."""
        from predictions.services.runs import run_summary_for_user

        request = self.context.get("request")
        return run_summary_for_user(run, request.user if request else None)


class PredictionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = ["ubigeo", "value", "lower", "upper", "rank", "flagged", "observed", "factors"]
        read_only_fields = fields


class DriftReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = DriftReport
        fields = ["id", "model", "snapshot", "psi", "max_psi", "prediction_shift", "created_at"]
        read_only_fields = fields
