"""The budget optimiser against brute force, the neediest-first baseline, and the infeasibility diagnoses."""

import math
import random

import numpy as np
import pytest

from recommendations.optimise import (
    Candidate,
    Constraints,
    InfeasiblePlan,
    PlanResult,
    diagnose_infeasibility,
    neediest_first,
    optimise,
)

RTOL = 1e-9  # the money slack the module allows for float sums


def cand(key, district="010101", cost=10.0, impact=1.0, **fields) -> Candidate:
    values = {
        "department": district[:2],
        "intervention": f"I{key}",
        "intervention_type": f"T{key}",
        "disparity": 0.5,
        "children": 100,
        "flagged": True,
    }
    values.update(fields)
    return Candidate(key=key, district=district, cost=cost, impact=impact, **values)


# --------------------------------------------------------------------------------------------------------------------
# An independent reference: every subset, checked constraint by constraint.


def value_of(candidate: Candidate, constraints: Constraints) -> float:
    return candidate.impact * (candidate.equity_weight if constraints.use_equity_weights else 1.0)


def brute_force(candidates, budget, constraints) -> float | None:
    """The best objective over all subsets that meet every constraint, or None if no subset does."""
    pool = [c for c in candidates if c.flagged or not constraints.only_flagged]
    n = len(pool)
    masks = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)
    costs = np.array([c.cost for c in pool], dtype=float)
    values = np.array([value_of(c, constraints) for c in pool], dtype=float)
    ok = masks @ costs <= budget * (1 + RTOL)
    for district in {c.district for c in pool}:
        members = [i for i, c in enumerate(pool) if c.district == district]
        if constraints.max_per_district is not None:
            ok &= masks[:, members].sum(axis=1) <= constraints.max_per_district
        if constraints.one_per_type_per_district:
            for kind in {pool[i].intervention_type for i in members}:
                same = [i for i in members if pool[i].intervention_type == kind]
                ok &= masks[:, same].sum(axis=1) <= 1
    for department, share in constraints.min_department_share.items():
        members = [i for i, c in enumerate(pool) if c.department == department]
        spend = masks[:, members] @ costs[members] if members else np.zeros(len(masks))
        ok &= spend >= share * budget - RTOL * budget
    if not ok.any():
        return None
    return float((masks @ values)[ok].max())


def assert_feasible(plan: PlanResult, candidates, budget, constraints, check_shares=True) -> None:
    """Every constraint, checked from the raw candidates, and every reported figure recomputed."""
    by_key = {c.key: c for c in candidates}
    chosen = [by_key[k] for k in plan.selected]
    assert len(set(plan.selected)) == len(plan.selected)
    assert [k for k in by_key if k in set(plan.selected)] == list(plan.selected), "selection not in input order"
    assert sum(c.cost for c in chosen) <= budget * (1 + RTOL)
    if constraints.only_flagged:
        assert all(c.flagged for c in chosen)
    for district in {c.district for c in chosen}:
        here = [c for c in chosen if c.district == district]
        if constraints.max_per_district is not None:
            assert len(here) <= constraints.max_per_district
        if constraints.one_per_type_per_district:
            assert len({c.intervention_type for c in here}) == len(here)
    if check_shares:
        for department, share in constraints.min_department_share.items():
            spend = sum(c.cost for c in chosen if c.department == department)
            assert spend >= share * budget - RTOL * budget, department
    assert plan.objective == pytest.approx(sum(value_of(c, constraints) for c in chosen), rel=1e-12, abs=1e-12)
    assert plan.total_impact == pytest.approx(sum(c.impact for c in chosen), rel=1e-12, abs=1e-12)
    assert plan.total_cost == pytest.approx(sum(c.cost for c in chosen), rel=1e-12, abs=1e-12)
    assert plan.n_districts == len({c.district for c in chosen})
    for department, summary in plan.departments.items():
        assert summary.cost == pytest.approx(sum(c.cost for c in chosen if c.department == department), abs=1e-9)


