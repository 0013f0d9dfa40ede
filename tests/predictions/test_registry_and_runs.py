"""Training through the API, the registry (first champion, promotion), prediction runs and their API and pages."""

import pytest

from accounts.models import AuditEvent
from jobs.models import Job
from predictions.ml import artifacts
from predictions.models import ModelVersion, Prediction, PredictionRun
from predictions.services.models import _LOADED, model_load
from predictions.templatetags.factors import FACTOR_NAMES, factor_name
from tests.scenario import register_model, scored_run

pytestmark = pytest.mark.django_db


def test_training_job_registers_versions_first_champion_and_scores_every_district(
    api_as, analyst, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(analyst).post(
            "/api/v1/models/train/",
            {"algorithms": ["ridge", "hist_gradient_boosting"], "options": {"fast": True, "n_splits": 3}},
            format="json",
        )
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    versions = {m.algorithm: m for m in ModelVersion.objects.filter(training_job=job)}
    assert set(versions) == {"ridge", "hist_gradient_boosting"}
    for version in versions.values():
        assert {"r2", "mae", "rmse", "interval_coverage"} <= set(version.metrics["grouped_cv"])
        assert {"r2", "mae", "rmse"} <= set(version.metrics["kfold_cv"])
        assert {"mean", "ridge"} == set(version.metrics["baselines"])
        assert artifacts.load_model(version.artifact, expected_sha256=version.sha256) is not None
        assert version.library_versions["scikit-learn"] and version.code_version
    best = max(versions.values(), key=lambda m: m.metrics["grouped_cv"]["r2"])
    best.refresh_from_db()
    assert best.status == ModelVersion.Status.CHAMPION
    assert AuditEvent.objects.filter(action="model.champion_first", target_id=str(best.pk)).exists()
    run = PredictionRun.objects.get(model=best)
    assert run.job.status == Job.Status.SUCCEEDED, run.job.failure_reason
    predictions = list(run.predictions.all())
    assert len(predictions) == run.snapshot.row_count == 1893  # districts without results too
    assert all(p.lower <= p.value <= p.upper for p in predictions)
    assert sorted(p.rank for p in predictions) == list(range(1, 1894))
    assert all(p.factors for p in predictions)
    unobserved = [p for p in predictions if p.observed is None]
    assert len(unobserved) > 260  # the withheld ECE 2018 districts are predicted like any without results


def test_a_second_training_does_not_replace_the_champion(api_as, analyst, django_capture_on_commit_callbacks):
    champion = register_model(created_by=analyst)
    with django_capture_on_commit_callbacks(execute=True):
        api_as(analyst).post(
            "/api/v1/models/train/", {"algorithms": ["ridge"], "options": {"fast": True}}, format="json"
        )
    assert list(ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION)) == [champion]


def test_promoting_a_worse_model_needs_a_reason_which_is_audited(api_as, analyst, django_capture_on_commit_callbacks):
    champion = register_model(created_by=analyst)
    worse = register_model(status=ModelVersion.Status.CANDIDATE, r2_offset=-0.2)
    refused = api_as(analyst).post(f"/api/v1/models/{worse.pk}/promote/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["champion"] == champion.pk and "razón" in refused.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        accepted = api_as(analyst).post(
            f"/api/v1/models/{worse.pk}/promote/", {"reason": "usa datos de 2024 validados por la DRE"}, format="json"
        )
    assert accepted.status_code == 200 and accepted.json()["status"] == "champion"
    champion.refresh_from_db()
    assert champion.status == ModelVersion.Status.ARCHIVED
    event = AuditEvent.objects.get(action="model.promote", target_id=str(worse.pk))
    assert event.reason.startswith("usa datos") and event.actor_username == analyst.username
    assert PredictionRun.objects.filter(model=worse, job__status=Job.Status.SUCCEEDED).exists()


def test_never_two_champions(analyst):
    from django.db import IntegrityError, transaction

    register_model()
    with pytest.raises(IntegrityError), transaction.atomic():
        register_model()


def test_predictions_api_follows_the_region_and_exports_csv(api_as, analyst, staff_cusco, policymaker_lima):
    run = scored_run(register_model(created_by=analyst), analyst)
    rows = api_as(staff_cusco).get(f"/api/v1/predictions/runs/{run.pk}/predictions/").json()["results"]
    assert [r["ubigeo"] for r in rows] == ["080101"]
    assert set(rows[0]) >= {"ubigeo", "value", "lower", "upper", "rank", "flagged", "factors"}
    lima = api_as(policymaker_lima).get(f"/api/v1/predictions/runs/{run.pk}/predictions/?page_size=2000").json()
    assert lima["count"] == Prediction.objects.filter(run=run, ubigeo__startswith="15").count()
    csv_text = api_as(staff_cusco).get(f"/api/v1/predictions/runs/{run.pk}/predictions/?format=csv")
    lines = csv_text.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("ubigeo,value,lower,upper,rank,flagged") and len(lines) == 2
    summaries = {
        user.username: api_as(user).get(f"/api/v1/predictions/runs/{run.pk}/").json()["summary"]
        for user in (analyst, staff_cusco, policymaker_lima)
    }
    assert len(summaries[analyst.username]["departments"]) == 25
    assert set(summaries[staff_cusco.username]["departments"]) == {"08"}
    assert set(summaries[policymaker_lima.username]["departments"]) == {"15"}
    assert summaries[staff_cusco.username]["districts"] == 1893  # national totals stay


