"""Tests of the plain-Python ML package (no database): real shared data and small synthetic tables.

The real-data suite runs once per module with the ``fast`` option and three quick algorithms; the ensemble is
exercised on a small synthetic table. Whole file: well under a minute on 2 cores.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_estimator,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from predictions.ml import artifacts
from predictions.ml.conformal import NormalisedConformal, conformal_quantile, cross_conformal_coverage
from predictions.ml.estimators import ALGORITHMS, ImputedRidge, WeightedEnsembleRegressor, make_estimator
from predictions.ml.evaluation import make_folds
from predictions.ml.explanation import explain_estimator, permutation_shapley
from predictions.ml.features import build_xy, default_features, factor_of, feature_groups
from predictions.ml.mlp import TorchMLPRegressor
from predictions.ml.reference_table import build_feature_table
from predictions.ml.spatial import NeighbourAugmentedRegressor
from predictions.ml.suite import explain_table, predict_members, predict_table, predict_value_and_members, train_suite
from predictions.ml.targets import TARGETS, get_target

FAST = {"fast": True}
# Sample-weight equivalence (weights ≡ repeated rows) cannot hold: RidgeCV picks alpha by leave-one-out, which
# repeated rows change; the MLP and the ensemble train on random splits. Everything else in check_estimator passes.
WEIGHT_EQUIVALENCE = {"check_sample_weight_equivalence_on_dense_data": "alpha by LOO / random splits"}


def shared_data_dir() -> Path:
    for candidate in (os.environ.get("PERU_SHARED_DATA", ""), "/work/shared/data/peru"):
        if candidate and (Path(candidate) / "README.md").exists():
            return Path(candidate)
    pytest.skip("shared Peru data not found (set PERU_SHARED_DATA)")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return build_feature_table(shared_data_dir())


@pytest.fixture(scope="module")
def suite(table):
    calls: list[tuple[float, str]] = []
    result = train_suite(
        table,
        algorithms=["ridge", "hist_gradient_boosting", "mlp"],
        options=FAST,
        progress=lambda p, m: calls.append((p, m)),
    )
    result.progress_calls = calls
    return result


def synthetic_table(n_provinces: int = 24, per_province: int = 14, seed: int = 0) -> pd.DataFrame:
    """A small table with the snapshot's columns: spatially clustered districts, a noisy ECE 2018 target."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_provinces):
        centre = rng.uniform([-16, -78], [-4, -70])
        for d in range(per_province):
            rows.append((f"{10 + p // 6:02d}{p % 6 + 1:02d}{d + 1:02d}", *(centre + rng.normal(0, 0.3, 2))))
    t = pd.DataFrame(rows, columns=["ubigeo", "latitude", "longitude"]).set_index("ubigeo")
    n = len(t)
    region = np.sin(t["latitude"].to_numpy()) + np.cos(t["longitude"].to_numpy())
    poverty = np.clip(35 + 12 * region + rng.normal(0, 10, n), 0, 100)
    t["pob"] = np.exp(rng.normal(8.2, 1.2, n))
    t["superficie"] = np.exp(rng.normal(5.3, 1.0, n))
    t["pob_densidad_2020"] = t["pob"] / t["superficie"]
    t["altitude"] = rng.uniform(0, 4500, n)
    t["pct_pobreza_total"] = poverty
    t["pct_pobreza_extrema"] = poverty * rng.uniform(0.2, 0.5, n)
    t["indice_vulnerabilidad_alimentaria"] = np.clip(poverty / 100 + rng.normal(0, 0.05, n), 0, 1)
    t["idh_2019"] = np.clip(0.6 - poverty / 200, 0.05, 0.9)
    for name in ("agua", "desague", "electricidad", "internet"):
        t[name] = np.clip(100 - poverty + rng.normal(0, 10, n), 0, 100)
    t["indigenous_language_pct"] = np.clip(rng.normal(30, 25, n), 0, 100)
    t["places_count"] = rng.integers(1, 120, n).astype(float)
    t["places_urban"] = rng.integers(0, 3, n).astype(float)
    t["places_rural_share"] = 100 * (1 - t["places_urban"] / t["places_count"])
    t["places_mean_distance_km"] = rng.gamma(2, 4, n)
    t["places_max_distance_km"] = t["places_mean_distance_km"] * 2.5
    truth = np.clip(60 + 0.5 * poverty + 5 * region, 5, 98)
    for year, noise in (("ece16_4p", 8.0), ("ece18_4p", 8.0), ("ece19_2s", 6.0)):
        sat = np.clip(100 - truth + rng.normal(0, noise, n), 0, 100)
        t[f"{year}_cob_est"] = rng.uniform(85, 100, n)
        t[f"{year}_lec_sat"] = sat
        t[f"{year}_mat_sat"] = np.clip(sat + rng.normal(0, 3, n), 0, 100)
        t[f"{year}_lec_prev"] = np.clip(truth - 60 + rng.normal(0, 5, n), 0, 100)
    t["desercion_prim_23_24"] = rng.gamma(1, 1, n)
    t["atraso_prim_2025"] = rng.gamma(1, 1.2, n)
    t["admin_dropout_rate"] = rng.gamma(1.5, 1, n)
    unlabelled = rng.random(n) < 0.15
    t.loc[unlabelled, [c for c in t.columns if c.startswith("ece18_4p")]] = np.nan
    t["province"] = t.index.str[:4]
    t["department"] = t.index.str[:2]
    return t


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    return synthetic_table()


