"""Cross-validation, baselines, metrics and conformal coverage.

Two schemes, 5 folds each, on the labelled districts:

* ``group``: ``GroupKFold`` on the 4-digit province. A district's province neighbours are never in its training
  fold, so the spatial neighbour features and spatially correlated inputs cannot flatter the score. This is the
  pessimistic scheme (a whole province without results) and the one the champion is chosen on.
* ``kfold``: shuffled ``KFold``: districts missing at random among labelled neighbours, closer to the usual case
  of a district whose own results were suppressed.

For each model and both schemes: R², MAE, RMSE, unweighted and weighted by reliability; two baselines (the
training-fold mean, and a plain ridge on the default features without neighbour features or weights); the
empirical coverage and mean width of the 90 % conformal intervals, each fold calibrated on the other folds'
out-of-fold residuals (``conformal.cross_conformal_coverage``). Out-of-fold predictions are returned for the
predicted-vs-observed plot. Everything is deterministic for a given ``random_state``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import GroupKFold, KFold

from .conformal import cross_conformal_coverage
from .estimators import ImputedRidge, make_estimator
from .features import ModelData
from .targets import get_target

SCHEMES = ("group", "kfold")
ProgressCallback = Callable[[float, str], None]
# Rough relative cost of one fit, to spread the progress percentage evenly over time.
FIT_COST = {"ridge": 1.0, "random_forest": 4.0, "hist_gradient_boosting": 4.0, "mlp": 6.0, "ensemble": 60.0}


class ProgressTracker:
    """Turns units of work into ``progress(percent, message)`` calls (percent in 0-100, never decreasing)."""

    def __init__(self, callback: ProgressCallback | None, total: float, start: float = 0.0, end: float = 100.0):
        self.callback = callback
        self.total = max(total, 1e-9)
        self.done = 0.0
        self.start = start
        self.end = end

    def percent(self, extra: float = 0.0) -> float:
        share = min(1.0, (self.done + extra) / self.total)
        return self.start + (self.end - self.start) * share

    def report(self, message: str, extra: float = 0.0) -> None:
        if self.callback is not None:
            self.callback(round(self.percent(extra), 2), message)

    def advance(self, units: float, message: str) -> None:
        self.done += units
        self.report(message)

    def sub(self, units: float, message: str) -> ProgressCallback:
        """A callback for work inside one step: fraction (0-1) of ``units`` done so far."""

        def inner(fraction: float, detail: str) -> None:
            self.report(f"{message}: {detail}", extra=units * min(max(fraction, 0.0), 1.0))

        return inner


def make_folds(groups, scheme: str, n_splits: int = 5, random_state: int = 0) -> np.ndarray:
    """Fold number of every row: grouped by ``groups`` (province) or shuffled K-fold."""
    groups = np.asarray(groups)
    n_splits = int(min(n_splits, len(np.unique(groups)) if scheme == "group" else len(groups)))
    if scheme == "group":
        splitter = GroupKFold(n_splits, shuffle=True, random_state=random_state)
        splits = splitter.split(np.zeros(len(groups)), groups=groups)
    elif scheme == "kfold":
        splits = KFold(n_splits, shuffle=True, random_state=random_state).split(np.zeros(len(groups)))
    else:
        raise ValueError(f"Unknown CV scheme {scheme!r}")
    fold_of = np.empty(len(groups), dtype=int)
    for k, (_, test) in enumerate(splits):
        fold_of[test] = k
    return fold_of


def regression_metrics(y, prediction, weight=None) -> dict[str, float]:
    """R², MAE, RMSE (and their reliability-weighted versions when ``weight`` is given), as plain floats."""
    y = np.asarray(y, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    out = {
        "r2": float(r2_score(y, prediction)),
        "mae": float(mean_absolute_error(y, prediction)),
        "rmse": float(np.sqrt(mean_squared_error(y, prediction))),
        "n": int(len(y)),
    }
    if weight is not None:
        w = np.asarray(weight, dtype=float)
        out["weighted_r2"] = float(r2_score(y, prediction, sample_weight=w))
        out["weighted_mae"] = float(mean_absolute_error(y, prediction, sample_weight=w))
        out["weighted_rmse"] = float(np.sqrt(mean_squared_error(y, prediction, sample_weight=w)))
    return out


def _fit(model, X, y, weight, **fit_params):
    if weight is None:
        return model.fit(X, y, **fit_params)
    return model.fit(X, y, sample_weight=weight, **fit_params)


def cross_val_oof(
    factory: Callable[[], object],
    data: ModelData,
    fold_of: np.ndarray,
    *,
    use_weights: bool = True,
    tracker: ProgressTracker | None = None,
    units_per_fold: float = 1.0,
    label: str = "model",
    pass_progress: bool = False,
) -> tuple[np.ndarray, float]:
    """Out-of-fold predictions of fresh ``factory()`` models, and the total fit+predict time in seconds."""
    y = data.y.to_numpy(dtype=float)
    w = data.sample_weight.to_numpy(dtype=float) if use_weights else None
    oof = np.full(len(y), np.nan)
    seconds = 0.0
    folds = np.unique(fold_of)
    for k in folds:
        train, test = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        message = f"{label}: fold {k + 1}/{len(folds)}"
        fit_params = {}
        if pass_progress and tracker is not None:
            fit_params["progress"] = tracker.sub(units_per_fold, message)
        started = time.perf_counter()
        model = _fit(factory(), data.X.iloc[train], y[train], None if w is None else w[train], **fit_params)
        oof[test] = model.predict(data.X.iloc[test])
        seconds += time.perf_counter() - started
        if tracker is not None:
            tracker.advance(units_per_fold, message)
    return oof, seconds


def noise_variance(data: ModelData, table_like, target_mean: float) -> np.ndarray:
    """The target's sampling variance for each row of ``table_like`` (population only: see ``conformal.py``)."""
    spec = get_target(data.target)
    return spec.sampling_variance(table_like, target_mean, use_coverage=False).to_numpy(dtype=float)


