"""The platform metrics at /metrics, read in-process: their values, their labels, and what happens when a part
cannot be read. The same view runs under gunicorn in test_monitoring_e2e.py."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import JOB_DURATION_BUCKETS, predictions_served
from datasets.models import Department
from feedback.models import Feedback
from jobs.models import Job
from predictions.ml.targets import TARGETS
from recommendations.models import Recommendation
from tests.deploy import rows

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[str, list[tuple[dict, float]]]:
    """{sample name: [(labels, value)]} of the eduplatform_* samples at /metrics."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content[:500]
    samples: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            if sample.name.startswith("eduplatform_"):
                samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples, name: str, **labels) -> float | None:
    found = [
        v for sample_labels, v in samples.get(name, []) if all(sample_labels.get(k) == w for k, w in labels.items())
    ]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def series(samples) -> set[tuple[str, tuple]]:
    return {(name, tuple(sorted(labels.items()))) for name, items in samples.items() for labels, _ in items}


# Every label the platform metrics may carry, and where its values come from (None: checked separately).
BOUNDED_LABELS = {
    "kind": set(Job.Kind.values),
    "status": set(Job.Status.values) | set(Recommendation.Status.values) | set(Feedback.Status.values),
    "department": None,  # a department code (25 of them)
    "name": None,  # department name (department_info) or task name (exporter)
    "target": set(TARGETS),
    "algorithm": {"ridge", "random_forest", "hist_gradient_boosting", "mlp", "ensemble"},
    "metric": {"r2", "mae", "rmse", "interval_coverage", "interval_mean_width"},
    "feature": set(rows.PSI),
    "queue": None,  # the configured queue
    "part": {"jobs", "queue", "models", "drift", "predictions", "recommendations", "feedback", "departments"},
    "le": {str(float(b)) for b in JOB_DURATION_BUCKETS} | {"+Inf"},
}


def make_state(n_users: int, departments: list[str], per_department: int, offset: int = 0):
    people = rows.users(n_users)
    places = rows.districts(departments, per_department, offset)
    rows.jobs(people)
    rows.recommendations(places, Recommendation.Status.values)
    rows.feedback(people, places, Feedback.Status.values)
    return people, places


def test_platform_metric_labels_are_bounded_whatever_the_rows(client):
    """More users, districts, jobs, comments and predictions change values, never the set of series."""
    model = rows.champion()
    rows.drift(model)
    departments = ["08", "15", "21"]
    people, places = make_state(12, departments, per_department=6)
    rows.prediction_run(model, places)
    before = scrape(client)

    more_people, more_places = make_state(60, departments, per_department=30, offset=6)
    rows.prediction_run(model, places + more_places)  # the newer run is the one reported
    after = scrape(client)

    assert {labels["part"]: v for labels, v in after["eduplatform_metrics_collector_up"]} == dict.fromkeys(
        BOUNDED_LABELS["part"], 1
    )
    expected = {"eduplatform_jobs", "eduplatform_recommendations", "eduplatform_feedback", "eduplatform_drift_psi"}
    expected |= {"eduplatform_predicted_disparity_mean", "eduplatform_flagged_districts", "eduplatform_queue_length"}
    assert expected <= set(after)
    assert series(after) == series(before)
    codes = set(Department.objects.values_list("code", flat=True))
    names = set(Department.objects.values_list("name", flat=True))
    # No label names a user (user ids would be numbers, like department codes: the label names rule them out).
    usernames = {u.username for u in people + more_people}
    for name, items in after.items():
        for labels, _ in items:
            for label, label_value in labels.items():
                assert label in BOUNDED_LABELS, f"{name} has an unexpected label {label}"
                allowed = BOUNDED_LABELS[label]
                if allowed is not None:
                    assert label_value in allowed, (name, label, label_value)
                assert not re.fullmatch(r"\d{6}", label_value), f"{name} has a ubigeo in {label}"
                assert label_value not in usernames, f"{name} names a user in {label}"
                assert "Comentario" not in label_value and "trabajo de" not in label_value
            if "department" in labels:
                assert labels["department"] in codes
            if name == "eduplatform_department_info":
                assert labels["name"] in names
    # 25 departments at most, whatever the number of districts with rows.
    assert len({labels["department"] for labels, _ in after["eduplatform_department_info"]}) == len(codes) <= 25


