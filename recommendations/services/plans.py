"""Plans: a budget, a scope and constraints in; the optimal recommendations and the neediest-first baseline out."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import NATIONAL, region_codes, regions_meet
from accounts.services import region_validate
from core.exceptions import ApplicationError
from datasets.models import Department
from jobs.models import Job
from jobs.services import job_commit, job_create
from recommendations import optimise
from recommendations.models import Plan, Recommendation

CONSTRAINT_KEYS = {
    "max_per_district",
    "one_per_type_per_district",
    "min_department_share",
    "only_flagged",
    "equity",
    "equity_strength",
    "interventions",
    "include_assumed",
}
EQUITY = {"", "poverty", "indigenous"}


def plans_for_user(user):
    """Plans whose scope overlaps the user's region (recommendations inside them are filtered again)."""
    if not user.is_authenticated or not user.is_active:
        return Plan.objects.none()
    if user.is_administrator or user.region_codes == [""]:
        return Plan.objects.all()
    visible = []
    for plan in Plan.objects.only("pk", "scope"):
        codes = region_codes(plan.scope)
        if codes == [""] or regions_meet(codes, user.region_codes):
            visible.append(plan.pk)
    return Plan.objects.filter(pk__in=visible)


def plan_summary_for_user(plan: Plan, user) -> dict:
    """The plan's summary with what lies outside the user's region removed: the baseline's district choices and
    the per-department blocks. National totals stay: they are aggregates of the plan as a whole."""
    summary = dict(plan.summary or {})
    if user.region_codes == [""]:
        return summary
    inside = tuple(code for code in user.region_codes if code)
    for key in ("optimised", "baseline"):
        if key in summary:
            block = dict(summary[key])
            block["departments"] = user.departments_only(block.get("departments", {}))
            if "selected" in block:
                block["selected"] = [c for c in block["selected"] if c["ubigeo"].startswith(inside)]
            summary[key] = block
    return summary


def constraints_validate(constraints, scope: str) -> dict:
    """Check types and values of every constraint; anything odd is a 400 that names it, never a 500."""
    if not isinstance(constraints, dict):
        raise ValidationError({"constraints": _("Constraints are an object of named values.")})
    unknown = set(constraints) - CONSTRAINT_KEYS
    if unknown:
        raise ValidationError(
            {"constraints": _("Unknown constraints: %(names)s.") % {"names": ", ".join(sorted(unknown))}}
        )
    for flag in ("one_per_type_per_district", "only_flagged", "include_assumed"):
        if flag in constraints and not isinstance(constraints[flag], bool):
            raise ValidationError({"constraints": _("%(name)s is true or false.") % {"name": flag}})
    clean = {
        "max_per_district": constraints.get("max_per_district", 1),
        "one_per_type_per_district": constraints.get("one_per_type_per_district", True),
        "only_flagged": constraints.get("only_flagged", False),
        "equity": constraints.get("equity", "") or "",
        "equity_strength": constraints.get("equity_strength", 1.0),
        "min_department_share": {},
        "interventions": constraints.get("interventions") or [],
        # Interventions no model variable captures (classrooms, teacher coaching) carry a stated assumed effect; a
        # plan weighs them only when asked to, or when they are named in `interventions`.
        "include_assumed": constraints.get("include_assumed", False),
    }
    if clean["max_per_district"] is not None:
        if isinstance(clean["max_per_district"], bool) or not isinstance(clean["max_per_district"], int):
            raise ValidationError({"constraints": _("max_per_district must be a whole number or null.")})
        if clean["max_per_district"] < 1:
            raise ValidationError({"constraints": _("max_per_district must be at least 1.")})
    if not isinstance(clean["equity"], str) or clean["equity"] not in EQUITY:
        raise ValidationError({"constraints": _("equity must be poverty, indigenous or empty.")})
    strength = clean["equity_strength"]
    if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 <= strength <= 5:
        raise ValidationError({"constraints": _("equity_strength must be between 0 and 5.")})
    clean["equity_strength"] = float(strength)
    interventions = clean["interventions"]
    if not isinstance(interventions, list) or not all(isinstance(code, str) for code in interventions):
        raise ValidationError({"constraints": _("interventions is a list of intervention codes.")})
    from recommendations.models import Intervention

    unknown_codes = sorted(set(interventions) - set(Intervention.objects.values_list("code", flat=True)))
    if unknown_codes:
        raise ValidationError(
            {"constraints": _("Unknown interventions: %(codes)s.") % {"codes": ", ".join(unknown_codes)}}
        )
    shares = constraints.get("min_department_share") or {}
    if not isinstance(shares, dict):
        raise ValidationError({"constraints": _("min_department_share maps department codes to fractions.")})
    known = set(Department.objects.values_list("code", flat=True))
    for code, share in shares.items():
        if code not in known:
            raise ValidationError({"constraints": _("Unknown department %(code)s.") % {"code": code}})
        if not region_covers_department(scope, code):
            raise ValidationError(
                {"constraints": _("Department %(code)s is outside the plan's scope.") % {"code": code}}
            )
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise ValidationError({"constraints": _("The share for %(code)s is not a number.") % {"code": code}})
        if not 0 <= share <= 1:
            raise ValidationError(
                {"constraints": _("The share for %(code)s must be between 0 and 1.") % {"code": code}}
            )
        clean["min_department_share"][code] = float(share)
    total = sum(clean["min_department_share"].values())
    if total > 1 + 1e-9:
        raise ValidationError(
            {
                "constraints": _(
                    "min_department_share adds up to %(total)s%% of the budget: the shares cannot exceed 100%%."
                )
                % {"total": f"{100 * total:g}"}
            }
        )
    return clean


def region_covers_department(scope: str, department: str) -> bool:
    return any(department.startswith(code) or code.startswith(department) for code in region_codes(scope))


