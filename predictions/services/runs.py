"""Prediction runs: every district scored by a model version, with an interval, a rank, a flag and its factors.

The "significant disparity" flag: a district is flagged when the lower end of its 90% prediction interval is
above the national mean of the target among districts with results, i.e. the model is confident (about 95%,
one-sided) that the share of children below the satisfactory level there is higher than the country's average.
"""

import math

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError
from datasets.models import FeatureSnapshot
from jobs.models import Job
from jobs.services import job_commit, job_create
from predictions.ml.suite import explain_table
from predictions.ml.targets import get_target
from predictions.models import ModelVersion, Prediction, PredictionRun
from predictions.services.models import model_load, predict

TOP_FACTORS = 5


def runs_for_user(user):
    """Runs are national; everyone signed in sees them, and their predictions are filtered by region."""
    if not user.is_authenticated or not user.is_active:
        return PredictionRun.objects.none()
    return PredictionRun.objects.all()


def predictions_for_user(user, run: PredictionRun):
    return Prediction.objects.filter(run=run).filter(user.ubigeo_q("ubigeo"))


def champion(target: str | None = None) -> ModelVersion | None:
    from predictions.ml.targets import DEFAULT_TARGET

    return ModelVersion.objects.filter(target=target or DEFAULT_TARGET, status=ModelVersion.Status.CHAMPION).first()


def latest_champion_run(target: str | None = None) -> PredictionRun | None:
    model = champion(target)
    if model is None:
        return None
    return PredictionRun.objects.filter(model=model, job__status=Job.Status.SUCCEEDED).order_by("-created_at").first()


def prediction_run_request(
    *, user, model: ModelVersion | None = None, snapshot: FeatureSnapshot | None = None
) -> PredictionRun:
    if user is not None and not user.can_analyse:
        raise PermissionDenied
    model = model or champion()
    if model is None:
        raise ApplicationError(_("There is no champion model yet: train models first."))
    snapshot = snapshot or model.snapshot
    missing = sorted(set(model.options.get("required_columns", [])) - set(snapshot.columns))
    if missing:
        raise ApplicationError(
            _("The feature table lacks columns the model needs: %(columns)s.") % {"columns": ", ".join(missing)}
        )
    with transaction.atomic():
        run = PredictionRun.objects.create(model=model, snapshot=snapshot, created_by=user)
        run.job = job_create(
            kind=Job.Kind.PREDICTION_RUN,
            created_by=user,
            params={"run": run.pk},
            scope=user.effective_region if user else "",
        )
        run.save(update_fields=["job"])
    return run


def prediction_run(*, job: Job, progress) -> dict:
    """In the worker: predict, bound, rank, flag and explain every district; save the run in one transaction."""
    run = PredictionRun.objects.select_related("model", "snapshot").get(job=job)
    if run.predictions.exists():
        return {"run": run.pk, "predictions": run.predictions.count()}
    table = run.snapshot.to_frame()
    progress(5, _("Loading model #%(id)s") % {"id": run.model_id})
    model = model_load(run.model)
    progress(15, _("Predicting %(n)s districts") % {"n": len(table)})
    scored = predict(run.model, table)
    progress(35, _("Explaining the predictions"))
    explanation = explain_table(model, table, top_k=TOP_FACTORS)
    observed = get_target(run.model.target).values(table)
    national_mean = float(np.nanmean(observed.to_numpy(dtype=float)))
    scored["rank"] = scored["value"].rank(ascending=False, method="first").astype(int)
    scored["flagged"] = scored["lower"] > national_mean
    rows = []
    for ubigeo, row in scored.iterrows():
        value = observed.get(ubigeo)
        rows.append(
            Prediction(
                run=run,
                ubigeo=ubigeo,
                value=float(row["value"]),
                lower=float(row["lower"]),
                upper=float(row["upper"]),
                rank=int(row["rank"]),
                flagged=bool(row["flagged"]),
                observed=None if value is None or math.isnan(value) else float(value),
                factors=[
                    {
                        "feature": name,
                        "label": explanation.labels.get(name, name),
                        "value": None if shown is None or (isinstance(shown, float) and math.isnan(shown)) else shown,
                        "contribution": round(float(contribution), 3),
                    }
                    for name, shown, contribution in explanation.top_factors.get(ubigeo, [])
                ],
            )
        )
    by_department = scored.groupby(scored.index.str[:2]).agg(
        mean=("value", "mean"), flagged=("flagged", "sum"), districts=("value", "size")
    )
    progress(90, _("Saving"))
    with transaction.atomic():
        Prediction.objects.bulk_create(rows, batch_size=1000)
        run.summary = {
            "districts": len(rows),
            "flagged": int(scored["flagged"].sum()),
            "national_mean_observed": national_mean,
            "mean_predicted": float(scored["value"].mean()),
            "base_value": explanation.base_value,
            "flag_rule": "lower end of the 90% interval above the national mean of districts with results",
            "departments": {
                code: {
                    "mean": round(float(r["mean"]), 2),
                    "flagged": int(r["flagged"]),
                    "districts": int(r["districts"]),
                }
                for code, r in by_department.iterrows()
            },
        }
        run.save(update_fields=["summary"])
        job_commit(job=job)
    return {"run": run.pk, "predictions": len(rows), "flagged": run.summary["flagged"]}


def run_compare(run: PredictionRun, other: PredictionRun, user) -> dict:
    """District by district: how the predictions of two runs differ (inside the user's region)."""
    mine = dict(predictions_for_user(user, run).values_list("ubigeo", "value"))
    theirs = dict(predictions_for_user(user, other).values_list("ubigeo", "value"))
    common = sorted(set(mine) & set(theirs))
    deltas = np.array([mine[u] - theirs[u] for u in common]) if common else np.array([])
    largest = sorted(common, key=lambda u: -abs(mine[u] - theirs[u]))[:20]
    return {
        "run": run.pk,
        "other": other.pk,
        "districts": len(common),
        "mean_difference": float(deltas.mean()) if len(deltas) else None,
        "mean_absolute_difference": float(np.abs(deltas).mean()) if len(deltas) else None,
        "largest": [
            {"ubigeo": u, "value": mine[u], "other": theirs[u], "difference": mine[u] - theirs[u]} for u in largest
        ],
    }


def run_summary_for_user(run: PredictionRun, user) -> dict:
    """The run's summary with only the user's departments in its per-department block; national totals stay."""
    summary = dict(run.summary or {})
    if user is not None and "departments" in summary:
        summary["departments"] = user.departments_only(summary["departments"])
    return summary


def district_prediction(ubigeo: str) -> Prediction | None:
    run = latest_champion_run()
    return run.predictions.filter(ubigeo=ubigeo).first() if run else None