def test_jobs_by_kind_and_status_and_durations(client, analyst):
    """Counted from the rows, whatever the worker's state: compared with a first scrape, since loading Peru's
    reference data already ran some ingestion jobs."""
    before = scrape(client)
    now = timezone.now()
    for seconds in (3, 40, 400):
        Job.objects.create(
            kind=Job.Kind.DATASET_INGEST,
            status=Job.Status.SUCCEEDED,
            created_by=analyst,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    Job.objects.create(kind=Job.Kind.MODEL_TRAIN, status=Job.Status.FAILED, started_at=now, finished_at=now)
    # Ended two hours ago: counted by status, not among the jobs that ended in the last hour.
    Job.objects.create(
        kind=Job.Kind.MODEL_TRAIN,
        status=Job.Status.FAILED,
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2),
    )
    Job.objects.create(kind=Job.Kind.PREDICTION_RUN, status=Job.Status.QUEUED)
    after = scrape(client)

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("eduplatform_jobs", kind="dataset_ingest", status="succeeded") == 3
    assert added("eduplatform_jobs", kind="model_train", status="failed") == 2
    assert added("eduplatform_jobs", kind="prediction_run", status="queued") == 1
    assert value(after, "eduplatform_jobs", kind="plan_optimise", status="running") == 0  # zeros are series too
    assert added("eduplatform_jobs_ended_last_hour", kind="model_train", status="failed") == 1
    assert added("eduplatform_jobs_ended_last_hour", kind="dataset_ingest", status="succeeded") == 3
    assert added("eduplatform_job_duration_seconds_count", kind="dataset_ingest") == 3
    assert added("eduplatform_job_duration_seconds_sum", kind="dataset_ingest") == pytest.approx(443, abs=1)
    assert added("eduplatform_job_duration_seconds_bucket", kind="dataset_ingest", le="5.0") == 1
    assert added("eduplatform_job_duration_seconds_bucket", kind="dataset_ingest", le="60.0") == 2
    assert added("eduplatform_job_duration_seconds_bucket", kind="dataset_ingest", le="+Inf") == 3
    assert added("eduplatform_job_duration_seconds_count", kind="model_train") == 0  # failed: not timed


def test_champion_metrics_drift_and_disparity_by_department(client):
    model = rows.champion()
    rows.champion(target=model.target, status="candidate", grouped_cv={"r2": 0.99})  # not the champion
    rows.drift(model, psi={"pobreza_total": 0.5, "altitud": 0.01})
    rows.drift(model, shift=0.3)
    rows.drift(model)  # the latest report is the one reported
    cusco = rows.districts(["08"], 9)
    lima = rows.districts(["15"], 4)
    rows.prediction_run(model, rows.districts(["08"], 2), base=90)  # an older run
    rows.prediction_run(model, cusco + lima, flag_every=3)
    samples = scrape(client)

    target = model.target
    assert value(samples, "eduplatform_model_champion_version", target=target, algorithm="ridge") == model.pk
    for metric, expected in [("r2", 0.42), ("mae", 5.1), ("rmse", 6.8), ("interval_coverage", 0.91)]:
        assert value(samples, "eduplatform_model_champion_metric", target=target, metric=metric) == expected
    assert value(samples, "eduplatform_drift_psi", target=target, feature="pobreza_total") == 0.31
    assert value(samples, "eduplatform_drift_psi", target=target, feature="pct_rural") == 0.12
    assert value(samples, "eduplatform_prediction_shift_psi", target=target) == 0.04
    # Cusco: predictions 40..48 for its 9 districts (i = 0..8), every third flagged (i = 0, 3, 6).
    assert value(samples, "eduplatform_predicted_disparity_mean", target=target, department="08") == 44
    assert value(samples, "eduplatform_flagged_districts", target=target, department="08") == 3
    assert value(samples, "eduplatform_predicted_districts", target=target, department="08") == 9
    # Lima: i = 9..12, values 49..52, flagged i = 9 and 12.
    assert value(samples, "eduplatform_predicted_disparity_mean", target=target, department="15") == 50.5
    assert value(samples, "eduplatform_flagged_districts", target=target, department="15") == 2
    assert value(samples, "eduplatform_prediction_run_timestamp_seconds", target=target) > 0


