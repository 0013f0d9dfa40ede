from celery import shared_task

from jobs.services import job_run
from predictions.services.runs import prediction_run
from predictions.services.training import model_train


@shared_task(name="predictions.tasks.model_train_task")
def model_train_task(job_id: int) -> None:
    job_run(
        job_id=job_id,
        handler=lambda job, progress: model_train(job=job, progress=progress),
        worker=model_train_task.request.hostname or "",
    )


@shared_task(name="predictions.tasks.prediction_run_task")
def prediction_run_task(job_id: int) -> None:
    job_run(
        job_id=job_id,
        handler=lambda job, progress: prediction_run(job=job, progress=progress),
        worker=prediction_run_task.request.hostname or "",
    )


@shared_task(name="predictions.tasks.drift_check_task")
def drift_check_task() -> int | None:
    from predictions.services.drift import drift_check
    from predictions.services.runs import champion

    model = champion()
    return drift_check(model=model).pk if model else None
