"""The people and objects the access tables (tests/test_endpoint_access.py, tests/test_page_access.py) use:
one user per role in Cusco or nationally, the same roles in Lima, and a world with a champion, its predictions,
plans, recommendations and feedback."""

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Role
from datasets.models import Dataset
from datasets.services.uploads import upload_register
from feedback.models import Experiment, Feedback, Label, LabelSet
from jobs.models import Job
from predictions.models import ModelVersion
from recommendations.models import Intervention, Plan, Recommendation
from tests.scenario import register_model, scored_run

CALLERS = ["anonymous", "admin", "analyst", "analyst_lima", "policymaker", "policymaker_lima", "staff", "staff_lima"]


def only(allowed: dict, default: int) -> dict:
    return {caller: allowed.get(caller, default) for caller in CALLERS}


def everyone(status: int) -> dict:
    return {"anonymous": 401, **{caller: status for caller in CALLERS if caller != "anonymous"}}


def analyst_job(ctx):
    return Job.objects.create(kind=Job.Kind.DATASET_INGEST, created_by=ctx["analyst"], status=Job.Status.QUEUED)


def failed_job(ctx):
    return Job.objects.create(kind=Job.Kind.DATASET_INGEST, created_by=ctx["analyst"], status=Job.Status.FAILED)


def analyst_upload(ctx, status=Job.Status.FAILED):
    dataset = Dataset.objects.get(slug="censo-2017-servicios")
    content = f"ubigeo,agua\n080101,{ctx['n']}\n".encode()
    ctx["n"] += 1
    upload = upload_register(
        user=ctx["analyst"], dataset=dataset, file=ContentFile(content, name="x.csv"), name="x.csv", enqueue=False
    )
    Job.objects.filter(pk=upload.job_id).update(status=status)
    return upload


def world(ctx):
    """A champion, its prediction run, a national plan with recommendations in Cusco and Lima, feedback."""
    if "run" not in ctx:
        ctx["model"] = register_model(created_by=ctx["analyst"])
        ctx["run"] = scored_run(ctx["model"], ctx["analyst"])
        ctx["plan"] = Plan.objects.create(
            name="Nacional",
            budget_pen=10**9,
            scope="PE",
            constraints={},
            run=ctx["run"],
            created_by=ctx["analyst"],
            job=Job.objects.create(kind=Job.Kind.PLAN_OPTIMISE, status=Job.Status.SUCCEEDED),
        )
        ctx["cusco_plan"] = Plan.objects.create(
            name="Cusco", budget_pen=10**8, scope="08", constraints={}, run=ctx["run"], created_by=ctx["analyst"]
        )
    return ctx


def recommendation(ctx, ubigeo="080101", status=Recommendation.Status.SUBMITTED):
    world(ctx)
    plan = Plan.objects.create(
        name="Revisión", budget_pen=10**9, scope="PE", constraints={}, run=ctx["run"], created_by=ctx["analyst"]
    )
    return Recommendation.objects.create(
        plan=plan,
        ubigeo=ubigeo,
        department=ubigeo[:2],
        intervention=Intervention.objects.first(),
        cost_pen=1000,
        impact=5,
        impact_lower=1,
        impact_upper=9,
        disparity_before=60,
        disparity_after=55,
        children=100,
        status=status,
    )


def staff_feedback(ctx):
    world(ctx)
    prediction = ctx["run"].predictions.get(ubigeo="080101")

    ctx["n"] += 1
    return Feedback.objects.create(
        author=ctx["staff"],
        author_role="school_staff",
        ubigeo="080101",
        subject="prediction",
        prediction=prediction,
        observed_value=50,
        observed_source="acta",
        day=timezone.localdate() - timezone.timedelta(days=ctx["n"]),
    )


def pending_label(ctx):
    Label.objects.create(target="disparity_ece18_4p", ubigeo="080101", value=50.0)


def plan_input(ctx):
    world(ctx)
    return {"budget_pen": 1000000 + ctx["n"], "scope": "08"}


def label_set(ctx):
    ctx["n"] += 1
    return LabelSet.objects.create(number=900 + ctx["n"], target="disparity_ece18_4p")


def leaving_user(ctx):
    ctx["n"] += 1
    return ctx["make_user"](f"gone{ctx['n']}", Role.SCHOOL_STAFF, "080101")


def experiment(ctx):
    world(ctx)
    return Experiment.objects.create(name="AB", plan=ctx["plan"], seed=1, scope="PE")


def better_candidate(ctx):
    world(ctx)
    ctx["n"] += 1
    return register_model(status=ModelVersion.Status.CANDIDATE, r2_offset=0.1 * ctx["n"])


def feedback_input(ctx):
    world(ctx)
    return {
        "ubigeo": "080101",
        "subject": "prediction",
        "prediction": ctx["run"].predictions.get(ubigeo="080101").pk,
        "agrees": False,
        "observed_value": 40,
        "observed_source": "evaluación regional",
        "comment": "bajó",
    }


@pytest.fixture
def ctx(make_user):
    users = {
        "admin": make_user("adm", Role.ADMIN, "PE"),
        "analyst": make_user("ana", Role.ANALYST, "PE"),
        "analyst_lima": make_user("ana_lima", Role.ANALYST, "15"),
        "policymaker": make_user("pol", Role.POLICY_MAKER, "08"),
        "policymaker_lima": make_user("pol_lima", Role.POLICY_MAKER, "15"),
        "staff": make_user("sta", Role.SCHOOL_STAFF, "080101"),
        "staff_lima": make_user("sta_lima", Role.SCHOOL_STAFF, "150101"),
    }
    return {**users, "make_user": make_user, "n": 0}
