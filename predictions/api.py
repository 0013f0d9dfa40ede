from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import IsAnalystOrAdministrator
from core.metrics import predictions_served
from core.renderers import CSVPaginationMixin
from datasets.api import WITH_CSV
from datasets.models import FeatureSnapshot
from jobs.serializers import JobSerializer
from predictions.models import ModelVersion
from predictions.serializers import (
    DriftReportSerializer,
    ModelVersionSerializer,
    PredictionSerializer,
    PromoteInputSerializer,
    RunInputSerializer,
    RunSerializer,
    TrainInputSerializer,
)
from predictions.services.runs import prediction_run_request, predictions_for_user, run_compare, runs_for_user
from predictions.services.training import model_promote, model_train_request, models_for_user


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Model versions with their metrics. Analysts and administrators train and promote."""

    serializer_class = ModelVersionSerializer
    filterset_fields = ["target", "status", "algorithm", "training_job"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return (
            models_for_user(self.request.user).select_related("snapshot", "created_by").prefetch_related("label_sets")
        )

    @extend_schema(request=TrainInputSerializer, responses={202: JobSerializer})
    @action(detail=False, methods=["post"], permission_classes=[IsAnalystOrAdministrator])
    def train(self, request):
        """Train a suite (target, snapshot and algorithms optional); answered 202 with the job."""
        data = TrainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        snapshot = get_object_or_404(FeatureSnapshot, pk=fields.pop("snapshot")) if "snapshot" in fields else None
        job = model_train_request(user=request.user, snapshot=snapshot, **fields)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PromoteInputSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAnalystOrAdministrator])
    def promote(self, request, pk=None):
        """Make this version the champion of its target (409 if it is worse, unless a `reason` is given)."""
        data = PromoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = model_promote(user=request.user, model=self.get_object(), reason=data.validated_data["reason"])
        return Response(ModelVersionSerializer(model).data)

    @extend_schema(responses=DriftReportSerializer(many=True))
    @action(detail=True, methods=["get"], permission_classes=[IsAnalystOrAdministrator])
    def drift(self, request, pk=None):
        """This version's drift reports, newest first (at most 30): the PSI of each input between its training
        feature table and a newer one, and the shift of its predictions. Made daily for champions."""
        reports = self.get_object().drift_reports.order_by("-created_at", "-id")[:30]
        return Response(DriftReportSerializer(reports, many=True).data)


class RunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Prediction runs: every district scored by one model. Everyone reads them; predictions follow the region."""

    serializer_class = RunSerializer

    def get_queryset(self):
        return runs_for_user(self.request.user).select_related("job", "model")

    def get_permissions(self):
        if self.action == "create":
            return [IsAnalystOrAdministrator()]
        return super().get_permissions()

    @extend_schema(request=RunInputSerializer, responses={202: RunSerializer})
    def create(self, request):
        """Score every district (model optional: the champion); answered 202 with the run (its `id`) and job."""
        data = RunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = (
            get_object_or_404(ModelVersion, pk=data.validated_data["model"]) if "model" in data.validated_data else None
        )
        snapshot = (
            get_object_or_404(FeatureSnapshot, pk=data.validated_data["snapshot"])
            if "snapshot" in data.validated_data
            else None
        )
        run = prediction_run_request(user=request.user, model=model, snapshot=snapshot)
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=[OpenApiParameter("other", int, required=True)])
    @action(detail=True, methods=["get"])
    def compare(self, request, pk=None):
        """How this run's predictions differ from run `other`, district by district, inside your region."""
        other = get_object_or_404(runs_for_user(request.user), pk=request.query_params.get("other"))
        return Response(run_compare(self.get_object(), other, request.user))


class PredictionViewSet(CSVPaginationMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A run's predictions inside your region: ubigeo, value, lower, upper, rank, flagged, factors (`?format=csv`)."""

    serializer_class = PredictionSerializer
    renderer_classes = WITH_CSV
    filterset_fields = ["flagged"]
    ordering_fields = ["rank", "value", "ubigeo"]
    csv_filename = "predictions.csv"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no run in the URL
            from predictions.models import Prediction

            return Prediction.objects.none()
        run = get_object_or_404(runs_for_user(self.request.user), pk=self.kwargs["run_pk"])
        queryset = predictions_for_user(self.request.user, run).order_by("rank")
        department = self.request.query_params.get("department")
        return queryset.filter(ubigeo__startswith=department) if department else queryset

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        data = response.data
        predictions_served(len(data["results"]) if isinstance(data, dict) else len(data))
        return response
