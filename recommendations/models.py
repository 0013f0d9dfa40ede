from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Intervention(models.Model):
    """A costed improvement the platform can recommend, with how it changes a district and what it costs.

    `effects` change model features ([{feature, op, value}], op: at_least | add | multiply), so the champion
    model estimates the impact. Where no feature captures the intervention (teacher training, classrooms), the
    catalogue states an assumed effect from published evaluations instead, and pages say so.
    """

    class Type(models.TextChoices):
        ELECTRICITY = "electricity", _("Electricity")
        WATER = "water", _("Water")
        SEWERAGE = "sewerage", _("Sewerage")
        INTERNET = "internet", _("Internet")
        CLASSROOMS = "classrooms", _("Classrooms and rehabilitation")
        TRANSPORT = "transport", _("School transport")
        RESIDENCE = "residence", _("Student residences")
        TEACHERS = "teachers", _("Teacher training")

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    intervention_type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    description = models.TextField(_("description"), blank=True)
    cost_fixed_pen = models.DecimalField(_("fixed cost (PEN)"), max_digits=14, decimal_places=2, default=0)
    cost_per_household_pen = models.DecimalField(
        _("cost per household reached (PEN)"), max_digits=12, decimal_places=2, default=0
    )
    cost_per_student_pen = models.DecimalField(_("cost per student (PEN)"), max_digits=12, decimal_places=2, default=0)
    effects = models.JSONField(_("effects on features"), default=list, blank=True)
    assumed_effect_pp = models.FloatField(
        _("assumed effect (points of disparity)"),
        null=True,
        blank=True,
        help_text=_("Only where no model feature captures the intervention"),
    )
    assumed_effect_range = models.JSONField(default=list, blank=True, help_text="[low, high] points")
    eligibility = models.JSONField(
        _("eligibility"), default=list, blank=True, help_text="[{feature, op (lt|lte|gt|gte), value}]"
    )
    beneficiaries = models.CharField(
        max_length=20,
        default="children",
        choices=[
            ("children", _("school-age children")),
            ("rural_children", _("rural school-age children")),
            ("secondary_rural", _("rural secondary-age children")),
        ],
    )
    lead_time_months = models.PositiveSmallIntegerField(_("lead time (months)"), default=12)
    source = models.TextField(_("source or stated assumption"))
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What administrators edit, on the catalogue page and through the API alike.
    EDITABLE_FIELDS = [
        "code",
        "name",
        "intervention_type",
        "description",
        "cost_fixed_pen",
        "cost_per_household_pen",
        "cost_per_student_pen",
        "effects",
        "assumed_effect_pp",
        "assumed_effect_range",
        "eligibility",
        "beneficiaries",
        "lead_time_months",
        "source",
        "active",
    ]

    class Meta:
        ordering = ["intervention_type", "code"]

    def __str__(self):
        return self.name


class Plan(models.Model):
    """A budget-optimal set of recommendations for a scope, and the neediest-first baseline for comparison."""

    name = models.CharField(max_length=200)
    budget_pen = models.DecimalField(max_digits=16, decimal_places=2)
    scope = models.CharField(max_length=700, help_text="PE, a department, a province or districts")
    constraints = models.JSONField(default=dict)
    run = models.ForeignKey("predictions.PredictionRun", null=True, on_delete=models.PROTECT, related_name="plans")
    job = models.OneToOneField("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="plan")
    objective = models.FloatField(null=True)
    baseline_objective = models.FloatField(null=True)
    summary = models.JSONField(default=dict, help_text="optimised and baseline: totals and per department")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    @property
    def status(self) -> str:
        return self.job.status if self.job_id else "queued"


class Recommendation(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        IMPLEMENTED = "implemented", _("Implemented")
        VERIFIED = "verified", _("Verified")

    COMMITTED = (Status.APPROVED, Status.IMPLEMENTED, Status.VERIFIED)

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="recommendations")
    ubigeo = models.CharField(max_length=6, db_index=True)
    department = models.CharField(max_length=2, db_index=True)
    intervention = models.ForeignKey(Intervention, on_delete=models.PROTECT, related_name="recommendations")
    cost_pen = models.DecimalField(max_digits=14, decimal_places=2)
    impact = models.FloatField(help_text="expected children reaching the satisfactory level")
    impact_lower = models.FloatField()
    impact_upper = models.FloatField()
    disparity_before = models.FloatField()
    disparity_after = models.FloatField()
    children = models.PositiveIntegerField()
    estimate = models.CharField(max_length=10, default="model", help_text="model | assumed")
    strategy = models.CharField(
        max_length=20,
        default="optimised",
        help_text="optimised, or neediest_first for the baseline arm of an experiment",
    )
    rationale = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan", "-impact"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "ubigeo", "intervention"], name="one_recommendation_per_district_intervention"
            )
        ]

    def __str__(self):
        return f"{self.intervention} · {self.ubigeo}"


class Transition(models.Model):
    """One step of a recommendation's review: who, when, from, to, and why. Append-only."""

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="transitions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_username = models.CharField(max_length=150)
    actor_role = models.CharField(max_length=20)
    action = models.CharField(max_length=20)
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recommendation", "created_at", "id"]

    def __str__(self):
        return f"{self.actor_username}: {self.from_status} → {self.to_status}"

    @property
    def from_label(self) -> str:
        return Recommendation.Status(self.from_status).label

    @property
    def to_label(self) -> str:
        return Recommendation.Status(self.to_status).label
