"""Training in a real Celery worker: killed mid-job it is retried without a second set of versions; cancelled
mid-job it stops and registers nothing."""

import os
import time

import pytest
from django.core.management import call_command

from jobs.models import Job
from predictions.models import ModelVersion
from predictions.services.training import model_train_request
from tests.conftest import shared_peru_dir
from tests.workers import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STALE_SECONDS = 4
ALGORITHMS = ["ridge", "random_forest", "mlp"]


@pytest.fixture
def peru_with_datasets():
    call_command("load_peru", source=shared_peru_dir(), stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def workers(start_worker):
    return lambda: start_worker(STALE_SECONDS)


def running(job_id: int, above: float = 3.0) -> bool:
    return Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, progress__gt=above).exists()


def test_a_worker_killed_mid_training_is_retried_without_duplicate_versions(peru_with_datasets, workers, analyst):
    first = workers()
    job = model_train_request(user=analyst, algorithms=ALGORITHMS, options={"fast": True, "n_splits": 3})
    wait_for(lambda: running(job.pk), interval=0.1, timeout=180, what="training to start")
    first.kill()
    assert not ModelVersion.objects.filter(training_job=job).exists()
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
    time.sleep(STALE_SECONDS + 1)
    workers()
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=Job.ENDED).first(),
        timeout=600,
        what="the retried training to end",
    )
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    assert job.attempts == 2
    assert sorted(ModelVersion.objects.filter(training_job=job).values_list("algorithm", flat=True)) == sorted(
        ALGORITHMS
    )
    assert ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).count() == 1


def test_cancelling_a_running_training_stops_it_and_registers_nothing(peru_with_datasets, workers, analyst, api_as):
    worker = workers()
    job = model_train_request(user=analyst, algorithms=ALGORITHMS, options={"fast": True, "n_splits": 3})
    wait_for(lambda: running(job.pk, above=1.0), interval=0.1, timeout=180, what="training to start")
    response = api_as(analyst).post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    wait_for(
        lambda: f"job {job.pk} stopped: cancelled" in worker.log(),
        timeout=120,
        what="the worker to notice the cancellation at its next progress report",
    )
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED
    assert not ModelVersion.objects.filter(training_job=job).exists()
    retried = api_as(analyst).post(f"/api/v1/jobs/{job.pk}/retry/")
    assert retried.status_code == 202
    job = wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=Job.ENDED).first(),
        timeout=600,
        what="the retried training to end",
    )
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    assert ModelVersion.objects.filter(training_job=job).count() == len(ALGORITHMS)
