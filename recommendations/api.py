import django_filters
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import IsAnalystOrAdministrator, ReadOnlyOrAdministrator
from predictions.models import PredictionRun
from recommendations.exports import plan_csv, plan_geojson, plan_xlsx
from recommendations.models import Intervention, Recommendation
from recommendations.serializers import (
    InterventionSerializer,
    PlanDetailSerializer,
    PlanInputSerializer,
    PlanSerializer,
    RecommendationDetailSerializer,
    RecommendationSerializer,
    TransitionInputSerializer,
)
from recommendations.services.plans import plan_request, plans_for_user
from recommendations.services.review import recommendation_transition, recommendations_for_user


class RecommendationFilter(django_filters.FilterSet):
    intervention = django_filters.CharFilter(field_name="intervention__code", help_text="intervention code")

    class Meta:
        model = Recommendation
        fields = ["status", "department", "plan", "ubigeo", "intervention"]


class InterventionViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The intervention catalogue: everyone reads it; administrators edit it."""

    serializer_class = InterventionSerializer
    permission_classes = [ReadOnlyOrAdministrator]
    queryset = Intervention.objects.all()
    filterset_fields = ["intervention_type", "active"]
    http_method_names = ["get", "post", "patch", "head", "options"]


class PlanViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Plans: a budget, a scope and constraints; the optimal recommendations and the neediest-first baseline."""

    serializer_class = PlanSerializer

    def get_queryset(self):
        return plans_for_user(self.request.user).select_related("job", "created_by")

    def get_permissions(self):
        if self.action == "create":
            return [IsAnalystOrAdministrator()]
        return super().get_permissions()

    @extend_schema(request=PlanInputSerializer, responses={202: PlanSerializer})
    def create(self, request):
        """Queue a plan; answered 202 with the plan (its `id`) and its job."""
        data = PlanInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        run_id = fields.pop("run", None)
        run = get_object_or_404(PredictionRun, pk=run_id) if run_id else None
        plan = plan_request(user=request.user, run=run, **fields)
        return Response(PlanSerializer(plan, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=PlanDetailSerializer)
    def retrieve(self, request, pk=None):
        """The plan's objective, the baseline's objective and the recommendations inside your region."""
        plan = self.get_object()
        visible = recommendations_for_user(request.user).filter(plan=plan).select_related("intervention")
        return Response(PlanDetailSerializer(plan, context={"recommendations": visible, "request": request}).data)

    def _export(self, request, pk, render, content_type, suffix):
        plan = self.get_object()
        visible = recommendations_for_user(request.user).filter(plan=plan).select_related("intervention")
        response = HttpResponse(render(plan, visible), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="plan-{plan.pk}.{suffix}"'
        return response

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def csv(self, request, pk=None):
        """The plan's recommendations as CSV (formula-like cells neutralised)."""
        return self._export(request, pk, plan_csv, "text/csv; charset=utf-8", "csv")

    @extend_schema(
        responses={(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY}
    )
    @action(detail=True, methods=["get"])
    def xlsx(self, request, pk=None):
        """The plan's recommendations as an Excel workbook."""
        return self._export(
            request, pk, plan_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
        )

    @extend_schema(responses={(200, "application/geo+json"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def geojson(self, request, pk=None):
        """The plan's recommendations on the district boundaries (GeoJSON)."""
        return self._export(request, pk, plan_geojson, "application/geo+json", "geojson")


class RecommendationViewSet(viewsets.ReadOnlyModelViewSet):
    """Recommendations inside your region. Filters: status, department, intervention (code), plan."""

    serializer_class = RecommendationSerializer
    filterset_class = RecommendationFilter
    ordering_fields = ["impact", "cost_pen", "updated_at", "disparity_before"]

    def get_queryset(self):
        return recommendations_for_user(self.request.user).select_related("intervention")

    def get_serializer_class(self):
        return RecommendationDetailSerializer if self.action == "retrieve" else RecommendationSerializer

    @extend_schema(
        request=TransitionInputSerializer,
        responses={
            200: RecommendationDetailSerializer,
            409: OpenApiResponse(
                description="The state changed (another reviewer) or the budget would be exceeded; "
                "the body has the current `status`"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def transitions(self, request, pk=None):
        """Move the recommendation through its review: `action` (submit, approve, reject, request_changes,
        implement, verify) and a `comment`."""
        recommendation = self.get_object()
        data = TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        recommendation = recommendation_transition(
            user=request.user, recommendation=recommendation, **data.validated_data
        )
        return Response(RecommendationDetailSerializer(recommendation, context={"request": request}).data)
