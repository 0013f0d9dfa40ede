"""The review workflow: roles, regions, states, the budget, notifications, the timeline, and two reviewers at once."""

import threading

import pytest
from django.core import mail
from django.db import connection

from accounts.models import Role
from jobs.models import Job
from recommendations.models import Intervention, Plan, Recommendation, Transition
from recommendations.services.review import recommendation_transition
from tests.scenario import register_model, scored_run

S = Recommendation.Status


@pytest.fixture
def plan(db, analyst):
    run = scored_run(register_model(created_by=analyst), analyst)
    return Plan.objects.create(
        name="Cusco",
        budget_pen=100_000,
        scope="08",
        constraints={},
        run=run,
        created_by=analyst,
        job=Job.objects.create(kind=Job.Kind.PLAN_OPTIMISE, status=Job.Status.SUCCEEDED),
    )


def make(plan, ubigeo="080101", status=S.DRAFT, cost=40_000, position=0):
    return Recommendation.objects.create(
        plan=plan,
        ubigeo=ubigeo,
        department=ubigeo[:2],
        intervention=Intervention.objects.all()[position],
        cost_pen=cost,
        impact=10,
        impact_lower=5,
        impact_upper=15,
        disparity_before=70,
        disparity_after=65,
        children=200,
        status=status,
    )


def act(api_as, user, recommendation, action, comment=""):
    return api_as(user).post(
        f"/api/v1/recommendations/{recommendation.pk}/transitions/",
        {"action": action, "comment": comment},
        format="json",
    )


@pytest.mark.django_db
def test_draft_submitted_approved_implemented_verified_with_a_timeline_and_emails(
    api_as, analyst, policymaker_cusco, plan, django_capture_on_commit_callbacks, client
):
    recommendation = make(plan)
    with django_capture_on_commit_callbacks(execute=True):
        assert act(api_as, analyst, recommendation, "submit", "prioridad alta").status_code == 200
    assert mail.outbox[-1].to == [policymaker_cusco.email]  # the next actor: Cusco's policy maker
    with django_capture_on_commit_callbacks(execute=True):
        approved = act(api_as, policymaker_cusco, recommendation, "approve", "aprobado en comité")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert mail.outbox[-1].to == [analyst.email]  # back to the analyst who made the plan
    assert act(api_as, policymaker_cusco, recommendation, "implement").status_code == 200
    assert act(api_as, policymaker_cusco, recommendation, "verify").status_code == 200
    timeline = api_as(policymaker_cusco).get(f"/api/v1/recommendations/{recommendation.pk}/").json()["transitions"]
    assert [(t["from_status"], t["to_status"]) for t in timeline] == [
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "implemented"),
        ("implemented", "verified"),
    ]
    assert timeline[1]["actor_username"] == policymaker_cusco.username
    assert timeline[1]["comment"] == "aprobado en comité"
    client.force_login(policymaker_cusco)
    page = client.get(f"/recommendations/{recommendation.pk}/").content.decode()
    steps = page.split('data-testid="timeline"')[1].split("</ol>")[0].count("<li>")
    assert steps == 5 and "Borrador" in page and "aprobado en comité" in page  # drafted, then the four steps


@pytest.mark.django_db
def test_reviewers_cannot_act_outside_their_region_or_role(api_as, analyst, policymaker_lima, staff_cusco, plan):
    recommendation = make(plan, status=S.SUBMITTED)
    assert act(api_as, policymaker_lima, recommendation, "approve").status_code == 404
    assert act(api_as, staff_cusco, recommendation, "approve").status_code == 403
    assert act(api_as, analyst, recommendation, "approve").status_code == 403
    recommendation.refresh_from_db()
    assert recommendation.status == S.SUBMITTED and not Transition.objects.exists()


@pytest.mark.django_db
def test_a_transition_not_allowed_from_the_current_state_is_a_conflict(api_as, policymaker_cusco, plan):
    recommendation = make(plan, status=S.DRAFT)
    response = act(api_as, policymaker_cusco, recommendation, "approve")
    assert response.status_code == 409 and response.json()["status"] == "draft"


