"""The job state machine: cancel and retry rules, and results that only count when the job still holds."""

import pytest
from django.db import transaction

from accounts.models import Role
from datasets.models import Dataset, DatasetVersion
from jobs.models import Job
from jobs.services import JobCancelled, job_cancel, job_claim, job_commit

pytestmark = pytest.mark.django_db


def test_results_written_after_a_cancel_roll_back(analyst):
    job = Job.objects.create(kind=Job.Kind.DATASET_INGEST, created_by=analyst)
    job = job_claim(job_id=job.pk)
    job_cancel(job=job, user=analyst)
    with pytest.raises(JobCancelled), transaction.atomic():
        Dataset.objects.create(slug="escrito-tarde", name="x", kind="freeform")
        job_commit(job=job)
    assert not Dataset.objects.filter(slug="escrito-tarde").exists()
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED


def test_an_ingestion_cancelled_while_saving_leaves_no_version(analyst):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from datasets.services.uploads import dataset_create, dataset_ingest, upload_create

    dataset = dataset_create(user=analyst, name="Tarde", kind=Dataset.Kind.DISTRICT_INDICATORS)
    upload = upload_create(
        user=analyst, dataset=dataset, uploaded_file=SimpleUploadedFile("t.csv", b"ubigeo,v\n080101,1\n080102,2\n")
    )
    job = job_claim(job_id=upload.job_id)

    def progress(percent, message=""):
        if percent >= 90:  # the cancel arrives once the rows are checked, while they are being saved
            job_cancel(job=job, user=analyst)

    with pytest.raises(JobCancelled):
        dataset_ingest(job=job, progress=progress)
    assert not DatasetVersion.objects.filter(dataset=dataset).exists()


def test_only_administrators_control_jobs_the_platform_started(api_as, analyst, admin_user):
    system_job = Job.objects.create(kind=Job.Kind.MODEL_RETRAIN, created_by=None)
    assert api_as(analyst).get(f"/api/v1/jobs/{system_job.pk}/").status_code == 200  # they can follow it
    assert api_as(analyst).post(f"/api/v1/jobs/{system_job.pk}/cancel/").status_code == 403
    assert api_as(admin_user).post(f"/api/v1/jobs/{system_job.pk}/cancel/").status_code == 200


def test_a_user_who_no_longer_analyses_cannot_restart_old_jobs(api_as, make_user):
    former = make_user("ex_analista", Role.ANALYST, "PE")
    job = Job.objects.create(kind=Job.Kind.MODEL_TRAIN, created_by=former, status=Job.Status.FAILED)
    former.role = Role.SCHOOL_STAFF
    former.save()
    assert api_as(former).post(f"/api/v1/jobs/{job.pk}/retry/").status_code == 403
    assert Job.objects.get(pk=job.pk).status == Job.Status.FAILED
