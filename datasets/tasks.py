from celery import shared_task

from datasets.services.snapshots import snapshot_build
from datasets.services.uploads import dataset_ingest
from jobs.services import job_run


@shared_task(name="datasets.tasks.dataset_ingest_task")
def dataset_ingest_task(job_id: int) -> None:
    job_run(
        job_id=job_id,
        handler=lambda job, progress: dataset_ingest(job=job, progress=progress),
        worker=dataset_ingest_task.request.hostname or "",
    )


@shared_task(name="datasets.tasks.snapshot_build_task")
def snapshot_build_task(job_id: int) -> None:
    job_run(
        job_id=job_id,
        handler=lambda job, progress: snapshot_build(job=job, progress=progress),
        worker=snapshot_build_task.request.hostname or "",
    )
