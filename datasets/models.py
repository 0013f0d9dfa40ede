from django.db import models
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=80)
    capital = models.CharField(max_length=120, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    area_km2 = models.FloatField(null=True, blank=True)
    boundary = models.JSONField(null=True, blank=True, help_text="GeoJSON geometry (WGS84)")

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Province(models.Model):
    code = models.CharField(max_length=4, primary_key=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="provinces")
    name = models.CharField(max_length=80)
    capital = models.CharField(max_length=120, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    area_km2 = models.FloatField(null=True, blank=True)
    boundary = models.JSONField(null=True, blank=True, help_text="GeoJSON geometry (WGS84)")

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class District(models.Model):
    """A district of Peru by its INEI ubigeo, with the master-table facts and populated-place aggregates."""

    ubigeo = models.CharField(max_length=6, primary_key=True)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="districts")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="districts")
    name = models.CharField(max_length=120, db_index=True)
    capital = models.CharField(max_length=120, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    altitude_m = models.FloatField(_("altitude (m)"), null=True, blank=True)
    area_km2 = models.FloatField(_("area (km²)"), null=True, blank=True)
    boundary = models.JSONField(null=True, blank=True, help_text="GeoJSON geometry (WGS84)")
    boundary_source = models.CharField(
        max_length=12,
        blank=True,
        help_text="own: the district's 2007 INEI polygon; parent: created later, drawn inside its parent's",
    )
    places_count = models.PositiveIntegerField(default=0)
    places_urban = models.PositiveIntegerField(default=0)
    places_rural_share = models.FloatField(null=True, blank=True, help_text="% of populated places that are rural")
    places_mean_distance_km = models.FloatField(
        null=True, blank=True, help_text="mean distance from each populated place to the district capital"
    )
    places_max_distance_km = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["ubigeo"]

    def __str__(self):
        return f"{self.name} ({self.ubigeo})"


class PopulatedPlace(models.Model):
    """An INEI centro poblado."""

    code = models.CharField(max_length=10, primary_key=True)
    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="places")
    name = models.CharField(max_length=150)
    is_urban = models.BooleanField(default=False)
    latitude = models.FloatField()
    longitude = models.FloatField()
    distance_to_capital_km = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


def area_model_for(code: str):
    return {2: Department, 4: Province, 6: District}.get(len(code))


def area_codes_missing(codes: list[str]) -> list[str]:
    """Codes that name no department, province or district; nothing is missing before the registry is loaded."""
    if not codes or not Department.objects.exists():
        return []
    missing = []
    for code in codes:
        model = area_model_for(code)
        if model is None or not model.objects.filter(pk=code).exists():
            missing.append(code)
    return missing
