"""Choose which (district, intervention) packages to fund within a budget.

An analyst gives a budget in soles and candidate packages, each with a cost and an expected impact (reduction of the
district's predicted disparity index times the children affected). :func:`optimise` finds the plan of greatest total
impact, optionally weighted for equity, with an exact mixed-integer program solved by HiGHS through
``scipy.optimize.milp``; :func:`neediest_first` is the policy it is compared against, funding the districts of
greatest predicted disparity first. :func:`diagnose_infeasibility` says in one sentence which constraint makes a
request impossible, so the analyst can relax the right one.

This module is plain Python (no Django) so the web views, the Celery task and the benchmark share it unchanged.

Modelling assumptions, stated here because the README repeats them:

* Impacts are additive: a plan's impact is the sum of its packages' impacts, also for several packages in one
  district when ``max_per_district`` allows it (no diminishing returns, no interaction between interventions).
* Costs are additive and certain; the budget is a hard limit (up to float rounding of 1e-9 of the budget).
* A district's children are counted once in "children reached": the largest ``children`` among its chosen packages.
* Packages costing more than the whole budget, and packages of zero (weighted) value in departments without a minimum
  share, can never improve a plan and are left out before solving.
"""

from __future__ import annotations

import math
import numbers
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp
from scipy.sparse import coo_array

ProgressCallback = Callable[[float, str], None]

MILP = "milp"
NEEDIEST_FIRST = "neediest_first"

# Relative slack used when checking money constraints on a rounded plan: sums of floats are not exact.
_MONEY_RTOL = 1e-9
# HiGHS honours rows up to a tolerance; should a rounded plan still break one, the row is tightened and the model
# re-solved, at most this many times.
_MAX_REPAIRS = 3


@dataclass(frozen=True)
class Candidate:
    """One fundable package: an intervention in a district, with its cost and expected impact.

    ``disparity`` is the district's predicted disparity (the neediest-first baseline orders districts by it);
    ``equity_weight`` multiplies the impact when :attr:`Constraints.use_equity_weights` is set, so the caller decides
    how poverty or indigenous-language share count.
    """

    key: Hashable
    district: str
    department: str
    intervention: str
    intervention_type: str
    cost: float
    impact: float
    disparity: float
    children: int
    flagged: bool
    equity_weight: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cost) and self.cost > 0):
            raise ValueError(f"Candidate {self.key!r}: cost must be a positive number of soles, got {self.cost!r}.")
        if not (math.isfinite(self.impact) and self.impact >= 0):
            raise ValueError(f"Candidate {self.key!r}: impact must be a number ≥ 0, got {self.impact!r}.")
        if not (math.isfinite(self.equity_weight) and self.equity_weight >= 0):
            raise ValueError(f"Candidate {self.key!r}: equity_weight must be ≥ 0, got {self.equity_weight!r}.")
        if not math.isfinite(self.disparity):
            raise ValueError(f"Candidate {self.key!r}: disparity must be a finite number, got {self.disparity!r}.")
        if self.children < 0:
            raise ValueError(f"Candidate {self.key!r}: children must be ≥ 0, got {self.children!r}.")


@dataclass(frozen=True)
class Constraints:
    """What the analyst asks of a plan.

    ``max_per_district``: at most this many packages in one district (``None``: no limit), so money spreads out.
    ``one_per_type_per_district``: variants of one intervention type (internet to 60% or to 80%) exclude each other.
    ``min_department_share``: department code → minimum fraction of the *budget* (not of the plan's cost) spent there.
    ``only_flagged``: consider only districts flagged as having a significant disparity.
    ``use_equity_weights``: maximise impact times each candidate's ``equity_weight`` instead of plain impact.
    """

    max_per_district: int | None = 1
    one_per_type_per_district: bool = True
    min_department_share: Mapping[str, float] = field(default_factory=dict)
    only_flagged: bool = False
    use_equity_weights: bool = False

    def __post_init__(self) -> None:
        if self.max_per_district is not None and self.max_per_district < 1:
            raise ValueError(f"max_per_district must be at least 1 or None (no limit), got {self.max_per_district}.")
        for department, share in self.min_department_share.items():
            if not (math.isfinite(share) and share >= 0):
                raise ValueError(f"The minimum share for department {department} must be ≥ 0, got {share!r}.")