def random_instance(seed: int) -> tuple[list[Candidate], float, Constraints]:
    """Up to 12 candidates over a few districts, departments and types, with random limits and minimum shares."""
    rng = random.Random(seed)
    departments = [f"{d:02d}" for d in range(1, rng.randint(1, 3) + 1)]
    districts = [f"{rng.choice(departments)}{j:04d}" for j in range(rng.randint(1, 5))]
    disparity = {d: rng.choice([0.2, 0.4, 0.6, rng.random()]) for d in districts}
    children = {d: rng.randint(0, 500) for d in districts}
    flagged = {d: rng.random() < 0.6 for d in districts}
    types = ["internet", "power", "water"][: rng.randint(1, 3)]
    integer_money = rng.random() < 0.5  # exact ties and plans that spend the budget to the sol
    candidates = []
    for key in range(rng.randint(1, 12)):
        district = rng.choice(districts)
        candidates.append(
            Candidate(
                key=key,
                district=district,
                department=district[:2],
                intervention=f"X{key}",
                intervention_type=rng.choice(types),
                cost=float(rng.randint(1, 20)) if integer_money else rng.uniform(0.5, 20),
                impact=0.0 if rng.random() < 0.15 else (rng.randint(0, 10) if integer_money else rng.uniform(0, 10)),
                disparity=disparity[district],
                children=children[district] + rng.randint(0, 50),
                flagged=flagged[district],
                equity_weight=rng.choice([1.0, 0.5, 2.0, rng.uniform(0, 3)]),
            )
        )
    total = sum(c.cost for c in candidates)
    budget = float(rng.randint(1, int(total) + 1)) if integer_money else rng.uniform(0.1, 1.0) * total
    shares = {}
    pickable = departments + ["99"] if rng.random() < 0.2 else departments  # "99" has no candidates
    for department in rng.sample(pickable, k=min(len(pickable), rng.choice([0, 1, 1, 2]))):
        shares[department] = rng.choice([0.05, 0.1, 0.25, 0.5, rng.uniform(0, 0.6)])
    constraints = Constraints(
        max_per_district=rng.choice([None, 1, 1, 2, 3]),
        one_per_type_per_district=rng.random() < 0.6,
        min_department_share=shares,
        only_flagged=rng.random() < 0.2,
        use_equity_weights=rng.random() < 0.5,
    )
    return candidates, budget, constraints


# --------------------------------------------------------------------------------------------------------------------
# optimise


def test_optimise_matches_brute_force_on_random_instances():
    outcomes = {"feasible": 0, "feasible with minimum shares": 0, "infeasible": 0}
    for seed in range(200):
        candidates, budget, constraints = random_instance(seed)
        best = brute_force(candidates, budget, constraints)
        emptied_by_flag = constraints.only_flagged and not any(c.flagged for c in candidates)
        if best is None or emptied_by_flag:
            outcomes["infeasible"] += 1
            with pytest.raises(InfeasiblePlan):
                optimise(candidates, budget, constraints)
            assert diagnose_infeasibility(candidates, budget, constraints), seed
            continue
        outcomes["feasible"] += 1
        outcomes["feasible with minimum shares"] += bool(constraints.min_department_share)
        plan = optimise(candidates, budget, constraints)
        assert plan.status == "optimal" and plan.method == "milp"
        assert math.isclose(plan.objective, best, rel_tol=1e-6, abs_tol=1e-6), (seed, plan.objective, best)
        assert_feasible(plan, candidates, budget, constraints)
        assert diagnose_infeasibility(candidates, budget, constraints) is None, seed
    # The random structures must exercise both outcomes, or the comparison above proves little.
    assert min(outcomes.values()) >= 30, outcomes


def test_optimum_is_never_worse_than_neediest_first():
    compared = 0
    for seed in range(200):
        candidates, budget, constraints = random_instance(seed)
        constraints = Constraints(
            max_per_district=constraints.max_per_district,
            one_per_type_per_district=constraints.one_per_type_per_district,
            use_equity_weights=constraints.use_equity_weights,
        )
        baseline = neediest_first(candidates, budget, constraints)
        plan = optimise(candidates, budget, constraints)
        assert plan.objective >= baseline.objective - 1e-9, seed
        compared += 1
    assert compared == 200


def test_optimise_spends_exactly_the_budget_when_that_is_best():
    candidates = [
        cand(1, "010101", cost=60, impact=5),
        cand(2, "010102", cost=40, impact=4),
        cand(3, "010103", 50, 4.5),
    ]
    plan = optimise(candidates, 100.0, Constraints())
    assert plan.selected == (1, 2) and plan.total_cost == 100.0 and plan.objective == 9.0


