"""Benchmark of the budget optimiser on a national-size instance (1,874 districts × 9 interventions).

Run from the repository root: ``.venv/bin/python -m bench.plan_optimise``.

Costs and impacts are synthetic but shaped like the real ones: district populations, poverty, altitude and Census
2017 internet, electricity and water coverage come from the shared indicators file (its 1,874 districts with complete
data); when that file is absent a seeded random stand-in of the same size is used, so the benchmark always runs.
Costs grow with the children served and with remoteness (altitude), impacts with the children, the district's
predicted disparity and the service gap an intervention closes. The question answered is whether an exact national
plan is solved to proven optimality in seconds, and how much more impact it buys than funding the neediest first.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recommendations.optimise import Candidate, Constraints, PlanResult, neediest_first, optimise

INDICATORS = Path("/work/shared/data/peru/services/indicadores-distrito.csv")
SCHOOL_AGE_SHARE = 0.22  # children aged 3-16 in Peru's population, roughly
BUDGETS = (50e6, 200e6, 1_000e6)
# Departments of the southern highlands an analyst might protect: Apurímac, Ayacucho, Cusco, Huancavelica, Puno.
MIN_SHARES = {"03": 0.05, "05": 0.05, "08": 0.08, "09": 0.05, "21": 0.08}


@dataclass(frozen=True)
class Intervention:
    code: str
    type: str
    fixed_cost: float  # soles per district
    cost_per_child: float  # soles
    effect: float  # disparity reduction per child when the whole need is met
    need: str  # column whose gap the intervention closes, or "" for none


INTERVENTIONS = (
    Intervention("INTERNET_60", "internet", 120_000, 150, 0.06, "internet:60"),
    Intervention("INTERNET_80", "internet", 200_000, 260, 0.09, "internet:80"),
    Intervention("ELEC_GRID", "electricity", 300_000, 200, 0.08, "electricidad:100"),
    Intervention("ELEC_SOLAR", "electricity", 150_000, 120, 0.06, "electricidad:100"),
    Intervention("WATER_SAN", "water", 250_000, 300, 0.05, "agua:100"),
    Intervention("TEACHERS", "teachers", 40_000, 90, 0.04, ""),
    Intervention("DEVICES", "devices", 20_000, 300, 0.05, ""),
    Intervention("CLASSROOMS", "classrooms", 400_000, 350, 0.03, ""),
    Intervention("TRANSPORT", "transport", 60_000, 250, 0.03, ""),
)


def load_districts(seed: int) -> pd.DataFrame:
    """One row per district: ubigeo, department, children, poverty, altitude and service coverage (%)."""
    path = Path(os.environ.get("PERU_INDICATORS", INDICATORS))
    if path.exists():
        frame = pd.read_csv(path, dtype={"ubigeo": str}).dropna(subset=["pobreza", "internet", "electricidad", "agua"])
        frame["pob"] = frame["pob"].fillna(frame["pob"].median())
    else:
        rng = np.random.default_rng(seed)
        n = 1874
        frame = pd.DataFrame(
            {
                "ubigeo": [f"{1 + i % 25:02d}{i // 25:04d}" for i in range(n)],
                "pob": np.round(rng.lognormal(8.8, 1.2, n)),
                "pobreza": rng.uniform(2, 80, n),
                "altitud": rng.uniform(0, 4700, n),
                "internet": rng.beta(0.7, 8, n) * 100,
                "electricidad": rng.beta(6, 2, n) * 100,
                "agua": rng.beta(3, 1.5, n) * 100,
            }
        )
    frame["department"] = frame["ubigeo"].str[:2]
    frame["children"] = np.round(frame["pob"] * SCHOOL_AGE_SHARE).astype(int).clip(lower=1)
    return frame.reset_index(drop=True)


def build_candidates(seed: int = 2026) -> list[Candidate]:
    """The national instance: every intervention in every district, with a predicted disparity per district."""
    rng = np.random.default_rng(seed)
    districts = load_districts(seed)
    n = len(districts)
    disparity = (
        0.45 * districts["pobreza"] / 100
        + 0.30 * (1 - districts["internet"] / 100)
        + 0.15 * (1 - districts["electricidad"] / 100)
        + rng.normal(0, 0.05, n)
    ).clip(0, 1)
    flagged = disparity >= np.quantile(disparity, 0.7)
    remoteness = 1 + districts["altitud"].fillna(0) / 4000
    equity = 1 + districts["pobreza"] / 100

    candidates = []
    for j, intervention in enumerate(INTERVENTIONS):
        if intervention.need:
            column, target = intervention.need.split(":")
            need = ((float(target) - districts[column]) / float(target)).clip(lower=0)
        else:
            need = pd.Series(1.0, index=districts.index)
        cost = (intervention.fixed_cost + intervention.cost_per_child * districts["children"]) * remoteness
        cost = cost * rng.lognormal(0, 0.3, n)
        impact = districts["children"] * disparity * intervention.effect * need * rng.lognormal(0, 0.4, n)
        for i in range(n):
            candidates.append(
                Candidate(
                    key=j * 10_000 + i,
                    district=districts.at[i, "ubigeo"],
                    department=districts.at[i, "department"],
                    intervention=intervention.code,
                    intervention_type=intervention.type,
                    cost=round(float(cost[i]), 2),
                    impact=float(impact[i]),
                    disparity=float(disparity[i]),
                    children=int(districts.at[i, "children"]),
                    flagged=bool(flagged[i]),
                    equity_weight=float(equity[i]),
                )
            )
    return candidates


SCENARIOS = {
    "1 per district": Constraints(max_per_district=1),
    "no district limit": Constraints(max_per_district=None),
    "1 per district + min shares": Constraints(max_per_district=1, min_department_share=MIN_SHARES),
    "1 per district, equity-weighted": Constraints(max_per_district=1, use_equity_weights=True),
    "no district limit + min shares": Constraints(max_per_district=None, min_department_share=MIN_SHARES),
}


def row(name: str, budget: float, plan: PlanResult, baseline: PlanResult) -> str:
    gap = "-" if plan.gap is None else f"{plan.gap:.1e}"
    ratio = plan.objective / baseline.objective if baseline.objective > 0 else float("inf")
    unmet = ",".join(baseline.unmet_min_shares) or "-"
    return (
        f"{budget / 1e6:>6,.0f}M  {name:<32} {plan.solve_seconds:>7.2f}s  {plan.status:<10} {gap:>8}  "
        f"{plan.objective:>12,.1f}  {baseline.objective:>12,.1f}  {ratio:>6.3f}  {len(plan.selected):>5}  "
        f"{plan.total_cost / 1e6:>8.2f}M  {unmet}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--mip-rel-gap", type=float, default=0.0, help="0 (default) asks HiGHS for a proof")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    candidates = build_candidates(args.seed)
    districts = len({c.district for c in candidates})
    print(f"{len(candidates):,} candidates in {districts:,} districts, built in {time.perf_counter() - started:.1f}s")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (other work on the machine slows the solver)")
    print(
        f"{'budget':>7}  {'scenario':<32} {'seconds':>8}  {'status':<10} {'gap':>8}  {'objective':>12}  "
        f"{'neediest 1st':>12}  {'ratio':>6}  {'pkgs':>5}  {'spent':>9}  baseline misses min share in"
    )
    slowest = 0.0
    for budget in BUDGETS:
        for name, constraints in SCENARIOS.items():
            plan = optimise(candidates, budget, constraints, time_limit=args.time_limit, mip_rel_gap=args.mip_rel_gap)
            baseline = neediest_first(candidates, budget, constraints)
            slowest = max(slowest, plan.solve_seconds)
            print(row(name, budget, plan, baseline), flush=True)
    print(f"slowest plan: {slowest:.2f}s")


if __name__ == "__main__":
    main()
