"""The loop end to end on the real data: feedback → triage → label set → retraining → champion/challenger
decision → lineage; drift; and the A/B evaluation of strategies."""

import pytest

from datasets.models import Dataset, FeatureSnapshot
from datasets.services.uploads import dataset_create
from feedback.models import Experiment, LabelSet
from feedback.services.experiments import MIN_PER_ARM, stratified_assignment
from feedback.services.retraining import DECISIONS
from jobs.models import Job
from predictions.models import DriftReport, ModelVersion
from predictions.services.drift import drift_check, psi
from recommendations.models import Plan
from tests.scenario import register_model, scored_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def champion(analyst):
    model = register_model(created_by=analyst)
    scored_run(model, analyst)
    return model


def feedback_to_labels(api_as, staff, analyst, run, values: dict) -> LabelSet:
    """School staff report observed values; the analyst accepts them and publishes a label set."""
    for ubigeo, value in values.items():
        prediction = run.predictions.get(ubigeo=ubigeo)
        sent = api_as(staff).post(
            "/api/v1/feedback/",
            {
                "ubigeo": ubigeo,
                "subject": "prediction",
                "prediction": prediction.pk,
                "agrees": False,
                "observed_value": value,
                "observed_source": "evaluación muestral regional 2025",
            },
            format="json",
        )
        assert sent.status_code == 201, sent.json()
        accepted = api_as(analyst).post(
            f"/api/v1/feedback/{sent.json()['id']}/triage/", {"decision": "accept"}, format="json"
        )
        assert accepted.status_code == 200
    published = api_as(analyst).post("/api/v1/label-sets/", {"note": "ronda 1"}, format="json")
    return LabelSet.objects.get(pk=published.json()["id"])


@pytest.mark.parametrize(
    ("margin", "auto_promote", "decision"),
    [(-1.0, True, "promoted"), (1.0, True, "kept"), (-1.0, False, "awaiting_analyst")],
)
def test_feedback_becomes_labels_that_train_a_challenger_decided_against_the_champion(
    api_as,
    make_user,
    analyst,
    champion,
    settings,
    django_capture_on_commit_callbacks,
    mailoutbox,
    client,
    margin,
    auto_promote,
    decision,
):
    from accounts.models import Role

    settings.RETRAIN_MARGIN = margin
    settings.RETRAIN_AUTO_PROMOTE = auto_promote
    staff = make_user("docente_sicuani", Role.SCHOOL_STAFF, "0806")
    run = champion.runs.get()
    values = {p.ubigeo: round(min(100.0, p.value + 10), 1) for p in run.predictions.filter(ubigeo__startswith="0806")}
    label_set = feedback_to_labels(api_as, staff, analyst, run, values)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(analyst).post("/api/v1/models/retrain/")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    challenger = ModelVersion.objects.get(training_job=job)
    assert challenger.metrics["decision"] == decision
    assert {"r2", "mae", "rmse"} <= set(challenger.metrics["champion_same_folds"])
    assert challenger.metrics["grouped_cv"]["n"] == challenger.metrics["champion_same_folds"]["n"]  # same folds
    assert list(challenger.label_sets.all()) == [label_set]
    champion.refresh_from_db()
    expected = (
        (ModelVersion.Status.CHAMPION, ModelVersion.Status.ARCHIVED)
        if decision == "promoted"
        else (ModelVersion.Status.CANDIDATE, ModelVersion.Status.CHAMPION)
    )
    challenger.refresh_from_db()
    assert (challenger.status, champion.status) == expected
    assert ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).count() == 1
    lineage = api_as(analyst).get(f"/api/v1/models/{challenger.pk}/").json()
    assert lineage["label_sets"] == [label_set.number]
    client.force_login(analyst)
    page = client.get(f"/models/{challenger.pk}/").content.decode()
    retraining = page.split('data-testid="retraining"')[1].split("</dd>")[0]
    assert f"#{champion.pk}" in retraining and str(DECISIONS[decision]) in retraining
    report = [m for m in mailoutbox if "Reentrenamiento" in m.subject or "Retraining" in m.subject]
    assert len(report) == 1 and analyst.email in report[0].to
    assert f"#{challenger.pk}" in report[0].body and f"/models/{challenger.pk}/" in report[0].body


