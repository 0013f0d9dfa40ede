"""End to end: the platform's web server (gunicorn, 2 workers), a Celery worker, the Celery exporter and Debian's
Prometheus with deploy/prometheus/alerts.yml, all real processes on the test database and a Redis of the test's
own. Real traffic (pages that answer 200, 404 and 503, an upload run by the worker, a job whose worker was lost),
then every query of the Grafana dashboards and of the recording rules must return data through Prometheus's HTTP
API, and the alert rules must evaluate without error.

Which expressions must return data, and which are empty by design:

* every dashboard panel query (deploy/grafana/dashboards/*.json, `$target` set to the champion's target) and every
  recording rule (`record:` in alerts.yml), both as its expression and as its recorded series: data required, at
  least one finite sample each;
* every alert condition (`alert:` in alerts.yml): empty while the platform is healthy, so not required here; each
  is shown firing and silent by the promtool unit tests (alerts_test.yml, test_prometheus_rules.py). Here one of
  them must fire for real: EduplatformDriftHigh, since the test's champion has a drift report with PSI 0.31.
"""

import concurrent.futures
import json
import math
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import yaml
from django.conf import settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from eduplatform.celery import app as celery_app
from jobs.models import Job
from tests.deploy import rows
from tests.deploy.support import (
    DEPLOY,
    REPO,
    CeleryExporter,
    Gunicorn,
    Prometheus,
    RedisServer,
    http_get,
    http_post,
    wait_until,
)
from tests.workers import Worker

pytestmark = pytest.mark.django_db(transaction=True)

ALERTS = DEPLOY / "prometheus" / "alerts.yml"


@pytest.fixture
def started():
    """Processes to stop at the end, whatever happens, in reverse order of start."""
    celery_app.conf.task_always_eager = False
    services = []
    yield services
    for service in reversed(services):
        service.stop()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    status, body = http_get(url)
    assert status == 200, body[:500]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_counters_add_up_across_gunicorn_workers_and_survive_a_dead_worker(tmp_path, started):
    """Whichever worker answers the scrape, /metrics counts the requests all workers served; a worker killed
    (as by the OOM killer) leaves its counts in, and its live gauge out (gunicorn's child_exit hook)."""
    redis = RedisServer(tmp_path).start()
    started.append(redis)
    web = Gunicorn(tmp_path).start(redis.url, workers=2)
    started.append(web)
    healthz = ("django_http_requests_total_by_view_transport_method_total", "GET", "http", "core:healthz")

    def count() -> float:
        name, method, transport, view = healthz
        samples = scrape(web.url("/metrics"))
        return sample(samples, name, method=method, transport=transport, view=view) or 0

    before = count()  # the start-up checks asked /healthz too
    sent = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        for _ in range(5):  # until both workers have answered some (the kernel picks the worker)
            statuses = list(pool.map(lambda _: http_get(web.url("/healthz"))[0], range(40)))
            assert statuses == [200] * 40
            sent += 40
            if len(web.answering_pids("/healthz")) >= 2:
                break
    assert len(web.answering_pids("/healthz")) == 2, web.log()[-3000:]
    assert count() - before == sent
    assert sample(scrape(web.url("/metrics")), "eduplatform_web_workers") == 2

    old = web.worker_pids()
    victim = min(old)
    subprocess.run(["kill", "-9", str(victim)], check=True)
    wait_until(lambda: len(web.worker_pids() - old) == 1, 60, "gunicorn to start a new worker")
    (newcomer,) = web.worker_pids() - old
    wait_until(lambda: (web.multiproc_dir / f"gauge_livesum_{newcomer}.db").exists(), 60, "the new worker's gauge")
    assert not (web.multiproc_dir / f"gauge_livesum_{victim}.db").exists()
    assert sample(scrape(web.url("/metrics")), "eduplatform_web_workers") == 2  # 3 if the dead one still counted
    assert count() - before >= sent  # the dead worker's requests are still counted


def prometheus_config(web: Gunicorn, exporter: CeleryExporter, prometheus: Prometheus) -> dict:
    """deploy/prometheus/prometheus.yml with its jobs pointed at the test's processes, scraping every second."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(ALERTS)]
    targets = {
        "eduplatform-web": f"127.0.0.1:{web.port}",
        "eduplatform-celery": f"127.0.0.1:{exporter.port}",
        "prometheus": f"127.0.0.1:{prometheus.port}",
    }
    assert {job["job_name"] for job in config["scrape_configs"]} == set(targets)
    for job in config["scrape_configs"]:
        for discovery in [key for key in job if key.endswith("_sd_configs")]:
            del job[discovery]
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expression) of every panel query, with the dashboard variable set."""
    queries = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$target", rows.TARGET)
                assert "$" not in expr, f"unknown variable in {panel['title']}: {expr}"
                queries.append((dashboard["title"], panel["title"], expr))
    return queries


