from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnalystOrAdministrator
from feedback.models import LabelSet
from feedback.serializers import (
    AssignmentSerializer,
    ExperimentInputSerializer,
    ExperimentSerializer,
    FeedbackInputSerializer,
    FeedbackSerializer,
    LabelSetInputSerializer,
    LabelSetSerializer,
    TriageInputSerializer,
)
from feedback.services.experiments import experiment_create, experiment_refresh, experiments_for_user
from feedback.services.retraining import retrain_request
from feedback.services.submission import feedback_for_user, feedback_submit, feedback_triage, label_set_publish
from jobs.serializers import JobSerializer
from recommendations.services.plans import plans_for_user


class FeedbackViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Feedback on predictions and recommendations. Authors see theirs; analysts triage inside their region."""

    serializer_class = FeedbackSerializer
    filterset_fields = ["status", "subject", "ubigeo"]

    def get_queryset(self):
        return feedback_for_user(self.request.user).select_related("author")

    @extend_schema(request=FeedbackInputSerializer, responses={201: FeedbackSerializer})
    def create(self, request):
        """Submit feedback (school staff and policy makers, for a district of their region; 404 outside it)."""
        data = FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = feedback_submit(user=request.user, **data.validated_data)
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TriageInputSerializer, responses=FeedbackSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAnalystOrAdministrator])
    def triage(self, request, pk=None):
        """Accept (as a training label), reject or ask for more information, with a reason the author sees."""
        data = TriageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = feedback_triage(user=request.user, feedback=self.get_object(), **data.validated_data)
        return Response(FeedbackSerializer(feedback).data)


class LabelSetViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Versioned label sets from accepted feedback; `POST` publishes the pending labels as the next set."""

    serializer_class = LabelSetSerializer
    permission_classes = [IsAnalystOrAdministrator]
    queryset = LabelSet.objects.all()

    @extend_schema(request=LabelSetInputSerializer, responses={201: LabelSetSerializer})
    def create(self, request):
        data = LabelSetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label_set = label_set_publish(user=request.user, **data.validated_data)
        return Response(LabelSetSerializer(label_set).data, status=status.HTTP_201_CREATED)


class RetrainView(APIView):
    """Start a retraining now (answered 202 with its job; with the running one if a retraining is under way)."""

    permission_classes = [IsAnalystOrAdministrator]

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request):
        job = retrain_request(user=request.user, reason=f"requested by {request.user.username}")
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExperimentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """A/B experiments comparing two recommendation strategies on randomly assigned districts."""

    serializer_class = ExperimentSerializer

    def get_queryset(self):
        return experiments_for_user(self.request.user)

    def get_permissions(self):
        if self.action in {"create", "refresh"}:
            return [IsAnalystOrAdministrator()]
        return super().get_permissions()

    @extend_schema(request=ExperimentInputSerializer, responses={201: ExperimentSerializer})
    def create(self, request):
        data = ExperimentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        plan = get_object_or_404(plans_for_user(request.user), pk=fields.pop("plan"))
        experiment = experiment_create(user=request.user, plan=plan, **fields)
        return Response(ExperimentSerializer(experiment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Collect implementation and outcomes, and recompute the report."""
        experiment = self.get_object()
        experiment_refresh(experiment)
        return Response(ExperimentSerializer(experiment).data)

    @extend_schema(responses=AssignmentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def assignments(self, request, pk=None):
        experiment = self.get_object()
        visible = experiment.assignments.filter(request.user.ubigeo_q("ubigeo"))
        return Response(AssignmentSerializer(visible, many=True).data)