def test_enough_accepted_labels_publish_a_label_set_and_retrain_on_it(
    api_as, make_user, analyst, champion, settings, django_capture_on_commit_callbacks
):
    from accounts.models import Role
    from feedback.models import Label

    settings.RETRAIN_MIN_LABELS = 3
    settings.RETRAIN_MARGIN = 1.0  # kept: the champion stays, and later acceptances start nothing until 3 more
    staff = make_user("docente_sicuani", Role.SCHOOL_STAFF, "0806")
    run = champion.runs.get()
    predictions = list(run.predictions.filter(ubigeo__startswith="0806").order_by("ubigeo")[:4])
    for count, prediction in enumerate(predictions, start=1):
        sent = api_as(staff).post(
            "/api/v1/feedback/",
            {
                "ubigeo": prediction.ubigeo,
                "subject": "prediction",
                "prediction": prediction.pk,
                "agrees": False,
                "observed_value": 70,
                "observed_source": "evaluación regional",
            },
            format="json",
        )
        with django_capture_on_commit_callbacks(execute=True):
            api_as(analyst).post(f"/api/v1/feedback/{sent.json()['id']}/triage/", {"decision": "accept"}, format="json")
        retrainings = Job.objects.filter(kind=Job.Kind.MODEL_RETRAIN)
        assert retrainings.count() == (0 if count < 3 else 1), count
    label_set = LabelSet.objects.get()
    assert label_set.labels.count() == 3 and label_set.created_by is None
    assert Label.objects.filter(label_set__isnull=True).count() == 1  # the fourth waits for the next round
    job = Job.objects.get(kind=Job.Kind.MODEL_RETRAIN)
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    assert list(ModelVersion.objects.get(training_job=job).label_sets.all()) == [label_set]


def test_labels_replace_the_target_in_training(analyst, champion):
    from feedback.models import Label
    from predictions.ml.targets import get_target
    from predictions.services.training import training_table

    label_set = LabelSet.objects.create(number=1, target=champion.target)
    Label.objects.create(label_set=label_set, target=champion.target, ubigeo="080101", value=12.5)
    table = training_table(champion.snapshot, champion.target, [label_set])
    assert get_target(champion.target).values(table)["080101"] == pytest.approx(12.5)
    original = get_target(champion.target).values(champion.snapshot.to_frame())["080101"]
    assert original != pytest.approx(12.5)


def test_a_retraining_requested_while_one_is_queued_waits_for_it(api_as, analyst, champion):
    first = api_as(analyst).post("/api/v1/models/retrain/").json()
    second = api_as(analyst).post("/api/v1/models/retrain/").json()
    assert first["id"] == second["id"]
    assert Job.objects.filter(kind=Job.Kind.MODEL_RETRAIN).count() == 1


def test_psi_is_zero_for_the_same_data_and_large_for_a_shift():
    import numpy as np

    rng = np.random.default_rng(0)
    data = rng.normal(50, 10, 2000)
    assert psi(data, data) == pytest.approx(0, abs=1e-9)
    assert psi(data, rng.normal(50, 10, 2000)) < 0.05
    assert psi(data, data + 15) > 0.25


