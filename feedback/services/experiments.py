"""A/B evaluation of two recommendation strategies.

The districts eligible under either strategy of a plan (chosen by the optimised plan or by neediest-first) are
assigned at random to arm A (the optimised plan's recommendations) or arm B (neediest-first's), stratified by
department and reproducible from the seed. Outcomes come later, from a newer version of a dataset or from
accepted feedback. The report gives the difference in mean change of disparity between the arms with a
bootstrap 95% confidence interval, and the districts per arm needed to detect a given effect.
"""

import math
import secrets

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from scipy import stats

from accounts.models import region_codes, regions_meet
from core.exceptions import ApplicationError
from datasets.models import Dataset, DatasetRow
from feedback.models import Assignment, Experiment, Feedback
from jobs.models import Job
from recommendations.models import Intervention, Recommendation

MIN_PER_ARM = 10
EFFECT_RANGE = (0.1, 50.0)  # points of disparity an experiment can be sized to detect
BOOTSTRAP_SAMPLES = 2000
ASSUMED_SD = 10.0  # points of disparity, for the sample size before any outcome is in


def experiments_for_user(user):
    """Analysts' and policy makers' experiments whose scope overlaps their region, as for plans (the districts
    inside are filtered again)."""
    if not user.is_authenticated or not user.is_active or not (user.can_analyse or user.is_policy_maker):
        return Experiment.objects.none()
    if user.is_administrator or user.region_codes == [""]:
        return Experiment.objects.all()
    visible = [
        experiment.pk
        for experiment in Experiment.objects.only("pk", "scope")
        if regions_meet(region_codes(experiment.scope), user.region_codes)
    ]
    return Experiment.objects.filter(pk__in=visible)


def experiment_arms_of(recommendation) -> list[dict]:
    """The experiments that assigned this recommendation's district, its arm in each, and whether this
    recommendation is the package that arm evaluates (arm A: the optimised plan's; arm B: neediest-first's)."""
    choices = _neediest_first_choices(recommendation.plan)
    return [
        {
            "experiment": assignment.experiment,
            "arm": assignment.arm,
            "own": _is_arms_package(recommendation, assignment.arm, choices),
        }
        for assignment in Assignment.objects.filter(
            experiment__plan=recommendation.plan_id, ubigeo=recommendation.ubigeo
        ).select_related("experiment")
    ]


def _neediest_first_choices(plan) -> dict[str, str]:
    """District → the intervention the neediest-first baseline chose there: arm B's package."""
    return {c["ubigeo"]: c["intervention"] for c in plan.summary.get("baseline", {}).get("selected", [])}


def _is_arms_package(recommendation, arm: str, neediest_first: dict[str, str]) -> bool:
    """Arm A evaluates the optimised plan's package, arm B neediest-first's (the same row when both chose it)."""
    if arm == "A":
        return recommendation.strategy == "optimised"
    return neediest_first.get(recommendation.ubigeo) == recommendation.intervention.code


def stratified_assignment(districts: list[str], seed: int) -> dict[str, str]:
    """District → arm, balanced within each department; the same seed gives the same assignment."""
    rng = np.random.default_rng(seed)
    arms = {}
    for department in sorted({d[:2] for d in districts}):
        members = sorted(d for d in districts if d[:2] == department)
        rng.shuffle(members)
        start = int(rng.integers(0, 2))  # odd-sized strata do not always favour arm A
        for position, ubigeo in enumerate(members):
            arms[ubigeo] = "AB"[(position + start) % 2]
    return arms


