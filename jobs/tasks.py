from celery import shared_task

from jobs.services import jobs_reap_stale


@shared_task(name="jobs.tasks.jobs_reap_stale_task")
def jobs_reap_stale_task() -> dict:
    return jobs_reap_stale()