def test_drift_report_and_alarm(
    champion, settings, django_capture_on_commit_callbacks, api_as, client, analyst, staff_cusco
):
    settings.DRIFT_ALARM_PSI = 0.25
    same = drift_check(model=champion, snapshot=champion.snapshot)
    assert same.max_psi < 0.01 and set(same.psi) <= set(champion.options["required_columns"])
    shifted = champion.snapshot
    table = shifted.to_frame()
    table["internet"] = (table["internet"] + 40).clip(upper=100)
    newer = FeatureSnapshot.objects.create(
        name="Censo con más internet",
        spec=shifted.spec,
        lineage=shifted.lineage,
        columns=list(table.columns),
        data={"index": list(table.index), "rows": table.astype(object).where(table.notna(), None).values.tolist()},
        row_count=len(table),
        sha256="x" * 64,
    )
    with django_capture_on_commit_callbacks(execute=False):
        report = drift_check(model=champion, snapshot=newer)
    assert report.psi["internet"] > 0.25 and report.max_psi == report.psi["internet"]
    assert Job.objects.filter(kind=Job.Kind.MODEL_RETRAIN, params__reason__startswith="drift").exists()
    assert DriftReport.objects.count() == 2

    reports = api_as(analyst).get(f"/api/v1/models/{champion.pk}/drift/").json()
    assert [r["id"] for r in reports] == [report.pk, same.pk]
    assert reports[0]["psi"]["internet"] == report.psi["internet"] and "psi" in reports[0]["prediction_shift"]
    assert api_as(staff_cusco).get(f"/api/v1/models/{champion.pk}/drift/").status_code == 403
    client.force_login(analyst)
    page = client.get(f"/models/{champion.pk}/").content.decode()
    assert "Censo con más internet" in page and "internet" in page.split('data-testid="drift"')[1]


def test_stratified_assignment_is_balanced_and_reproducible():
    districts = [f"08{p:02d}{d:02d}" for p in range(1, 9) for d in range(1, 8)] + ["150101", "150102", "150103"]
    arms = stratified_assignment(districts, seed=42)
    assert arms == stratified_assignment(districts, seed=42)
    assert arms != stratified_assignment(districts, seed=43)
    for department in {"08", "15"}:
        counts = [sum(1 for u, a in arms.items() if u[:2] == department and a == arm) for arm in "AB"]
        assert abs(counts[0] - counts[1]) <= 1


