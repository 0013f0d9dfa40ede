from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from datasets.models import FeatureSnapshot
from datasets.services.reference import reference_datasets_load
from datasets.services.registry import registry_load
from datasets.services.snapshots import snapshot_build, snapshot_default_spec, snapshot_request
from jobs.services import job_run

DEFAULT_SNAPSHOT = "Línea base nacional"


class Command(BaseCommand):
    help = "Load Peru's areas and reference indicator tables (idempotent) and report every mismatch met."

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            type=Path,
            default=settings.PERU_DATA_DIR,
            help="folder laid out like shared/data/peru (plain or .gz files)",
        )
        parser.add_argument("--force", action="store_true", help="reload the registry even if the files are unchanged")
        parser.add_argument("--report", action="store_true", help="print every mismatch, not only the counts")
        parser.add_argument("--registry-only", action="store_true", help="skip the indicator datasets")

    def handle(self, *args, source, force, report, registry_only, **options):
        record = registry_load(source_dir=source, force=force, log=self.stdout.write)
        if report:
            for item in record.report:
                self.stdout.write(f"  {item['kind']}: {item['code']} {item['detail']}")
        if registry_only:
            return
        versions = reference_datasets_load(source_dir=source, log=self.stdout.write)
        spec = snapshot_default_spec(versions)
        if not FeatureSnapshot.objects.filter(spec=spec).exists():
            job = snapshot_request(
                user=None,
                name=DEFAULT_SNAPSHOT,
                spec=spec,
                enqueue=False,
                description="Every numeric column of the reference datasets, as shipped.",
            )
            job = job_run(job_id=job.pk, handler=lambda job, progress: snapshot_build(job=job, progress=progress))
            self.stdout.write(f"feature table '{DEFAULT_SNAPSHOT}': {job.result}")