def experiment_create(
    *,
    user,
    name: str,
    plan,
    seed: int | None = None,
    outcome_dataset: str = "",
    outcome_column: str = "",
    effect: float = 2.0,
) -> Experiment:
    if not user.can_analyse:
        raise PermissionDenied
    if not EFFECT_RANGE[0] <= effect <= EFFECT_RANGE[1]:
        raise ApplicationError(
            _("The effect to detect is between %(low)s and %(high)s points.")
            % {"low": f"{EFFECT_RANGE[0]:g}", "high": f"{EFFECT_RANGE[1]:g}"}
        )
    scope = region_codes(plan.scope)
    if (scope == [""] and user.region_level != "national") or not all(user.can_access_ubigeo(c) for c in scope if c):
        # the experiment writes recommendations across the plan's scope: all of it must be the analyst's
        raise PermissionDenied(_("The plan's scope %(scope)s is outside your region.") % {"scope": plan.scope})
    if plan.status != Job.Status.SUCCEEDED:
        raise ApplicationError(_("The plan has not finished optimising yet."))
    optimised = {r.ubigeo for r in plan.recommendations.filter(strategy="optimised")}
    baseline = {choice["ubigeo"]: choice for choice in plan.summary.get("baseline", {}).get("selected", [])}
    eligible = sorted(optimised | set(baseline))
    seed = secrets.randbelow(2**31) if seed is None else seed
    arms = stratified_assignment(eligible, seed)
    counts = {arm: sum(1 for a in arms.values() if a == arm) for arm in "AB"}
    if min(counts.values(), default=0) < MIN_PER_ARM:
        raise ApplicationError(
            _("An experiment needs at least %(min)d districts per arm; this plan gives A: %(a)d, B: %(b)d.")
            % {"min": MIN_PER_ARM, "a": counts["A"], "b": counts["B"]}
        )
    predictions = {p.ubigeo: p for p in plan.run.predictions.filter(ubigeo__in=eligible)}
    with transaction.atomic():
        experiment = Experiment.objects.create(
            name=name,
            plan=plan,
            seed=seed,
            scope=plan.scope,
            outcome_dataset=outcome_dataset,
            outcome_column=outcome_column,
            effect=effect,
            created_by=user,
        )
        assignments = Assignment.objects.bulk_create(
            [
                Assignment(
                    experiment=experiment,
                    ubigeo=u,
                    department=u[:2],
                    arm=arm,
                    baseline=predictions[u].observed if predictions[u].observed is not None else predictions[u].value,
                )
                for u, arm in arms.items()
            ]
        )
        interventions = {i.code: i for i in Intervention.objects.all()}
        for ubigeo, arm in arms.items():
            if arm == "B" and ubigeo in baseline:  # arm B receives neediest-first's choice, reviewed like any other
                choice = baseline[ubigeo]
                Recommendation.objects.get_or_create(
                    plan=plan,
                    ubigeo=ubigeo,
                    intervention=interventions[choice["intervention"]],
                    defaults={
                        k: choice[k]
                        for k in (
                            "department",
                            "cost_pen",
                            "impact",
                            "impact_lower",
                            "impact_upper",
                            "disparity_before",
                            "disparity_after",
                            "children",
                            "estimate",
                            "rationale",
                        )
                    }
                    | {"strategy": "neediest_first"},
                )
        experiment.report = experiment_report(assignments, seed=seed, effect=effect)  # sizes, before any outcome
        experiment.save(update_fields=["report"])
    return experiment


def _disparity_outcome(values: dict, column: str) -> float | None:
    if column.startswith("disparity:"):
        prefix = column.split(":", 1)[1]
        lec, mat = values.get(f"{prefix}_lec_sat"), values.get(f"{prefix}_mat_sat")
        return None if lec is None or mat is None else 100 - (lec + mat) / 2
    value = values.get(column)
    return float(value) if isinstance(value, int | float) else None


