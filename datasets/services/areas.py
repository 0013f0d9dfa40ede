"""Which areas a user sees, and what the platform knows about a district (with where each value came from)."""

from django.db.models import Max, Q

from datasets.models import Dataset, DatasetRow, DatasetVersion, Department, District, Province


def departments_for_user(user):
    if not user.is_authenticated or not user.is_active:
        return Department.objects.none()
    codes = user.region_codes
    if codes == [""]:
        return Department.objects.all()
    return Department.objects.filter(code__in={code[:2] for code in codes})


def provinces_for_user(user):
    if not user.is_authenticated or not user.is_active:
        return Province.objects.none()
    codes = user.region_codes
    if codes == [""]:
        return Province.objects.all()
    query = Q(pk__in=[])
    for code in codes:
        query |= Q(code__startswith=code) if len(code) == 2 else Q(code=code[:4])
    return Province.objects.filter(query)


def districts_for_user(user):
    if not user.is_authenticated or not user.is_active:
        return District.objects.none()
    return District.objects.filter(user.ubigeo_q("ubigeo"))


def latest_versions() -> list[DatasetVersion]:
    latest = Dataset.objects.annotate(last=Max("versions__number")).filter(last__isnull=False)
    wanted = Q(pk__in=[])
    for dataset in latest:
        wanted |= Q(dataset_id=dataset.pk, number=dataset.last)
    return list(DatasetVersion.objects.filter(wanted).select_related("dataset", "upload").order_by("dataset__name"))


def district_indicators(ubigeo: str) -> list[dict]:
    """For each dataset, the values its latest version holds for this district, with the version and source."""
    sections = []
    for version in latest_versions():
        rows = list(DatasetRow.objects.filter(version=version, ubigeo=ubigeo).values_list("values", flat=True)[:1001])
        if not rows:
            continue
        types = {c["name"]: c["type"] for c in version.columns}
        if len(rows) == 1:
            values = [
                {"column": name, "type": types[name], "value": value}
                for name, value in rows[0].items()
                if types.get(name) not in {"ubigeo", "key"}
            ]
        else:  # several rows per district (a school registry): say how many, and the numeric means
            values = [{"column": "rows", "type": "integer", "value": len(rows)}]
            for name, kind in types.items():
                numbers = [r[name] for r in rows if isinstance(r.get(name), int | float)]
                if kind in {"number", "percent", "integer"} and numbers:
                    values.append({"column": f"{name} (mean)", "type": kind, "value": sum(numbers) / len(numbers)})
        sections.append(
            {
                "dataset": version.dataset.slug,
                "dataset_name": version.dataset.name,
                "version": version.number,
                "version_id": version.pk,
                "accepted_at": version.created_at,
                "file": version.upload.original_name,
                "source": version.dataset.source,
                "values": values,
            }
        )
    return sections