def test_missing_model_metrics_are_left_out_not_an_error(client):
    """The ML code decides what a model's metrics hold: missing or non-numeric figures are simply not exported."""
    model = rows.champion(grouped_cv={"r2": 0.3, "mae": None, "rmse": "n/a"})
    rows.champion(target="dropout", grouped_cv={})
    samples = scrape(client)
    exported = {labels["metric"] for labels, _ in samples["eduplatform_model_champion_metric"]}
    assert exported == {"r2"}
    assert value(samples, "eduplatform_model_champion_version", target="dropout", algorithm="ridge") is not None
    assert value(samples, "eduplatform_metrics_collector_up", part="models") == 1
    assert model.pk


def test_drift_reports_only_the_models_features(client):
    """Feature names come from dataset columns (any text): the model's own feature list bounds them."""
    model = rows.champion(target="dropout", features=["pobreza_total", "tasa de asistencia (%)"])
    rows.drift(model, psi={"pobreza_total": 0.2, "tasa de asistencia (%)": 0.3, "not a feature": 0.9, "x": "n/a"})
    samples = scrape(client)
    reported = {labels["feature"]: v for labels, v in samples["eduplatform_drift_psi"] if labels["target"] == "dropout"}
    assert reported == {"pobreza_total": 0.2, "tasa de asistencia (%)": 0.3}


def test_recommendations_feedback_and_predictions_served(client, staff_cusco):
    places = rows.districts(["08"], 5) + rows.districts(["15"], 2)
    rows.recommendations(places, ["approved", "approved", "submitted", "rejected", "draft", "verified", "approved"])
    rows.feedback([staff_cusco] * 3, places[:3], ["new", "accepted", "new"])
    before = scrape(client)
    predictions_served(25)
    predictions_served(0)
    after = scrape(client)

    assert value(after, "eduplatform_recommendations", status="approved", department="08") == 2
    assert value(after, "eduplatform_recommendations", status="submitted", department="08") == 1
    assert value(after, "eduplatform_recommendations", status="approved", department="15") == 1
    assert value(after, "eduplatform_recommendations", status="implemented", department="15") == 0
    assert value(after, "eduplatform_feedback", status="new") == 2
    assert value(after, "eduplatform_feedback", status="needs_info") == 0
    served = "eduplatform_predictions_served_total"
    assert value(after, served) - value(before, served) == 25


def test_queue_length_counts_waiting_messages_in_the_filesystem_queue(client, settings, tmp_path):
    from eduplatform.celery import app as celery_app

    queue = celery_app.conf.task_default_queue
    folder = tmp_path / "in"
    folder.mkdir()
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(folder)}
    for i in range(3):
        (folder / f"{i}_abc.{queue}.msg").write_text("{}")
    (folder / "9_abc.other-queue.msg").write_text("{}")
    assert value(scrape(client), "eduplatform_queue_length", queue=queue) == 3


def test_queue_length_counts_waiting_messages_in_redis(client, settings, tmp_path):
    from kombu import Connection

    from eduplatform.celery import app as celery_app
    from tests.deploy.support import RedisServer

    redis = RedisServer(tmp_path).start()
    try:
        queue = celery_app.conf.task_default_queue
        with Connection(redis.url) as conn:
            producer = conn.Producer()
            for priority in (None, None, 5):  # a prioritised message lives in a sibling list
                producer.publish(
                    {"n": 1}, routing_key=queue, declare=[conn.SimpleQueue(queue).queue], priority=priority
                )
        settings.REDIS_URL = redis.url
        assert value(scrape(client), "eduplatform_queue_length", queue=queue) == 3
    finally:
        redis.stop()


def test_a_part_that_cannot_be_read_is_reported_down_and_the_others_still_served(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    samples = scrape(client)
    assert value(samples, "eduplatform_metrics_collector_up", part="queue") == 0
    assert "eduplatform_queue_length" not in samples
    assert value(samples, "eduplatform_metrics_collector_up", part="jobs") == 1
    assert "eduplatform_jobs" in samples


def test_a_failing_query_does_not_break_the_rest_of_the_scrape(client):
    """A part whose table is gone (say, a migration not yet applied) is down; the next parts still read, also on
    PostgreSQL, where a failed query would abort the whole transaction if each part did not run in its own."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE feedback_feedback RENAME TO feedback_feedback_away")
    try:
        samples = scrape(client)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE feedback_feedback_away RENAME TO feedback_feedback")
    assert value(samples, "eduplatform_metrics_collector_up", part="feedback") == 0
    assert value(samples, "eduplatform_metrics_collector_up", part="departments") == 1
    assert len(samples["eduplatform_department_info"]) == 25


def test_metrics_token_is_required_when_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-token")["eduplatform_jobs"]
