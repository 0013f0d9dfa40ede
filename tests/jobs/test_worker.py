from datetime import timedelta

import pytest
from django.utils import timezone

from eduplatform.celery import app as celery_app
from jobs.models import Job
from jobs.tasks import jobs_reap_stale_task
from tests.workers import Worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    celery_app.conf.task_always_eager = False
    w = Worker(tmp_path / "worker.log", extra_env={"JOB_MAX_ATTEMPTS": "2"}).start()
    yield w
    w.stop()


def test_a_real_worker_runs_a_task_end_to_end(worker, analyst):
    """The reaper task goes through the broker to a separate worker process, which updates the database."""
    lost = Job.objects.create(
        kind=Job.Kind.DATASET_INGEST,
        created_by=analyst,
        status=Job.Status.RUNNING,
        attempts=2,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    jobs_reap_stale_task.delay()
    wait_for(lambda: Job.objects.get(pk=lost.pk).status == Job.Status.FAILED, what="the worker to fail the lost job")
    lost.refresh_from_db()
    assert "2" in lost.failure_reason
    assert "jobs_reap_stale_task" in worker.log()
