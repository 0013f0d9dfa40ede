from celery import shared_task

from jobs.services import job_run
from recommendations.services.plans import plan_optimise
from recommendations.services.review import transition_notify


@shared_task(name="recommendations.tasks.plan_optimise_task")
def plan_optimise_task(job_id: int) -> None:
    job_run(
        job_id=job_id,
        handler=lambda job, progress: plan_optimise(job=job, progress=progress),
        worker=plan_optimise_task.request.hostname or "",
    )


@shared_task(
    name="recommendations.tasks.notification_send_task",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def notification_send_task(transition_id: int) -> int:
    return transition_notify(transition_id=transition_id)