def test_max_per_district_and_type_exclusivity_bind():
    district = "080101"
    candidates = [
        cand(1, district, cost=10, impact=5, intervention_type="internet"),
        cand(2, district, cost=10, impact=4, intervention_type="internet"),
        cand(3, district, cost=10, impact=3, intervention_type="water"),
    ]
    assert optimise(candidates, 100.0, Constraints(max_per_district=1)).selected == (1,)
    assert optimise(candidates, 100.0, Constraints(max_per_district=None)).selected == (1, 3)
    relaxed = Constraints(max_per_district=None, one_per_type_per_district=False)
    assert optimise(candidates, 100.0, relaxed).selected == (1, 2, 3)


def test_children_reached_counts_each_district_once():
    candidates = [
        cand(1, "080101", cost=10, impact=5, children=100),
        cand(2, "080101", cost=10, impact=4, children=120),
        cand(3, "080102", cost=10, impact=3, children=7),
    ]
    plan = optimise(candidates, 100.0, Constraints(max_per_district=None))
    assert plan.children_reached == 127 and plan.n_districts == 2
    assert plan.departments["08"].children == 127 and plan.departments["08"].districts == 2


def test_equity_weights_change_the_choice():
    candidates = [
        cand(1, "150101", cost=10, impact=10, equity_weight=1.0),
        cand(2, "210101", cost=10, impact=8, equity_weight=2.0),
    ]
    plain = optimise(candidates, 10.0, Constraints())
    weighted = optimise(candidates, 10.0, Constraints(use_equity_weights=True))
    assert plain.selected == (1,) and plain.objective == 10
    assert weighted.selected == (2,) and weighted.objective == 16 and weighted.total_impact == 8


def test_an_empty_plan_is_feasible_without_minimum_shares():
    candidates = [cand(1, cost=50), cand(2, "010102", cost=60)]
    plan = optimise(candidates, 10.0, Constraints())
    assert plan.selected == () and plan.status == "optimal" and plan.objective == 0 and plan.total_cost == 0
    assert diagnose_infeasibility(candidates, 10.0, Constraints()) is None


def test_worthless_packages_are_bought_only_to_meet_a_minimum_share():
    candidates = [cand(1, "010101", cost=5, impact=0.0), cand(2, "020101", cost=5, impact=1.0)]
    assert optimise(candidates, 20.0, Constraints()).selected == (2,)
    assert optimise(candidates, 20.0, Constraints(min_department_share={"01": 0.2})).selected == (1, 2)


def test_minimum_share_moves_money_to_the_department():
    candidates = [
        cand(1, "150101", cost=50, impact=10),
        cand(2, "150102", cost=50, impact=9),
        cand(3, "080101", cost=50, impact=2),
    ]
    free = optimise(candidates, 100.0, Constraints())
    protected = optimise(candidates, 100.0, Constraints(min_department_share={"08": 0.5}))
    assert free.selected == (1, 2)
    assert protected.selected == (1, 3) and protected.departments["08"].cost == 50
    assert protected.departments["08"].min_spend == 50 and protected.unmet_min_shares == ()


def test_progress_is_reported_before_and_after_solving():
    calls = []
    optimise([cand(1), cand(2, "010102")], 15.0, progress=lambda percent, message: calls.append((percent, message)))
    assert calls[0][0] == 0 and calls[-1][0] == 100 and len(calls) >= 3
    assert "optimal" in calls[-1][1]


@pytest.mark.parametrize("budget", [0, -5.0, float("nan"), float("inf")])
def test_a_budget_that_is_not_positive_is_refused(budget):
    candidates = [cand(1)]
    for call in (optimise, neediest_first, diagnose_infeasibility):
        with pytest.raises(ValueError, match="budget"):
            call(candidates, budget, Constraints())


def test_inconsistent_input_is_refused():
    with pytest.raises(ValueError, match="cost"):
        cand(1, cost=0)
    with pytest.raises(ValueError, match="more than once"):
        optimise([cand(1), cand(1, "010102")], 100.0)
    with pytest.raises(ValueError, match="max_per_district"):
        Constraints(max_per_district=0)
    with pytest.raises(ValueError, match="08"):
        Constraints(min_department_share={"08": -0.1})


def test_a_national_size_instance_is_solved_to_optimality():
    rng = np.random.default_rng(7)
    candidates = []
    for d in range(600):
        district = f"{1 + d % 25:02d}{d:04d}"
        disparity = float(rng.uniform(0, 1))
        for j in range(9):
            candidates.append(
                cand(
                    d * 10 + j,
                    district,
                    cost=float(rng.lognormal(13, 0.8)),
                    impact=float(rng.lognormal(3, 1)),
                    intervention_type=f"T{j // 2}",
                    disparity=disparity,
                )
            )
    constraints = Constraints(min_department_share={"08": 0.05, "21": 0.05})
    plan = optimise(candidates, 50e6, constraints, time_limit=60)
    baseline = neediest_first(candidates, 50e6, constraints)
    assert plan.status == "optimal" and plan.gap == pytest.approx(0, abs=1e-9)
    assert_feasible(plan, candidates, 50e6, constraints)
    assert plan.objective > baseline.objective


