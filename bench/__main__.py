"""`python -m bench NAME [args]` (or `make bench BENCH=NAME`): run one benchmark; with no name, list them."""

import importlib
import sys

BENCHMARKS = {
    "ingest": "1,000,000-row upload, SQLite and PostgreSQL, against an ORM save() loop",
    "ml_quality": "the model suite: grouped/K-fold metrics, interval coverage, training and scoring speed",
    "plan_optimise": "the national MILP on 16,866 candidates at several budgets and constraints",
    "plans_real": "the whole pipeline on the real data: champion, impacts, optimised against neediest-first",
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print("usage: python -m bench NAME [args]\n")
        for name, what in BENCHMARKS.items():
            print(f"  {name:<14} {what}")
        sys.exit(0 if len(sys.argv) < 2 else 2)
    name = sys.argv.pop(1)
    importlib.import_module(f"bench.{name}").main()
