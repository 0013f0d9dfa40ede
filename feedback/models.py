from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Feedback(models.Model):
    """What school staff and policy makers say about a prediction or a recommendation for their district."""

    class Subject(models.TextChoices):
        PREDICTION = "prediction", _("Prediction")
        RECOMMENDATION = "recommendation", _("Recommendation")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        NEEDS_INFO = "needs_info", _("More information needed")

    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="feedback")
    author_role = models.CharField(max_length=20, blank=True)
    ubigeo = models.CharField(max_length=6, db_index=True)
    subject = models.CharField(max_length=20, choices=Subject.choices)
    prediction = models.ForeignKey(
        "predictions.Prediction", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    recommendation = models.ForeignKey(
        "recommendations.Recommendation", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    agrees = models.BooleanField(_("agrees with the prediction"), null=True, blank=True)
    observed_value = models.FloatField(_("observed value"), null=True, blank=True)
    observed_source = models.CharField(_("source of the observed value"), max_length=300, blank=True)
    implemented = models.BooleanField(_("implemented"), null=True, blank=True)
    implemented_on = models.DateField(_("implemented on"), null=True, blank=True)
    useful = models.BooleanField(_("useful"), null=True, blank=True)
    observed_change = models.FloatField(_("observed change"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW, db_index=True)
    triage_reason = models.TextField(blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    day = models.DateField(help_text="submission day (Lima time), for one submission per person per item per day")
    anonymised = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "prediction", "day"],
                condition=models.Q(prediction__isnull=False),
                name="one_prediction_feedback_per_day",
            ),
            models.UniqueConstraint(
                fields=["author", "recommendation", "day"],
                condition=models.Q(recommendation__isnull=False),
                name="one_recommendation_feedback_per_day",
            ),
        ]

    def __str__(self):
        return f"{self.get_subject_display()} {self.ubigeo} ({self.status})"


class LabelSet(models.Model):
    """A versioned set of training labels from accepted feedback. Original datasets are never overwritten."""

    number = models.PositiveIntegerField(unique=True)
    target = models.CharField(max_length=40)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self):
        return f"Label set {self.number} ({self.target})"


class Label(models.Model):
    """A training label from accepted feedback: pending until an analyst publishes the next label set."""

    label_set = models.ForeignKey(LabelSet, null=True, blank=True, on_delete=models.PROTECT, related_name="labels")
    target = models.CharField(max_length=40)
    ubigeo = models.CharField(max_length=6)
    value = models.FloatField()
    source = models.CharField(max_length=300, blank=True)
    feedback = models.OneToOneField(Feedback, null=True, on_delete=models.SET_NULL, related_name="label")
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.ubigeo} = {self.value}"


class Experiment(models.Model):
    """A randomised comparison of two recommendation strategies: eligible districts are assigned to arms,
    stratified by department and reproducible from the seed; outcomes come later from new data or feedback."""

    class Strategy(models.TextChoices):
        OPTIMISED = "optimised", _("Optimised plan")
        NEEDIEST_FIRST = "neediest_first", _("Neediest first")

    name = models.CharField(max_length=200)
    plan = models.ForeignKey("recommendations.Plan", on_delete=models.PROTECT, related_name="experiments")
    strategy_a = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.OPTIMISED)
    strategy_b = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.NEEDIEST_FIRST)
    seed = models.PositiveIntegerField()
    scope = models.CharField(max_length=700)
    outcome_dataset = models.CharField(
        max_length=80, blank=True, help_text="dataset slug whose newer versions give the outcome"
    )
    outcome_column = models.CharField(max_length=120, blank=True)
    effect = models.FloatField(
        default=2.0, help_text="difference in mean change (points) the sample size is computed for"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return self.name


class Assignment(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    ubigeo = models.CharField(max_length=6)
    department = models.CharField(max_length=2)
    arm = models.CharField(max_length=1, choices=[("A", "A"), ("B", "B")])
    baseline = models.FloatField(help_text="disparity at the start (observed, else predicted)")
    outcome = models.FloatField(null=True, blank=True)
    outcome_source = models.CharField(max_length=200, blank=True)
    implemented = models.BooleanField(default=False)

    class Meta:
        ordering = ["experiment", "department", "ubigeo"]
        constraints = [models.UniqueConstraint(fields=["experiment", "ubigeo"], name="one_arm_per_district")]

    def __str__(self):
        return f"{self.ubigeo} → {self.arm}"
