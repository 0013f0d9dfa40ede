"""Quality and speed of the disparity models on the real shared Peru data.

    .venv/bin/python -m bench.ml_quality [--fast] [--rows 1000000] [--row-sample 100] [--ablation] [--json out.json]

Builds the feature table from the shared CSVs (``predictions.ml.reference_table``), runs the default suite
(``train_suite``: grouped-by-province and shuffled 5-fold CV, baselines, conformal calibration, final fits) and
prints, per model: grouped-CV R², MAE, RMSE (and the fold-to-fold spread of R²), K-fold R² and MAE, 90 % interval
coverage and mean width, training time, and scoring throughput for all districts and for a generated
1,000,000-row table, batch vs row by row (row by row on a sample, extrapolated). A default scikit-learn random
forest (no neighbour features, no weights, default hyper-parameters) is scored on the same folds as a reference,
and the share of the remaining error that behaves like sampling noise is estimated from the conformal scale fit.
``--ablation`` also switches each feature group from its default (grouped CV, ridge and gradient boosting).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from predictions.ml import artifacts
from predictions.ml.conformal import fit_scale
from predictions.ml.evaluation import cross_val_oof, make_folds, regression_metrics
from predictions.ml.features import build_xy
from predictions.ml.reference_table import build_feature_table
from predictions.ml.suite import explain_table, predict_table, train_suite

PERCENT_COLUMNS = (
    "agua",
    "desague",
    "electricidad",
    "internet",
    "indigenous_language_pct",
    "pct_pobreza_total",
    "pct_pobreza_extrema",
    "places_rural_share",
)


def generated_table(table: pd.DataFrame, n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` synthetic districts: real rows resampled, coordinates and indicators jittered, new ids."""
    rng = np.random.default_rng(seed)
    out = table.iloc[rng.integers(0, len(table), n_rows)].copy()
    out.index = pd.Index([f"G{i:07d}" for i in range(n_rows)], name="ubigeo")
    out["latitude"] = out["latitude"] + rng.normal(0, 0.05, n_rows)
    out["longitude"] = out["longitude"] + rng.normal(0, 0.05, n_rows)
    numeric = [c for c in out.columns if c not in ("province", "department", "latitude", "longitude")]
    out[numeric] = out[numeric] * np.exp(rng.normal(0, 0.05, (n_rows, len(numeric))))
    for column in PERCENT_COLUMNS:
        out[column] = out[column].clip(0, 100)
    return out


def throughput(model, table: pd.DataFrame, big: pd.DataFrame, row_sample: int) -> dict:
    """Rows per second: batch on all districts, batch on the big table, row by row on a sample."""
    started = time.perf_counter()
    predict_table(model, table)
    batch_all = len(table) / (time.perf_counter() - started)
    started = time.perf_counter()
    predict_table(model, big, {"batch_size": 200_000})
    batch_big_seconds = time.perf_counter() - started
    sample = table.iloc[np.linspace(0, len(table) - 1, row_sample).astype(int)]
    started = time.perf_counter()
    for i in range(len(sample)):
        predict_table(model, sample.iloc[[i]])
    per_row = (time.perf_counter() - started) / len(sample)
    return {
        "batch_all_rows_per_s": batch_all,
        "batch_big_rows_per_s": len(big) / batch_big_seconds,
        "batch_big_seconds": batch_big_seconds,
        "row_by_row_rows_per_s": 1.0 / per_row,
        "row_by_row_big_extrapolated_seconds": per_row * len(big),
    }


def reference_forest(table: pd.DataFrame, random_state: int = 0) -> tuple[dict, pd.Series]:
    """A default scikit-learn random forest on the default features, same folds as the suite.

    Returns its metrics by scheme and its grouped-CV out-of-fold predictions.
    """
    data = build_xy(table)
    data = data.subset(data.labelled.to_numpy())
    out, group_oof = {}, None
    for scheme in ("group", "kfold"):
        fold_of = make_folds(data.groups.to_numpy(), scheme, 5, random_state)
        oof, _ = cross_val_oof(
            lambda: RandomForestRegressor(random_state=random_state), data, fold_of, use_weights=False
        )
        out[scheme] = regression_metrics(data.y.to_numpy(), oof)
        if scheme == "group":
            group_oof = pd.Series(oof, index=data.X.index)
    return out, group_oof