def plan_request(*, user, name: str, budget_pen, scope: str, constraints: dict | None = None, run=None) -> Plan:
    """Validate, record the plan and queue its optimisation."""
    from predictions.services.runs import latest_champion_run

    if not user.can_analyse:
        raise PermissionDenied
    try:
        budget = Decimal(str(budget_pen))
    except ArithmeticError:
        raise ValidationError({"budget_pen": _("The budget must be a number of soles.")})
    if not budget.is_finite() or budget <= 0:
        raise ValidationError({"budget_pen": _("The budget must be more than zero soles.")})
    scope = region_validate(region=scope or NATIONAL)
    if not scope:
        raise ValidationError({"scope": _("Choose a scope: PE (national), a department, a province or districts.")})
    if not all(user.can_access_ubigeo(code) for code in region_codes(scope) if code) or (
        scope == NATIONAL and user.region_level != "national"
    ):
        raise PermissionDenied(_("The scope %(scope)s is outside your region.") % {"scope": scope})
    clean = constraints_validate(constraints or {}, scope)
    if run is not None and run.status != Job.Status.SUCCEEDED:
        raise ValidationError({"run": _("Prediction run #%(id)s has not succeeded.") % {"id": run.pk}})
    run = run or latest_champion_run()
    if run is None:
        raise ApplicationError(_("There are no predictions yet: train a model and run predictions first."))
    with transaction.atomic():
        same = Plan.objects.filter(
            created_by=user, budget_pen=budget, scope=scope, constraints=clean, run=run, job__status__in=Job.ACTIVE
        ).first()
        if same is not None:  # a double submit: the first is still being optimised
            from core.exceptions import Conflict

            raise Conflict(
                _("The same plan is already being optimised (plan #%(id)s).") % {"id": same.pk}, extra={"plan": same.pk}
            )
        plan = Plan.objects.create(
            name=(name or _("Plan")).strip()[:200],
            budget_pen=budget,
            scope=scope,
            constraints=clean,
            run=run,
            created_by=user,
        )
        plan.job = job_create(kind=Job.Kind.PLAN_OPTIMISE, created_by=user, params={"plan": plan.pk}, scope=scope)
        plan.save(update_fields=["job"])
    return plan


def _summary(result: optimise.PlanResult) -> dict:
    return {
        "method": result.method,
        "objective": result.objective,
        "impact": result.total_impact,
        "cost": result.total_cost,
        "districts": result.n_districts,
        "children": result.children_reached,
        "status": result.status,
        "gap": result.gap,
        "solve_seconds": round(result.solve_seconds, 3),
        "candidates": result.candidates_considered,
        "departments": {
            code: {
                "cost": d.cost,
                "impact": d.impact,
                "districts": d.districts,
                "children": d.children,
                "min_spend": d.min_spend,
            }
            for code, d in sorted(result.departments.items())
        },
    }


def _compact(detail: dict) -> dict:
    """A baseline choice, kept in the plan's summary so an experiment can later turn it into a recommendation."""
    return {
        **{k: v for k, v in detail.items() if k != "intervention"},
        "intervention": detail["intervention"].code,
        "cost_pen": float(detail["cost_pen"]),
    }


def plan_optimise(*, job: Job, progress) -> dict:
    """In the worker: estimate every candidate's impact, solve the MILP, compute the baseline, save."""
    from recommendations.services.impact import plan_candidates

    plan = Plan.objects.select_related("run__model", "run__snapshot").get(job=job)
    if plan.recommendations.exists():  # an earlier attempt saved its result, then lost its worker
        return {"plan": plan.pk, "recommendations": plan.recommendations.count()}
    c = plan.constraints
    progress(5, _("Estimating the impact of each intervention"))
    candidates, details = plan_candidates(plan=plan, progress=lambda p, m: progress(5 + 0.6 * p, m))
    constraints = optimise.Constraints(
        max_per_district=c["max_per_district"],
        one_per_type_per_district=c["one_per_type_per_district"],
        min_department_share=c["min_department_share"],
        only_flagged=c["only_flagged"],
        use_equity_weights=bool(c["equity"]),
    )
    budget = float(plan.budget_pen)
    progress(70, _("Solving the plan (%(n)s candidates)") % {"n": f"{len(candidates):,}"})
    try:
        # The solver reports no progress while it works: keep it well inside the heartbeat a worker must keep.
        result = optimise.optimise(
            candidates,
            budget,
            constraints,
            time_limit=settings.JOB_STALE_SECONDS / 3,
            mip_rel_gap=settings.PLAN_MIP_GAP,
        )
    except optimise.InfeasiblePlan as exc:
        raise ApplicationError(_("No plan meets the constraints: %(reason)s") % {"reason": str(exc)})
    progress(90, _("Computing the neediest-first baseline"))
    baseline = optimise.neediest_first(candidates, budget, constraints)
    chosen = set(result.selected)
    with transaction.atomic():
        Recommendation.objects.bulk_create(
            [Recommendation(plan=plan, **details[key]) for key in result.selected if key in chosen]
        )
        plan.objective = result.objective
        plan.baseline_objective = baseline.objective
        plan.summary = {
            "optimised": _summary(result),
            "baseline": {**_summary(baseline), "selected": [_compact(details[k]) for k in baseline.selected]},
            "ratio": (result.total_impact / baseline.total_impact) if baseline.total_impact else None,
            "model": plan.run.model_id,
            "run": plan.run_id,
        }
        plan.save(update_fields=["objective", "baseline_objective", "summary"])
        job_commit(job=job)
    return {
        "plan": plan.pk,
        "recommendations": len(result.selected),
        "objective": result.objective,
        "baseline_objective": baseline.objective,
    }
