"""Plans on the real champion and prediction run: optimisation against the baseline, bad input, exports."""

import io
import json
import re

import pytest
from openpyxl import load_workbook

from accounts.models import Role
from jobs.models import Job
from recommendations.exports import HEADER
from recommendations.models import Intervention, Plan
from tests.scenario import register_model, scored_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(analyst):
    return scored_run(register_model(created_by=analyst), analyst)


@pytest.fixture
def plan_for(api_as, analyst, run, django_capture_on_commit_callbacks):
    def make(user=None, **body):
        with django_capture_on_commit_callbacks(execute=True):
            response = api_as(user or analyst).post("/api/v1/plans/", body, format="json")
        return response

    return make


def test_optimised_plan_within_budget_beats_or_matches_the_baseline(plan_for, api_as, analyst):
    response = plan_for(budget_pen=20_000_000, scope="08", name="Cusco 2027")
    assert response.status_code == 202
    plan = Plan.objects.get(pk=response.json()["id"])
    assert plan.job.status == Job.Status.SUCCEEDED, plan.job.failure_reason
    recommendations = list(plan.recommendations.select_related("intervention"))
    assert recommendations
    assert sum(r.cost_pen for r in recommendations) <= plan.budget_pen
    assert all(r.ubigeo.startswith("08") for r in recommendations)
    assert len({r.ubigeo for r in recommendations}) == len(recommendations)  # one package per district
    assert plan.objective >= plan.baseline_objective - 1e-6
    assert plan.summary["optimised"]["status"] in {"optimal", "within_gap"}
    assert plan.summary["optimised"]["gap"] <= 1e-5
    assert plan.summary["baseline"]["cost"] <= 20_000_000
    detail = api_as(analyst).get(f"/api/v1/plans/{plan.pk}/").json()
    assert detail["objective"] == plan.objective and detail["baseline_objective"] == plan.baseline_objective
    assert len(detail["recommendations"]) == len(recommendations)
    first = recommendations[0]
    assert first.impact_lower <= first.impact <= first.impact_upper
    assert first.rationale["top_factors"] and "district" in first.rationale
    assert first.disparity_after < first.disparity_before


def test_model_impact_is_the_ensemble_champions_own_prediction_with_the_change(plan_for, analyst):
    """The impact is the champion's drop (the ensemble's weighted estimate, not a plain mean of its members);
    the members' spread gives the interval."""
    from predictions.models import ModelVersion
    from predictions.services.models import predict
    from recommendations.services.impact import apply_effects

    ModelVersion.objects.update(status=ModelVersion.Status.ARCHIVED)
    ensemble = scored_run(register_model(algorithm="ensemble", created_by=analyst), analyst)
    response = plan_for(
        budget_pen=50_000_000,
        scope="08",
        run=ensemble.pk,
        constraints={"interventions": ["internet-hogares", "agua-red"]},
    )
    plan = Plan.objects.get(pk=response.json()["id"])
    assert plan.job.status == Job.Status.SUCCEEDED, plan.job.failure_reason
    modelled = [r for r in plan.recommendations.select_related("intervention") if r.estimate == "model"]
    assert modelled
    table = plan.run.snapshot.to_frame()
    for rec in modelled[:5]:
        row = table.loc[[rec.ubigeo]]
        before = predict(plan.run.model, row)["value"].iloc[0]
        after = predict(plan.run.model, apply_effects(row, rec.intervention.effects))["value"].iloc[0]
        assert rec.disparity_before == pytest.approx(before, abs=1e-6)
        assert rec.impact == pytest.approx((before - after) * rec.children / 100, rel=1e-6)
        assert rec.impact_lower <= rec.impact <= rec.impact_upper
    assert any(r.impact_lower < r.impact_upper for r in modelled)  # the members disagree somewhere


