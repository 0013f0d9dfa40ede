from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.permissions import IsAnalystOrAdministrator, ReadOnlyOrAnalyst
from core.parsers import StrictMultiPartParser
from core.renderers import CSVPaginationMixin, CSVRenderer
from datasets.models import DatasetVersion
from datasets.serializers import (
    DatasetSerializer,
    DepartmentSerializer,
    DistrictDetailSerializer,
    DistrictSerializer,
    ProvinceSerializer,
    RowSerializer,
    SnapshotInputSerializer,
    SnapshotJobSerializer,
    SnapshotSerializer,
    UploadAgainSerializer,
    UploadErrorSerializer,
    UploadInputSerializer,
    UploadSerializer,
    VersionSerializer,
)
from datasets.services.areas import departments_for_user, district_indicators, districts_for_user, provinces_for_user
from datasets.services.snapshots import snapshot_default_spec, snapshot_request, snapshots_for_user
from datasets.services.uploads import (
    dataset_create,
    datasets_for_user,
    rows_for_user,
    upload_again,
    upload_create,
    uploads_for_user,
)
from jobs.serializers import JobSerializer

WITH_CSV = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]


class DepartmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Departments that contain or lie inside the user's region."""

    serializer_class = DepartmentSerializer
    lookup_field = "code"
    lookup_value_regex = r"\d{2}"
    search_fields = ["code", "name"]
    pagination_class = None

    def get_queryset(self):
        return departments_for_user(self.request.user).annotate(districts_count=Count("districts"))


class ProvinceViewSet(viewsets.ReadOnlyModelViewSet):
    """Provinces that contain or lie inside the user's region. Filter: `department`."""

    serializer_class = ProvinceSerializer
    lookup_field = "code"
    lookup_value_regex = r"\d{4}"
    filterset_fields = ["department"]
    search_fields = ["code", "name"]
    pagination_class = None

    def get_queryset(self):
        return provinces_for_user(self.request.user).select_related("department")


class DistrictViewSet(CSVPaginationMixin, viewsets.ReadOnlyModelViewSet):
    """Districts inside the user's region. Filters: `department`, `province`; `search` by name or ubigeo."""

    lookup_field = "ubigeo"
    lookup_value_regex = r"\d{6}"
    filterset_fields = ["department", "province"]
    search_fields = ["ubigeo", "name", "capital"]
    ordering_fields = ["ubigeo", "name", "altitude_m", "places_rural_share"]
    renderer_classes = WITH_CSV
    csv_filename = "districts.csv"

    def get_queryset(self):
        return districts_for_user(self.request.user).select_related("province", "department")

    def get_serializer_class(self):
        return DistrictDetailSerializer if self.action == "retrieve" else DistrictSerializer

    def retrieve(self, request, ubigeo=None):
        district = self.get_object()
        district.indicators = district_indicators(district.ubigeo)
        return Response(DistrictDetailSerializer(district).data)

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("department", str), OpenApiParameter("province", str)],
    )
    @action(
        detail=False, methods=["get"], pagination_class=None, renderer_classes=api_settings.DEFAULT_RENDERER_CLASSES
    )
    def geojson(self, request):
        """District boundaries in the user's region as a GeoJSON FeatureCollection (WGS84)."""
        districts = self.filter_queryset(self.get_queryset())
        features = [
            {
                "type": "Feature",
                "id": d.ubigeo,
                "geometry": d.boundary,
                "properties": {
                    "ubigeo": d.ubigeo,
                    "name": d.name,
                    "province": d.province.name,
                    "department": d.department.name,
                    "latitude": d.latitude,
                    "longitude": d.longitude,
                },
            }
            for d in districts
        ]
        return Response({"type": "FeatureCollection", "features": features})


class DatasetViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Datasets and their versions. Everyone reads descriptions; analysts and administrators create and upload."""

    serializer_class = DatasetSerializer
    permission_classes = [ReadOnlyOrAnalyst]
    filterset_fields = ["kind"]
    search_fields = ["name", "slug", "description"]
    parser_classes = [JSONParser, StrictMultiPartParser, FormParser]

    def get_queryset(self):
        return datasets_for_user(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = dataset_create(user=self.request.user, **serializer.validated_data)

    @extend_schema(
        methods=["get"],
        responses=VersionSerializer(many=True),
        summary="List the dataset's versions",
    )
    @extend_schema(
        methods=["post"],
        request={"multipart/form-data": UploadInputSerializer},
        responses={202: UploadSerializer},
        summary="Upload a CSV or XLSX file as a new version (answered 202 with the upload and its job)",
    )
    @action(detail=True, methods=["get", "post"], parser_classes=[StrictMultiPartParser, FormParser])
    def versions(self, request, pk=None):
        dataset = self.get_object()
        if request.method == "GET":
            versions = dataset.versions.select_related("upload", "created_by", "dataset")
            return Response(VersionSerializer(versions, many=True).data)
        if not request.user.can_analyse:
            self.permission_denied(request, message="Only analysts and administrators upload data.")
        # A body declared larger than an upload may be never reaches here: core.middleware refuses it unread.
        data = UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        upload = upload_create(user=request.user, dataset=dataset, uploaded_file=fields.pop("file"), **fields)
        return Response(UploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)


class VersionViewSet(CSVPaginationMixin, viewsets.ReadOnlyModelViewSet):
    """Accepted, immutable dataset versions with their column profile."""

    serializer_class = VersionSerializer
    filterset_fields = ["dataset"]

    def get_queryset(self):
        return DatasetVersion.objects.filter(dataset__in=datasets_for_user(self.request.user)).select_related(
            "dataset", "upload", "created_by"
        )

    @extend_schema(responses=RowSerializer(many=True))
    @action(detail=True, methods=["get"], renderer_classes=WITH_CSV)
    def rows(self, request, pk=None):
        """The version's rows inside the user's region (`?format=csv` for all of them as CSV)."""
        version = self.get_object()
        rows = rows_for_user(request.user, version).order_by("row_number")
        if request.accepted_renderer.format == "csv":  # one column per value, so each cell is neutralised
            self.csv_filename = f"{version.dataset.slug}-v{version.number}.csv"
            return Response([{"row_number": r.row_number, **r.values} for r in rows.iterator()])
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(RowSerializer(page, many=True).data)
        return Response(RowSerializer(rows, many=True).data)


class UploadViewSet(viewsets.ReadOnlyModelViewSet):
    """Upload attempts: status (from the job), what was detected, and the error report."""

    serializer_class = UploadSerializer
    permission_classes = [IsAnalystOrAdministrator]
    filterset_fields = ["dataset"]

    def get_queryset(self):
        return uploads_for_user(self.request.user).select_related("job", "dataset", "created_by")

    @extend_schema(responses=UploadErrorSerializer(many=True))
    @action(detail=True, methods=["get"], renderer_classes=WITH_CSV, pagination_class=None)
    def errors(self, request, pk=None):
        """The problems found, row by row: row, column, value, problem (`?format=csv` downloads it). At most the
        first 1,000 are kept; the upload's `error_count` and `error_summary` count every one."""
        upload = self.get_object()
        self.csv_filename = f"errors-upload-{upload.pk}.csv"
        return Response(UploadErrorSerializer(upload.errors, many=True).data)

    @extend_schema(request=UploadAgainSerializer, responses={202: UploadSerializer})
    @action(detail=True, methods=["post"])
    def again(self, request, pk=None):
        """Send a failed upload's file again, e.g. with `drop_invalid_rows` (recorded) or another encoding."""
        data = UploadAgainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = upload_again(user=request.user, upload=self.get_object(), **data.validated_data)
        return Response(UploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)


class SnapshotViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Feature-table snapshots: one row per district, columns from dataset versions, with lineage."""

    serializer_class = SnapshotSerializer
    permission_classes = [ReadOnlyOrAnalyst]

    def get_queryset(self):
        return snapshots_for_user(self.request.user).select_related("created_by").defer("data")

    @extend_schema(request=SnapshotInputSerializer, responses={202: SnapshotJobSerializer})
    def create(self, request):
        from datasets.services.areas import latest_versions

        data = SnapshotInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        spec = data.validated_data.get("columns") or snapshot_default_spec(latest_versions())
        job = snapshot_request(
            user=request.user,
            name=data.validated_data["name"],
            spec=spec,
            description=data.validated_data["description"],
        )
        return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], renderer_classes=WITH_CSV, pagination_class=None)
    def data(self, request, pk=None):
        """The snapshot's rows inside the user's region (`?format=csv` downloads them)."""
        snapshot = get_object_or_404(snapshots_for_user(request.user), pk=pk)
        self.csv_filename = f"feature-table-{snapshot.pk}.csv"
        allowed = set(districts_for_user(request.user).values_list("ubigeo", flat=True))
        rows = [
            {"ubigeo": ubigeo, **dict(zip(snapshot.columns, values, strict=True))}
            for ubigeo, values in zip(snapshot.data["index"], snapshot.data["rows"], strict=True)
            if ubigeo in allowed
        ]
        return Response(rows)