def test_experiment_compares_strategies_with_a_bootstrap_interval(
    api_as, analyst, champion, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        plan_id = (
            api_as(analyst)
            .post("/api/v1/plans/", {"budget_pen": 300_000_000, "scope": "PE"}, format="json")
            .json()["id"]
        )
    plan = Plan.objects.get(pk=plan_id)
    assert plan.job.status == Job.Status.SUCCEEDED, plan.job.failure_reason
    created = api_as(analyst).post(
        "/api/v1/experiments/",
        {
            "name": "Optimizado vs. más necesitados",
            "plan": plan.pk,
            "seed": 7,
            "outcome_dataset": "ece-2026",
            "outcome_column": "disparity:ece26_4p",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    experiment = Experiment.objects.get(pk=created.json()["id"])
    assignments = list(experiment.assignments.all())
    assert min(sum(a.arm == arm for a in assignments) for arm in "AB") >= MIN_PER_ARM
    assert plan.recommendations.filter(strategy="neediest_first").exists()
    # A later ECE arrives as a new dataset version: arm B improves by 3 points more than arm A.
    dataset = dataset_create(user=analyst, name="ECE 2026", kind=Dataset.Kind.LEARNING_OUTCOMES, slug="ece-2026")
    satisfactory = {a.ubigeo: 100 - a.baseline + (6 if a.arm == "B" else 3) for a in assignments}
    rows = "\n".join(f"{u},{v:.2f},{v:.2f}" for u, v in satisfactory.items() if v <= 100)

    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        uploaded = api_as(analyst).post(
            f"/api/v1/datasets/{dataset.pk}/versions/",
            {"file": SimpleUploadedFile("ece26.csv", f"ubigeo,ece26_4p_lec_sat,ece26_4p_mat_sat\n{rows}\n".encode())},
            format="multipart",
        )
    assert uploaded.status_code == 202
    report = api_as(analyst).post(f"/api/v1/experiments/{experiment.pk}/refresh/").json()["report"]
    assert report["arms"]["A"]["with_outcome"] >= 2 and report["arms"]["B"]["with_outcome"] >= 2
    assert report["difference_b_minus_a"] == pytest.approx(-3.0, abs=0.01)  # values went through 2 decimals
    low, high = report["ci95"]
    assert low <= report["difference_b_minus_a"] <= high and high - low < 0.1  # every district moved alike
    assert report["needed_per_arm"] >= 2


def test_experiment_follows_each_arms_own_recommendation_and_feedback_on_it(
    api_as, analyst, champion, make_user, django_capture_on_commit_callbacks, client
):
    from accounts.models import Role
    from recommendations.models import Recommendation

    with django_capture_on_commit_callbacks(execute=True):
        plan_id = api_as(analyst).post("/api/v1/plans/", {"budget_pen": 300_000_000, "scope": "PE"}, format="json")
    plan = Plan.objects.get(pk=plan_id.json()["id"])
    created = api_as(analyst).post(
        "/api/v1/experiments/", {"name": "AB", "plan": plan.pk, "seed": 3, "effect": 4.0}, format="json"
    )
    assert created.status_code == 201, created.json()
    experiment = Experiment.objects.get(pk=created.json()["id"])
    report = created.json()["report"]  # sample sizes are there from the start, for the chosen effect
    client.force_login(analyst)
    refused = client.post("/experiments/", {"name": "AB", "plan": plan.pk, "effect": "80"}, follow=True)
    assert "entre 0.1 y 50 puntos" in refused.content.decode() and Experiment.objects.count() == 1
    assert experiment.effect == 4.0 and report["effect_for_sample_size"] == 4.0 and report["sd_assumed"]
    assert report["needed_per_arm"] == 99  # 2 × ((1.96 + 0.84) × 10 / 4)², rounded up

    baseline = {c["ubigeo"]: c["intervention"] for c in plan.summary["baseline"]["selected"]}
    arm_b = [a for a in experiment.assignments.filter(arm="B") if a.ubigeo in baseline]
    own = {a.ubigeo: plan.recommendations.get(ubigeo=a.ubigeo, intervention__code=baseline[a.ubigeo]) for a in arm_b}
    first, second = arm_b[0], arm_b[1]
    # The first district's neediest-first package is done in the review workflow; any other package there does
    # not count for arm B.
    plan.recommendations.filter(ubigeo=first.ubigeo).exclude(pk=own[first.ubigeo].pk).update(
        status=Recommendation.Status.IMPLEMENTED
    )
    assert api_as(analyst).post(f"/api/v1/experiments/{experiment.pk}/refresh/").status_code == 200
    first.refresh_from_db()
    assert not first.implemented
    Recommendation.objects.filter(pk=own[first.ubigeo].pk).update(status=Recommendation.Status.VERIFIED)
    # The second district's staff report, on arm B's recommendation, that it was built and what changed.
    staff = make_user("director_b", Role.SCHOOL_STAFF, second.ubigeo)
    sent = api_as(staff).post(
        "/api/v1/feedback/",
        {
            "ubigeo": second.ubigeo,
            "subject": "recommendation",
            "recommendation": own[second.ubigeo].pk,
            "implemented": True,
            "observed_change": -4.5,
        },
        format="json",
    )
    assert sent.status_code == 201, sent.json()
    api_as(analyst).post(f"/api/v1/feedback/{sent.json()['id']}/triage/", {"decision": "accept"}, format="json")
    report = api_as(analyst).post(f"/api/v1/experiments/{experiment.pk}/refresh/").json()["report"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.implemented and second.implemented and report["arms"]["B"]["implemented"] == 2
    assert second.outcome == pytest.approx(second.baseline - 4.5) and second.outcome_source.startswith("feedback")

    # Reviewers see which package each arm evaluates: the arm's own, and the other strategy's in the same district.
    client.force_login(analyst)
    page = client.get(f"/recommendations/{own[first.ubigeo].pk}/").content.decode()
    assert "brazo B" in page and "es el paquete que evalúa ese brazo" in page
    # Had the optimised plan chosen another package in that district, its page warns against mixing the arms.
    from recommendations.models import Intervention

    theirs = own[second.ubigeo]
    conflicting = Recommendation.objects.create(
        plan=plan,
        ubigeo=second.ubigeo,
        department=second.department,
        intervention=Intervention.objects.exclude(pk=theirs.intervention_id).first(),
        strategy="optimised",
        cost_pen=theirs.cost_pen,
        impact=theirs.impact,
        impact_lower=theirs.impact_lower,
        impact_upper=theirs.impact_upper,
        disparity_before=theirs.disparity_before,
        disparity_after=theirs.disparity_after,
        children=theirs.children,
    )
    page = client.get(f"/recommendations/{conflicting.pk}/").content.decode()
    assert "brazo B" in page and "mezclaría los brazos" in page


def test_an_experiment_with_too_few_districts_is_refused_with_the_minimum(
    api_as, analyst, champion, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        plan_id = (
            api_as(analyst)
            .post("/api/v1/plans/", {"budget_pen": 2_000_000, "scope": "080101"}, format="json")
            .json()["id"]
        )
    response = api_as(analyst).post("/api/v1/experiments/", {"name": "x", "plan": plan_id}, format="json")
    assert response.status_code == 400
    assert str(MIN_PER_ARM) in response.json()["detail"]
    assert not Experiment.objects.exists()


def test_a_regional_analyst_cannot_run_an_experiment_on_a_national_plan(
    api_as, analyst, make_user, champion, django_capture_on_commit_callbacks
):
    from accounts.models import Role

    with django_capture_on_commit_callbacks(execute=True):
        plan_id = (
            api_as(analyst)
            .post("/api/v1/plans/", {"budget_pen": 300_000_000, "scope": "PE"}, format="json")
            .json()["id"]
        )
    lima_analyst = make_user("analista_lima2", Role.ANALYST, "15")
    before = Plan.objects.get(pk=plan_id).recommendations.count()
    response = api_as(lima_analyst).post(
        "/api/v1/experiments/", {"name": "x", "plan": plan_id, "seed": 1}, format="json"
    )
    assert response.status_code == 403
    assert Plan.objects.get(pk=plan_id).recommendations.count() == before and not Experiment.objects.exists()


def test_experiments_are_seen_where_their_scope_meets_the_region(api_as, make_user, analyst, champion):
    from accounts.models import Role
    from feedback.services.experiments import experiments_for_user

    run = champion.runs.get()
    plan = Plan.objects.create(name="Lima", budget_pen=10**6, scope="15", constraints={}, run=run, created_by=analyst)
    lima = Experiment.objects.create(name="Lima", plan=plan, seed=1, scope="15")
    national = Experiment.objects.create(name="Perú", plan=plan, seed=2, scope="PE")
    cusco_policy = make_user("pm_cusco_exp", Role.POLICY_MAKER, "08")
    lima_policy = make_user("pm_lima_exp", Role.POLICY_MAKER, "1501")
    staff = make_user("staff_lima_exp", Role.SCHOOL_STAFF, "150101")
    assert set(experiments_for_user(analyst)) == {lima, national}
    assert set(experiments_for_user(lima_policy)) == {lima, national}
    assert set(experiments_for_user(cusco_policy)) == {national}
    assert not experiments_for_user(staff).exists()
    assert api_as(cusco_policy).get(f"/api/v1/experiments/{lima.pk}/").status_code == 404
    assert api_as(lima_policy).get(f"/api/v1/experiments/{lima.pk}/").status_code == 200
