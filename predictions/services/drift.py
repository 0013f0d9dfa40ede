"""Drift: how far newer data has moved from what the champion learned from.

The population stability index of each input column compares its distribution in the champion's training
snapshot (reference deciles) with the newest snapshot: PSI = Σ (a − e) · ln(a / e) over the bins. Rules of thumb:
below 0.1 stable, 0.1–0.25 moderate, above 0.25 a significant shift (the alert threshold, DRIFT_ALARM_PSI). The
shift in predictions compares the champion's predictions on both tables the same way.
"""

import numpy as np
from django.conf import settings

from datasets.models import FeatureSnapshot
from predictions.models import DriftReport, ModelVersion
from predictions.services.models import predict

BINS = 10
FLOOR = 1e-4  # an empty bin would make the logarithm infinite


def psi(reference: np.ndarray, current: np.ndarray, bins: int = BINS) -> float:
    reference = reference[np.isfinite(reference)]
    current = current[np.isfinite(current)]
    if len(reference) < bins or len(current) < bins:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:
        return 0.0 if np.allclose(np.unique(current), np.unique(reference)) else 1.0
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.clip(np.histogram(reference, edges)[0] / len(reference), FLOOR, None)
    actual = np.clip(np.histogram(current, edges)[0] / len(current), FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_check(*, model: ModelVersion, snapshot: FeatureSnapshot | None = None) -> DriftReport:
    snapshot = snapshot or FeatureSnapshot.objects.order_by("-created_at").first()
    reference, current = model.snapshot.to_frame(), snapshot.to_frame()
    inputs = set(model.options.get("required_columns") or reference.columns)
    columns = sorted(c for c in set(reference.columns) & set(current.columns) & inputs)
    values = {
        column: round(psi(reference[column].to_numpy(float), current[column].to_numpy(float)), 4) for column in columns
    }
    before, after = predict(model, reference)["value"], predict(model, current)["value"]
    shift = {
        "psi": round(psi(before.to_numpy(float), after.to_numpy(float)), 4),
        "mean_before": float(before.mean()),
        "mean_after": float(after.mean()),
        "p90_before": float(before.quantile(0.9)),
        "p90_after": float(after.quantile(0.9)),
    }
    report = DriftReport.objects.create(
        model=model, snapshot=snapshot, psi=values, max_psi=max(values.values(), default=0.0), prediction_shift=shift
    )
    if report.max_psi > settings.DRIFT_ALARM_PSI or shift["psi"] > settings.DRIFT_ALARM_PSI:
        from feedback.services.retraining import retrain_request

        retrain_request(user=None, reason=f"drift: PSI {max(report.max_psi, shift['psi']):.2f}", quiet=True)
    return report
