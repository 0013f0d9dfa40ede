from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# What each target of predictions/ml/targets.py measures, for pages (the ml package stays free of Django).
TARGET_LABELS = {
    "disparity_ece18_4p": _("pupils of 4th grade of primary below the satisfactory level, ECE 2018"),
    "disparity_ece19_2s": _("pupils of 2nd grade of secondary below the satisfactory level, ECE 2019"),
    "dropout": _("interannual dropout rate"),
}


class ModelVersion(models.Model):
    """A trained model: a database row plus an artifact file, with everything needed to trust and reproduce it."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", _("Candidate")
        CHAMPION = "champion", _("Champion")
        ARCHIVED = "archived", _("Archived")

    algorithm = models.CharField(max_length=40)
    target = models.CharField(max_length=40, db_index=True)
    params = models.JSONField(default=dict)
    features = models.JSONField(default=list)
    options = models.JSONField(default=dict, help_text="feature groups and training options as requested")
    snapshot = models.ForeignKey("datasets.FeatureSnapshot", on_delete=models.PROTECT, related_name="models")
    training_job = models.ForeignKey("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="models")
    metrics = models.JSONField(default=dict, help_text="grouped and K-fold CV, baselines, interval coverage")
    interval = models.JSONField(default=dict, help_text="conformal calibration of the 90% interval")
    out_of_fold = models.JSONField(default=dict, help_text="{ubigeo: [observed, predicted]} from grouped CV")
    artifact = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    code_version = models.CharField(max_length=64)
    library_versions = models.JSONField(default=dict)
    label_sets = models.ManyToManyField("feedback.LabelSet", blank=True, related_name="models")
    training_seconds = models.FloatField(null=True)
    training_rows = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "algorithm"]
        constraints = [
            # A retried training job cannot create a second version of the same algorithm.
            models.UniqueConstraint(fields=["training_job", "algorithm"], name="one_version_per_job_algorithm"),
            # Never two champions for one target, whatever the race.
            models.UniqueConstraint(
                fields=["target"], condition=models.Q(status="champion"), name="one_champion_per_target"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.algorithm} · {self.target}"

    @property
    def target_label(self) -> str:
        return TARGET_LABELS.get(self.target, self.target)

    def grouped(self, metric: str) -> float | None:
        return self.metrics.get("grouped_cv", {}).get(metric)


class PredictionRun(models.Model):
    """Every district scored by one model version: kept, so two runs can be compared."""

    model = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="runs")
    snapshot = models.ForeignKey("datasets.FeatureSnapshot", on_delete=models.PROTECT, related_name="runs")
    job = models.OneToOneField("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="prediction_run")
    summary = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Run #{self.pk} ({self.model})"

    @property
    def status(self) -> str:
        return self.job.status if self.job_id else "queued"


class Prediction(models.Model):
    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="predictions")
    ubigeo = models.CharField(max_length=6)
    value = models.FloatField()
    lower = models.FloatField()
    upper = models.FloatField()
    rank = models.PositiveIntegerField(help_text="1 = highest predicted disparity in the country")
    flagged = models.BooleanField(default=False, db_index=True)
    observed = models.FloatField(null=True, blank=True, help_text="the target where the district has results")
    factors = models.JSONField(default=list, help_text="[{feature, label, value, contribution}], largest first")

    class Meta:
        ordering = ["run", "rank"]
        constraints = [models.UniqueConstraint(fields=["run", "ubigeo"], name="one_prediction_per_district")]

    def __str__(self):
        return f"{self.ubigeo}: {self.value:.1f}"


class DriftReport(models.Model):
    """Population stability index per feature between a model's training snapshot and newer data, and the shift
    of its predictions. Kept, so drift can be followed over time and exported as metrics."""

    model = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="drift_reports")
    snapshot = models.ForeignKey("datasets.FeatureSnapshot", on_delete=models.PROTECT, related_name="+")
    psi = models.JSONField(help_text="{feature: psi}")
    max_psi = models.FloatField()
    prediction_shift = models.JSONField(default=dict, help_text="mean, quantiles and PSI of predictions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Drift of {self.model} ({self.max_psi:.2f})"
