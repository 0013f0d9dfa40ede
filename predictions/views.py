import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.models import regions_overlap
from accounts.permissions import analyst_required
from core.exceptions import ApplicationError
from core.maps import NO_DATA, Projection, colour_scale, legend
from datasets.models import District, FeatureSnapshot
from jobs.services import jobs_for_user
from predictions.ml.estimators import ALGORITHMS
from predictions.ml.targets import TARGETS
from predictions.models import TARGET_LABELS, ModelVersion, PredictionRun
from predictions.services.runs import latest_champion_run, prediction_run_request, predictions_for_user, runs_for_user
from predictions.services.training import model_promote, model_train_request, models_for_user

MAP_WIDTH = 640


@functools.lru_cache(maxsize=64)
def _projected(codes: tuple[str, ...], width: int):
    """District outlines (and dots for districts without one) projected once per region and width."""
    districts = District.objects.only("ubigeo", "name", "boundary", "latitude", "longitude").order_by("ubigeo")
    if codes != ("",):
        from django.db.models import Q

        query = Q(pk__in=[])
        for code in codes:
            query |= Q(ubigeo__startswith=code)
        districts = districts.filter(query)
    districts = list(districts)
    shapes = [d.boundary for d in districts if d.boundary]
    if not shapes:
        return None
    projection = Projection.fit(shapes, width=width)
    paths, dots = {}, {}
    for d in districts:
        if d.boundary:
            paths[d.ubigeo] = (d.name, projection.path(d.boundary))
        elif d.latitude is not None:
            dots[d.ubigeo] = (d.name, projection.point(d.longitude, d.latitude))
    return projection.width, projection.height, paths, dots


def choropleth(
    user,
    values: dict[str, float],
    labels: dict[str, str] | None = None,
    lo=None,
    hi=None,
    area: list[str] | None = None,
):
    """An SVG choropleth of `values` by ubigeo over the user's region, drawn on the server (works offline).

    ``area`` (ubigeo prefixes, e.g. a plan's scope) narrows the map to where it meets the user's region."""
    codes = user.region_codes if area is None else regions_overlap(area, user.region_codes)
    projected = _projected(tuple(codes), MAP_WIDTH)
    if projected is None:
        return None
    width, height, paths, dots = projected
    numbers = [v for v in values.values() if v is not None]
    lo = min(numbers) if lo is None and numbers else (lo or 0)
    hi = max(numbers) if hi is None and numbers else (hi or 100)
    labels = labels or {}
    return {
        "width": width,
        "height": height,
        "paths": [
            {"ubigeo": u, "name": name, "d": d, "fill": colour_scale(values.get(u), lo, hi), "label": labels.get(u, "")}
            for u, (name, d) in paths.items()
        ],
        "dots": [
            {
                "ubigeo": u,
                "name": name,
                "x": x,
                "y": y,
                "fill": colour_scale(values.get(u), lo, hi),
                "label": labels.get(u, ""),
            }
            for u, (name, (x, y)) in dots.items()
        ],
        "legend": legend(lo, hi),
        "no_data": NO_DATA,
    }


def _points_in_region(model: ModelVersion, user) -> list[tuple]:
    """(ubigeo, observed, predicted) of the grouped cross-validation, only for districts in the user's region."""
    inside = tuple(user.region_codes)
    return [(u, o, p) for u, (o, p) in model.out_of_fold.items() if o is not None and u.startswith(inside)]


@analyst_required
def model_list(request):
    if request.method == "POST":
        algorithms = request.POST.getlist("algorithms")
        snapshot = FeatureSnapshot.objects.filter(pk=request.POST.get("snapshot") or 0).first()
        options = {"fast": request.POST.get("fast") == "on"}
        try:
            job = model_train_request(
                user=request.user,
                target=request.POST.get("target", ""),
                snapshot=snapshot,
                algorithms=algorithms or None,
                options=options,
            )
        except (ValidationError, ApplicationError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            return redirect(f"{request.path}?job={job.pk}")
    models = list(models_for_user(request.user).select_related("snapshot", "training_job")[:60])
    job = jobs_for_user(request.user).filter(pk=request.GET.get("job") or 0).first()
    latest_job = models[0].training_job_id if models else None
    compared = [m for m in models if m.training_job_id == latest_job]
    for model in compared:
        model.points = _points_in_region(model, request.user)
    return render(
        request,
        "predictions/model_list.html",
        {
            "models": models,
            "compared": compared,
            "baselines": compared[0].metrics.get("baselines") if compared else {},
            "job": job,
            "targets": [(name, TARGET_LABELS.get(name, name)) for name in TARGETS],
            "algorithms": ALGORITHMS,
            "snapshots": FeatureSnapshot.objects.defer("data").order_by("-created_at")[:20],
        },
    )


@analyst_required
def model_detail(request, pk):
    model = get_object_or_404(models_for_user(request.user).select_related("snapshot", "training_job"), pk=pk)
    if request.method == "POST":
        try:
            model_promote(user=request.user, model=model, reason=request.POST.get("reason", ""))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _("Model #%(id)s is now the champion; every district is being scored again.") % {"id": model.pk},
            )
        return redirect("predictions:model_detail", pk=model.pk)
    points = _points_in_region(model, request.user)
    champion = ModelVersion.objects.filter(target=model.target, status=ModelVersion.Status.CHAMPION).first()
    drift = model.drift_reports.select_related("snapshot").order_by("-created_at", "-id").first()
    return render(
        request,
        "predictions/model_detail.html",
        {
            "model": model,
            "points": points,
            "champion": champion,
            "label_sets": model.label_sets.all(),
            "feedback_count": sum(s.labels.count() for s in model.label_sets.all()),
            "drift": drift,
            "decision": _decision_label(model.metrics.get("decision")),
            "drift_rows": _drift_rows(drift),
            "drift_alarm": settings.DRIFT_ALARM_PSI,
        },
    )