def test_flag_rule_and_ranks(analyst):
    run = scored_run(register_model(created_by=analyst), analyst)
    mean = run.summary["national_mean_observed"]
    for prediction in run.predictions.all()[:400]:
        assert prediction.flagged == (prediction.lower > mean)
    top = run.predictions.order_by("rank").first()
    assert top.value == max(run.predictions.values_list("value", flat=True))


def test_models_load_once_per_process_and_are_checked(analyst, tmp_path):
    model = register_model(created_by=analyst)
    _LOADED.clear()
    assert model_load(model) is model_load(model)
    model.sha256 = "0" * 64
    with pytest.raises(ValueError):
        model_load(model)


def test_districts_drawn_as_dots_are_placed_inside_the_map_in_any_language(client, analyst):
    """Districts without a polygon are dots; their coordinates must not follow the page's decimal comma."""
    import re

    scored_run(register_model(created_by=analyst), analyst)
    client.force_login(analyst)
    page = client.get("/map/").content.decode()
    width = float(re.search(r'<svg[^>]*viewBox="0 0 ([\d.]+) ([\d.]+)"', page).group(1))
    dots = re.findall(r'<circle cx="([^"]+)" cy="([^"]+)"[^>]*data-ubigeo="(\d+)"', page)
    assert len(dots) >= 10  # 080911 INKAWASI and the other districts created after the 2007 boundaries
    for x, y, ubigeo in dots:
        assert 0 < float(x) < width and 0 < float(y), (ubigeo, x, y)


def test_every_explanation_factor_has_a_translated_name():
    from django.utils import translation

    from predictions.ml.features import FACTOR_LABELS

    assert set(FACTOR_NAMES) == set(FACTOR_LABELS)
    with translation.override("es"):
        assert [key for key, english in FACTOR_LABELS.items() if factor_name(key) == english] == []
        assert factor_name("result_ece19_2s") == "Resultado ECE 2019, 2.º grado de secundaria"
        assert factor_name("internet") == "Internet en el hogar"


def test_pages_show_the_map_the_district_prediction_and_the_comparison(client, analyst, staff_cusco):
    model = register_model(created_by=analyst)
    run = scored_run(model, analyst)
    client.force_login(staff_cusco)
    page = client.get("/map/").content.decode()
    assert 'data-testid="choropleth"' in page and page.count("data-ubigeo=") == 1  # the staff's one district
    district = client.get("/areas/districts/080101/").content.decode()
    prediction = run.predictions.get(ubigeo="080101")
    assert 'data-testid="district-prediction"' in district and f"{prediction.value:.1f}".replace(".", ",") in district
    shown = district.split('data-testid="district-prediction"')[1].split("</table>")[0]
    for factor in prediction.factors:  # factors are named in the page's language, not the ML package's English
        assert factor_name(factor["feature"]) in shown
        assert factor["label"] not in shown or factor_name(factor["feature"]) == factor["label"]
    client.force_login(analyst)
    models_page = client.get("/models/").content.decode()
    assert 'class="scatter"' in models_page and "ridge" in models_page
    national = client.get(f"/predictions/{run.pk}/").content.decode()
    assert national.count("<path") > 1800


def test_model_pages_show_observed_results_only_inside_the_region(client, analyst, make_user):
    from accounts.models import Role

    model = register_model(created_by=analyst)
    model.training_job = Job.objects.create(kind=Job.Kind.MODEL_TRAIN)
    model.save()
    lima = make_user("analista_lima3", Role.ANALYST, "15")
    client.force_login(lima)
    for url in ("/models/", f"/models/{model.pk}/"):
        page = client.get(url).content.decode()
        titles = [t.split(":")[0] for t in page.split("<title>")[1:] if t[:6].isdigit()]
        assert titles and all(t.startswith("15") for t in titles), url


@pytest.mark.parametrize(
    "options",
    [
        ["fast"],
        {"n_splits": 100000},
        {"n_splits": True},
        {"fast": "yes"},
        {"groups": {"idh": "on"}},
        {"weighting": "magic"},
        {"params": {}},
    ],
)
def test_bad_training_options_are_refused(api_as, analyst, options):
    response = api_as(analyst).post("/api/v1/models/train/", {"options": options}, format="json")
    assert response.status_code == 400, response.content[:300]
    assert not Job.objects.filter(kind=Job.Kind.MODEL_TRAIN).exists()
