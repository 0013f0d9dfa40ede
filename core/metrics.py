"""Prometheus metrics of the platform, served at `/metrics`.

Two kinds of numbers live here:

* per-process counters (HTTP and database metrics from django-prometheus, `predictions_served`): gunicorn runs
  several worker processes, so with `PROMETHEUS_MULTIPROC_DIR` set (deploy/gunicorn.conf.py always sets it) every
  process writes its counters to files there and `metrics_view` adds them up, whichever worker answers the scrape;
* the platform's own state (jobs, queue, champion models, drift, predictions, recommendations, feedback), read
  from the database and the broker when Prometheus scrapes, by one `PlatformCollector`. Reading at scrape time
  means every web replica reports the same numbers (dashboards take `max` across instances) and nothing is lost
  when a process restarts.

Labels only take values from bounded sets: job kinds and statuses, the 25 department codes (and their names),
model targets, algorithms and metric names, the champion model's features, review and triage statuses. Never a
user, a district (ubigeo) or free text: each label value is a separate time series in Prometheus, and an unbounded
label would grow its memory without end. `deploy/README.md` lists every metric.
"""

import hmac
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Substr
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

PREFIX = "eduplatform_"

# Jobs last from seconds (a small upload) to hours (training every model): buckets spread over that range.
JOB_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
# The grouped-CV figures of a champion model that are exported, when its metrics dict has them.
MODEL_METRICS = ("r2", "mae", "rmse", "interval_coverage", "interval_mean_width")
# The ML code decides the features; a safety cap keeps a malformed drift report from flooding Prometheus.
MAX_DRIFT_FEATURES = 200
JOBS_RECENT_WINDOW = timedelta(hours=1)
DEPARTMENT = re.compile(r"^\d{2}$")
MAX_LABEL_LENGTH = 100
REDIS_TIMEOUT = 2.0

_predictions_served = Counter(
    f"{PREFIX}predictions_served", "District predictions returned by the predictions API (rows served)."
)


def predictions_served(n: int) -> None:
    """Count `n` district predictions returned to a client (called by the predictions API)."""
    if n > 0:
        _predictions_served.inc(n)


def _department(code: str) -> str:
    return code if DEPARTMENT.match(code or "") else "unknown"


def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}{name}", documentation, labels=list(labels))