# -- data and features --------------------------------------------------------------------------------------


def test_reference_table_has_the_snapshot_shape(table):
    assert table.index.is_unique
    assert (table.index.str.len() == 6).all() and table.index.str.isdigit().all()
    assert "010101" in table.index  # leading zero kept
    assert 1850 <= len(table) <= 1900
    for column in ("pob", "ece18_4p_lec_sat", "admin_dropout_rate", "places_rural_share", "province"):
        assert column in table.columns
    assert table["places_rural_share"].dropna().between(0, 100).all()
    assert (table["places_max_distance_km"].dropna() >= table["places_mean_distance_km"].dropna()).all()
    assert (table["province"] == table.index.str[:4]).all()


def test_targets_follow_their_formula_and_labels_round_trip(table):
    spec = get_target("disparity_ece18_4p")
    y = spec.values(table)
    expected = 100 - (table["ece18_4p_lec_sat"] + table["ece18_4p_mat_sat"]) / 2
    pd.testing.assert_series_equal(y, expected, check_names=False)
    assert get_target("dropout").values(table).equals(table["admin_dropout_rate"].astype(float).rename("dropout"))
    missing = y[y.isna()].index[0]
    labelled = spec.with_label(table, missing, 42.5)
    assert spec.values(labelled)[missing] == pytest.approx(42.5)
    assert spec.values(table)[missing] != spec.values(table)[missing]  # the original is untouched (still NaN)
    with pytest.raises(ValueError, match="Unknown target"):
        get_target("nope")


def test_reliability_grows_with_population():
    spec = get_target("disparity_ece18_4p")
    t = pd.DataFrame({"pob": [300.0, 3000.0, 30000.0, np.nan], "ece18_4p_cob_est": [100.0, 100.0, 100.0, np.nan]})
    reliability = spec.reliability(t, 75.0).to_numpy()
    assert np.all(np.diff(reliability[:3]) > 0)
    assert 0 < reliability[0] < 0.5 < reliability[2] <= 1
    assert np.isfinite(reliability[3])


@pytest.mark.parametrize("target", list(TARGETS))
def test_features_never_include_the_target_or_its_evaluation(target):
    spec = get_target(target)
    for options in (None, {"groups": {"hdi": True, "school_records": True}}):
        features = default_features(target, options)
        assert not set(features) & set(spec.excluded_columns)
        assert not set(features) & set(spec.source_columns)
        assert "province" not in features and "department" not in features


def test_hdi_is_off_by_default_and_can_be_switched_on():
    groups = feature_groups()
    assert groups["hdi"].default is False
    assert "idh_2019" not in default_features()
    assert "idh_2019" in default_features(options={"groups": {"hdi": True}})
    assert "disparity_ece16_4p" not in default_features(options={"groups": {"prior_result": False}})
    with pytest.raises(ValueError, match="Unknown feature groups"):
        default_features(options={"groups": {"nonsense": True}})