def test_assumed_effects_are_weighed_only_when_asked(plan_for):
    """By default a plan rests on the model's estimates; classrooms and teacher coaching (stated assumptions)
    join when the analyst asks for them or names them."""
    default = Plan.objects.get(pk=plan_for(budget_pen=20_000_000, scope="08").json()["id"])
    assert default.recommendations.exists()
    assert not default.recommendations.filter(estimate="assumed").exists()
    both = plan_for(budget_pen=20_000_000, scope="08", constraints={"include_assumed": True})
    plan = Plan.objects.get(pk=both.json()["id"])
    assert plan.recommendations.filter(estimate="assumed").exists()
    assert plan.objective >= default.objective - 1e-6  # more choices never do worse
    named = plan_for(budget_pen=20_000_000, scope="08", constraints={"interventions": ["acompanamiento-docente"]})
    coaching = Plan.objects.get(pk=named.json()["id"]).recommendations.all()
    assert coaching and all(r.estimate == "assumed" for r in coaching)
    refused = plan_for(budget_pen=20_000_000, scope="08", constraints={"include_assumed": "sí"})
    assert refused.status_code == 400 and "include_assumed" in json.dumps(refused.json())


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"budget_pen": 0, "scope": "08"}, 400, "cero"),
        ({"budget_pen": -5, "scope": "08"}, 400, "cero"),
        ({"budget_pen": 1e6, "scope": "08", "constraints": {"min_department_share": {"15": 0.1}}}, 400, "15"),
        ({"budget_pen": 1e6, "scope": "08", "constraints": {"min_department_share": {"08": 1.5}}}, 400, "08"),
        ({"budget_pen": 1e6, "scope": "08", "constraints": {"unknown": 1}}, 400, "unknown"),
        ({"budget_pen": 1e6, "scope": "99"}, 400, "99"),
    ],
)
def test_bad_plan_requests_are_refused_with_a_reason(plan_for, body, status, fragment):
    response = plan_for(**body)
    assert response.status_code == status, response.json()
    assert fragment in json.dumps(response.json(), ensure_ascii=False)
    assert not Plan.objects.exists()


def test_scope_outside_the_analysts_region_is_refused(plan_for, make_user):
    cusco_analyst = make_user("analista_cusco", Role.ANALYST, "08")
    refused = plan_for(user=cusco_analyst, budget_pen=1e6, scope="15")
    assert refused.status_code == 403 and "15" in refused.json()["detail"]
    assert plan_for(user=cusco_analyst, budget_pen=1e6, scope="PE").status_code == 403
    assert plan_for(user=cusco_analyst, budget_pen=1e6, scope="0801").status_code == 202


def test_an_impossible_constraint_set_fails_naming_the_constraint(plan_for):
    shares = plan_for(budget_pen=10_000_000, scope="PE", constraints={"min_department_share": {"08": 0.6, "15": 0.6}})
    assert shares.status_code == 400 and "120%" in json.dumps(shares.json(), ensure_ascii=False)
    assert not Plan.objects.exists()
    # Only the solver can tell that Cusco cannot absorb half of S/ 100,000 million: the job fails naming it.
    response = plan_for(budget_pen=100_000_000_000, scope="PE", constraints={"min_department_share": {"08": 0.5}})
    plan = Plan.objects.get(pk=response.json()["id"])
    assert plan.job.status == Job.Status.FAILED
    assert "08" in plan.job.failure_reason
    assert not plan.recommendations.exists()


def test_a_double_submit_is_refused_while_the_first_runs(api_as, analyst, run):
    client = api_as(analyst)
    first = client.post("/api/v1/plans/", {"budget_pen": 5e6, "scope": "08"}, format="json")
    second = client.post("/api/v1/plans/", {"budget_pen": 5e6, "scope": "08"}, format="json")
    assert (first.status_code, second.status_code) == (202, 409)
    assert second.json()["plan"] == first.json()["id"]


