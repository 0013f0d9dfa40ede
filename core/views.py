import logging

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from eduplatform.celery import app as celery_app

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def healthz(request):
    """The process is up and answering; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means not ready; the details go to the log, not the answer
        logger.exception("readiness: database")
        return "unavailable"
    return None


def _broker_ok() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
            if conn.transport.driver_type == "redis":
                conn.default_channel.client.ping()
    except Exception:  # noqa: BLE001
        logger.exception("readiness: broker")
        return "unavailable"
    return None


@require_GET
@never_cache
def readyz(request):
    """Ready to serve: the database and the message broker answer. 503 otherwise, with which one failed."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ready = not any(checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: ("ok" if error is None else error) for name, error in checks.items()},
    }
    if not ready:
        logger.warning("not ready: %s", body["checks"])
    return JsonResponse(body, status=200 if ready else 503)


@login_required
def home(request):
    return render(request, "core/home.html", {"user": request.user})
