import logging

from celery.signals import worker_ready

logger = logging.getLogger(__name__)


@worker_ready.connect
def reap_on_start(**kwargs):
    """A worker that starts after a crash hands back the jobs the dead one held, without waiting for beat."""
    from jobs.services import jobs_reap_stale

    logger.info("stale jobs at worker start: %s", jobs_reap_stale())
