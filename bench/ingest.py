"""Ingestion benchmark: a generated 1,000,000-row, 20-column district-indicator file through the real upload path
(validation, spool, one-transaction bulk write), on SQLite and on PostgreSQL, beside an ORM `save()` loop on
10,000 rows in the same run. Each measurement runs in its own process, so its peak memory is its own.

    .venv/bin/python -m bench.ingest                       # SQLite, and PostgreSQL if it answers
    .venv/bin/python -m bench.ingest --rows 200000         # a quicker run
    BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.ingest
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PERU_SHARED_DATA", REPO.parent / "shared" / "data" / "peru"))
DATA = SHARED if (SHARED / "README.md").exists() else REPO / "data" / "peru"
VALUE_COLUMNS = 18  # + ubigeo + periodo = 20 columns


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    from datasets.services.registry import FILES, read_csv, resolve

    ubigeos = read_csv(resolve(DATA, FILES["districts"]))["inei"]
    ubigeos = ubigeos[ubigeos.str.fullmatch(r"\d{6}")].to_numpy()
    periods = -(-rows // len(ubigeos))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "ubigeo": np.tile(ubigeos, periods)[:rows],
            "periodo": np.repeat(np.arange(periods), len(ubigeos))[:rows],
        }
    )
    for i in range(VALUE_COLUMNS):
        frame[f"v{i:02d}"] = rng.uniform(0, 100, rows).round(3)
    frame.to_csv(path, index=False)


def child(database_url: str, file: Path, orm_rows: int) -> dict:
    os.environ["DATABASE_URL"] = database_url
    os.environ["MAX_UPLOAD_MB"] = "100000"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
    import django

    django.setup()
    from django.core.files import File
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import NATIONAL, Role, User
    from datasets.models import Dataset, DatasetRow
    from datasets.services.registry import registry_load
    from datasets.services.uploads import dataset_create, dataset_ingest, upload_register
    from jobs.services import job_run

    call_command("migrate", verbosity=0)
    registry_load(source_dir=DATA, force=True, include_places=False, log=lambda *_: None)
    user = User.objects.create(username="bench", role=Role.ANALYST, region=NATIONAL)
    dataset = dataset_create(user=user, name="Bench", kind=Dataset.Kind.DISTRICT_INDICATORS, key_columns=["periodo"])
    with open(file, "rb") as handle:
        upload = upload_register(
            user=user, dataset=dataset, file=File(handle, name="bench.csv"), name="bench.csv", enqueue=False
        )
    started = time.perf_counter()
    job = job_run(job_id=upload.job_id, handler=lambda job, progress: dataset_ingest(job=job, progress=progress))
    seconds = time.perf_counter() - started
    if job.status != "succeeded":
        raise SystemExit(job.failure_reason)
    result = job.result

    version = upload.dataset.versions.get()
    sample = list(DatasetRow.objects.filter(version=version)[:orm_rows])
    for row in sample:
        row.pk = None
        row.key = f"{row.key}|orm"
    started = time.perf_counter()
    for row in sample:  # the naive way: one INSERT per row, each its own transaction
        row.save()
    orm_seconds = time.perf_counter() - started
    return {
        "database": connection.vendor,
        "rows": result["rows"],
        "seconds": round(seconds, 2),
        "rows_per_second": round(result["rows"] / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "orm_rows": len(sample),
        "orm_rows_per_second": round(len(sample) / orm_seconds),
    }


def run_child(database_url: str, file: Path, orm_rows: int) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ingest",
            "--child",
            database_url,
            "--file",
            str(file),
            "--orm-rows",
            str(orm_rows),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "VAR_DIR": str(file.parent / "var"), "LOG_LEVEL": "WARNING"},
    )
    if output.returncode:
        raise SystemExit(output.stdout + output.stderr)
    return json.loads(output.stdout.strip().splitlines()[-1])


def postgres_database(admin_url: str):
    import psycopg

    name = "bench_ingest"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-rows", type=int, default=10_000)
    parser.add_argument("--child")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.file), args.orm_rows)))
        return

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
    import django

    django.setup()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        file = Path(folder) / "indicators.csv"
        started = time.perf_counter()
        generate(file, args.rows)
        print(
            f"generated {args.rows:,} rows × 20 columns, {file.stat().st_size / 1e6:.0f} MB "
            f"in {time.perf_counter() - started:.1f}s"
        )
        results = [run_child(f"sqlite:///{folder}/bench.sqlite3", file, args.orm_rows)]
        admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            results.append(run_child(postgres_database(admin_url), file, args.orm_rows))
        except Exception as exc:  # noqa: BLE001 - a missing server skips that column of the table
            print(f"PostgreSQL skipped: {exc}")
    print()
    print(
        f"{'database':<12}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}{'ORM save() rows/s':>19}"
        f"{'speed-up':>10}"
    )
    for r in results:
        print(
            f"{r['database']:<12}{r['rows']:>11,}{r['seconds']:>9}{r['rows_per_second']:>10,}{r['peak_rss_mb']:>9}"
            f"{r['orm_rows_per_second']:>19,}{r['rows_per_second'] / r['orm_rows_per_second']:>9.0f}×"
        )


if __name__ == "__main__":
    main()