def scheme_report(
    data: ModelData, oof: np.ndarray, fold_of: np.ndarray, noise_var: np.ndarray, alpha: float, bounds
) -> dict:
    """Metrics and cross-conformal coverage of one model's out-of-fold predictions under one scheme."""
    y = data.y.to_numpy(dtype=float)
    w = data.sample_weight.to_numpy(dtype=float)
    report = regression_metrics(y, oof, w)
    fold_r2 = [float(r2_score(y[fold_of == k], oof[fold_of == k])) for k in np.unique(fold_of)]
    report["r2_fold_mean"] = float(np.mean(fold_r2))
    report["r2_fold_sd"] = float(np.std(fold_r2, ddof=1)) if len(fold_r2) > 1 else 0.0
    coverage = cross_conformal_coverage(y, oof, noise_var, fold_of, alpha, bounds)
    report["interval_coverage"] = coverage["coverage"]
    report["interval_mean_width"] = coverage["mean_width"]
    small = noise_var >= np.median(noise_var)
    report["interval_coverage_small_districts"] = float(coverage["covered"][small].mean())
    report["interval_coverage_large_districts"] = float(coverage["covered"][~small].mean())
    return report


def baseline_reports(
    data: ModelData, folds: dict[str, np.ndarray], noise_var: np.ndarray, alpha: float, bounds
) -> tuple[dict, dict]:
    """Metrics of the two baselines under every scheme, and their out-of-fold predictions."""
    y = data.y.to_numpy(dtype=float)
    reports: dict[str, dict] = {"mean": {}, "ridge": {}}
    oofs: dict[str, dict] = {"mean": {}, "ridge": {}}
    for scheme, fold_of in folds.items():
        mean_oof = np.empty(len(y))
        for k in np.unique(fold_of):
            mean_oof[fold_of == k] = y[fold_of != k].mean()
        ridge_oof, _ = cross_val_oof(ImputedRidge, data, fold_of, use_weights=False, label="baseline ridge")
        ridge_oof = np.clip(ridge_oof, *bounds)
        for name, oof in (("mean", mean_oof), ("ridge", ridge_oof)):
            reports[name][scheme] = scheme_report(data, oof, fold_of, noise_var, alpha, bounds)
            oofs[name][scheme] = oof
    return reports, oofs


def estimator_factory(algorithm: str, options: dict, random_state: int, neighbours: bool) -> Callable[[], object]:
    """A zero-argument constructor of the configured estimator (fresh, unfitted, same seed every time)."""
    params = dict((options.get("params") or {}).get(algorithm) or {})

    def factory():
        return make_estimator(
            algorithm,
            params,
            random_state,
            fast=bool(options.get("fast")),
            neighbours=neighbours,
            n_jobs=options.get("n_jobs", 1),
        )

    return factory


def evaluate_algorithm(
    algorithm: str,
    data: ModelData,
    folds: dict[str, np.ndarray],
    noise_var: np.ndarray,
    *,
    options: dict,
    random_state: int,
    neighbours: bool,
    tracker: ProgressTracker | None = None,
) -> tuple[dict, dict]:
    """Cross-validate one algorithm under every scheme: (metrics by scheme, out-of-fold predictions by scheme)."""
    spec = get_target(data.target)
    factory = estimator_factory(algorithm, options, random_state, neighbours)
    reports, oofs = {}, {}
    for scheme, fold_of in folds.items():
        oof, seconds = cross_val_oof(
            factory,
            data,
            fold_of,
            tracker=tracker,
            units_per_fold=FIT_COST.get(algorithm, 1.0),
            label=f"{algorithm} ({scheme} CV)",
            pass_progress=algorithm == "ensemble",
        )
        oof = np.clip(oof, *spec.bounds)
        report = scheme_report(data, oof, fold_of, noise_var, options["conformal_alpha"], spec.bounds)
        report["cv_seconds"] = seconds
        reports[scheme], oofs[scheme] = report, oof
    return reports, oofs