# --------------------------------------------------------------------------------------------------------------------
# neediest_first


def test_neediest_first_follows_the_disparity_order_not_the_impact():
    # Budget for two packages; the most impactful district is the least needy, and the input order is neither.
    candidates = [
        cand(1, "010101", cost=10, impact=9, disparity=0.5),
        cand(2, "010102", cost=10, impact=1, disparity=0.9),
        cand(3, "010103", cost=10, impact=2, disparity=0.7),
    ]
    baseline = neediest_first(candidates, 20.0, Constraints())
    assert set(baseline.selected) == {2, 3} and baseline.method == "neediest_first" and baseline.gap is None
    assert optimise(candidates, 20.0, Constraints()).selected == (1, 3)


def test_neediest_first_skips_what_does_not_fit_and_goes_on_down_the_list():
    candidates = [
        cand(1, "010101", cost=80, impact=9, disparity=0.9),
        cand(2, "010102", cost=50, impact=5, disparity=0.8),
        cand(3, "010103", cost=20, impact=1, disparity=0.1),
    ]
    assert neediest_first(candidates, 100.0, Constraints()).selected == (1, 3)


def test_neediest_first_takes_a_district_s_packages_in_decreasing_impact():
    candidates = [
        cand(1, "010101", cost=10, impact=1, intervention_type="internet", disparity=0.9),
        cand(2, "010101", cost=10, impact=3, intervention_type="internet", disparity=0.9),
        cand(3, "010101", cost=10, impact=2, intervention_type="water", disparity=0.9),
        cand(4, "010102", cost=10, impact=5, disparity=0.3),
    ]
    assert neediest_first(candidates, 100.0, Constraints(max_per_district=None)).selected == (2, 3, 4)
    assert neediest_first(candidates, 100.0, Constraints(max_per_district=1)).selected == (2, 4)


def test_neediest_first_ignores_minimum_shares_and_reports_them_missed():
    candidates = [cand(1, "150101", cost=50, impact=5, disparity=0.9), cand(2, "080101", cost=60, impact=1)]
    constraints = Constraints(min_department_share={"08": 0.5})
    baseline = neediest_first(candidates, 100.0, constraints)
    assert baseline.selected == (1,) and baseline.unmet_min_shares == ("08",)
    assert baseline.departments["08"].cost == 0 and baseline.departments["08"].min_spend == 50
    assert optimise(candidates, 100.0, constraints).selected == (2,)


def greedy_order_holds(plan: PlanResult, candidates, budget, constraints) -> bool:
    """Every fundable package left out did not fit in what remained when the baseline reached it."""
    pool = [c for c in candidates if c.flagged or not constraints.only_flagged]
    district_rank = sorted(
        {c.district for c in pool}, key=lambda d: (-max(c.disparity for c in pool if c.district == d), d)
    )
    chosen = set(plan.selected)
    spent = 0.0
    for district in district_rank:
        ranked = sorted(
            (c for c in pool if c.district == district),
            key=lambda c: (-value_of(c, constraints), c.cost, pool.index(c)),
        )
        taken = []
        for c in ranked:
            limit_reached = constraints.max_per_district is not None and len(taken) >= constraints.max_per_district
            type_taken = constraints.one_per_type_per_district and c.intervention_type in {
                t.intervention_type for t in taken
            }
            fundable = value_of(c, constraints) > 0 and not limit_reached and not type_taken
            if c.key in chosen:
                if not fundable:
                    return False
                taken.append(c)
                spent += c.cost
            elif fundable and c.cost <= budget - spent:
                return False
    return True


def test_neediest_first_respects_budget_limits_and_order_on_random_instances():
    for seed in range(200):
        candidates, budget, constraints = random_instance(seed)
        if constraints.only_flagged and not any(c.flagged for c in candidates):
            continue
        baseline = neediest_first(candidates, budget, constraints)
        assert_feasible(baseline, candidates, budget, constraints, check_shares=False)
        assert greedy_order_holds(baseline, candidates, budget, constraints), seed