@dataclass(frozen=True)
class DepartmentSummary:
    """What a plan gives one department; ``min_spend`` is the required amount (0 without a minimum share)."""

    cost: float
    impact: float
    districts: int
    children: int
    min_spend: float = 0.0

    @property
    def meets_min_share(self) -> bool:
        return self.cost >= self.min_spend - _MONEY_RTOL * max(1.0, self.min_spend)


@dataclass(frozen=True)
class PlanResult:
    """A plan and the figures an analyst compares plans by.

    ``selected`` keeps the order of the candidates as given, so the same request gives the same list.
    ``objective`` is the (equity-weighted when asked) impact the method maximises; ``total_impact`` is unweighted.
    ``status`` is ``"optimal"`` (HiGHS proved it), ``"within_gap"`` (proved within a requested ``mip_rel_gap`` > 0),
    ``"time_limit"`` (best plan found in time, see ``gap``) or ``"heuristic"`` (the neediest-first baseline, which
    proves nothing). ``gap`` is HiGHS's relative optimality gap
    (``None`` for the baseline). ``unmet_min_shares`` lists departments whose minimum share the plan misses, which only
    the baseline can do, since it ignores them.
    """

    selected: tuple[Hashable, ...]
    objective: float
    total_impact: float
    total_cost: float
    budget: float
    n_districts: int
    children_reached: int
    departments: dict[str, DepartmentSummary]
    status: str
    gap: float | None
    solve_seconds: float
    method: str
    candidates_considered: int
    unmet_min_shares: tuple[str, ...] = ()


class PlanError(Exception):
    """A plan could not be produced; the message is one sentence an analyst can act on."""