def test_exports_are_safe_against_formula_injection(plan_for, api_as, analyst):
    plan = Plan.objects.get(pk=plan_for(budget_pen=20_000_000, scope="08").json()["id"])
    Intervention.objects.filter(pk__in=plan.recommendations.values("intervention")).update(
        name='=HYPERLINK("http://x","clic")'
    )
    client = api_as(analyst)
    text = client.get(f"/api/v1/plans/{plan.pk}/csv/").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    sheet = load_workbook(io.BytesIO(client.get(f"/api/v1/plans/{plan.pk}/xlsx/").content)).active
    names = [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names and all(name.startswith("'=") for name in names)
    collection = json.loads(client.get(f"/api/v1/plans/{plan.pk}/geojson/").content)
    assert len(collection["features"]) == plan.recommendations.count()
    assert all(f["geometry"] for f in collection["features"])
    assert all(f["properties"][HEADER[3]].startswith("'=") for f in collection["features"])
    assert all(isinstance(f["properties"]["cost_pen"], float) for f in collection["features"])


def test_plan_pages(client, analyst, policymaker_cusco, plan_for):
    constraints = {"min_department_share": {"08": 0.5}, "only_flagged": False}
    plan = Plan.objects.get(pk=plan_for(budget_pen=20_000_000, scope="08", constraints=constraints).json()["id"])
    client.force_login(policymaker_cusco)
    page = client.get(f"/plans/{plan.pk}/").content.decode()
    assert 'data-testid="plan-comparison"' in page and 'data-testid="choropleth"' in page
    assert "no un efecto causal probado" in page
    described = page.split('data-testid="constraints">')[1].split("</dd>")[0]
    assert "Al menos el 50% del presupuesto en CUSCO" in described and "{" not in described
    assert "demostrado óptimo" in page
    client.force_login(analyst)
    assert client.get("/plans/").status_code == 200
    national_view = client.get(f"/plans/{plan.pk}/").content.decode()  # a national analyst: the plan's scope only
    drawn = set(re.findall(r'data-ubigeo="(\d{6})"', national_view))
    assert drawn and all(u.startswith("08") for u in drawn)


def test_a_regional_user_sees_no_baseline_choices_outside_their_region(plan_for, api_as, staff_lima):
    plan = Plan.objects.get(pk=plan_for(budget_pen=200_000_000, scope="PE").json()["id"])
    assert any(not c["ubigeo"].startswith("150101") for c in plan.summary["baseline"]["selected"])
    seen = api_as(staff_lima).get(f"/api/v1/plans/{plan.pk}/").json()
    assert all(c["ubigeo"].startswith("150101") for c in seen["summary"]["baseline"]["selected"])
    assert set(seen["summary"]["optimised"]["departments"]) <= {"15"}
    assert seen["recommendations_count"] == len(seen["recommendations"])
    listed = api_as(staff_lima).get("/api/v1/plans/").json()["results"][0]
    assert all(c["ubigeo"].startswith("150101") for c in listed["summary"]["baseline"]["selected"])


@pytest.mark.parametrize(
    "constraints",
    [
        {"equity": ["x"]},
        {"interventions": 5},
        {"interventions": ["no-such"]},
        {"equity_strength": "abc"},
        {"max_per_district": "2"},
        {"only_flagged": "yes"},
        {"min_department_share": {"08": "0.1"}},
        ["a", "b"],
    ],
)
def test_malformed_constraints_are_a_400_not_a_500(plan_for, constraints):
    response = plan_for(budget_pen=1e6, scope="08", constraints=constraints)
    assert response.status_code == 400, response.content[:300]
    assert not Plan.objects.exists()


def test_a_plan_on_an_unfinished_prediction_run_is_refused(plan_for, run):
    from predictions.models import PredictionRun

    pending = PredictionRun.objects.create(
        model=run.model, snapshot=run.snapshot, job=Job.objects.create(kind=Job.Kind.PREDICTION_RUN)
    )
    response = plan_for(budget_pen=1e6, scope="08", run=pending.pk)
    assert response.status_code == 400 and str(pending.pk) in response.json()["detail"]
