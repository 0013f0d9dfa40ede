"""Ingestion in a real Celery worker process, including a worker killed in the middle of a job."""

import io
import time

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import Dataset, DatasetRow, DatasetVersion, District
from datasets.services.uploads import dataset_create, upload_create
from eduplatform.celery import app as celery_app
from jobs.models import Job
from tests.workers import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

STALE_SECONDS = 3


def big_file(periods: int) -> bytes:
    """Every district × `periods` periods, five numeric columns: large enough to take seconds to ingest."""
    ubigeos = list(District.objects.values_list("ubigeo", flat=True))
    rng = np.random.default_rng(0)
    buffer = io.StringIO()
    buffer.write("ubigeo,periodo,a,b,c,d,e\n")
    for period in range(periods):
        values = rng.uniform(0, 100, size=(len(ubigeos), 5))
        for ubigeo, row in zip(ubigeos, values, strict=True):
            buffer.write(f"{ubigeo},{period},{row[0]:.3f},{row[1]:.3f},{row[2]:.3f},{row[3]:.3f},{row[4]:.3f}\n")
    return buffer.getvalue().encode()


@pytest.fixture
def real_worker(start_worker):
    return lambda: start_worker(STALE_SECONDS)


def test_upload_is_ingested_by_a_real_worker(real_worker, peru_districts, analyst):
    real_worker()
    dataset = dataset_create(user=analyst, name="Escuelas", kind=Dataset.Kind.DISTRICT_INDICATORS)
    upload = upload_create(
        user=analyst,
        dataset=dataset,
        uploaded_file=SimpleUploadedFile("e.csv", b"ubigeo,escuelas\n080101,12\n150101,40\n"),
    )
    job = wait_for(lambda: Job.objects.filter(pk=upload.job_id, status__in=Job.ENDED).first(), what="the job to end")
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    assert DatasetRow.objects.filter(version__dataset=dataset).count() == 2


def test_a_worker_killed_mid_ingestion_leaves_nothing_half_written_and_the_job_completes(
    real_worker, peru_districts, analyst
):
    content = big_file(periods=160)  # about 300,000 rows
    expected_rows = content.count(b"\n") - 1
    dataset = dataset_create(
        user=analyst, name="Panel grande", kind=Dataset.Kind.DISTRICT_INDICATORS, key_columns=["periodo"]
    )
    first = real_worker()
    upload = upload_create(user=analyst, dataset=dataset, uploaded_file=SimpleUploadedFile("panel.csv", content))
    wait_for(
        lambda: Job.objects.filter(pk=upload.job_id, status=Job.Status.RUNNING, progress__gt=0).exists(),
        interval=0.05,
        what="the ingestion to start",
    )
    first.kill()

    job = Job.objects.get(pk=upload.job_id)
    assert job.status == Job.Status.RUNNING  # the dead worker could not say anything else
    assert not DatasetVersion.objects.filter(dataset=dataset).exists()
    assert not DatasetRow.objects.filter(version__dataset=dataset).exists()

    time.sleep(STALE_SECONDS + 1)  # its heartbeat goes stale
    real_worker()  # a new worker hands the job back to the queue at start and runs it
    job = wait_for(
        lambda: Job.objects.filter(pk=upload.job_id, status__in=Job.ENDED).first(),
        timeout=240,
        what="the retried job to end",
    )
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    assert job.attempts == 2
    versions = DatasetVersion.objects.filter(dataset=dataset)
    assert versions.count() == 1
    assert versions.get().row_count == expected_rows
    assert DatasetRow.objects.filter(version__dataset=dataset).count() == expected_rows


def test_ingestion_outside_a_transaction_rolls_back_everything_on_bad_rows(peru_districts, analyst):
    """Outside a test transaction, PostgreSQL streams rows into COPY while validating (datasets/services/
    copy_writer.py); a bad row found late must still leave no version and no row."""
    from datasets.services.uploads import dataset_ingest
    from jobs.services import job_run

    content = big_file(periods=20) + b"080101,99999,1,2,3,4,oops\n"
    dataset = dataset_create(
        user=analyst, name="Panel con error", kind=Dataset.Kind.DISTRICT_INDICATORS, key_columns=["periodo"]
    )
    celery_app.conf.task_always_eager = False
    upload = upload_create(user=analyst, dataset=dataset, uploaded_file=SimpleUploadedFile("p.csv", content))
    job = job_run(job_id=upload.job_id, handler=lambda job, progress: dataset_ingest(job=job, progress=progress))
    assert job.status == Job.Status.FAILED
    assert not DatasetVersion.objects.filter(dataset=dataset).exists()
    assert not DatasetRow.objects.filter(version__dataset=dataset).exists()
    good = upload_create(user=analyst, dataset=dataset, uploaded_file=SimpleUploadedFile("q.csv", big_file(periods=20)))
    job = job_run(job_id=good.job_id, handler=lambda job, progress: dataset_ingest(job=job, progress=progress))
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    assert DatasetRow.objects.filter(version__dataset=dataset).count() == 20 * District.objects.count()