def test_build_xy_returns_aligned_inputs(table):
    data = build_xy(table)
    assert list(data.X.columns) == data.features
    for part in (data.y, data.sample_weight, data.groups, data.coords, data.noise_variance):
        assert part.index.equals(data.X.index)
    labelled = data.labelled
    assert labelled.sum() == table["ece18_4p_lec_sat"].notna().sum()
    assert data.sample_weight[labelled].mean() == pytest.approx(1.0)
    assert (data.groups == data.X.index.str[:4]).all()


# -- estimators ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [ImputedRidge(), TorchMLPRegressor(max_epochs=60, n_models=1, patience=15)],
    ids=["ridge", "mlp"],
)
def test_check_estimator_passes(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(estimator, expected_failed_checks=WEIGHT_EQUIVALENCE)


def test_ensemble_passes_check_estimator():
    ensemble = WeightedEnsembleRegressor([("a", ImputedRidge()), ("b", ImputedRidge(alphas=(100.0,)))], cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(ensemble, expected_failed_checks=WEIGHT_EQUIVALENCE)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_keeps_the_estimator_contract(algorithm, synthetic):
    data = build_xy(synthetic)
    data = data.subset(data.labelled.to_numpy())
    estimator = make_estimator(algorithm, fast=True)
    name = type(estimator).__name__
    check_no_attributes_set_in_init(name, estimator)
    check_get_params_invariance(name, estimator)
    check_set_params(name, estimator)
    check_parameters_default_constructible(name, estimator)
    twin = clone(estimator)
    assert twin.get_params(deep=False).keys() == estimator.get_params(deep=False).keys()
    X = data.X.copy()
    X.iloc[::7, 3:9] = np.nan  # NaN anywhere is accepted
    assert estimator.fit(X, data.y, sample_weight=data.sample_weight.to_numpy()) is estimator
    prediction = estimator.predict(X)
    assert prediction.shape == (len(X),) and np.isfinite(prediction).all()
    assert not hasattr(twin, "estimator_")  # the clone stays unfitted


def test_make_estimator_passes_params_and_rejects_unknown_algorithms():
    forest = make_estimator("random_forest", {"n_estimators": 7, "neighbours": {"n_neighbors": 3}})
    assert forest.estimator.n_estimators == 7 and forest.n_neighbors == 3
    ensemble = make_estimator("ensemble", {"ridge__add_indicator": False})
    assert ensemble.estimator.get_params()["ridge__add_indicator"] is False
    assert not isinstance(make_estimator("ridge", neighbours=False), NeighbourAugmentedRegressor)
    with pytest.raises(ValueError, match="Unknown algorithm"):
        make_estimator("svm")


def test_mlp_is_deterministic_for_a_seed(synthetic):
    data = build_xy(synthetic)
    data = data.subset(data.labelled.to_numpy())

    def fit(seed):
        model = TorchMLPRegressor(max_epochs=30, n_models=2, random_state=seed)
        return model.fit(data.X, data.y.to_numpy(), sample_weight=data.sample_weight.to_numpy()).predict(data.X)

    state = torch.random.get_rng_state()
    first, second, other = fit(3), fit(3), fit(4)
    assert np.array_equal(first, second)
    assert not np.allclose(first, other)
    assert torch.equal(state, torch.random.get_rng_state())  # the global torch RNG is left alone


# -- neighbour features ----------------------------------------------------------------------------------------


def neighbour_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"latitude": rng.uniform(-15, -5, n), "longitude": rng.uniform(-78, -70, n), "x": rng.normal(size=n)},
        index=[f"{i:06d}" for i in range(n)],
    )
    return X, rng.normal(size=n)


def test_neighbour_features_leave_the_district_itself_out():
    X, y = neighbour_frame()
    y = np.zeros(len(X))
    y[0] = 1e6  # one district with an extreme value
    model = NeighbourAugmentedRegressor(ImputedRidge(), n_neighbors=5).fit(X, y)
    augmented = model.augment(X)
    own = augmented["nb_target_mean"].iloc[0]
    assert own == 0.0  # its own value never enters its neighbour mean
    assert (augmented["nb_target_mean"].iloc[1:] > 0).any()  # but it does enter its neighbours' means
    # Same coordinates under another id (a new district on the same spot) do see it.
    stranger = X.iloc[[0]].rename(index={X.index[0]: "999999"})
    assert model.augment(stranger)["nb_target_mean"].iloc[0] > 0


