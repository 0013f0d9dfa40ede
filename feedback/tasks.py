from celery import shared_task

from feedback.services.retention import feedback_text_expire
from feedback.services.retraining import model_retrain, retrain_request
from jobs.services import job_run


@shared_task(name="feedback.tasks.retrain_scheduled_task")
def retrain_scheduled_task() -> int | None:
    job = retrain_request(user=None, reason="weekly schedule", quiet=True)
    return job.pk if job else None


@shared_task(name="feedback.tasks.model_retrain_task")
def model_retrain_task(job_id: int) -> None:
    job_run(
        job_id=job_id,
        handler=lambda job, progress: model_retrain(job=job, progress=progress),
        worker=model_retrain_task.request.hostname or "",
    )


@shared_task(name="feedback.tasks.feedback_text_expire_task")
def feedback_text_expire_task() -> int:
    return feedback_text_expire()