def _decision_label(decision) -> str:
    from feedback.services.retraining import DECISIONS

    return str(DECISIONS.get(decision, "")) if decision else ""


def _drift_rows(report, limit: int = 12) -> list[dict]:
    """The features that moved most, with a bar (full width at twice the alarm threshold) and a level:
    below 0.1 stable, 0.1 to the alarm threshold moderate, above it significant."""
    if report is None:
        return []
    alarm = settings.DRIFT_ALARM_PSI
    values = sorted(((v, k) for k, v in (report.psi or {}).items() if isinstance(v, int | float)), reverse=True)
    return [
        {
            "feature": name,
            "psi": value,
            "width": round(min(value / (2 * alarm), 1.0) * 100),
            "level": "failed" if value > alarm else ("queued" if value >= 0.1 else "succeeded"),
        }
        for value, name in values[:limit]
    ]


@login_required
def run_list(request):
    if request.method == "POST":
        if not request.user.can_analyse:
            raise PermissionDenied
        model = ModelVersion.objects.filter(pk=request.POST.get("model") or 0).first()
        try:
            run = prediction_run_request(user=request.user, model=model)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("predictions:run_detail", pk=run.pk)
    runs = runs_for_user(request.user).select_related("model", "job")[:50]
    return render(
        request,
        "predictions/run_list.html",
        {"runs": runs, "models": ModelVersion.objects.exclude(status=ModelVersion.Status.ARCHIVED)[:30]},
    )


def _run_page(request, run: PredictionRun, template="predictions/run_detail.html"):
    predictions = list(predictions_for_user(request.user, run).order_by("rank"))
    values = {p.ubigeo: p.value for p in predictions}
    labels = {
        p.ubigeo: f"{p.value:.1f} [{p.lower:.1f}–{p.upper:.1f}]" + (" ⚑" if p.flagged else "") for p in predictions
    }
    names = dict(District.objects.filter(ubigeo__in=values).values_list("ubigeo", "name"))
    flagged = [p for p in predictions if p.flagged]
    for p in predictions[:300]:
        p.name = names.get(p.ubigeo, p.ubigeo)
    other_runs = runs_for_user(request.user).exclude(pk=run.pk).select_related("model")[:20]
    return render(
        request,
        template,
        {
            "run": run,
            "predictions": predictions[:300],
            "flagged_count": len(flagged),
            "count": len(predictions),
            "map": choropleth(request.user, values, labels, lo=0, hi=100),
            "other_runs": other_runs,
        },
    )


@login_required
def run_detail(request, pk):
    run = get_object_or_404(runs_for_user(request.user).select_related("model", "job", "snapshot"), pk=pk)
    return _run_page(request, run)


@login_required
def disparity_map(request):
    run = latest_champion_run()
    if run is None:
        return render(request, "predictions/no_predictions.html")
    return _run_page(request, run, template="predictions/map.html")


@login_required
def run_compare_page(request, pk):
    from predictions.services.runs import run_compare

    run = get_object_or_404(runs_for_user(request.user), pk=pk)
    other = get_object_or_404(runs_for_user(request.user), pk=request.GET.get("other") or 0)
    comparison = run_compare(run, other, request.user)
    names = dict(
        District.objects.filter(ubigeo__in=[r["ubigeo"] for r in comparison["largest"]]).values_list("ubigeo", "name")
    )
    for row in comparison["largest"]:
        row["name"] = names.get(row["ubigeo"], row["ubigeo"])
    return render(request, "predictions/run_compare.html", {"run": run, "other": other, "comparison": comparison})


def district_prediction_context(user, ubigeo: str) -> dict:
    """For the district page: the champion's latest prediction for this district, if the user may see it."""
    from predictions.services.runs import district_prediction

    if not user.can_access_ubigeo(ubigeo):
        raise Http404
    return {"prediction": district_prediction(ubigeo)}
