from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import analyst_required
from core.exceptions import ApplicationError
from core.exports import csv_response
from core.maps import Projection
from datasets.forms import DELIMITERS, DatasetForm, SnapshotForm, UploadForm
from datasets.models import Dataset, DatasetVersion, Department, District, FeatureSnapshot, Province
from datasets.services.areas import (
    departments_for_user,
    district_indicators,
    districts_for_user,
    latest_versions,
    provinces_for_user,
)
from datasets.services.snapshots import snapshot_default_spec, snapshot_request
from datasets.services.uploads import dataset_create, row_problem_message, upload_again, upload_create, uploads_for_user


def _area_map(districts, highlight: str | None = None, width: int = 560) -> dict | None:
    shapes = [(d, d.boundary) for d in districts if d.boundary]
    if not shapes:
        return None
    projection = Projection.fit([geometry for _d, geometry in shapes], width=width)
    return {
        "width": projection.width,
        "height": projection.height,
        "paths": [
            {"ubigeo": d.ubigeo, "name": d.name, "d": projection.path(geometry), "highlight": d.ubigeo == highlight}
            for d, geometry in shapes
        ],
    }


@login_required
def area_index(request):
    query = request.GET.get("q", "").strip()
    districts = None
    if query:
        districts = districts_for_user(request.user).select_related("province", "department")
        districts = (
            districts.filter(ubigeo__startswith=query) if query.isdigit() else districts.filter(name__icontains=query)
        )
        districts = districts[:200]
    departments = departments_for_user(request.user).annotate(n=Count("districts"))
    return render(request, "datasets/area_index.html", {"departments": departments, "districts": districts, "q": query})


@login_required
def area_department(request, code):
    if not request.user.can_view_area(code):
        raise Http404
    department = get_object_or_404(Department, code=code)
    provinces = provinces_for_user(request.user).filter(department=department).annotate(n=Count("districts"))
    districts = districts_for_user(request.user).filter(department=department)
    return render(
        request,
        "datasets/area_department.html",
        {"department": department, "provinces": provinces, "map": _area_map(districts)},
    )


@login_required
def area_province(request, code):
    if not request.user.can_view_area(code):
        raise Http404
    province = get_object_or_404(Province.objects.select_related("department"), code=code)
    districts = districts_for_user(request.user).filter(province=province)
    return render(
        request,
        "datasets/area_province.html",
        {"province": province, "districts": districts, "map": _area_map(districts)},
    )


@login_required
def district_detail(request, ubigeo):
    district = get_object_or_404(
        districts_for_user(request.user).select_related("province", "department"), ubigeo=ubigeo
    )
    neighbours = District.objects.filter(province=district.province)
    from predictions.services.runs import district_prediction  # the district page shows the latest prediction

    return render(
        request,
        "datasets/district_detail.html",
        {
            "district": district,
            "prediction": district_prediction(district.ubigeo),
            "sections": district_indicators(district.ubigeo),
            "map": _area_map(neighbours, highlight=district.ubigeo, width=420),
        },
    )


@analyst_required
def dataset_list(request):
    datasets = Dataset.objects.annotate(n_versions=Count("versions")).order_by("name")
    return render(request, "datasets/dataset_list.html", {"datasets": datasets})


@analyst_required
def dataset_new(request):
    form = DatasetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dataset = dataset_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("datasets:dataset_detail", slug=dataset.slug)
    return render(request, "datasets/dataset_form.html", {"form": form})


@analyst_required
def dataset_detail(request, slug):
    dataset = get_object_or_404(Dataset, slug=slug)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        try:
            upload = upload_create(user=request.user, dataset=dataset, uploaded_file=fields.pop("file"), **fields)
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("datasets:upload_detail", pk=upload.pk)
    versions = dataset.versions.select_related("upload", "created_by")
    uploads = uploads_for_user(request.user).filter(dataset=dataset).select_related("job", "created_by")[:20]
    return render(
        request,
        "datasets/dataset_detail.html",
        {"dataset": dataset, "versions": versions, "uploads": uploads, "form": form},
    )


@analyst_required
def upload_detail(request, pk):
    upload = get_object_or_404(uploads_for_user(request.user).select_related("job", "dataset"), pk=pk)
    if request.method == "POST":
        try:
            again = upload_again(
                user=request.user,
                upload=upload,
                drop_invalid_rows=request.POST.get("drop_invalid_rows") == "on",
                encoding=request.POST.get("encoding", ""),
                delimiter=request.POST.get("delimiter", ""),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("datasets:upload_detail", pk=again.pk)
    if request.GET.get("format") == "csv":
        rows = ([e["row"], e["column"], e["value"], row_problem_message(e["code"])] for e in upload.errors)
        return csv_response(f"errors-upload-{upload.pk}.csv", [_("row"), _("column"), _("value"), _("problem")], rows)
    errors = [{**e, "problem": row_problem_message(e["code"])} for e in upload.errors[:200]]
    summary = [{**s, "problem": row_problem_message(s["code"])} for s in upload.error_summary]
    return render(
        request,
        "datasets/upload_detail.html",
        {
            "upload": upload,
            "errors": errors,
            "stored": len(upload.errors),
            "delimiters": DELIMITERS,
            "summary": summary,
            "version": getattr(upload, "version", None),
        },
    )


@analyst_required
def version_detail(request, pk):
    version = get_object_or_404(DatasetVersion.objects.select_related("dataset", "upload", "created_by"), pk=pk)
    columns = [{**column, "profile": version.profile.get(column["name"], {})} for column in version.columns]
    return render(request, "datasets/version_detail.html", {"version": version, "columns": columns})


@analyst_required
def snapshot_list(request):
    versions = latest_versions()
    form = SnapshotForm(request.POST or None, versions=versions)
    if request.method == "POST" and form.is_valid():
        spec = form.spec() or snapshot_default_spec(versions)
        try:
            job = snapshot_request(
                user=request.user,
                name=form.cleaned_data["name"],
                spec=spec,
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Building the feature table (job #%(id)s).") % {"id": job.pk})
            return redirect(f"{request.path}?job={job.pk}")
    snapshots = Paginator(FeatureSnapshot.objects.defer("data").select_related("created_by"), 30).get_page(
        request.GET.get("page")
    )
    job = None
    if request.GET.get("job", "").isdigit():
        from jobs.services import jobs_for_user

        job = jobs_for_user(request.user).filter(pk=request.GET["job"]).first()
    return render(request, "datasets/snapshot_list.html", {"page": snapshots, "form": form, "job": job})


@login_required
def snapshot_detail(request, pk):
    snapshot = get_object_or_404(FeatureSnapshot, pk=pk)
    allowed = set(districts_for_user(request.user).values_list("ubigeo", flat=True))
    rows = [(u, v) for u, v in zip(snapshot.data["index"], snapshot.data["rows"], strict=True) if u in allowed]
    if request.GET.get("format") == "csv":
        return csv_response(
            f"feature-table-{snapshot.pk}.csv", ["ubigeo", *snapshot.columns], ([u, *v] for u, v in rows)
        )
    return render(
        request,
        "datasets/snapshot_detail.html",
        {"snapshot": snapshot, "preview": rows[:30], "visible_rows": len(rows)},
    )
