"""The job state machine: queued → running → succeeded | failed | cancelled, with retry back to queued.

Each transition is one conditional UPDATE, so two workers (or a worker and a user pressing cancel) cannot both
win. A running job carries the attempt number it was claimed with; progress and completion only count from the
attempt that holds the job, so a worker that was presumed lost and comes back cannot overwrite a newer attempt.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, Conflict
from jobs.models import Job

logger = logging.getLogger(__name__)

TASK_FOR_KIND = {
    Job.Kind.DATASET_INGEST: "datasets.tasks.dataset_ingest_task",
    Job.Kind.SNAPSHOT_BUILD: "datasets.tasks.snapshot_build_task",
    Job.Kind.MODEL_TRAIN: "predictions.tasks.model_train_task",
    Job.Kind.PREDICTION_RUN: "predictions.tasks.prediction_run_task",
    Job.Kind.PLAN_OPTIMISE: "recommendations.tasks.plan_optimise_task",
    Job.Kind.MODEL_RETRAIN: "feedback.tasks.model_retrain_task",
}


class JobCancelled(Exception):
    """The job was cancelled, or another attempt took it over: stop and write nothing more."""


def jobs_for_user(user):
    if not user.is_authenticated or not user.is_active:
        return Job.objects.none()
    if user.is_administrator:
        return Job.objects.all()
    if user.can_analyse:  # analysts also follow what the platform started by itself (first training, retraining)
        return Job.objects.filter(Q(created_by=user) | Q(created_by__isnull=True))
    return Job.objects.filter(created_by=user)


def job_create(*, kind: str, created_by, params: dict | None = None, scope: str = "", enqueue: bool = True) -> Job:
    """Record a job and send it to the worker once the surrounding transaction commits.

    `enqueue=False` is for management commands that run the job in their own process (`job_run`).
    """
    job = Job.objects.create(kind=kind, created_by=created_by, params=params or {}, scope=scope)
    if enqueue:
        job_enqueue(job=job)
    return job


def job_enqueue(*, job: Job) -> None:
    task = import_string(TASK_FOR_KIND[job.kind])
    transaction.on_commit(lambda: task.apply_async(args=[job.pk]))


def job_claim(*, job_id: int, worker: str = "") -> Job | None:
    """Take a queued job, or a running one whose worker stopped beating; None when it is not ours to run."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    claimed = (
        Job.objects.filter(pk=job_id)
        .filter(Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, heartbeat_at__lt=stale))
        .update(
            status=Job.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            worker=worker[:200],
            message=_("Started"),
            failure_reason="",
        )
    )
    if not claimed:
        return None
    return Job.objects.get(pk=job_id)


class JobProgress:
    """Report progress from inside a running job; raises JobCancelled once the job is no longer ours."""

    def __init__(self, job: Job, min_interval: float = 0.5):
        self.job = job
        self.min_interval = min_interval
        self._last_write = 0.0
        self._last_percent = -1.0

    def __call__(self, percent: float, message: str = "") -> None:
        percent = max(0.0, min(100.0, float(percent)))
        now = time.monotonic()
        if now - self._last_write < self.min_interval and percent - self._last_percent < 5:
            return
        self._last_write, self._last_percent = now, percent
        updated = Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING, attempts=self.job.attempts).update(
            progress=round(percent, 1), message=message[:300], heartbeat_at=timezone.now()
        )
        if not updated:
            raise JobCancelled()

    def check(self) -> None:
        """Beat and stop if cancelled, without changing the progress figure."""
        self(self._last_percent if self._last_percent >= 0 else 0, self.job.message)


def _job_end(*, job: Job, status: str, **fields) -> bool:
    return bool(
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
            status=status, finished_at=timezone.now(), heartbeat_at=timezone.now(), **fields
        )
    )


def job_succeed(*, job: Job, result: dict | None = None, message: str = "") -> bool:
    return _job_end(
        job=job, status=Job.Status.SUCCEEDED, progress=100.0, result=result or {}, message=message or _("Done")
    )