def collect_jobs() -> Iterable[Metric]:
    from jobs.models import Job

    kinds, statuses = Job.Kind.values, Job.Status.values
    counts = {(k, s): 0 for k in kinds for s in statuses}
    for row in Job.objects.order_by().values("kind", "status").annotate(n=Count("id")):
        counts[(row["kind"], row["status"])] = row["n"]
    jobs = _gauge("jobs", "Background jobs by kind and current status (rows in jobs.Job).", ["kind", "status"])
    for (kind, status), n in sorted(counts.items()):
        jobs.add_metric([kind, status], n)
    yield jobs

    # Jobs that ended in the last hour: the failure-rate alert divides these. A count over a fixed window stays
    # right when a failed job is retried (it leaves "failed"), where a counter built from rows would go back.
    ended = [str(s) for s in Job.ENDED]
    recent = {(k, s): 0 for k in kinds for s in ended}
    since = timezone.now() - JOBS_RECENT_WINDOW
    rows = (
        Job.objects.order_by()
        .filter(status__in=ended, finished_at__gte=since)
        .values("kind", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        recent[(row["kind"], row["status"])] = row["n"]
    family = _gauge(
        "jobs_ended_last_hour", "Jobs that ended in the last hour, by kind and how they ended.", ["kind", "status"]
    )
    for (kind, status), n in sorted(recent.items()):
        family.add_metric([kind, status], n)
    yield family

    # Durations of succeeded jobs: a succeeded job never changes again, so the counts only grow, as a
    # histogram's must. (A failed job may be retried, and its duration says little: it may fail at once.)
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {
        f"le_{i}": Count("id", filter=Q(d__lte=timedelta(seconds=b))) for i, b in enumerate(JOB_DURATION_BUCKETS)
    }
    rows = (
        Job.objects.order_by()
        .filter(status=Job.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False)
        .annotate(d=duration)
        .values("kind")
        .annotate(n=Count("id"), total=Sum("d"), **buckets)
    )
    by_kind = {row["kind"]: row for row in rows}
    histogram = HistogramMetricFamily(
        f"{PREFIX}job_duration_seconds", "Run time of succeeded jobs (last attempt), by kind.", labels=["kind"]
    )
    for kind in kinds:
        row = by_kind.get(kind) or {"n": 0, "total": None}
        cumulative = [(str(float(b)), row.get(f"le_{i}", 0)) for i, b in enumerate(JOB_DURATION_BUCKETS)]
        cumulative.append(("+Inf", row["n"]))
        total = row["total"].total_seconds() if row["total"] else 0.0
        histogram.add_metric([kind], cumulative, max(total, 0.0))
    yield histogram


def _queue_length(queue: str) -> int:
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        try:
            # kombu keeps prioritised messages in sibling lists ("celery\x06\x163", ...): count them all.
            from kombu.transport.redis import PRIORITY_STEPS, Channel

            keys = [queue] + [f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS if step]
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            return int(sum(pipe.execute()))
        finally:
            client.close()
    # kombu's filesystem transport: one file per message, named "<time>_<uuid>.<queue>.msg".
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    suffix = f".{queue}.msg"
    return sum(1 for entry in os.scandir(folder) if entry.name.endswith(suffix))


def collect_queue() -> Iterable[Metric]:
    from eduplatform.celery import app as celery_app

    queue = celery_app.conf.task_default_queue
    family = _gauge("queue_length", "Messages waiting in the Celery queue (not yet taken by a worker).", ["queue"])
    family.add_metric([queue], _queue_length(queue))
    yield family


def _champions():
    from predictions.models import ModelVersion

    return list(ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).order_by("target"))


def collect_models() -> Iterable[Metric]:
    version = _gauge(
        "model_champion_version",
        "Id (version) of the champion model of each target; algorithm as a label.",
        ["target", "algorithm"],
    )
    metric = _gauge(
        "model_champion_metric",
        "Grouped cross-validation metrics of the champion model (R², MAE, RMSE, 90% interval coverage and width).",
        ["target", "metric"],
    )
    for model in _champions():
        version.add_metric([model.target, model.algorithm], model.pk)
        grouped = (model.metrics or {}).get("grouped_cv") or {}
        for name in MODEL_METRICS:
            value = _finite(grouped.get(name)) if isinstance(grouped, dict) else None
            if value is not None:
                metric.add_metric([model.target, name], value)
    yield version
    yield metric


def collect_drift() -> Iterable[Metric]:
    from predictions.models import DriftReport

    psi = _gauge(
        "drift_psi",
        "Population stability index of each feature in the champion's latest drift report.",
        ["target", "feature"],
    )
    created = _gauge("drift_report_timestamp_seconds", "When the champion's latest drift report was made.", ["target"])
    shift = _gauge(
        "prediction_shift_psi",
        "Population stability index of the champion's predictions between its training table and the newest one.",
        ["target"],
    )
    for model in _champions():
        report = DriftReport.objects.filter(model=model).order_by("-created_at", "-id").first()
        if report is None:
            continue
        created.add_metric([model.target], report.created_at.timestamp())
        shift_psi = _finite(report.prediction_shift.get("psi")) if isinstance(report.prediction_shift, dict) else None
        if shift_psi is not None:
            shift.add_metric([model.target], shift_psi)
        values = report.psi if isinstance(report.psi, dict) else {}
        # The model's features bound the label; names come from dataset columns, so any text is a valid value.
        features = {f for f in model.features or [] if isinstance(f, str)}
        names = sorted(name for name in values if not features or name in features)
        for feature in names[:MAX_DRIFT_FEATURES]:
            value = _finite(values[feature])
            if value is not None:
                psi.add_metric([model.target, str(feature)[:MAX_LABEL_LENGTH]], value)
    yield psi
    yield created
    yield shift


def collect_predictions() -> Iterable[Metric]:
    from jobs.models import Job
    from predictions.models import Prediction, PredictionRun

    mean = _gauge(
        "predicted_disparity_mean",
        "Mean predicted value over the districts of each department, latest prediction run of the champion.",
        ["target", "department"],
    )
    flagged = _gauge(
        "flagged_districts",
        "Districts flagged with significant disparity, by department, latest prediction run of the champion.",
        ["target", "department"],
    )
    districts = _gauge(
        "predicted_districts", "Districts scored by the champion's latest prediction run.", ["target", "department"]
    )
    run_time = _gauge(
        "prediction_run_timestamp_seconds", "When the champion's latest prediction run was made.", ["target"]
    )
    for model in _champions():
        run = (
            PredictionRun.objects.filter(model=model, job__status=Job.Status.SUCCEEDED)
            .order_by("-created_at", "-id")
            .first()
        )
        if run is None:
            continue
        run_time.add_metric([model.target], run.created_at.timestamp())
        rows = (
            Prediction.objects.filter(run=run)
            .order_by()
            .annotate(department=Substr("ubigeo", 1, 2))
            .values("department")
            .annotate(mean=Avg("value"), flagged=Count("id", filter=Q(flagged=True)), n=Count("id"))
        )
        for row in rows:
            labels = [model.target, _department(row["department"])]
            if _finite(row["mean"]) is not None:
                mean.add_metric(labels, row["mean"])
            flagged.add_metric(labels, row["flagged"])
            districts.add_metric(labels, row["n"])
    yield from (mean, flagged, districts, run_time)


def collect_recommendations() -> Iterable[Metric]:
    from recommendations.models import Recommendation

    counts: dict[tuple[str, str], int] = {}
    rows = Recommendation.objects.order_by().values("status", "department").annotate(n=Count("id"))
    for row in rows:
        key = (row["status"], _department(row["department"]))
        counts[key] = counts.get(key, 0) + row["n"]
    # Every status of every department that has recommendations, zeros included, so sums by status are complete.
    for department in {d for _, d in counts}:
        for status in Recommendation.Status.values:
            counts.setdefault((status, department), 0)
    family = _gauge("recommendations", "Recommendations by review status and department.", ["status", "department"])
    for (status, department), n in sorted(counts.items()):
        family.add_metric([status, department], n)
    yield family


def collect_feedback() -> Iterable[Metric]:
    from feedback.models import Feedback

    counts = dict.fromkeys(Feedback.Status.values, 0)
    for row in Feedback.objects.order_by().values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    family = _gauge("feedback", "Feedback from schools and policy makers by triage status.", ["status"])
    for status, n in sorted(counts.items()):
        family.add_metric([status], n)
    yield family


def collect_departments() -> Iterable[Metric]:
    from datasets.models import Department

    family = _gauge(
        "department_info", "1 for each of Peru's departments: joins department codes to names.", ["department", "name"]
    )
    for code, name in Department.objects.order_by("code").values_list("code", "name"):
        family.add_metric([_department(code), name], 1)
    yield family


# (part, function, reads the database): a part that fails is reported down, the others are still served.
PARTS: list[tuple[str, Callable[[], Iterable[Metric]], bool]] = [
    ("jobs", collect_jobs, True),
    ("queue", collect_queue, False),
    ("models", collect_models, True),
    ("drift", collect_drift, True),
    ("predictions", collect_predictions, True),
    ("recommendations", collect_recommendations, True),
    ("feedback", collect_feedback, True),
    ("departments", collect_departments, True),
]


class PlatformCollector(Collector):
    """The platform's state, read when Prometheus scrapes. Each part runs in its own transaction (a consistent
    read, and a failing query cannot poison the request's connection) and is timed and reported up or down."""

    def collect(self) -> Iterable[Metric]:
        up = _gauge("metrics_collector_up", "1 when this part of the platform metrics could be read.", ["part"])
        seconds = _gauge("metrics_collector_duration_seconds", "Time to read this part of the metrics.", ["part"])
        for part, function, reads_database in PARTS:
            start = time.perf_counter()
            try:
                if reads_database:
                    with transaction.atomic():
                        families = list(function())
                else:
                    families = list(function())
            except Exception:  # noqa: BLE001 - one failing part must not hide the others
                logger.exception("platform metrics: %s failed", part)
                families, ok = [], 0
            else:
                ok = 1
            up.add_metric([part], ok)
            seconds.add_metric([part], time.perf_counter() - start)
            yield from families
        yield up
        yield seconds


PLATFORM_REGISTRY = CollectorRegistry(auto_describe=False)
PLATFORM_REGISTRY.register(PlatformCollector())


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or ""


def _authorised(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
@never_cache
def metrics_view(request):
    """Every process's counters (summed across gunicorn workers in multiprocess mode) and the platform's state."""
    if not _authorised(request):
        return HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    if multiprocess_dir():
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(PLATFORM_REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
