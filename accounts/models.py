import re

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

NATIONAL = "PE"
_REGION_RE = re.compile(r"^(PE|\d{2}|\d{4}|\d{6}(,\d{6})*)$")


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    ANALYST = "analyst", _("Analyst")
    POLICY_MAKER = "policymaker", _("Policy maker")
    SCHOOL_STAFF = "school_staff", _("School staff")


def normalise_region(value: str) -> str:
    """Canonical text of a region: `PE` (national), `08`, `0801`, or sorted district codes `080101,080102`."""
    value = (value or "").replace(" ", "").strip(",")
    if value.lower() in {"pe", "national", "nacional"}:
        return NATIONAL
    if not value:
        return ""
    if not _REGION_RE.match(value):
        raise ValidationError(
            _(
                "A region is PE (national), a department code (08), a province code (0801) or one or more "
                "district codes (080101,080102); got %(value)s."
            ),
            params={"value": value},
            code="region",
        )
    codes = sorted(set(value.split(",")))
    return ",".join(codes)


def region_codes(region: str) -> list[str]:
    """The ubigeo prefixes a region covers: [''] for national, [] for none."""
    if region == NATIONAL:
        return [""]
    return [code for code in region.split(",") if code]


def regions_overlap(first: list[str], second: list[str]) -> list[str]:
    """The area two lists of ubigeo prefixes share: of each pair where one contains the other, the smaller."""
    return sorted({a if a.startswith(b) else b for a in first for b in second if a.startswith(b) or b.startswith(a)})


def regions_meet(first: list[str], second: list[str]) -> bool:
    """Whether two lists of ubigeo prefixes share any area."""
    return bool(regions_overlap(first, second))


def region_covers(region: str, code: str) -> bool:
    return any(code.startswith(prefix) for prefix in region_codes(region))


def region_level(region: str) -> str:
    if region == NATIONAL:
        return "national"
    codes = region_codes(region)
    if not codes:
        return "none"
    return {2: "department", 4: "province", 6: "district"}[len(codes[0])]


def region_q(region: str, field: str = "ubigeo") -> Q:
    """A filter keeping rows whose ubigeo `field` lies inside the region; nothing when there is no region."""
    codes = region_codes(region)
    if codes == [""]:
        return Q()
    if not codes:
        return Q(pk__in=[])
    query = Q()
    for code in codes:
        query |= Q(**{f"{field}__startswith": code})
    return query


class User(AbstractUser):
    """A person with one role and one region (national, a department, a province or some districts)."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SCHOOL_STAFF)
    region = models.CharField(
        _("region"),
        max_length=700,
        blank=True,
        help_text=_("PE for national, a department (08), a province (0801) or districts (080101,080102)."),
    )

    class Meta:
        ordering = ["username"]

    def clean(self):
        super().clean()
        self.region = normalise_region(self.region)

    @property
    def is_administrator(self) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.is_superuser)

    @property
    def is_analyst(self) -> bool:
        return self.is_active and self.role == Role.ANALYST

    @property
    def is_policy_maker(self) -> bool:
        return self.is_active and self.role == Role.POLICY_MAKER

    @property
    def is_school_staff(self) -> bool:
        return self.is_active and self.role == Role.SCHOOL_STAFF

    @property
    def can_analyse(self) -> bool:
        """Analysts and administrators upload data, train models and draft plans."""
        return self.is_analyst or self.is_administrator

    @property
    def effective_region(self) -> str:
        """Administrators act nationally whatever their stored region says."""
        return NATIONAL if self.is_administrator else self.region

    @property
    def region_codes(self) -> list[str]:
        return region_codes(self.effective_region)

    @property
    def region_level(self) -> str:
        return region_level(self.effective_region)

    def departments_only(self, by_department: dict) -> dict:
        """A {department code: figures} block cut to the departments the user's region touches."""
        codes = self.region_codes
        return {d: v for d, v in by_department.items() if regions_meet([d], codes)}

    def can_access_ubigeo(self, code: str) -> bool:
        """Whether the area `code` (2, 4 or 6 digits) lies wholly inside this user's region."""
        if not self.is_active or not code:
            return False
        return region_covers(self.effective_region, code)

    def can_view_area(self, code: str) -> bool:
        """Whether the area `code` is inside the region or contains it.

        A district user may open their province and department pages, which then list only what lies in the
        region; acting on an area (planning, reviewing) needs `can_access_ubigeo`.
        """
        if not self.is_active or not code:
            return False
        return any(code.startswith(prefix) or prefix.startswith(code) for prefix in self.region_codes)

    def ubigeo_q(self, field: str = "ubigeo") -> Q:
        """Queryset filter for rows whose `field` is a district ubigeo inside this user's region."""
        if not self.is_active:
            return Q(pk__in=[])
        return region_q(self.effective_region, field)


class AuditEvent(models.Model):
    """Who did what to which object, and when. Append-only; administrators read and export it."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=60)
    target_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_username} {self.action} {self.target_repr}"


class DeletionRequest(models.Model):
    """A user's request to have their personal data removed (Ley 29733); an administrator carries it out."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.username} ({'done' if self.done_at else 'pending'})"
