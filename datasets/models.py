from django.conf import settings
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


class ReferenceImport(models.Model):
    """One run of `load_peru`: the source files' checksum and every mismatch met, kept for operators."""

    created_at = models.DateTimeField(auto_now_add=True)
    source_dir = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    counts = models.JSONField(default=dict)
    report = models.JSONField(default=list, help_text="mismatches: [{kind, code, detail}]")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.source_dir} @ {self.created_at:%Y-%m-%d %H:%M}"


class Dataset(models.Model):
    """A named table that receives immutable versions, e.g. 'Censo 2017: servicios básicos'."""

    class Kind(models.TextChoices):
        DISTRICT_INDICATORS = "district_indicators", _("District indicators")
        LEARNING_OUTCOMES = "learning_outcomes", _("Learning outcomes (ECE)")
        SCHOOL_REGISTRY = "school_registry", _("School registry (ESCALE padrón)")
        FREEFORM = "freeform", _("Free-form, keyed by ubigeo")

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    description = models.TextField(blank=True)
    source = models.TextField(blank=True, help_text=_("Publisher, year, licence and link of the data"))
    key_columns = models.JSONField(
        default=list, blank=True, help_text=_("Extra key columns besides the ubigeo, e.g. ['anio']")
    )
    percent_columns = models.JSONField(default=list, blank=True, help_text=_("Columns that must lie in 0-100"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def latest_version(self):
        return self.versions.order_by("-number").first()


class Upload(models.Model):
    """One attempt to add a version: the original file, the options chosen, and what came of it.

    Its state is its job's state; a failed upload keeps its error report and never creates a version.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="uploads")
    job = models.OneToOneField("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="upload")
    file = models.FileField(upload_to="uploads/", max_length=300)
    original_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)  # csv | xlsx
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    encoding = models.CharField(max_length=20, blank=True, help_text=_("Empty: detect"))
    delimiter = models.CharField(max_length=4, blank=True, help_text=_("Empty: detect"))
    drop_invalid_rows = models.BooleanField(
        default=False, help_text=_("Keep the valid rows of a file with errors (the choice is recorded)")
    )
    note = models.TextField(blank=True)
    detected = models.JSONField(default=dict, blank=True, help_text="encoding, delimiter, repairs")
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{row, column, value, code}], the first 1000")
    error_summary = models.JSONField(default=list, blank=True, help_text="[{column, code, count}]")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.original_name} → {self.dataset}"

    @property
    def status(self) -> str:
        return self.job.status if self.job_id else "queued"


class DatasetVersion(models.Model):
    """An accepted, immutable version of a dataset: its columns, profile and rows."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    upload = models.OneToOneField(Upload, on_delete=models.PROTECT, related_name="version")
    columns = models.JSONField(help_text="[{name, type}] in row order; the first are the key columns")
    row_count = models.PositiveIntegerField()
    dropped_rows = models.PositiveIntegerField(default=0)
    profile = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="version_number_unique")]

    def __str__(self):
        return f"{self.dataset.name} v{self.number}"

    @property
    def column_names(self) -> list[str]:
        return [column["name"] for column in self.columns]


class DatasetRow(models.Model):
    """One validated row, `values` by column name. Written once by a bulk insert, never updated."""

    # No index of its own: the two composite indexes below start with the version.
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="rows", db_index=False)
    row_number = models.PositiveIntegerField(help_text="line in the original file (1 = header)")
    ubigeo = models.CharField(max_length=6)
    key = models.CharField(max_length=200)
    values = models.JSONField()

    class Meta:
        ordering = ["version", "row_number"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="row_key_unique")]
        indexes = [models.Index(fields=["version", "ubigeo"], name="row_version_ubigeo")]

    def __str__(self):
        return f"{self.version} row {self.row_number}"


class FeatureSnapshot(models.Model):
    """A frozen feature table: one row per district, columns taken from dataset versions, with lineage."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    spec = models.JSONField(help_text="[{version, column, alias, aggregate}] as requested")
    lineage = models.JSONField(help_text="[{column, dataset, dataset_name, version, version_number, source_column}]")
    columns = models.JSONField()
    data = models.JSONField(help_text='{"index": [ubigeo...], "rows": [[...]]}')
    row_count = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    job = models.OneToOneField("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshot")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.created_at:%Y-%m-%d})"

    def to_frame(self):
        import pandas as pd

        index = pd.Index(self.data["index"], name="ubigeo", dtype="str")
        return pd.DataFrame(self.data["rows"], index=index, columns=self.columns, dtype="float64")
