from rest_framework import serializers

from feedback.models import Assignment, Experiment, Feedback, Label, LabelSet
from feedback.services.experiments import EFFECT_RANGE
from feedback.services.submission import SOURCE_MAX, TEXT_MAX


class FeedbackSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Feedback
        fields = [
            "id",
            "ubigeo",
            "subject",
            "prediction",
            "recommendation",
            "agrees",
            "observed_value",
            "observed_source",
            "implemented",
            "implemented_on",
            "useful",
            "observed_change",
            "comment",
            "status",
            "triage_reason",
            "author",
            "author_role",
            "created_at",
            "triaged_at",
        ]
        read_only_fields = fields


class FeedbackInputSerializer(serializers.Serializer):
    ubigeo = serializers.RegexField(r"^\d{6}$")
    subject = serializers.ChoiceField(choices=Feedback.Subject.choices)
    prediction = serializers.IntegerField(required=False, allow_null=True)
    recommendation = serializers.IntegerField(required=False, allow_null=True)
    agrees = serializers.BooleanField(required=False, allow_null=True, default=None)
    observed_value = serializers.FloatField(required=False, allow_null=True, default=None)
    observed_source = serializers.CharField(required=False, allow_blank=True, max_length=SOURCE_MAX, default="")
    implemented = serializers.BooleanField(required=False, allow_null=True, default=None)
    implemented_on = serializers.DateField(required=False, allow_null=True, default=None)
    useful = serializers.BooleanField(required=False, allow_null=True, default=None)
    observed_change = serializers.FloatField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX, default="")


class TriageInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject", "needs_info"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX, default="")


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "target", "ubigeo", "value", "source", "feedback", "label_set", "created_at"]
        read_only_fields = fields


class LabelSetSerializer(serializers.ModelSerializer):
    labels = serializers.IntegerField(source="labels.count", read_only=True)

    class Meta:
        model = LabelSet
        fields = ["id", "number", "target", "note", "labels", "created_at"]
        read_only_fields = fields


class LabelSetInputSerializer(serializers.Serializer):
    target = serializers.CharField(default="disparity_ece18_4p")
    note = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX, default="")


class AssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = ["ubigeo", "department", "arm", "baseline", "outcome", "outcome_source", "implemented"]
        read_only_fields = fields


class ExperimentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "plan",
            "strategy_a",
            "strategy_b",
            "seed",
            "scope",
            "outcome_dataset",
            "outcome_column",
            "effect",
            "started_at",
            "report",
        ]
        read_only_fields = fields


class ExperimentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    plan = serializers.IntegerField()
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    outcome_dataset = serializers.CharField(required=False, allow_blank=True, default="ece-resultados-distritales")
    outcome_column = serializers.CharField(required=False, allow_blank=True, default="")
    effect = serializers.FloatField(
        required=False,
        min_value=EFFECT_RANGE[0],
        max_value=EFFECT_RANGE[1],
        default=2.0,
        help_text="points of disparity to detect",
    )