def job_commit(*, job: Job) -> None:
    """Call inside the transaction that writes a job's results: the job is marked succeeded in that same
    transaction. A cancel or a newer attempt that came first makes this raise, and the results roll back; one
    that comes later finds the job ended. So a cancelled job never leaves results behind."""
    now = timezone.now()
    if not Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.SUCCEEDED, progress=100.0, finished_at=now, heartbeat_at=now, message=_("Done")
    ):
        raise JobCancelled()


def job_fail(*, job: Job, reason: str) -> bool:
    return _job_end(job=job, status=Job.Status.FAILED, failure_reason=reason[:5000], message=_("Failed"))


def job_cancel(*, job: Job, user) -> Job:
    cancelled = Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(
        status=Job.Status.CANCELLED, finished_at=timezone.now(), message=_("Cancelled by %(user)s") % {"user": user}
    )
    job.refresh_from_db()
    if not cancelled:
        raise Conflict(_("This job has already ended (%(status)s).") % {"status": job.get_status_display()})
    return job


def job_retry(*, job: Job, user) -> Job:
    with transaction.atomic():
        retried = Job.objects.filter(pk=job.pk, status__in=[Job.Status.FAILED, Job.Status.CANCELLED]).update(
            status=Job.Status.QUEUED,
            progress=0.0,
            message=_("Retry requested by %(user)s") % {"user": user},
            failure_reason="",
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
        )
        job.refresh_from_db()
        if not retried:
            raise Conflict(
                _("Only a failed or cancelled job can be retried; this one is %(status)s.")
                % {"status": job.get_status_display()}
            )
        job_enqueue(job=job)
    return job


def jobs_reap_stale() -> dict:
    """Hand back jobs whose worker stopped beating: re-queue them while attempts remain, else fail them."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS)
    requeued = failed = 0
    for job in Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=stale):
        base = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, heartbeat_at__lt=stale)
        if job.attempts < settings.JOB_MAX_ATTEMPTS:
            with transaction.atomic():
                if base.update(status=Job.Status.QUEUED, message=_("Worker lost; queued again")):
                    job_enqueue(job=job)
                    requeued += 1
        elif base.update(
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            message=_("Failed"),
            failure_reason=_("The worker stopped during the job %(n)d times; giving up.") % {"n": job.attempts},
        ):
            failed += 1
    # A job still queued long after it was created probably lost its message (the broker was down when it was
    # sent): send it again; a claim makes a duplicate harmless.
    resent = 0
    for job in Job.objects.filter(
        status=Job.Status.QUEUED, created_at__lt=stale - timedelta(seconds=settings.JOB_STALE_SECONDS)
    ):
        job_enqueue(job=job)
        resent += 1
    return {"requeued": requeued, "failed": failed, "resent": resent}


def job_run(*, job_id: int, handler: Callable[[Job, JobProgress], dict | None], worker: str = "") -> Job | None:
    """Claim the job and run `handler(job, progress)`, recording how it ended. Safe to call twice."""
    job = job_claim(job_id=job_id, worker=worker)
    if job is None:
        logger.info("job %s is not claimable (ended, or running elsewhere)", job_id)
        return None
    progress = JobProgress(job)
    try:
        result = handler(job, progress)
    except JobCancelled:
        logger.info("job %s stopped: cancelled or superseded", job_id)
    except (ValidationError, ApplicationError) as exc:
        job_fail(job=job, reason=_error_text(exc))
    except SoftTimeLimitExceeded:
        job_fail(job=job, reason=_("The job ran past its time limit."))
    except Exception as exc:  # noqa: BLE001 - any failure must end the job, not leave it running
        logger.exception("job %s failed", job_id)
        job_fail(job=job, reason=_("Unexpected error: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"})
    else:
        if not job_succeed(job=job, result=result or {}):  # committed with its results: record what it returned
            Job.objects.filter(pk=job.pk, status=Job.Status.SUCCEEDED, attempts=job.attempts).update(
                result=result or {}
            )
    job.refresh_from_db()
    return job


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)