def rule_expressions() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(name, expression) of the recording rules (their expression and their series) and of the alerts."""
    recorded, alerts = [], []
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                recorded += [(rule["record"], rule["expr"]), (rule["record"], rule["record"])]
            else:
                alerts.append((rule["alert"], rule["expr"]))
    return recorded, alerts


def finite(samples) -> bool:
    return any(math.isfinite(v) for _, v in samples)


def first_finite(samples) -> float:
    return next((v for _, v in samples if math.isfinite(v)), math.nan)


@pytest.mark.prometheus
@pytest.mark.worker
def test_every_dashboard_and_rule_query_has_data_in_a_real_prometheus(tmp_path, started, peru_districts, analyst):
    # The state the model, drift, recommendation and feedback panels draw, as training and reviews leave it.
    model = rows.champion()
    rows.drift(model)
    places = rows.districts(["08", "15", "03"], 8)
    run = rows.prediction_run(model, places)
    rows.recommendations(places, ["approved", "submitted", "rejected", "draft", "implemented"])
    rows.feedback(rows.users(4), places[:4], ["new", "accepted"])
    # A job whose worker died on its last attempt: the worker's start-up reaper fails it.
    lost = Job.objects.create(
        kind=Job.Kind.DATASET_INGEST,
        status=Job.Status.RUNNING,
        attempts=settings.JOB_MAX_ATTEMPTS,
        started_at=timezone.now() - timedelta(hours=1),
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    token = {"Authorization": f"Token {Token.objects.create(user=analyst).key}"}

    redis = RedisServer(tmp_path).start()
    started.append(redis)
    web = Gunicorn(tmp_path).start(redis.url, workers=2)
    started.append(web)
    exporter = CeleryExporter(tmp_path).start(redis.url)
    started.append(exporter)
    exporter_url = f"http://127.0.0.1:{exporter.port}/metrics"
    wait_until(lambda: sample(scrape(exporter_url), "eduplatform_celery_exporter_connected") == 1, 30, "the exporter")
    prometheus = Prometheus(tmp_path)
    prometheus.start(prometheus_config(web, exporter, prometheus))
    started.append(prometheus)
    wait_until(lambda: prometheus.value('min(up{job=~"eduplatform-.*"})') == 1, 30, "both targets scraped")

    # Traffic: pages, a 404, an upload that waits in the queue (no worker yet).
    for _ in range(10):
        assert http_get(web.url("/healthz"))[0] == 200
    assert http_get(web.url("/api/v1/me/"), headers=token)[0] == 200
    assert http_get(web.url("/api/v1/jobs/999999999/"), headers=token)[0] == 404
    assert http_get(web.url("/readyz"))[0] == 200
    # The predictions API counts what it serves (predictions_served). Twice, with a scrape in between: rate()
    # sees only increases after a series' first sample.
    for served in (1, 2):
        status, body = http_get(web.url(f"/api/v1/predictions/runs/{run.pk}/predictions/"), headers=token)
        assert status == 200 and len(json.loads(body)["results"]) == len(places), body[:300]
        expr = "sum(eduplatform_predictions_served_total)"
        wait_until(lambda n=served, e=expr: prometheus.value(e) == n * len(places), 30, "Prometheus to count them")
    status, body = http_post(
        web.url("/api/v1/datasets/"), {"name": "Escuelas", "kind": "district_indicators"}, headers=token
    )
    assert status == 201, body
    dataset = json.loads(body)["id"]
    csv = b"ubigeo,escuelas\n" + b"".join(f"{u},{i}\n".encode() for i, u in enumerate(places))
    status, body = http_post(
        web.url(f"/api/v1/datasets/{dataset}/versions/"), {}, files={"file": ("e.csv", csv)}, headers=token
    )
    assert status == 202, body
    upload_job = json.loads(body)["job"]
    upload_job = upload_job["id"] if isinstance(upload_job, dict) else upload_job
    wait_until(lambda: prometheus.value("max(eduplatform_queue_length)") == 1, 30, "the queued upload in Redis")

    # Server errors the platform gives for a real reason: the broker refuses new clients (its password changed),
    # so /readyz answers 503. Connections already open (the web server's, the exporter's) are not affected. Twice:
    # a status's counter appears with its first response, and rate() sees only increases after that.
    for attempt in range(2):
        redis.cli("CONFIG", "SET", "requirepass", "rotated-password")
        try:
            status, body = http_get(web.url("/readyz"))
        finally:
            redis.cli("-a", "rotated-password", "--no-auth-warning", "CONFIG", "SET", "requirepass", "")
        assert status == 503 and json.loads(body)["checks"]["broker"] != "ok", body
        expr = 'sum(django_http_responses_total_by_status_total{status="503"})'
        wait_until(lambda n=attempt + 1, e=expr: prometheus.value(e) == n, 30, "Prometheus to see the 503")

    worker = Worker(tmp_path / "worker.log", extra_env={"REDIS_URL": redis.url}).start()
    started.append(worker)
    wait_until(lambda: Job.objects.filter(pk=upload_job, status__in=Job.ENDED).exists(), 90, "the upload job to end")
    assert Job.objects.get(pk=upload_job).status == Job.Status.SUCCEEDED, Job.objects.get(pk=upload_job).failure_reason
    assert Job.objects.get(pk=lost.pk).status == Job.Status.FAILED

    # What the traffic must have left in Prometheus.
    checks = {
        'sum(django_http_responses_total_by_status_total{status="404"})': lambda v: v >= 1,
        "eduplatform:http_5xx_ratio:rate5m": lambda v: v > 0,
        "max(eduplatform_queue_length)": lambda v: v == 0,
        "eduplatform:celery_workers:max": lambda v: v == 1,
        'max(eduplatform_jobs{kind="dataset_ingest",status="failed"})': lambda v: v >= 1,
        'max(eduplatform_job_duration_seconds_count{kind="dataset_ingest"})': lambda v: v >= 1,
        'sum(eduplatform_celery_tasks_total{name="datasets.tasks.dataset_ingest_task",state="sent"})': lambda v: v == 1,
        'sum(eduplatform_celery_tasks_total{name="datasets.tasks.dataset_ingest_task",state="succeeded"})': (
            lambda v: v == 1
        ),
        "sum(eduplatform_web_workers)": lambda v: v == 2,
        "sum(eduplatform_predictions_served_total)": lambda v: v == 2 * len(places),
        "sum(rate(eduplatform_predictions_served_total[5m]))": lambda v: v > 0,
        f'max(eduplatform_flagged_districts{{department="08",target="{rows.TARGET}"}})': lambda v: v == 3,
    }
    for expr, check in checks.items():
        wait_until(lambda e=expr, c=check: (v := prometheus.value(e)) is not None and c(v), 30, expr)

    # The worker's own probe, as Kubernetes and compose run it, through the same broker.
    name = re.search(r"(\S+@\S+) ready\.", worker.log()).group(1)
    probe_env = {**worker.env}
    for probe_name, expected in [(name, 0), ("celery@no-such-worker", 1)]:
        result = subprocess.run(
            [sys.executable, str(DEPLOY / "probe.py"), "worker", "--name", probe_name, "--timeout", "3"],
            cwd=REPO,
            env=probe_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == expected, (probe_name, result.stderr)

    # Every dashboard query and every recording rule: data, with a finite value.
    recorded, alerts = rule_expressions()
    required = [(f"{board} / {panel}", expr) for board, panel, expr in dashboard_queries()]
    required += [(f"rule {name}", expr) for name, expr in recorded]
    results, deadline = {}, time.monotonic() + 45
    for label, expr in required:
        while True:
            results[(label, expr)] = prometheus.query(expr)
            if finite(results[(label, expr)]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    report = "\n".join(
        f"{len(found):3d} series {first_finite(found):12.4g}  {label}: {expr}"
        for (label, expr), found in results.items()
    )
    print(f"\nPrometheus answers (series, first finite value, query):\n{report}")
    empty = [f"{label}: {expr}" for (label, expr), found in results.items() if not finite(found)]
    assert not empty, "queries without data:\n" + "\n".join(empty)

    # Alert conditions: valid and evaluated; empty when healthy (promtool tests them), but drift is real here.
    rules = prometheus.api("rules")["groups"]
    assert {rule["name"] for group in rules for rule in group["rules"]} >= {name for name, _ in alerts + recorded}
    unhealthy = [(r["name"], r.get("lastError")) for g in rules for r in g["rules"] if r["health"] != "ok"]
    assert not unhealthy, unhealthy
    for _name, expr in alerts:
        prometheus.query(expr)  # must parse and run
    drift = dict(alerts)["EduplatformDriftHigh"]
    assert {labels["feature"] for labels, _ in prometheus.query(drift)} == {"pobreza_total"}
    wait_until(
        lambda: any(a["labels"]["alertname"] == "EduplatformDriftHigh" for a in prometheus.api("alerts")["alerts"]),
        30,
        "the drift alert",
    )