@pytest.mark.django_db
def test_comment_too_long_and_administrators_must_give_a_reason(api_as, admin_user, policymaker_cusco, plan):
    recommendation = make(plan, status=S.SUBMITTED)
    assert act(api_as, policymaker_cusco, recommendation, "approve", "x" * 2001).status_code == 400
    assert act(api_as, admin_user, recommendation, "approve").status_code == 400
    response = act(api_as, admin_user, recommendation, "approve", "la DRE no tiene decisor asignado")
    assert response.status_code == 200
    assert Transition.objects.get().actor_role == Role.ADMIN


@pytest.mark.django_db
def test_approvals_cannot_take_the_plan_past_its_budget(api_as, policymaker_cusco, plan):
    first = make(plan, status=S.SUBMITTED, cost=60_000, position=0)
    second = make(plan, ubigeo="080102", status=S.SUBMITTED, cost=60_000, position=1)
    assert act(api_as, policymaker_cusco, first, "approve").status_code == 200
    response = act(api_as, policymaker_cusco, second, "approve")
    assert response.status_code == 409 and "presupuesto" in response.json()["detail"]
    second.refresh_from_db()
    assert second.status == S.SUBMITTED


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_at_once_cannot_both_win(peru_districts, make_user):
    """Two threads, two database connections, released together: one decision wins, the other gets 409."""
    from core.exceptions import Conflict
    from datasets.models import FeatureSnapshot

    analyst = make_user("ana2", Role.ANALYST, "PE")
    first = make_user("pm_uno", Role.POLICY_MAKER, "08")
    second = make_user("pm_dos", Role.POLICY_MAKER, "0801")
    snapshot = FeatureSnapshot.objects.create(
        name="t", spec=[], lineage=[], columns=[], data={"index": [], "rows": []}, row_count=0, sha256="x"
    )
    from predictions.models import ModelVersion, PredictionRun

    model = ModelVersion.objects.create(
        algorithm="ridge", target="disparity_ece18_4p", snapshot=snapshot, artifact="", sha256="", code_version="t"
    )
    run = PredictionRun.objects.create(model=model, snapshot=snapshot)
    plan = Plan.objects.create(name="p", budget_pen=10**9, scope="08", constraints={}, run=run, created_by=analyst)
    recommendation = make(plan, status=S.SUBMITTED)
    barrier = threading.Barrier(2)
    outcomes = {}

    def review(user, action):
        try:
            barrier.wait()
            recommendation_transition(
                user=user,
                recommendation=Recommendation.objects.get(pk=recommendation.pk),
                action=action,
                comment=action,
            )
            outcomes[action] = "won"
        except Conflict:
            outcomes[action] = "409"
        finally:
            connection.close()

    threads = [
        threading.Thread(target=review, args=(first, "approve")),
        threading.Thread(target=review, args=(second, "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["409", "won"]
    recommendation.refresh_from_db()
    winner = next(action for action, result in outcomes.items() if result == "won")
    assert recommendation.status == {"approve": S.APPROVED, "reject": S.REJECTED}[winner]
    assert Transition.objects.filter(recommendation=recommendation).count() == 1


@pytest.mark.django_db
def test_review_queue_puts_pending_first_and_filters(client, policymaker_cusco, plan):
    make(plan, ubigeo="080102", status=S.APPROVED, position=1)
    pending = make(plan, ubigeo="080101", status=S.SUBMITTED)
    client.force_login(policymaker_cusco)
    page = client.get("/recommendations/")
    assert list(page.context["page"])[0].pk == pending.pk
    filtered = client.get("/recommendations/?status=approved").context["page"]
    assert [r.status for r in filtered] == ["approved"]
    detail = client.get(f"/recommendations/{pending.pk}/").content.decode()
    assert 'data-testid="transition-form"' in detail and 'value="approve"' in detail
