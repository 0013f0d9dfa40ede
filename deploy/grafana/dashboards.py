"""The Grafana dashboards, as code: `python deploy/grafana/dashboards.py` writes deploy/grafana/dashboards/*.json.

This file is the one source of truth. Grafana loads the JSON it writes (provisioned from files, read-only in the
UI, so a change made by hand cannot drift from here); a test regenerates the JSON and fails when the committed
files differ, and the end-to-end monitoring test runs every query below against a real Prometheus.

Platform metrics are the same on every web replica (read from the database at scrape time), so panels combine
them with `max by (...)` across instances; per-process counters (HTTP, database) are summed.
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
WIDTH = 24  # Grafana's grid

# Department codes to names (eduplatform_department_info), for legends people can read.
WITH_NAME = " * on (department) group_left (name) max by (department, name) (eduplatform_department_info)"
COMMITTED = 'status=~"approved|implemented|verified"'


def query(expr: str, legend: str = "", instant: bool = False) -> dict:
    return {"expr": expr, "legend": legend, "instant": instant}


def panel(title, kind, queries, *, width=12, height=8, unit="short", description="", thresholds=None, decimals=None):
    return {
        "title": title,
        "kind": kind,
        "queries": queries,
        "width": width,
        "height": height,
        "unit": unit,
        "description": description,
        "thresholds": thresholds,
        "decimals": decimals,
    }


def row(title: str) -> dict:
    return {"title": title, "kind": "row"}


HTTP_BUCKETS = 'django_http_requests_latency_seconds_by_view_method_bucket{view!="prometheus-django-metrics"}'

PLATFORM_HEALTH = {
    "uid": "eduplatform-health",
    "title": "Platform health",
    "description": "Web, database, Celery workers, queue and background jobs of the educational access platform.",
    "variables": [],
    "panels": [
        row("Web"),
        panel("Web instances up", "stat", [query('sum(up{job="eduplatform-web"})')], width=4, height=4),
        panel(
            "Web worker processes",
            "stat",
            [query("sum(eduplatform_web_workers)")],
            width=4,
            height=4,
            description="Live gunicorn workers over all web instances.",
        ),
        panel(
            "Requests per second", "stat", [query("eduplatform:http_requests:rate5m")], width=4, height=4, unit="reqps"
        ),
        panel(
            "Server errors (5xx)",
            "stat",
            [query("eduplatform:http_5xx_ratio:rate5m")],
            width=4,
            height=4,
            unit="percentunit",
            thresholds=[("green", None), ("orange", 0.01), ("red", 0.05)],
            description="Share of responses that were 5xx over 5 minutes; the alert fires above 5%.",
        ),
        panel(
            "Request time p95",
            "stat",
            [query("eduplatform:http_request_duration_seconds:p95_5m")],
            width=4,
            height=4,
            unit="s",
            thresholds=[("green", None), ("orange", 0.5), ("red", 1)],
            description="95th percentile over 5 minutes, /metrics excluded; the alert fires above 1 s.",
        ),
        panel(
            "Metrics collector",
            "stat",
            [query("min by (part) (eduplatform_metrics_collector_up)", "{{part}}")],
            width=4,
            height=4,
            thresholds=[("red", None), ("green", 1)],
            description="1: this part of the platform metrics could be read from the database or the broker.",
        ),
        panel(
            "Responses by status",
            "timeseries",
            [query("sum by (status) (rate(django_http_responses_total_by_status_total[5m]))", "{{status}}")],
            unit="reqps",
        ),
        panel(
            "Request time",
            "timeseries",
            [
                query(f"histogram_quantile(0.50, sum by (le) (rate({HTTP_BUCKETS}[5m])))", "p50"),
                query("eduplatform:http_request_duration_seconds:p95_5m", "p95"),
                query(f"histogram_quantile(0.99, sum by (le) (rate({HTTP_BUCKETS}[5m])))", "p99"),
            ],
            unit="s",
        ),
        panel(
            "Slowest views (p95)",
            "timeseries",
            [query(f"topk(8, histogram_quantile(0.95, sum by (le, view) (rate({HTTP_BUCKETS}[5m]))))", "{{view}}")],
            unit="s",
        ),
        panel(
            "Database",
            "timeseries",
            [
                query("sum(rate(django_db_execute_total[5m]))", "queries/s"),
                query(
                    "histogram_quantile(0.95, sum by (le) (rate(django_db_query_duration_seconds_bucket[5m])))",
                    "query time p95 (s)",
                ),
            ],
        ),
        row("Background work"),
        panel(
            "Celery workers",
            "stat",
            [query("eduplatform:celery_workers:max")],
            width=4,
            height=4,
            thresholds=[("red", None), ("green", 1)],
            description="Workers with a heartbeat in the last ~10 s; the alert fires at 0 for 2 minutes.",
        ),
        panel(
            "Tasks running",
            "stat",
            [query("max(eduplatform_celery_tasks_active)")],
            width=4,
            height=4,
        ),
        panel(
            "Queue length",
            "stat",
            [query("eduplatform:queue_length:max", "{{queue}}")],
            width=4,
            height=4,
            thresholds=[("green", None), ("orange", 10), ("red", 50)],
            description="Messages waiting for a worker; the alert fires above 50 for 15 minutes.",
        ),
        panel(
            "Jobs running",
            "stat",
            [query('sum(max by (kind) (eduplatform_jobs{status="running"}))')],
            width=4,
            height=4,
        ),
        panel(
            "Jobs queued",
            "stat",
            [query('sum(max by (kind) (eduplatform_jobs{status="queued"}))')],
            width=4,
            height=4,
        ),
        panel(
            "Exporter connected",
            "stat",
            [query("max(eduplatform_celery_exporter_connected)")],
            width=4,
            height=4,
            thresholds=[("red", None), ("green", 1)],
            description="1 while the Celery exporter listens to the broker's events.",
        ),
        panel(
            "Celery tasks by state",
            "timeseries",
            [query("sum by (state) (rate(eduplatform_celery_tasks_total[5m]))", "{{state}}")],
            unit="ops",
        ),
        panel(
            "Task run time p95",
            "timeseries",
            [
                query(
                    "histogram_quantile(0.95, sum by (le, name)"
                    " (rate(eduplatform_celery_task_runtime_seconds_bucket[15m])))",
                    "{{name}}",
                )
            ],
            unit="s",
        ),
        panel(
            "Jobs by status",
            "timeseries",
            [query("sum by (status) (max by (kind, status) (eduplatform_jobs))", "{{status}}")],
        ),
        panel(
            "Job failure ratio (last hour)",
            "timeseries",
            [query("eduplatform:job_failure_ratio:1h", "{{kind}}")],
            unit="percentunit",
            description="Failed among the jobs that ended in the last hour; the alert fires above 25% (3 or more).",
        ),
        panel(
            "Job duration p95 (last hour)",
            "timeseries",
            [
                query(
                    "histogram_quantile(0.95, max by (le, kind)"
                    " (increase(eduplatform_job_duration_seconds_bucket[1h])))",
                    "{{kind}}",
                )
            ],
            unit="s",
            description="Succeeded jobs, by kind.",
        ),
        panel(
            "Platform metrics read time",
            "timeseries",
            [query("max by (part) (eduplatform_metrics_collector_duration_seconds)", "{{part}}")],
            unit="s",
        ),
    ],
}

TARGET = 'target="$target"'

DISPARITIES = {
    "uid": "eduplatform-disparities",
    "title": "Educational disparities and models",
    "description": "Predicted disparity by department, flagged districts, the champion models and their drift, "
    "recommendations under review and feedback from schools.",
    "variables": [
        {
            "name": "target",
            "label": "Target",
            "query": "label_values(eduplatform_model_champion_version, target)",
            "default": "disparity_ece18_4p",
        }
    ],
    "panels": [
        row("Disparities (latest prediction run of the champion)"),
        panel(
            "Districts flagged",
            "stat",
            [query(f"sum(max by (department) (eduplatform_flagged_districts{{{TARGET}}}))")],
            width=6,
            height=4,
            description="Districts whose 90% interval lies above the national mean.",
        ),
        panel(
            "Share of districts flagged",
            "stat",
            [
                query(
                    f"sum(max by (department) (eduplatform_flagged_districts{{{TARGET}}}))"
                    f" / sum(max by (department) (eduplatform_predicted_districts{{{TARGET}}}))"
                )
            ],
            width=6,
            height=4,
            unit="percentunit",
        ),
        panel(
            "National mean (district average)",
            "stat",
            [
                query(
                    f"sum(max by (department) (eduplatform_predicted_disparity_mean{{{TARGET}}})"
                    f" * max by (department) (eduplatform_predicted_districts{{{TARGET}}}))"
                    f" / sum(max by (department) (eduplatform_predicted_districts{{{TARGET}}}))"
                )
            ],
            width=6,
            height=4,
            decimals=1,
        ),
        panel(
            "Age of the latest prediction run",
            "stat",
            [query(f"time() - max(eduplatform_prediction_run_timestamp_seconds{{{TARGET}}})")],
            width=6,
            height=4,
            unit="s",
        ),
        panel(
            "Mean predicted disparity by department",
            "bargauge",
            [
                query(
                    f"sort_desc(max by (department) (eduplatform_predicted_disparity_mean{{{TARGET}}}){WITH_NAME})",
                    "{{name}}",
                    instant=True,
                )
            ],
            height=14,
            decimals=1,
        ),
        panel(
            "Flagged districts by department",
            "bargauge",
            [
                query(
                    f"sort_desc(max by (department) (eduplatform_flagged_districts{{{TARGET}}}){WITH_NAME})",
                    "{{name}}",
                    instant=True,
                )
            ],
            height=14,
        ),
        row("Champion model"),
        panel(
            "Champion version",
            "timeseries",
            [query(f"max by (algorithm) (eduplatform_model_champion_version{{{TARGET}}})", "#{{algorithm}}")],
            width=8,
            description="Model id of the champion: a step is a promotion.",
        ),
        panel(
            "R² and interval coverage over versions",
            "timeseries",
            [
                query(
                    f'max by (metric) (eduplatform_model_champion_metric{{{TARGET},metric=~"r2|interval_coverage"}})',
                    "{{metric}}",
                )
            ],
            width=8,
            description="Grouped cross-validation (by province). The 90% interval should cover about 0.9.",
        ),
        panel(
            "Errors over versions (MAE, RMSE)",
            "timeseries",
            [
                query(
                    f'max by (metric) (eduplatform_model_champion_metric{{{TARGET},metric=~"mae|rmse"}})', "{{metric}}"
                )
            ],
            width=8,
        ),
        panel(
            "Drift by feature (latest report)",
            "bargauge",
            [query(f"sort_desc(max by (feature) (eduplatform_drift_psi{{{TARGET}}}))", "{{feature}}", instant=True)],
            height=10,
            thresholds=[("green", None), ("orange", 0.1), ("red", 0.25)],
            description="Population stability index; above 0.25 the drift alert fires.",
            decimals=2,
        ),
        panel(
            "Largest drift",
            "timeseries",
            [query(f"max(eduplatform:drift_psi:max{{{TARGET}}})", "max PSI")],
            height=10,
            thresholds=[("green", None), ("orange", 0.1), ("red", 0.25)],
        ),
        row("Recommendations and feedback"),
        panel(
            "Recommendations by status",
            "timeseries",
            [query("sum by (status) (max by (status, department) (eduplatform_recommendations))", "{{status}}")],
        ),
        panel(
            "Approved recommendations by department",
            "bargauge",
            [
                query(
                    "sort_desc(sum by (department)"
                    f" (max by (status, department) (eduplatform_recommendations{{{COMMITTED}}})){WITH_NAME})",
                    "{{name}}",
                    instant=True,
                )
            ],
            description="Approved, implemented or verified.",
        ),
        panel(
            "Approval rate",
            "stat",
            [
                query(
                    f"sum(max by (status, department) (eduplatform_recommendations{{{COMMITTED}}}))"
                    " / sum(max by (status, department)"
                    ' (eduplatform_recommendations{status=~"approved|implemented|verified|rejected"}))'
                )
            ],
            width=6,
            height=4,
            unit="percentunit",
            description="Approved among the decided (approved or rejected).",
        ),
        panel(
            "Awaiting review",
            "stat",
            [query('sum(max by (status, department) (eduplatform_recommendations{status="submitted"}))')],
            width=6,
            height=4,
        ),
        panel(
            "Feedback by status",
            "timeseries",
            [query("max by (status) (eduplatform_feedback)", "{{status}}")],
            width=6,
            height=4,
        ),
        panel(
            "Predictions served",
            "timeseries",
            [query("sum(rate(eduplatform_predictions_served_total[5m]))", "districts/s")],
            width=6,
            height=4,
        ),
    ],
}

DASHBOARDS = {"platform-health.json": PLATFORM_HEALTH, "educational-disparities.json": DISPARITIES}


def _thresholds(steps) -> dict:
    steps = steps or [("green", None)]
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def _panel_json(spec: dict, panel_id: int, x: int, y: int) -> dict:
    if spec["kind"] == "row":
        return {
            "id": panel_id,
            "type": "row",
            "title": spec["title"],
            "collapsed": False,
            "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y},
            "panels": [],
        }
    defaults = {"unit": spec["unit"], "thresholds": _thresholds(spec["thresholds"])}
    if spec["decimals"] is not None:
        defaults["decimals"] = spec["decimals"]
    if spec["kind"] == "timeseries":
        defaults["custom"] = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    options = {
        "stat": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"},
        "bargauge": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
        },
        "timeseries": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
    }[spec["kind"]]
    targets = []
    for i, q in enumerate(spec["queries"]):
        target = {"datasource": DATASOURCE, "refId": chr(ord("A") + i), "expr": q["expr"], "legendFormat": q["legend"]}
        if q["instant"]:
            target.update(instant=True, range=False)
        targets.append(target)
    return {
        "id": panel_id,
        "type": spec["kind"],
        "title": spec["title"],
        "description": spec["description"],
        "datasource": DATASOURCE,
        "gridPos": {"h": spec["height"], "w": spec["width"], "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    }


def _variable_json(spec: dict) -> dict:
    return {
        "name": spec["name"],
        "label": spec["label"],
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": spec["query"], "refId": "variable"},
        "definition": spec["query"],
        "refresh": 2,
        "sort": 1,
        "includeAll": False,
        "multi": False,
        "current": {"selected": True, "text": spec["default"], "value": spec["default"]},
        "options": [],
    }


def build(spec: dict) -> dict:
    """Grafana dashboard JSON; panels are laid out left to right, wrapping at the grid's width."""
    panels, x, y, line_height = [], 0, 0, 0
    for panel_id, item in enumerate(spec["panels"], start=1):
        if item["kind"] == "row" or x + item["width"] > WIDTH:
            x, y, line_height = 0, y + line_height, 0
        panels.append(_panel_json(item, panel_id, x, y))
        if item["kind"] == "row":
            y += 1
            continue
        x += item["width"]
        line_height = max(line_height, item["height"])
    return {
        "uid": spec["uid"],
        "title": spec["title"],
        "description": spec["description"],
        "tags": ["eduplatform"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "annotations": {"list": []},
        "templating": {"list": [_variable_json(v) for v in spec["variables"]]},
        "panels": panels,
    }


def render(spec: dict) -> str:
    return json.dumps(build(spec), indent=2, ensure_ascii=False) + "\n"


def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in DASHBOARDS.items():
        path = out / name
        path.write_text(render(spec), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(path)
