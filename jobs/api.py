from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jobs.models import Job
from jobs.serializers import JobSerializer
from jobs.services import job_cancel, job_retry, jobs_for_user


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Background jobs: status, progress, message and failure reason. Users see the jobs they started."""

    serializer_class = JobSerializer
    filterset_fields = ["kind", "status"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return jobs_for_user(self.request.user).select_related("created_by")

    def _may_control(self, job: Job) -> None:
        """Jobs the platform started itself are stopped or restarted by administrators only, and a user who no
        longer analyses cannot restart their old jobs."""
        user = self.request.user
        if not user.is_administrator and (job.created_by_id is None or not user.can_analyse):
            self.permission_denied(self.request, message="Only administrators control this job.")

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = self.get_object()
        self._may_control(job)
        job = job_cancel(job=job, user=request.user)
        return Response(JobSerializer(job).data)

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        job: Job = self.get_object()
        self._may_control(job)
        return Response(JobSerializer(job_retry(job=job, user=request.user)).data, status=202)
