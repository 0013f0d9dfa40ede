from rest_framework import serializers

from datasets.models import Dataset, DatasetRow, DatasetVersion, Department, District, FeatureSnapshot, Province, Upload
from datasets.services.uploads import row_problem_message
from jobs.serializers import JobSerializer

ENCODING_CHOICES = ["", "utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]
DELIMITER_CHOICES = ["", ",", ";", "tab", "|"]


class DepartmentSerializer(serializers.ModelSerializer):
    districts = serializers.IntegerField(source="districts_count", read_only=True)

    class Meta:
        model = Department
        fields = ["code", "name", "capital", "latitude", "longitude", "area_km2", "districts"]


class ProvinceSerializer(serializers.ModelSerializer):
    department_name = serializers.CharField(source="department.name", read_only=True)

    class Meta:
        model = Province
        fields = ["code", "name", "department", "department_name", "capital", "latitude", "longitude", "area_km2"]


class DistrictSerializer(serializers.ModelSerializer):
    province_name = serializers.CharField(source="province.name", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True)

    class Meta:
        model = District
        fields = [
            "ubigeo",
            "name",
            "province",
            "province_name",
            "department",
            "department_name",
            "capital",
            "latitude",
            "longitude",
            "altitude_m",
            "area_km2",
            "places_count",
            "places_urban",
            "places_rural_share",
            "places_mean_distance_km",
            "places_max_distance_km",
            "boundary_source",
        ]


class IndicatorValueSerializer(serializers.Serializer):
    column = serializers.CharField()
    type = serializers.CharField()
    value = serializers.JSONField(allow_null=True)


class IndicatorSectionSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    dataset_name = serializers.CharField()
    version = serializers.IntegerField()
    version_id = serializers.IntegerField()
    accepted_at = serializers.DateTimeField()
    file = serializers.CharField()
    source = serializers.CharField()
    values = IndicatorValueSerializer(many=True)


class DistrictDetailSerializer(DistrictSerializer):
    indicators = IndicatorSectionSerializer(many=True, read_only=True)

    class Meta(DistrictSerializer.Meta):
        fields = [*DistrictSerializer.Meta.fields, "indicators"]


class DatasetSerializer(serializers.ModelSerializer):
    latest_version = serializers.SerializerMethodField()
    key_columns = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=10)
    percent_columns = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=200)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "description",
            "source",
            "key_columns",
            "percent_columns",
            "created_by",
            "created_at",
            "latest_version",
        ]
        read_only_fields = ["id", "slug", "created_by", "created_at", "latest_version"]

    def get_latest_version(self, dataset) -> int | None:
        latest = dataset.latest_version()
        return latest.number if latest else None


class VersionSerializer(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    sha256 = serializers.CharField(source="upload.sha256", read_only=True)
    original_name = serializers.CharField(source="upload.original_name", read_only=True)
    upload = serializers.PrimaryKeyRelatedField(read_only=True)
    drop_invalid_rows = serializers.BooleanField(source="upload.drop_invalid_rows", read_only=True)

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "dataset",
            "number",
            "upload",
            "original_name",
            "sha256",
            "columns",
            "row_count",
            "dropped_rows",
            "drop_invalid_rows",
            "profile",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class RowSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetRow
        fields = ["row_number", "ubigeo", "key", "values"]


class UploadSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    status = serializers.CharField(read_only=True)
    version = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    dataset = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Upload
        fields = [
            "id",
            "dataset",
            "status",
            "job",
            "version",
            "original_name",
            "file_format",
            "size_bytes",
            "sha256",
            "encoding",
            "delimiter",
            "drop_invalid_rows",
            "note",
            "detected",
            "error_count",
            "error_summary",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_version(self, upload) -> int | None:
        version = getattr(upload, "version", None)
        return version.pk if version else None


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(use_url=False)
    encoding = serializers.ChoiceField(
        choices=ENCODING_CHOICES,
        required=False,
        default="",
        help_text="empty: detect (UTF-8, UTF-8 with BOM, Windows-1252/Latin-1)",
    )
    delimiter = serializers.ChoiceField(
        choices=DELIMITER_CHOICES, required=False, default="", help_text="empty: detect from the header"
    )
    drop_invalid_rows = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class UploadAgainSerializer(serializers.Serializer):
    drop_invalid_rows = serializers.BooleanField(default=True)
    encoding = serializers.ChoiceField(choices=ENCODING_CHOICES, required=False, default="")
    delimiter = serializers.ChoiceField(choices=DELIMITER_CHOICES, required=False, default="")


class UploadErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    column = serializers.CharField()
    value = serializers.CharField()
    code = serializers.CharField()
    problem = serializers.SerializerMethodField()

    def get_problem(self, error) -> str:
        return row_problem_message(error["code"])


class SnapshotColumnSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    column = serializers.CharField(max_length=200)
    alias = serializers.CharField(max_length=200, required=False, allow_blank=True)
    aggregate = serializers.ChoiceField(choices=["", "mean", "sum", "count", "min", "max"], required=False)


class SnapshotInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    columns = SnapshotColumnSerializer(
        many=True, required=False, help_text="Omit to take every numeric column of each dataset's latest version"
    )


class SnapshotSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = FeatureSnapshot
        fields = [
            "id",
            "name",
            "description",
            "columns",
            "lineage",
            "row_count",
            "sha256",
            "job",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class SnapshotJobSerializer(serializers.Serializer):
    job = JobSerializer()
