"""Feature tables: one row per district, columns chosen from dataset versions, frozen as a snapshot with lineage.

Training reads snapshots, never live tables, so a model can always say exactly which data it learned from.
"""

import hashlib
import json
import math

import pandas as pd
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from datasets.models import DatasetRow, DatasetVersion, District, FeatureSnapshot
from jobs.models import Job
from jobs.services import job_commit, job_create

NUMERIC_TYPES = {"number", "percent", "integer", "latitude", "longitude"}
AGGREGATES = {"mean", "sum", "count", "min", "max"}


def snapshot_spec_validate(spec: list[dict]) -> list[dict]:
    """Check each requested column exists and is numeric; fill aliases; refuse duplicate output names."""
    if not spec:
        raise ValidationError(_("Choose at least one column."))
    versions = DatasetVersion.objects.in_bulk({int(item["version"]) for item in spec})
    clean, names = [], set()
    for item in spec:
        version = versions.get(int(item["version"]))
        if version is None:
            raise ValidationError(_("Dataset version %(id)s does not exist.") % {"id": item["version"]})
        types = {c["name"]: c["type"] for c in version.columns}
        column = item["column"]
        if column not in types:
            raise ValidationError(
                _("Column %(column)s is not in %(version)s.") % {"column": column, "version": version}
            )
        aggregate = item.get("aggregate") or ("count" if types[column] not in NUMERIC_TYPES else "mean")
        if aggregate not in AGGREGATES:
            raise ValidationError(_("Unknown aggregate %(name)s.") % {"name": aggregate})
        if types[column] not in NUMERIC_TYPES and aggregate != "count":
            raise ValidationError(_("Column %(column)s is text; it can only be counted.") % {"column": column})
        alias = (item.get("alias") or column).strip()
        if alias in names:
            raise ValidationError(_("Two columns would be called %(alias)s; give one an alias.") % {"alias": alias})
        names.add(alias)
        clean.append({"version": version.pk, "column": column, "alias": alias, "aggregate": aggregate})
    return clean


def snapshot_default_spec(versions: list[DatasetVersion]) -> list[dict]:
    """Every numeric column of the given versions that has data, first occurrence of a name wins."""
    spec, names = [], set()
    for version in versions:
        for column in version.columns:
            profile = version.profile.get(column["name"], {})
            if column["type"] in NUMERIC_TYPES and profile.get("count") and column["name"] not in names:
                names.add(column["name"])
                spec.append(
                    {"version": version.pk, "column": column["name"], "alias": column["name"], "aggregate": "mean"}
                )
    return spec


def snapshot_request(*, user, name: str, spec: list[dict], description: str = "", enqueue: bool = True) -> Job:
    if user is not None and not user.can_analyse:
        raise PermissionDenied
    if not name.strip():
        raise ValidationError({"name": _("Give the feature table a name.")})
    clean = snapshot_spec_validate(spec)
    return job_create(
        kind=Job.Kind.SNAPSHOT_BUILD,
        created_by=user,
        params={"name": name.strip()[:200], "description": description, "spec": clean},
        scope=user.effective_region if user else "",
        enqueue=enqueue,
    )


def _column_values(version_id: int, column: str, aggregate: str) -> pd.Series:
    pairs = DatasetRow.objects.filter(version_id=version_id).values_list("ubigeo", "values")
    frame = pd.DataFrame(
        [
            (ubigeo, (values if isinstance(values, dict) else json.loads(values)).get(column))
            for ubigeo, values in pairs
        ],
        columns=["ubigeo", "value"],
    )
    if aggregate == "count":
        return frame.dropna(subset=["value"]).groupby("ubigeo").size().astype("float64")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame.groupby("ubigeo")["value"].agg(aggregate)


def snapshot_build(*, job: Job, progress) -> dict:
    """Assemble the table (all districts of the registry as rows) and freeze it in one transaction."""
    existing = FeatureSnapshot.objects.filter(job=job).first()
    if existing is not None:
        return {"snapshot": existing.pk}
    spec = job.params["spec"]
    index = list(District.objects.order_by("ubigeo").values_list("ubigeo", flat=True))
    versions = DatasetVersion.objects.select_related("dataset", "upload").in_bulk({item["version"] for item in spec})
    table = pd.DataFrame(index=pd.Index(index, name="ubigeo"))
    lineage = []
    for position, item in enumerate(spec):
        version = versions[item["version"]]
        table[item["alias"]] = _column_values(version.pk, item["column"], item["aggregate"]).reindex(table.index)
        lineage.append(
            {
                "column": item["alias"],
                "source_column": item["column"],
                "aggregate": item["aggregate"],
                "dataset": version.dataset.slug,
                "dataset_name": version.dataset.name,
                "version": version.pk,
                "version_number": version.number,
                "sha256": version.upload.sha256,
            }
        )
        progress(90 * (position + 1) / len(spec), _("Column %(column)s") % {"column": item["alias"]})
    rows = [
        [None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v) for v in row]
        for row in table.itertuples(index=False)
    ]
    data = {"index": index, "rows": rows}
    checksum = hashlib.sha256(json.dumps({"columns": list(table.columns), **data}, sort_keys=True).encode())
    with transaction.atomic():
        snapshot = FeatureSnapshot.objects.create(
            name=job.params["name"],
            description=job.params.get("description", ""),
            spec=spec,
            lineage=lineage,
            columns=list(table.columns),
            data=data,
            row_count=len(index),
            sha256=checksum.hexdigest(),
            job=job,
            created_by=job.created_by,
        )
        job_commit(job=job)
    return {"snapshot": snapshot.pk, "rows": len(index), "columns": len(table.columns)}


def snapshots_for_user(user):
    """Snapshots are national tables; everyone signed in may see their lineage, rows are filtered by region."""
    if not user.is_authenticated or not user.is_active:
        return FeatureSnapshot.objects.none()
    return FeatureSnapshot.objects.all()