def test_the_order_check_catches_a_plan_that_is_not_neediest_first():
    candidates = [
        cand(1, "010101", cost=10, impact=9, disparity=0.1),
        cand(2, "010102", cost=10, impact=1, disparity=0.9),
    ]
    impact_first = optimise(candidates, 10.0, Constraints())
    assert impact_first.selected == (1,)
    assert not greedy_order_holds(impact_first, candidates, 10.0, Constraints())
    assert greedy_order_holds(neediest_first(candidates, 10.0, Constraints()), candidates, 10.0, Constraints())


# --------------------------------------------------------------------------------------------------------------------
# Infeasibility diagnoses


def raised(candidates, budget, constraints) -> InfeasiblePlan:
    with pytest.raises(InfeasiblePlan) as caught:
        optimise(candidates, budget, constraints)
    assert str(caught.value) == diagnose_infeasibility(candidates, budget, constraints)
    return caught.value


def test_shares_above_the_whole_budget_are_named():
    candidates = [cand(1, "010101", cost=60), cand(2, "020101", cost=60)]
    error = raised(candidates, 100.0, Constraints(min_department_share={"01": 0.6, "02": 0.5}))
    assert error.constraint == "min_department_share" and "110%" in str(error)
    assert "01: 60%" in str(error) and "02: 50%" in str(error)


def test_a_department_that_cannot_absorb_its_minimum_is_named_with_the_amounts():
    candidates = [
        cand(1, "080101", cost=30, intervention_type="internet"),
        cand(2, "080101", cost=40, intervention_type="water"),
        cand(3, "150101", cost=30),
    ]
    error = raised(candidates, 100.0, Constraints(max_per_district=1, min_department_share={"08": 0.5}))
    assert error.constraint == "min_department_share" and error.department == "08"
    assert "Department 08" in str(error) and "S/ 50.00" in str(error) and "S/ 40.00" in str(error)
    assert "1 package per district" in str(error)
    # Lifting the per-district limit makes 70 attainable, so the same minimum is met.
    plan = optimise(candidates, 100.0, Constraints(max_per_district=None, min_department_share={"08": 0.5}))
    assert plan.departments["08"].cost >= 50


def test_a_department_without_candidates_is_named():
    error = raised([cand(1, "080101")], 100.0, Constraints(min_department_share={"25": 0.1}))
    assert error.department == "25" and "no candidate" in str(error)


def test_a_department_whose_candidates_all_exceed_the_budget_is_named():
    error = raised(
        [cand(1, "080101", cost=500), cand(2, "150101")], 100.0, Constraints(min_department_share={"08": 0.1})
    )
    assert error.department == "08" and "more than the whole budget" in str(error)


def test_only_flagged_leaving_nothing_is_named():
    candidates = [cand(1, flagged=False), cand(2, "010102", flagged=False)]
    error = raised(candidates, 100.0, Constraints(only_flagged=True))
    assert error.constraint == "only_flagged" and "flagged" in str(error)
    assert optimise(candidates, 100.0, Constraints()).selected  # without the filter a plan exists


def test_only_flagged_leaving_a_protected_department_empty_is_named():
    candidates = [cand(1, "080101", flagged=False), cand(2, "150101", flagged=True)]
    constraints = Constraints(only_flagged=True, min_department_share={"08": 0.05})
    error = raised(candidates, 100.0, constraints)
    assert error.constraint == "only_flagged" and error.department == "08"


def test_a_minimum_no_combination_of_costs_can_hit_is_named():
    # Two packages of 70 against a minimum of 80 within a budget of 100: one is too little, two too much.
    candidates = [cand(1, "080101", cost=70), cand(2, "080102", cost=70), cand(3, "150101", cost=10)]
    error = raised(candidates, 100.0, Constraints(min_department_share={"08": 0.8}))
    assert error.department == "08" and "no combination" in str(error)


def test_minimums_feasible_alone_but_not_together_are_named():
    candidates = [cand(1, "010101", cost=75), cand(2, "020101", cost=30), cand(3, "020102", cost=35)]
    constraints = Constraints(min_department_share={"01": 0.5, "02": 0.3})
    error = raised(candidates, 100.0, constraints)
    assert error.constraint == "min_department_share" and "together" in str(error)
    assert "01: 50%" in str(error) and "02: 30%" in str(error)
    assert optimise(candidates, 100.0, Constraints(min_department_share={"01": 0.5})).selected == (1,)
