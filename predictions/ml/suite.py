"""High-level API for the platform's worker: train, evaluate, predict and explain from a feature-table snapshot.

    result = train_suite(table, target="disparity_ece18_4p", algorithms=None, options=None, progress=cb)
    model = result.champion_model                 # or result.algorithms["ridge"].model
    predictions = predict_table(model, table)     # DataFrame[value, lower, upper] for every district
    explanation = explain_table(model, table, top_k=5)
    manifest = artifacts.save_model(model, directory)

``table`` is the snapshot DataFrame indexed by 6-digit ubigeo (see ``reference_table.py`` for its columns).
``options`` (all optional, see ``features.DEFAULT_OPTIONS``): ``groups`` (feature group → on/off, including
``neighbour_outcomes``), ``weighting`` ("reliability"/"none"), ``fast`` (fewer trees/epochs/folds, for tests and
previews), ``n_splits``, ``schemes`` (default both "group" and "kfold"), ``conformal_alpha`` (0.1 → 90 %
intervals), ``conformal_scheme`` (which CV calibrates the intervals), ``params`` ({algorithm: estimator params}),
``n_jobs``. ``progress(percent, message)`` is called at least once per fold per model; it may raise to cancel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .conformal import NormalisedConformal
from .estimators import ALGORITHMS, WeightedEnsembleRegressor
from .evaluation import (
    FIT_COST,
    SCHEMES,
    ProgressCallback,
    ProgressTracker,
    baseline_reports,
    estimator_factory,
    evaluate_algorithm,
    make_folds,
)
from .explanation import explain_estimator
from .features import (
    NEIGHBOUR_GROUP,
    ModelData,
    build_xy,
    enabled_groups,
    factor_display_values,
    factor_label,
    factor_of,
    resolve_options,
    source_columns,
)
from .runtime import limited_threads
from .spatial import NeighbourAugmentedRegressor
from .targets import DEFAULT_TARGET, get_target

BACKGROUND_SIZE = 64
MIN_LABELLED = 30


@dataclass
class TrainedModel:
    """A model fitted on all labelled districts, with what it needs to predict, bound and explain any table."""

    algorithm: str
    target: str
    options: dict
    features: list[str]
    estimator: object
    conformal: NormalisedConformal
    target_mean: float
    background: pd.DataFrame
    random_state: int
    n_train: int

    def noise_variance(self, table: pd.DataFrame) -> np.ndarray:
        spec = get_target(self.target)
        return spec.sampling_variance(table, self.target_mean, use_coverage=False).to_numpy(dtype=float)

    def predict(self, table: pd.DataFrame, alpha: float | None = None) -> pd.DataFrame:
        return predict_table(self, table, {"conformal_alpha": alpha} if alpha is not None else None)


@dataclass
class AlgorithmResult:
    """Everything the platform stores about one trained algorithm (``summary()`` is JSON-serialisable)."""

    algorithm: str
    model: TrainedModel
    params: dict
    features: list[str]
    metrics: dict
    conformal: dict
    oof_predictions: dict[str, dict[str, float]]
    train_seconds: float

    def summary(self) -> dict:
        return {
            "algorithm": self.algorithm,
            "params": self.params,
            "features": self.features,
            "metrics": self.metrics,
            "conformal": self.conformal,
            "train_seconds": self.train_seconds,
        }


@dataclass
class SuiteResult:
    target: str
    options: dict
    algorithms: dict[str, AlgorithmResult]
    baselines: dict
    champion: str
    n_rows: int
    n_labelled: int
    random_state: int
    seconds: float
    observed: dict[str, float] = field(default_factory=dict)
    baseline_oof: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # baseline → scheme → oof

    @property
    def champion_model(self) -> TrainedModel:
        return self.algorithms[self.champion].model

    def summary(self) -> dict:
        """JSON-serialisable summary: metrics of every model and baseline, champion, data sizes.

        ``options`` are the resolved options plus ``features``, ``feature_groups`` (the enabled groups) and
        ``required_columns`` (the snapshot columns the models read; absent ones would be treated as missing).
        """
        features = next(iter(self.algorithms.values())).features if self.algorithms else []
        options = _jsonable(self.options) | {
            "features": list(features),
            "feature_groups": enabled_groups(self.target, self.options),
            "required_columns": source_columns(features),
        }
        return {
            "target": self.target,
            "target_label": get_target(self.target).label,
            "options": options,
            "champion": self.champion,
            "n_rows": self.n_rows,
            "n_labelled": self.n_labelled,
            "random_state": self.random_state,
            "seconds": self.seconds,
            "baselines": self.baselines,
            "algorithms": {name: r.summary() for name, r in self.algorithms.items()},
        }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _params_summary(estimator) -> dict:
    """Shallow, JSON-friendly parameters of the estimator and of what it wraps."""
    out = {}
    for key, value in estimator.get_params(deep=True).items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        elif isinstance(value, tuple | list) and all(isinstance(v, int | float | str) for v in value):
            out[key] = list(value)
    return out


def train_suite(
    table: pd.DataFrame,
    target: str = DEFAULT_TARGET,
    algorithms: list[str] | None = None,
    options: dict | None = None,
    progress: ProgressCallback | None = None,
    random_state: int = 0,
) -> SuiteResult:
    """Cross-validate (grouped and K-fold), calibrate intervals and fit every algorithm on all labelled rows."""
    opts = resolve_options(options)
    with limited_threads(opts.get("n_jobs", 1)):
        return _train_suite(table, target, algorithms, opts, progress, random_state)


def _train_suite(table, target, algorithms, opts, progress, random_state) -> SuiteResult:
    started = time.perf_counter()
    algorithms = list(algorithms or ALGORITHMS)
    unknown = [a for a in algorithms if a not in ALGORITHMS]
    if unknown:
        raise ValueError(f"Unknown algorithms {unknown}; known: {', '.join(ALGORITHMS)}")
    schemes = list(opts.get("schemes") or SCHEMES)
    if opts["conformal_scheme"] not in schemes:
        raise ValueError("conformal_scheme must be one of the evaluated schemes")
    spec = get_target(target)
    everything = build_xy(table, target, opts)
    data: ModelData = everything.subset(everything.labelled.to_numpy())
    if len(data.y) < MIN_LABELLED:
        raise ValueError(f"Only {len(data.y)} districts have {target}; at least {MIN_LABELLED} are needed")
    neighbours = NEIGHBOUR_GROUP in enabled_groups(target, opts)
    y = data.y.to_numpy(dtype=float)
    target_mean = float(y.mean())
    noise_var = data.noise_variance.to_numpy(dtype=float)
    folds = {s: make_folds(data.groups.to_numpy(), s, int(opts["n_splits"]), random_state) for s in schemes}

    n_folds = sum(len(np.unique(f)) for f in folds.values())
    total = sum(FIT_COST.get(a, 1.0) * (n_folds + 1) for a in algorithms) + n_folds
    tracker = ProgressTracker(progress, total)
    tracker.report("evaluating baselines")
    baselines, baseline_oofs = baseline_reports(data, folds, noise_var, opts["conformal_alpha"], spec.bounds)
    tracker.advance(n_folds, "baselines done")

    results: dict[str, AlgorithmResult] = {}
    for algorithm in algorithms:
        metrics, oofs = evaluate_algorithm(
            algorithm,
            data,
            folds,
            noise_var,
            options=opts,
            random_state=random_state,
            neighbours=neighbours,
            tracker=tracker,
        )
        calibration_oof = oofs[opts["conformal_scheme"]]
        conformal = NormalisedConformal(opts["conformal_alpha"], spec.bounds).fit(y - calibration_oof, noise_var)
        estimator = estimator_factory(algorithm, opts, random_state, neighbours)()
        fit_params = {}
        if algorithm == "ensemble":
            fit_params["progress"] = tracker.sub(FIT_COST[algorithm], f"{algorithm}: final fit")
        tracker.report(f"{algorithm}: final fit on {len(y)} districts")
        fit_started = time.perf_counter()
        estimator.fit(data.X, y, sample_weight=data.sample_weight.to_numpy(dtype=float), **fit_params)
        train_seconds = time.perf_counter() - fit_started
        tracker.advance(FIT_COST.get(algorithm, 1.0), f"{algorithm}: fitted")
        rng = np.random.default_rng(random_state)
        background_rows = rng.choice(len(y), size=min(BACKGROUND_SIZE, len(y)), replace=False)
        model = TrainedModel(
            algorithm=algorithm,
            target=target,
            options=opts,
            features=list(data.features),
            estimator=estimator,
            conformal=conformal,
            target_mean=target_mean,
            background=data.X.iloc[np.sort(background_rows)].copy(),
            random_state=random_state,
            n_train=len(y),
        )
        ids = data.X.index.astype(str)
        oof_out = {s: dict(zip(ids, np.round(o, 6).tolist(), strict=True)) for s, o in oofs.items()}
        conformal_summary = conformal.to_dict() | {"calibration_scheme": opts["conformal_scheme"]}
        results[algorithm] = AlgorithmResult(
            algorithm=algorithm,
            model=model,
            params=_params_summary(estimator),
            features=list(data.features),
            metrics=metrics,
            conformal=conformal_summary,
            oof_predictions=oof_out,
            train_seconds=train_seconds,
        )
    champion_scheme = "group" if "group" in schemes else schemes[0]
    champion = max(results, key=lambda a: results[a].metrics[champion_scheme]["r2"])
    tracker.report(f"done; champion {champion}")
    observed = dict(zip(data.X.index.astype(str), y.tolist(), strict=True))
    return SuiteResult(
        target=target,
        options=opts,
        algorithms=results,
        baselines=baselines,
        champion=champion,
        n_rows=len(everything.y),
        n_labelled=len(y),
        random_state=random_state,
        seconds=time.perf_counter() - started,
        observed=observed,
        baseline_oof={
            name: {s: dict(zip(data.X.index.astype(str), o.tolist(), strict=True)) for s, o in by_scheme.items()}
            for name, by_scheme in baseline_oofs.items()
        },
    )


def predict_table(model: TrainedModel, table: pd.DataFrame, options: dict | None = None) -> pd.DataFrame:
    """Prediction and conformal interval for every row of ``table``: DataFrame[value, lower, upper] by ubigeo.

    Features are built with the options the model was trained with (they define its inputs); ``options`` here
    only carries prediction settings: ``conformal_alpha`` (another interval level, no refit needed) and
    ``batch_size`` (rows per chunk, bounding memory on very large tables). Rows with missing inputs are imputed
    by the model, so every district gets a value.
    """
    options = options or {}
    alpha = options.get("conformal_alpha")
    batch = int(options.get("batch_size") or 200_000)
    data = build_xy(table, model.target, model.options, typical=model.target_mean)
    lo, hi = get_target(model.target).bounds
    values = np.empty(len(data.X))
    with limited_threads(options.get("n_jobs", model.options.get("n_jobs", 1))):
        for start in range(0, len(data.X), batch):
            values[start : start + batch] = model.estimator.predict(data.X.iloc[start : start + batch])
    values = np.clip(values, lo, hi)
    lower, upper = model.conformal.interval(values, data.noise_variance.to_numpy(dtype=float), alpha)
    return pd.DataFrame({"value": values, "lower": lower, "upper": upper}, index=data.X.index)


def predict_members(model: TrainedModel, table: pd.DataFrame) -> pd.DataFrame:
    """Prediction of each model an ensemble combines (one column per member), or of the single model.

    Lets the platform show how much the members agree. Values are clipped to the target's bounds; the ensemble's
    own value is the ``model.estimator.estimator_.named_weights_``-weighted mean of these columns (before clipping).
    """
    return predict_value_and_members(model, table)[1]


def predict_value_and_members(model: TrainedModel, table: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The model's own prediction (``predict_table``'s ``value``) and its members' (``predict_members``), from one
    pass over the members: the ensemble's value is their weighted sum, as ``WeightedEnsembleRegressor`` computes it.
    """
    data = build_xy(table, model.target, model.options)
    estimator = model.estimator
    if isinstance(estimator, NeighbourAugmentedRegressor):
        X, inner = estimator.augment(data.X), estimator.estimator_
    else:
        X, inner = data.X, estimator
    with limited_threads(model.options.get("n_jobs", 1)):
        if isinstance(inner, WeightedEnsembleRegressor):
            names = [name for name, _ in inner.estimators]
            array = X.to_numpy(dtype=float)  # the members were fitted on the ensemble's validated arrays
            columns = {name: member.predict(array) for name, member in zip(names, inner.estimators_, strict=True)}
            value = np.zeros(len(array))
            for weight, name in zip(inner.weights_, names, strict=True):
                if weight > 0:
                    value += weight * columns[name]
        else:
            columns = {model.algorithm: inner.predict(X)}
            value = columns[model.algorithm]
    lo, hi = get_target(model.target).bounds
    members = pd.DataFrame({name: np.clip(v, lo, hi) for name, v in columns.items()}, index=data.X.index)
    return pd.Series(np.clip(value, lo, hi), index=data.X.index, name="value"), members


@dataclass
class TableExplanation:
    """Top factors per district. ``base_value + Σ contributions (all factors) = output`` for every district."""

    base_value: float
    top_factors: dict[str, list[tuple[str, float | None, float]]]
    output: dict[str, float]
    labels: dict[str, str]
    contributions: pd.DataFrame


def explain_table(
    model: TrainedModel, table: pd.DataFrame, top_k: int | None = 5, n_permutations: int = 32
) -> TableExplanation:
    """Shapley top factors for every district of ``table`` (``top_k=None``: all factors), see ``explanation.py``."""
    data = build_xy(table, model.target, model.options)
    display = factor_display_values(table, model.target)
    with limited_threads(model.options.get("n_jobs", 1)):
        explanation = explain_estimator(
            model.estimator,
            data.X,
            model.background,
            factor_of(model.target),
            display,
            n_permutations=n_permutations,
            random_state=model.random_state,
        )
    k = explanation.contributions.shape[1] if top_k is None else top_k
    labels = {name: factor_label(name) for name in explanation.contributions.columns}
    output = dict(zip(explanation.output.index.astype(str), explanation.output.tolist(), strict=True))
    return TableExplanation(explanation.base_value, explanation.top(k), output, labels, explanation.contributions)