def experiment_refresh(experiment: Experiment) -> dict:
    """Collect implementation and outcomes, then recompute the report.

    A district counts as implemented when the recommendation of *its arm's* strategy (arm A: the optimised plan's
    package, arm B: neediest-first's) is implemented or verified in the review workflow, or accepted feedback on
    that recommendation says it was implemented. The outcome comes from a newer version of the outcome dataset,
    else from accepted feedback: an observed value on the district's prediction, or the observed change reported
    on the arm's recommendation (baseline + change)."""
    assignments = list(experiment.assignments.all())
    arms = {a.ubigeo: a.arm for a in assignments}
    choices = _neediest_first_choices(experiment.plan)
    arm_recommendation = {}
    for r in experiment.plan.recommendations.filter(ubigeo__in=list(arms)).select_related("intervention"):
        if _is_arms_package(r, arms[r.ubigeo], choices):
            arm_recommendation.setdefault(r.ubigeo, r)
    done = {Recommendation.Status.IMPLEMENTED, Recommendation.Status.VERIFIED}
    accepted = Feedback.objects.filter(
        status=Feedback.Status.ACCEPTED,
        created_at__gt=experiment.started_at,
        ubigeo__in=[a.ubigeo for a in assignments],
    ).order_by("created_at")
    observed, reported_implemented, reported_change = {}, set(), {}
    for feedback in accepted:
        if feedback.observed_value is not None:
            observed[feedback.ubigeo] = feedback.observed_value
        if feedback.recommendation_id and feedback.recommendation_id == getattr(
            arm_recommendation.get(feedback.ubigeo), "pk", None
        ):
            if feedback.implemented:
                reported_implemented.add(feedback.ubigeo)
            if feedback.observed_change is not None:
                reported_change[feedback.ubigeo] = feedback.observed_change
    newer = None
    if experiment.outcome_dataset and experiment.outcome_column:
        dataset = Dataset.objects.filter(slug=experiment.outcome_dataset).first()
        newer = (
            dataset.versions.filter(created_at__gt=experiment.started_at).order_by("-number").first()
            if dataset
            else None
        )
    rows = {}
    if newer is not None:
        rows = {
            r.ubigeo: r.values
            for r in DatasetRow.objects.filter(version=newer, ubigeo__in=[a.ubigeo for a in assignments])
        }
    for assignment in assignments:
        recommendation = arm_recommendation.get(assignment.ubigeo)
        assignment.implemented = assignment.ubigeo in reported_implemented or (
            recommendation is not None and recommendation.status in done
        )
        outcome = (
            _disparity_outcome(rows[assignment.ubigeo], experiment.outcome_column)
            if assignment.ubigeo in rows
            else None
        )
        if outcome is not None:
            assignment.outcome, assignment.outcome_source = outcome, f"{experiment.outcome_dataset} v{newer.number}"
        elif assignment.ubigeo in observed:
            assignment.outcome, assignment.outcome_source = observed[assignment.ubigeo], "feedback"
        elif assignment.ubigeo in reported_change:
            assignment.outcome = assignment.baseline + reported_change[assignment.ubigeo]
            assignment.outcome_source = "feedback (observed change)"
    Assignment.objects.bulk_update(assignments, ["implemented", "outcome", "outcome_source"])
    experiment.report = experiment_report(assignments, seed=experiment.seed, effect=experiment.effect)
    experiment.save(update_fields=["report"])
    return experiment.report


def sample_size_per_arm(sd: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Districts per arm to detect a difference `effect` in mean change (two-sided test of two means)."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return math.ceil(2 * (z * sd / effect) ** 2)


def experiment_report(assignments, seed: int = 0, effect: float = 2.0) -> dict:
    changes = {
        arm: np.array([a.outcome - a.baseline for a in assignments if a.arm == arm and a.outcome is not None])
        for arm in "AB"
    }
    report = {
        "arms": {
            arm: {
                "districts": sum(1 for a in assignments if a.arm == arm),
                "implemented": sum(1 for a in assignments if a.arm == arm and a.implemented),
                "with_outcome": int(len(changes[arm])),
                "mean_change": float(changes[arm].mean()) if len(changes[arm]) else None,
            }
            for arm in "AB"
        },
        "effect_for_sample_size": effect,
    }
    pooled = np.concatenate([changes["A"], changes["B"]])
    sd = float(pooled.std(ddof=1)) if len(pooled) > 2 else ASSUMED_SD
    report["sd_of_change"] = sd
    report["sd_assumed"] = len(pooled) <= 2
    report["needed_per_arm"] = sample_size_per_arm(sd, effect)
    if len(changes["A"]) >= 2 and len(changes["B"]) >= 2:
        rng = np.random.default_rng(seed)
        difference = float(changes["B"].mean() - changes["A"].mean())
        boots = [
            rng.choice(changes["B"], len(changes["B"])).mean() - rng.choice(changes["A"], len(changes["A"])).mean()
            for _ in range(BOOTSTRAP_SAMPLES)
        ]
        low, high = np.percentile(boots, [2.5, 97.5])
        report["difference_b_minus_a"] = difference
        report["ci95"] = [float(low), float(high)]
    return report