def test_neighbour_mean_of_pure_noise_does_not_predict_the_district_itself():
    """If a district's own value leaked into its neighbour feature, it would correlate with its target."""
    X, y = neighbour_frame(600, seed=1)
    model = NeighbourAugmentedRegressor(ImputedRidge(), n_neighbors=3).fit(X, y)
    feature = model.augment(X)["nb_target_mean"].to_numpy()
    assert abs(np.corrcoef(feature, y)[0, 1]) < 0.15


def test_neighbour_features_need_no_coordinates_to_predict():
    X, y = neighbour_frame()
    model = NeighbourAugmentedRegressor(ImputedRidge()).fit(X, y)
    blank = X.iloc[:3].copy()
    blank[["latitude", "longitude"]] = np.nan
    assert np.isfinite(model.predict(blank)).all()


# -- evaluation and conformal ---------------------------------------------------------------------------------


def test_grouped_folds_never_share_a_province(table):
    data = build_xy(table)
    data = data.subset(data.labelled.to_numpy())
    groups = data.groups.to_numpy()
    fold_of = make_folds(groups, "group", 5, random_state=0)
    assert len(np.unique(fold_of)) == 5
    for k in range(5):
        assert not set(groups[fold_of == k]) & set(groups[fold_of != k])
    shuffled = make_folds(groups, "kfold", 5, random_state=0)
    shared = sum(bool(set(groups[shuffled == k]) & set(groups[shuffled != k])) for k in range(5))
    assert shared == 5  # plain K-fold does mix provinces: the grouped scheme is doing the work


def test_conformal_quantile_is_the_finite_sample_rank():
    scores = np.arange(1, 20, dtype=float)  # n = 19: ceil(20 × 0.9) = 18th smallest
    assert conformal_quantile(scores, 0.1) == 18.0