class InfeasiblePlan(PlanError):
    """No plan satisfies the constraints; ``constraint`` names the one to relax (and ``department`` where).

    ``constraint`` is a :class:`Constraints` field name (``"min_department_share"``, ``"only_flagged"``) or
    ``"combined"`` when only the constraints together are impossible, so the caller can point at the right input.
    """

    def __init__(self, message: str, constraint: str, department: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.constraint = constraint
        self.department = department


class SolverFailure(PlanError):
    """HiGHS stopped without any plan (e.g. the time limit came before a first feasible plan)."""


# --------------------------------------------------------------------------------------------------------------------
# Public functions


def optimise(
    candidates: Sequence[Candidate],
    budget: float,
    constraints: Constraints | None = None,
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: ProgressCallback | None = None,
) -> PlanResult:
    """The plan of greatest (weighted) impact within the budget and constraints, proven optimal by HiGHS.

    Binary x_i per candidate; maximise Σ w_i·impact_i·x_i subject to Σ cost_i·x_i ≤ budget, at most
    ``max_per_district`` packages per district, at most one variant per (district, intervention type), and
    Σ_{i in d} cost_i·x_i ≥ share_d·budget for each department d with a minimum share.

    With the default ``mip_rel_gap=0`` HiGHS stops only when its bound meets the plan, up to its absolute gap
    tolerance of 1e-6 — here 1e-6 of the largest single candidate's value, because the objective is normalised by it.
    If ``time_limit`` (seconds) runs out first, the best plan found is returned with status ``"time_limit"`` and its
    gap. ``progress(percent, message)`` is called before and after solving; it may raise to cancel.

    Raises ``ValueError`` for a budget ≤ 0 or invalid candidates, :class:`InfeasiblePlan` naming the constraint when
    no plan exists, and :class:`SolverFailure` when HiGHS ends with no plan at all.
    """
    started = time.perf_counter()
    constraints = constraints or Constraints()
    notify = progress or (lambda percent, message: None)
    notify(0.0, "Checking the constraints")
    _check_budget(budget)
    if not (time_limit > 0 and mip_rel_gap >= 0):
        raise ValueError(f"time_limit must be > 0 and mip_rel_gap ≥ 0, got {time_limit!r} and {mip_rel_gap!r}.")
    candidates, eligible = _prepare(candidates, constraints)
    quick = _quick_diagnosis(candidates, eligible, budget, constraints)
    if quick is not None:
        raise quick

    model = _Model.build(eligible, budget, constraints)
    notify(10.0, f"Solving for {model.size} of {len(eligible)} candidates with HiGHS")
    chosen, status, gap = _solve_plan(model, time_limit, mip_rel_gap)
    if chosen is None:
        failure = _exact_diagnosis(eligible, budget, constraints, time_limit) or InfeasiblePlan(
            "The solver found no plan meeting every constraint together, although each one can be met on its own; "
            "relax the minimum department shares or the per-district limits.",
            constraint="combined",
        )
        raise failure
    result = _summarise(chosen, eligible, budget, constraints, MILP, status, gap, time.perf_counter() - started)
    notify(100.0, f"Plan {status}: {len(result.selected)} packages, S/ {result.total_cost:,.2f}")
    return result


def neediest_first(
    candidates: Sequence[Candidate], budget: float, constraints: Constraints | None = None
) -> PlanResult:
    """The baseline policy: fund the districts of greatest predicted disparity first.

    Districts are walked in decreasing disparity (ties: district code). In each, its candidates are taken in
    decreasing (weighted) impact (ties: lower cost, then input order) and funded when they fit in the remaining
    budget and respect ``max_per_district``, ``one_per_type_per_district`` and ``only_flagged``. Candidates of zero
    value are never funded. One pass suffices: the remaining budget only shrinks, so what does not fit now never will.

    It deliberately ignores ``min_department_share`` — it is the policy without such targets — so the result reports
    every department's spend and lists the missed minimums in ``unmet_min_shares`` for the comparison.
    """
    started = time.perf_counter()
    constraints = constraints or Constraints()
    _check_budget(budget)
    _, eligible = _prepare(candidates, constraints)
    order = {id(c): i for i, c in enumerate(eligible)}
    by_district = _group(eligible, lambda c: c.district)
    district_order = sorted(by_district, key=lambda d: (-max(c.disparity for c in by_district[d]), d))
    values = {id(c): _value(c, constraints) for c in eligible}

    remaining = budget + _MONEY_RTOL * budget
    chosen: list[Candidate] = []
    for district in district_order:
        ranked = sorted(by_district[district], key=lambda c: (-values[id(c)], c.cost, order[id(c)]))
        taken: list[Candidate] = []
        for candidate in ranked:
            if values[id(candidate)] <= 0 or candidate.cost > remaining:
                continue
            if not _may_add(candidate, taken, constraints):
                continue
            taken.append(candidate)
            remaining -= candidate.cost
        chosen.extend(taken)
    seconds = time.perf_counter() - started
    return _summarise(chosen, eligible, budget, constraints, NEEDIEST_FIRST, "heuristic", None, seconds)


def diagnose_infeasibility(
    candidates: Sequence[Candidate], budget: float, constraints: Constraints | None = None, time_limit: float = 30.0
) -> str | None:
    """One English sentence naming the constraint that makes the request impossible, or ``None`` if a plan exists.

    Cheap arithmetic checks come first (shares above 100%, a department with nothing eligible or with less to buy than
    its minimum under the per-district limits, ``only_flagged`` leaving nothing); when minimum shares remain, a small
    feasibility program checks each department, then all together, so ``None`` means a plan really exists.
    Without minimum shares the empty plan is always feasible. Raises ``ValueError`` for a budget ≤ 0.
    """
    constraints = constraints or Constraints()
    _check_budget(budget)
    candidates, eligible = _prepare(candidates, constraints)
    problem = _quick_diagnosis(candidates, eligible, budget, constraints) or _exact_diagnosis(
        eligible, budget, constraints, time_limit
    )
    return None if problem is None else problem.message


# --------------------------------------------------------------------------------------------------------------------
# Input handling


def _check_budget(budget: float) -> None:
    if not (isinstance(budget, numbers.Real) and math.isfinite(budget) and budget > 0):
        raise ValueError(f"The budget must be a positive amount of soles, got {budget!r}.")


def _prepare(candidates: Iterable[Candidate], constraints: Constraints) -> tuple[list[Candidate], list[Candidate]]:
    """All candidates and those a plan may use (after ``only_flagged``); rejects inconsistent input early."""
    candidates = list(candidates)
    keys: set[Hashable] = set()
    department_of: dict[str, str] = {}
    for candidate in candidates:
        if candidate.key in keys:
            raise ValueError(f"Candidate key {candidate.key!r} appears more than once.")
        keys.add(candidate.key)
        known = department_of.setdefault(candidate.district, candidate.department)
        if known != candidate.department:
            raise ValueError(
                f"District {candidate.district} is given in two departments ({known} and {candidate.department})."
            )
    eligible = [c for c in candidates if c.flagged] if constraints.only_flagged else candidates
    return candidates, eligible


def _value(candidate: Candidate, constraints: Constraints) -> float:
    weight = candidate.equity_weight if constraints.use_equity_weights else 1.0
    return weight * candidate.impact


def _group(items: Iterable[Candidate], key: Callable[[Candidate], Hashable]) -> dict[Hashable, list[Candidate]]:
    groups: dict[Hashable, list[Candidate]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def _may_add(candidate: Candidate, taken: Sequence[Candidate], constraints: Constraints) -> bool:
    """Whether one more package in a district keeps to the per-district limits (``taken``: that district's)."""
    if constraints.max_per_district is not None and len(taken) >= constraints.max_per_district:
        return False
    if constraints.one_per_type_per_district:
        return all(t.intervention_type != candidate.intervention_type for t in taken)
    return True


# --------------------------------------------------------------------------------------------------------------------
# Diagnosis


def _soles(amount: float) -> str:
    return f"S/ {amount:,.2f}"


def _percent(share: float) -> str:
    return f"{share * 100:.4g}%"


def _limits_phrase(constraints: Constraints) -> str:
    parts = []
    if constraints.max_per_district is not None:
        plural = "" if constraints.max_per_district == 1 else "s"
        parts.append(f"at most {constraints.max_per_district} package{plural} per district")
    if constraints.one_per_type_per_district:
        parts.append("one variant per intervention type")
    return " and ".join(parts) if parts else "no per-district limit"


def _max_attainable_spend(candidates: Sequence[Candidate], budget: float, constraints: Constraints) -> float:
    """The most that can be spent on ``candidates`` under the per-district limits, each package within the budget.

    Per district the best is the dearest variant of each type, then the dearest ``max_per_district`` of those: the
    feasible sets form a matroid, so this greedy choice is exact.
    """
    total = 0.0
    for members in _group(candidates, lambda c: c.district).values():
        affordable = [c for c in members if c.cost <= budget * (1 + _MONEY_RTOL)]
        if constraints.one_per_type_per_district:
            by_type = _group(affordable, lambda c: c.intervention_type)
            affordable = [max(group, key=lambda c: c.cost) for group in by_type.values()]
        costs = sorted((c.cost for c in affordable), reverse=True)
        total += sum(costs[: constraints.max_per_district])
    return total


def _quick_diagnosis(
    candidates: Sequence[Candidate], eligible: Sequence[Candidate], budget: float, constraints: Constraints
) -> InfeasiblePlan | None:
    """Arithmetic checks that name the constraint at fault without solving anything."""
    if constraints.only_flagged and candidates and not eligible:
        return InfeasiblePlan(
            "No candidate district is flagged as having a significant disparity, so restricting the plan to flagged "
            "districts leaves nothing to fund.",
            constraint="only_flagged",
        )
    shares = {d: s for d, s in sorted(constraints.min_department_share.items()) if s > 0}
    total_share = sum(shares.values())
    if total_share > 1 + _MONEY_RTOL:
        listed = ", ".join(f"{d}: {_percent(s)}" for d, s in shares.items())
        return InfeasiblePlan(
            f"The minimum department shares add up to {_percent(total_share)} of the budget ({listed}), "
            "more than the whole budget.",
            constraint="min_department_share",
        )
    everyone = _group(candidates, lambda c: c.department)
    allowed = _group(eligible, lambda c: c.department)
    for department, share in shares.items():
        required = share * budget
        intro = f"Department {department} must receive at least {_soles(required)} ({_percent(share)} of the budget)"
        if not everyone.get(department):
            return InfeasiblePlan(
                f"{intro}, but it has no candidate interventions.", "min_department_share", department
            )
        if not allowed.get(department):
            return InfeasiblePlan(
                f"{intro}, but none of its districts is flagged as having a significant disparity and only flagged "
                "districts are eligible.",
                "only_flagged",
                department,
            )
        attainable = _max_attainable_spend(allowed[department], budget, constraints)
        if attainable < required - _MONEY_RTOL * budget:
            if attainable == 0:
                reason = f"every candidate there costs more than the whole budget of {_soles(budget)}"
            else:
                reason = f"at most {_soles(attainable)} can be spent there with {_limits_phrase(constraints)}"
            return InfeasiblePlan(f"{intro}, but {reason}.", "min_department_share", department)
    return None


def _exact_diagnosis(
    eligible: Sequence[Candidate], budget: float, constraints: Constraints, time_limit: float
) -> InfeasiblePlan | None:
    """Decide with small feasibility programs whether the minimum shares can be met, one department then together.

    The arithmetic checks miss costs that cannot be combined into the required window (e.g. two packages of 70 for a
    minimum of 80 in a budget of 100), and departments each feasible alone but not together.
    """
    shares = {d: s for d, s in sorted(constraints.min_department_share.items()) if s > 0}
    if not shares:
        return None
    in_shares = [c for c in eligible if c.department in shares]
    for department, share in shares.items():
        members = [c for c in in_shares if c.department == department]
        alone = Constraints(
            max_per_district=constraints.max_per_district,
            one_per_type_per_district=constraints.one_per_type_per_district,
            min_department_share={department: share},
        )
        if _feasible(members, budget, alone, time_limit) is False:
            return InfeasiblePlan(
                f"Department {department} must receive at least {_soles(share * budget)} ({_percent(share)} of the "
                f"budget), but no combination of its candidates costs between that and the whole budget of "
                f"{_soles(budget)} with {_limits_phrase(constraints)}.",
                "min_department_share",
                department,
            )
    if len(shares) > 1 and _feasible(in_shares, budget, constraints, time_limit) is False:
        listed = ", ".join(f"{d}: {_percent(s)}" for d, s in shares.items())
        return InfeasiblePlan(
            f"The minimum department shares ({listed}) cannot all be met together: each can be met on its own, but "
            f"no combination of candidates reaches every required amount within the budget of {_soles(budget)}.",
            "min_department_share",
        )
    return None


def _feasible(
    candidates: Sequence[Candidate], budget: float, constraints: Constraints, time_limit: float
) -> bool | None:
    """Whether some plan meets the constraints (objective ignored); ``None`` if HiGHS could not tell in time."""
    model = _Model.build(candidates, budget, constraints, keep_worthless=True)
    if model.size == 0:
        return not model.has_min_shares
    result = milp(
        np.zeros(model.size),
        integrality=np.ones(model.size),
        bounds=Bounds(0, 1),
        constraints=model.linear_constraints(),
        options={"time_limit": time_limit, "presolve": not model.knapsack_like},
    )
    if result.status == 2:
        return False
    return True if result.x is not None else None


# --------------------------------------------------------------------------------------------------------------------
# The mixed-integer program


@dataclass
class _Row:
    """One linear constraint ``lower ≤ coef · x[members] ≤ upper``; ``slack`` is what float rounding may break it by."""

    members: np.ndarray
    coef: np.ndarray
    lower: float
    upper: float
    slack: float


@dataclass
class _Model:
    """The MILP's data: the candidates it can use, their values and the constraint rows.

    HiGHS accepts a plan that breaks a row by up to 1e-6 in the row's own units, and in a hard search it does use that
    slack (a S/ 1,000 million budget divided by the budget let a plan overspend by S/ 816). Money rows are therefore
    written in units of ``money_unit`` = min(budget, S/ 1,000), so the slack is at most a tenth of a centimo; the
    objective is divided by the largest value so the absolute gap tolerance (1e-6) means the same at every scale.

    ``knapsack_like`` marks models where most candidates sit in no per-district row (no district limit): HiGHS
    1.12's presolve takes time quadratic in such columns (measured: 16,000 of them, 25 s of presolve for a 1 s
    solve), so it is switched off for them; with per-district rows presolve pays for itself and stays on.
    """

    candidates: list[Candidate]
    values: np.ndarray
    scale: float
    rows: list[_Row]
    has_min_shares: bool
    knapsack_like: bool = False

    @property
    def size(self) -> int:
        return len(self.candidates)

    @classmethod
    def build(
        cls, eligible: Sequence[Candidate], budget: float, constraints: Constraints, keep_worthless: bool = False
    ) -> _Model:
        shares = {d: s for d, s in constraints.min_department_share.items() if s > 0}
        usable = [
            c
            for c in eligible
            if c.cost <= budget * (1 + _MONEY_RTOL)
            and (keep_worthless or c.department in shares or _value(c, constraints) > 0)
        ]
        limits = _count_limits(usable, constraints)
        values = np.array([_value(c, constraints) for c in usable], dtype=float)
        scale = float(values.max()) if values.size and values.max() > 0 else 1.0

        unit = min(budget, 1000.0)
        costs = np.array([c.cost for c in usable], dtype=float) / unit
        money_slack = _MONEY_RTOL * budget / unit
        rows = [_Row(np.arange(len(usable)), costs, -np.inf, budget / unit, money_slack)]
        for members, limit in limits:
            rows.append(_Row(np.array(members), np.ones(len(members)), -np.inf, float(limit), 0.5))
        departments = np.array([c.department for c in usable], dtype=object)
        for department, share in sorted(shares.items()):
            members = np.flatnonzero(departments == department)
            rows.append(_Row(members, costs[members], share * budget / unit, np.inf, money_slack))
        in_limits = sum(len(members) for members, _ in limits)
        return cls(usable, values, scale, rows, bool(shares), knapsack_like=in_limits < len(usable) / 2)

    def linear_constraints(self) -> LinearConstraint:
        row_ids = np.concatenate([np.full(len(row.members), r) for r, row in enumerate(self.rows)])
        col_ids = np.concatenate([row.members for row in self.rows])
        data = np.concatenate([row.coef for row in self.rows])
        matrix = coo_array((data, (row_ids, col_ids)), shape=(len(self.rows), self.size)).tocsr()
        lower = np.array([row.lower for row in self.rows])
        upper = np.array([row.upper for row in self.rows])
        return LinearConstraint(matrix, lower, upper)

    def violated_rows(self, x: np.ndarray) -> dict[int, float]:
        """Rows a rounded plan breaks by more than float slack, with the signed amount (> 0: above ``upper``)."""
        broken = {}
        for r, row in enumerate(self.rows):
            activity = float(row.coef @ x[row.members])
            if activity > row.upper + row.slack:
                broken[r] = activity - row.upper
            elif activity < row.lower - row.slack:
                broken[r] = activity - row.lower
        return broken

    def tighten(self, broken: Mapping[int, float]) -> None:
        """Move each broken row's bound inwards by twice its violation, so the next solve keeps to it exactly."""
        for r, amount in broken.items():
            row = self.rows[r]
            if amount > 0:
                row.upper -= 2 * amount
            else:
                row.lower -= 2 * amount


def _count_limits(candidates: Sequence[Candidate], constraints: Constraints) -> list[tuple[list[int], int]]:
    """Groups of candidate positions with the most that may be chosen from each: per district, per (district, type)."""
    limits = []
    per_district = constraints.max_per_district
    by_district: dict[str, list[int]] = defaultdict(list)
    for i, candidate in enumerate(candidates):
        by_district[candidate.district].append(i)
    for district in sorted(by_district):
        members = by_district[district]
        if per_district is not None and len(members) > per_district:
            limits.append((members, per_district))
        if constraints.one_per_type_per_district and per_district != 1:
            by_type: dict[str, list[int]] = defaultdict(list)
            for i in members:
                by_type[candidates[i].intervention_type].append(i)
            limits.extend((group, 1) for _, group in sorted(by_type.items()) if len(group) > 1)
    return limits


def _solve_plan(
    model: _Model, time_limit: float, mip_rel_gap: float
) -> tuple[list[Candidate] | None, str, float | None]:
    """Solve, round and verify; ``None`` when HiGHS proves infeasibility; raises when it ends with no plan."""
    if model.size == 0:
        return ([], "optimal", 0.0) if not model.has_min_shares else (None, "infeasible", None)
    deadline = time.perf_counter() + time_limit
    repaired = False
    for _ in range(_MAX_REPAIRS + 1):
        result = milp(
            -model.values / model.scale,
            integrality=np.ones(model.size),
            bounds=Bounds(0, 1),
            constraints=model.linear_constraints(),
            options={
                # A repair re-solve gets at least a quarter of the limit: one second would return a poor plan.
                "time_limit": max(deadline - time.perf_counter(), 0.25 * time_limit if repaired else 0.0),
                "mip_rel_gap": mip_rel_gap,
                "presolve": not model.knapsack_like,
            },
        )
        if result.status == 2:
            return None, "infeasible", None
        if result.x is None:
            raise SolverFailure(f"HiGHS stopped without a plan: {result.message}")
        x = (result.x > 0.5).astype(float)
        broken = model.violated_rows(x)
        if not broken:
            status, gap = _status(result, mip_rel_gap)
            return [c for c, chosen in zip(model.candidates, x, strict=True) if chosen], status, gap
        model.tighten(broken)
        repaired = True
    raise SolverFailure("HiGHS kept returning plans that break a constraint after rounding; check the input scales.")


def _status(result: OptimizeResult, mip_rel_gap: float) -> tuple[str, float | None]:
    """Name what HiGHS proved: "optimal" only for a proof to its tolerances, not for a requested gap it reached."""
    gap = result.mip_gap if result.mip_gap is not None and math.isfinite(result.mip_gap) else None
    if result.status != 0:
        return "time_limit", gap
    gap = max(gap or 0.0, 0.0)
    return ("optimal" if mip_rel_gap == 0 or gap <= 1e-9 else "within_gap"), gap


# --------------------------------------------------------------------------------------------------------------------
# Reporting


def _summarise(
    chosen: Sequence[Candidate],
    eligible: Sequence[Candidate],
    budget: float,
    constraints: Constraints,
    method: str,
    status: str,
    gap: float | None,
    seconds: float,
) -> PlanResult:
    """The figures of a plan, totals and per department, identical for both methods so they compare line by line."""
    chosen_ids = {id(c) for c in chosen}
    ordered = [c for c in eligible if id(c) in chosen_ids]
    children_by_district: dict[str, int] = {}
    for c in ordered:
        children_by_district[c.district] = max(children_by_district.get(c.district, 0), c.children)

    shares = {d: s for d, s in constraints.min_department_share.items() if s > 0}
    departments = {}
    for department in sorted({c.department for c in ordered} | set(shares)):
        members = [c for c in ordered if c.department == department]
        districts = {c.district for c in members}
        departments[department] = DepartmentSummary(
            cost=float(sum(c.cost for c in members)),
            impact=float(sum(c.impact for c in members)),
            districts=len(districts),
            children=sum(children_by_district[d] for d in districts),
            min_spend=shares.get(department, 0.0) * budget,
        )
    return PlanResult(
        selected=tuple(c.key for c in ordered),
        objective=float(sum(_value(c, constraints) for c in ordered)),
        total_impact=float(sum(c.impact for c in ordered)),
        total_cost=float(sum(c.cost for c in ordered)),
        budget=float(budget),
        n_districts=len(children_by_district),
        children_reached=sum(children_by_district.values()),
        departments=departments,
        status=status,
        gap=gap,
        solve_seconds=seconds,
        method=method,
        candidates_considered=len(eligible),
        unmet_min_shares=tuple(d for d, s in departments.items() if not s.meets_min_share),
    )