ABLATIONS = {
    "default groups": {},
    "− prior_result (ECE 2016)": {"prior_result": False},
    "− related_results (ECE 2019)": {"related_results": False},
    "− both ECE groups (structural)": {"prior_result": False, "related_results": False},
    "− school_records": {"school_records": False},
    "− neighbour_outcomes": {"neighbour_outcomes": False},
    "+ hdi": {"hdi": True},
}


def ablation(table: pd.DataFrame, algorithms=("ridge", "hist_gradient_boosting")) -> dict:
    """Grouped-CV R² / MAE of quick models with each feature group switched from its default."""
    out = {}
    for label, groups in ABLATIONS.items():
        result = train_suite(table, algorithms=list(algorithms), options={"groups": groups, "schemes": ["group"]})
        out[label] = {a: r.metrics["group"] for a, r in result.algorithms.items()}
        cells = "".join(f"{m['r2']:>9.3f}{m['mae']:>7.2f}" for m in out[label].values())
        print(f"{label:<34}{cells}")
    return out


def fmt(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--fast", action="store_true", help="the suite's fast option (fewer trees / epochs)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated scoring table")
    parser.add_argument("--row-sample", type=int, default=100, help="rows scored one at a time per model")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--ablation", action="store_true", help="also switch each feature group (grouped CV)")
    args = parser.parse_args(argv)

    table = build_feature_table(args.data_dir)
    print(f"feature table: {table.shape[0]} districts × {table.shape[1]} columns; cpus={os.cpu_count()}")
    last = [-10.0]

    def progress(percent: float, message: str) -> None:
        if percent - last[0] >= 10 or percent >= 100:
            last[0] = percent
            print(f"  {percent:5.1f}%  {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    result = train_suite(table, options={"fast": args.fast}, progress=progress)
    suite_seconds = time.perf_counter() - started
    print(f"suite trained in {suite_seconds:.1f} s; {result.n_labelled} labelled of {result.n_rows} districts")

    header = (
        f"{'model':<24}{'G R2':>7}{'±sd':>6}{'G MAE':>7}{'G RMSE':>8}{'K R2':>7}{'K MAE':>7}"
        f"{'cov90 G':>8}{'width':>7}{'cov K':>7}{'small':>7}{'large':>7}{'train s':>8}{'CV s':>7}"
    )
    print("\n" + header + "\n" + "-" * len(header))

    def row(name, metrics, train=None):
        g, k = metrics["group"], metrics["kfold"]
        cv_seconds = g.get("cv_seconds", 0) + k.get("cv_seconds", 0) if "cv_seconds" in g else None
        print(
            f"{name:<24}{g['r2']:>7.3f}{fmt(g.get('r2_fold_sd'), 3):>6}{g['mae']:>7.2f}{g['rmse']:>8.2f}"
            f"{k['r2']:>7.3f}{k['mae']:>7.2f}{fmt(g.get('interval_coverage')):>8}"
            f"{fmt(g.get('interval_mean_width'), 1):>7}{fmt(k.get('interval_coverage')):>7}"
            f"{fmt(g.get('interval_coverage_small_districts')):>7}{fmt(g.get('interval_coverage_large_districts')):>7}"
            f"{fmt(train, 1):>8}{fmt(cv_seconds, 1):>7}"
        )

    for name, algorithm in result.algorithms.items():
        row(name + (" *" if name == result.champion else ""), algorithm.metrics, algorithm.train_seconds)
    row("baseline: fold mean", result.baselines["mean"])
    row("baseline: plain ridge", result.baselines["ridge"])
    forest, forest_oof = reference_forest(table)
    row("reference: default RF", forest)
    print("(* champion, best grouped-CV R²; cov = empirical coverage of the 90 % conformal intervals on held-out")
    print(" folds, small/large = districts below/above the median population; widths in percentage points)")

    champion = result.algorithms[result.champion]
    observed = pd.Series(result.observed)
    oof = pd.Series(champion.oof_predictions["group"]).reindex(observed.index)
    data = build_xy(table)
    noise = data.noise_variance.reindex(observed.index).to_numpy()
    tau2, c = fit_scale((observed - oof).to_numpy(), noise)
    noise_part = float(np.mean(c * noise))
    print(
        f"\nchampion's grouped-CV residual variance ≈ τ² {tau2:.1f} + c·v(pupils) {noise_part:.1f} (mean): "
        f"{noise_part / (tau2 + noise_part):.0%} of the remaining error scales like the sampling noise of small "
        "districts (∝ 1/expected pupils)"
    )
    pob = table["pob"].reindex(observed.index)
    large = (pob >= pob.median()).to_numpy()
    print("grouped-CV metrics by district size (population above / below the labelled median):")
    subgroups = {}
    candidates = {
        f"{result.champion} (champion)": oof,
        "baseline: plain ridge": pd.Series(result.baseline_oof["ridge"]["group"]).reindex(observed.index),
        "reference: default RF": forest_oof.reindex(observed.index),
    }
    for name, prediction in candidates.items():
        big = regression_metrics(observed[large], prediction[large])
        small = regression_metrics(observed[~large], prediction[~large])
        subgroups[name] = {"large": big, "small": small}
        print(
            f"  {name:<30} large: R² {big['r2']:.3f} MAE {big['mae']:.2f}   small: R² {small['r2']:.3f} "
            f"MAE {small['mae']:.2f}"
        )
    group_r2 = champion.metrics["group"]["r2"]
    for name in ("mean", "ridge"):
        gain = group_r2 - result.baselines[name]["group"]["r2"]
        print(f"champion vs baseline {name}: grouped-CV R² {gain:+.3f}")
    print(f"champion vs default random forest: grouped-CV R² {group_r2 - forest['group']['r2']:+.3f}")
    if "ensemble" in result.algorithms:
        inner = result.algorithms["ensemble"].model.estimator
        weights = getattr(inner, "estimator_", inner).named_weights_
        print("ensemble weights: " + ", ".join(f"{name} {w:.2f}" for name, w in weights.items()))

    print(f"\nscoring throughput (rows/s); generated table of {args.rows:,} rows")
    big = generated_table(table, args.rows)
    print(f"{'model':<24}{'batch all':>12}{'batch big':>12}{'big s':>8}{'row-by-row':>12}{'big row-by-row s':>18}")
    speeds = {}
    for name, algorithm in result.algorithms.items():
        speed = throughput(algorithm.model, table, big, args.row_sample)
        speeds[name] = speed
        print(
            f"{name:<24}{speed['batch_all_rows_per_s']:>12,.0f}{speed['batch_big_rows_per_s']:>12,.0f}"
            f"{speed['batch_big_seconds']:>8.1f}{speed['row_by_row_rows_per_s']:>12,.1f}"
            f"{speed['row_by_row_big_extrapolated_seconds']:>18,.0f}"
        )
    del big

    started = time.perf_counter()
    explanation = explain_table(champion.model, table, top_k=5)
    explain_seconds = time.perf_counter() - started
    print(f"\nexplanations ({result.champion}, {len(explanation.top_factors)} districts): {explain_seconds:.1f} s")
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        manifest = artifacts.save_model(champion.model, directory)
        saved = time.perf_counter() - started
        size = sum(os.path.getsize(os.path.join(directory, f)) for f in manifest["files"])
        started = time.perf_counter()
        artifacts.load_model(directory, manifest["sha256"])
        loaded = time.perf_counter() - started
    print(f"artifact: {size / 1e6:.1f} MB, save {saved:.2f} s, load {loaded:.2f} s")

    ablations = None
    if args.ablation:
        print("\nfeature-group ablation, grouped CV (R², MAE):     ridge        hist_gradient_boosting")
        ablations = ablation(table)

    figures = {
        "suite": result.summary(),
        "suite_seconds": suite_seconds,
        "reference_default_random_forest": forest,
        "by_size": subgroups,
        "ablation": ablations,
        "noise": {"tau2": tau2, "noise_part": noise_part, "target_variance": float(observed.var())},
        "throughput": speeds,
        "explain_seconds": explain_seconds,
        "artifact_bytes": size,
    }
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    return figures


if __name__ == "__main__":
    main()