def test_normalised_conformal_covers_90_percent_on_heteroscedastic_data():
    rng = np.random.default_rng(0)
    n = 4000
    noise_var = rng.lognormal(3, 1, n)  # very unequal noise, like small and large districts
    residual = rng.normal(0, np.sqrt(4 + noise_var))
    calibration = slice(0, n // 2)
    test = slice(n // 2, n)
    model = NormalisedConformal(0.1, bounds=None).fit(residual[calibration], noise_var[calibration])
    lower, upper = model.interval(np.zeros(n // 2), noise_var[test])
    covered = (residual[test] >= lower) & (residual[test] <= upper)
    assert 0.88 <= covered.mean() <= 0.92
    small, large = noise_var[test] > np.median(noise_var), noise_var[test] <= np.median(noise_var)
    assert abs(covered[small].mean() - covered[large].mean()) < 0.04  # adaptive: both halves covered
    assert (upper - lower)[large].mean() < (upper - lower)[small].mean()
    fixed = NormalisedConformal(0.1, bounds=None, adaptive=False).fit(residual[calibration], noise_var[calibration])
    lo, hi = fixed.interval(np.zeros(n // 2), noise_var[test])
    assert ((residual[test] >= lo) & (residual[test] <= hi))[small].mean() < covered[small].mean()


def test_cross_conformal_coverage_on_a_synthetic_regression():
    rng = np.random.default_rng(1)
    n = 3000
    noise_var = rng.lognormal(2, 1, n)
    y = rng.normal(0, np.sqrt(noise_var))
    fold_of = rng.integers(0, 5, n)
    report = cross_conformal_coverage(y, np.zeros(n), noise_var, fold_of, 0.1, bounds=None)
    assert 0.87 <= report["coverage"] <= 0.93


# -- the suite on the real data --------------------------------------------------------------------------------


def test_suite_reports_every_model_and_both_baselines(suite):
    import json

    summary = suite.summary()
    json.dumps(summary)  # JSON-serialisable
    assert set(suite.algorithms) == {"ridge", "hist_gradient_boosting", "mlp"}
    for result in suite.algorithms.values():
        for scheme in ("group", "kfold"):
            metrics = result.metrics[scheme]
            assert {"r2", "mae", "rmse", "weighted_r2", "interval_coverage", "interval_mean_width"} <= set(metrics)
            assert 0.8 <= metrics["interval_coverage"] <= 0.97
        assert len(result.oof_predictions["group"]) == suite.n_labelled
        assert result.conformal["quantile"] > 0
    for baseline in ("mean", "ridge"):
        assert set(suite.baselines[baseline]) == {"group", "kfold"}
    assert suite.champion in suite.algorithms
    assert "required_columns" in summary["options"] and "pob" in summary["options"]["required_columns"]


def test_models_beat_the_mean_baseline_on_grouped_cv(suite):
    mean_r2 = suite.baselines["mean"]["group"]["r2"]
    mean_mae = suite.baselines["mean"]["group"]["mae"]
    for result in suite.algorithms.values():
        assert result.metrics["group"]["r2"] > mean_r2 + 0.2
        assert result.metrics["group"]["mae"] < mean_mae


def test_progress_is_reported_per_fold_and_never_goes_back(suite):
    percents = [p for p, _ in suite.progress_calls]
    assert percents == sorted(percents) and percents[-1] == 100
    fold_messages = [m for _, m in suite.progress_calls if "fold" in m]
    assert len(fold_messages) >= 3 * 2 * 5  # at least once per fold, per scheme, per model


def test_progress_callback_can_cancel(table):
    class Cancelled(Exception):
        pass

    def cancel(percent, message):
        if "fold 2" in message:
            raise Cancelled

    with pytest.raises(Cancelled):
        train_suite(table, algorithms=["ridge"], options=FAST, progress=cancel)


def test_every_district_gets_a_prediction_and_an_interval(suite, table):
    model = suite.algorithms["hist_gradient_boosting"].model
    blank = pd.DataFrame(np.nan, index=["999901"], columns=table.columns)
    everything = pd.concat([table, blank])
    predicted = predict_table(model, everything)
    assert list(predicted.columns) == ["value", "lower", "upper"]
    assert predicted.index.equals(everything.index)
    assert predicted.notna().all().all()
    assert (predicted["lower"] <= predicted["value"]).all() and (predicted["value"] <= predicted["upper"]).all()
    assert predicted["value"].between(0, 100).all()
    # A small district gets a wider interval than a city.
    width = predicted["upper"] - predicted["lower"]
    assert width[table["pob"].idxmin()] > width[table["pob"].idxmax()]
    # One row alone is predicted exactly as within the table.
    alone = predict_table(model, table.iloc[[10]])
    assert alone["value"].iloc[0] == pytest.approx(predicted["value"].iloc[10], abs=1e-9)


def test_suite_is_deterministic(table):
    first = train_suite(table, algorithms=["ridge", "mlp"], options=FAST | {"schemes": ["group"]})
    second = train_suite(table, algorithms=["ridge", "mlp"], options=FAST | {"schemes": ["group"]})
    for name in ("ridge", "mlp"):
        assert first.algorithms[name].metrics["group"]["r2"] == second.algorithms[name].metrics["group"]["r2"]
        assert first.algorithms[name].oof_predictions == second.algorithms[name].oof_predictions


def test_explanations_add_up_to_the_prediction(suite, table):
    model = suite.algorithms["mlp"].model
    explanation = explain_table(model, table.iloc[:200], top_k=None)
    contributions = explanation.contributions
    output = pd.Series(explanation.output)
    assert np.allclose(explanation.base_value + contributions.sum(axis=1), output, atol=1e-6)
    unclipped = model.estimator.predict(build_xy(table.iloc[:200], model.target, model.options).X)
    assert np.allclose(output.to_numpy(), unclipped, atol=1e-6)
    assert "neighbour_outcomes" in contributions.columns and "result_ece16_4p" in contributions.columns
    top = explain_table(model, table.iloc[:20], top_k=3).top_factors
    for factors in top.values():
        assert len(factors) == 3
        sizes = [abs(c) for _, _, c in factors]
        assert sizes == sorted(sizes, reverse=True)


def test_shapley_of_an_additive_model_is_exact():
    """For a linear model, a factor's value is its linear term centred on the background, for any ordering."""
    rng = np.random.default_rng(0)
    beta = np.array([2.0, -1.0, 0.5, 3.0])
    X, background = rng.normal(size=(50, 4)), rng.normal(size=(8, 4))
    players = [np.array([0]), np.array([1, 2]), np.array([3])]
    phi, base = permutation_shapley(lambda Z: Z @ beta, X, background, players, n_permutations=16)
    assert np.allclose(phi.sum(axis=1) + base, X @ beta)
    offsets = []
    for j, columns in enumerate(players):
        offset = phi[:, j] - X[:, columns] @ beta[columns]
        assert np.allclose(offset, offset[0])  # the same centring for every district
        offsets.append(offset[0])
    assert sum(offsets) == pytest.approx(-base)


def test_predict_members_lists_the_single_model(suite, table):
    members = predict_members(suite.algorithms["ridge"].model, table.iloc[:5])
    assert list(members.columns) == ["ridge"]
    value, same = predict_value_and_members(suite.algorithms["ridge"].model, table.iloc[:5])
    assert same.equals(members)
    assert np.allclose(value, predict_table(suite.algorithms["ridge"].model, table.iloc[:5])["value"])


# -- the ensemble and artifacts (synthetic, small) ------------------------------------------------------------


@pytest.fixture(scope="module")
def ensemble_suite(synthetic):
    return train_suite(synthetic, algorithms=["ensemble"], options=FAST | {"schemes": ["group"], "n_splits": 3})


def test_ensemble_learns_convex_weights_and_explains(ensemble_suite, synthetic):
    model = ensemble_suite.algorithms["ensemble"].model
    weights = model.estimator.estimator_.weights_
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0)
    members = predict_members(model, synthetic)
    assert list(members.columns) == ["ridge", "random_forest", "hist_gradient_boosting", "mlp"]
    value, same = predict_value_and_members(model, synthetic)  # one pass gives the ensemble's own value too
    assert same.equals(members)
    assert np.allclose(value, predict_table(model, synthetic)["value"])
    data = build_xy(synthetic, model.target, model.options)
    background = model.background
    explanation = explain_estimator(model.estimator, data.X, background, factor_of(), n_permutations=8)
    assert np.allclose(explanation.base_value + explanation.contributions.sum(axis=1), explanation.output)


def test_artifacts_round_trip_with_identical_predictions(ensemble_suite, synthetic, tmp_path):
    model = ensemble_suite.algorithms["ensemble"].model
    manifest = artifacts.save_model(model, tmp_path / "model")
    assert set(manifest["files"]) == {artifacts.MODEL_FILE, artifacts.TORCH_FILE}
    assert all(len(digest) == 64 for digest in manifest["files"].values())
    # The torch part is plain tensors: loadable with weights_only=True.
    states = torch.load(tmp_path / "model" / artifacts.TORCH_FILE, weights_only=True)
    assert states and all(isinstance(t, torch.Tensor) for state in states.values() for t in state.values())
    # The joblib part holds no network: unpickled alone, the MLP refuses to come back without its tensors.
    with pytest.raises(RuntimeError, match="torch state"):
        joblib.load(tmp_path / "model" / artifacts.MODEL_FILE)
    loaded = artifacts.load_model(tmp_path / "model", expected_sha256=manifest["sha256"])
    before, after = predict_table(model, synthetic), predict_table(loaded, synthetic)
    assert np.array_equal(before.to_numpy(), after.to_numpy())


def test_artifacts_refuse_modified_files(ensemble_suite, tmp_path):
    model = ensemble_suite.algorithms["ensemble"].model
    manifest = artifacts.save_model(model, tmp_path / "model")
    with pytest.raises(ValueError, match="expected SHA-256"):
        artifacts.load_model(tmp_path / "model", expected_sha256="0" * 64)
    path = tmp_path / "model" / artifacts.MODEL_FILE
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ValueError, match="manifest"):
        artifacts.load_model(tmp_path / "model", expected_sha256=manifest["sha256"])


def test_single_mlp_round_trips_through_torch_state(synthetic, tmp_path):
    data = build_xy(synthetic)
    data = data.subset(data.labelled.to_numpy())
    mlp = TorchMLPRegressor(max_epochs=20, n_models=2).fit(data.X, data.y)
    artifacts.save_model(mlp, tmp_path / "mlp")
    loaded = artifacts.load_model(tmp_path / "mlp")
    assert np.array_equal(mlp.predict(data.X), loaded.predict(data.X))
