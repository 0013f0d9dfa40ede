"""Plans on the real data: the platform's own pipeline end to end, then the optimiser against neediest-first.

Loads Peru into a fresh database, trains the champion (default: the ensemble) on the national feature table,
scores every district, estimates every (district, intervention) impact with the model, and solves national
plans at several budgets. Prints, per budget: candidates, solve time, status, the optimised plan's impact
(children reaching the satisfactory level), the neediest-first baseline's, and their ratio.

    .venv/bin/python -m bench.plans_real                     # ensemble champion, S/ 50, 200 and 1,000 million
    .venv/bin/python -m bench.plans_real --algorithm ridge   # quicker
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PERU_SHARED_DATA", REPO.parent / "shared" / "data" / "peru"))
DATA = SHARED if (SHARED / "README.md").exists() else REPO / "data" / "peru"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algorithm", default="ensemble")
    parser.add_argument("--budgets", default="50,200,1000", help="millions of soles")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-plans-"))
    os.environ.update(
        {
            "VAR_DIR": str(folder),
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "eduplatform.settings",
        }
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from jobs.models import Job
    from predictions.services.runs import latest_champion_run
    from predictions.services.training import model_train_request
    from recommendations import optimise
    from recommendations.models import Plan
    from recommendations.services.impact import plan_candidates

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("load_peru", source=DATA, verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    print(f"data loaded in {time.perf_counter() - started:.0f}s")

    from eduplatform.celery import app

    app.conf.task_always_eager = True  # the training, then the champion's prediction run, in this process
    started = time.perf_counter()
    job = Job.objects.get(pk=model_train_request(user=None, algorithms=[args.algorithm]).pk)
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    run = latest_champion_run()
    print(
        f"{args.algorithm} trained and every district scored in {time.perf_counter() - started:.0f}s "
        f"(grouped-CV R² {run.model.metrics['grouped_cv']['r2']:.3f}); {run.summary['flagged']} districts flagged"
    )

    started = time.perf_counter()
    plan = Plan.objects.create(
        name="bench",
        budget_pen=1,
        scope="PE",
        run=run,
        constraints={
            "max_per_district": 1,
            "one_per_type_per_district": True,
            "only_flagged": False,
            "equity": "",
            "equity_strength": 1.0,
            "min_department_share": {},
            "interventions": [],
            "include_assumed": True,  # both pools below: every intervention, and the default plan's
        },
    )
    candidates, details = plan_candidates(plan=plan, progress=lambda *_: None)
    print(f"{len(candidates):,} candidates (district × intervention) estimated in {time.perf_counter() - started:.0f}s")
    header = (
        f"{'budget (S/ M)':>14}{'gap':>8}{'solve s':>9}{'status':>11}{'proved':>9}{'optimised':>12}"
        f"{'neediest':>12}{'ratio':>8}{'districts':>11}"
    )
    constraints = optimise.Constraints(max_per_district=1)
    model_only = [c for c in candidates if details[c.key]["estimate"] == "model"]
    pools = (
        ("model-estimated interventions (the default plan)", model_only),
        ("every intervention, assumed effects included (include_assumed)", candidates),
    )
    for label, pool in pools:
        print(f"\n-- {label}: {len(pool):,} candidates\n{header}")
        for millions in (float(b) for b in args.budgets.split(",")):
            for gap in (settings.PLAN_MIP_GAP, 0.0):
                print(_row(pool, millions, gap, constraints))


def _row(pool, millions: float, gap: float, constraints) -> str:
    from recommendations import optimise

    budget = millions * 1e6
    result = optimise.optimise(pool, budget, constraints, time_limit=120, mip_rel_gap=gap)
    baseline = optimise.neediest_first(pool, budget, constraints)
    ratio = result.total_impact / baseline.total_impact if baseline.total_impact else float("inf")
    return (
        f"{millions:>14,.0f}{gap:>8.0e}{result.solve_seconds:>9.2f}{result.status:>11}{result.gap or 0:>9.1e}"
        f"{result.total_impact:>12,.0f}{baseline.total_impact:>12,.0f}{ratio:>8.2f}{result.n_districts:>11,}"
    )


if __name__ == "__main__":
    main()
