"""Spatial neighbour features of known outcomes, learned inside ``fit`` so that cross-validation cannot leak.

Learning outcomes are strongly spatially correlated (same UGEL, same language area, same roads), so the results of
the nearest districts that *have* results are a strong predictor for a district that has none. They must be
computed from training targets only and never include the district's own value: otherwise a district's label would
sit among its own inputs, and every cross-validated score would be a fraud. ``NeighbourAugmentedRegressor`` is a
meta-estimator that

1. in ``fit`` keeps the training districts (ids from the DataFrame index, coordinates, targets, reliability
   weights) as the reference set and adds, for each training row, the neighbour features computed from the *other*
   training districts (leave-self-out);
2. in ``predict`` computes the same features for any row from the reference set, again leaving out a reference
   district with the same id (so in-sample predictions for a labelled district never see its own value);
3. fits / applies the wrapped estimator on the augmented inputs.

Neighbour features: the inverse-distance and reliability weighted mean target of the ``n_neighbors`` nearest
reference districts (``w = reliability / (distance_km + offset_km)``: a 6-pupil neighbour counts less than a
600-pupil one), the mean distance to them (how local the information is), and, for ``neighbour_columns``, the same
weighted mean of those input columns among the neighbours (e.g. their earlier test result). Rows without
coordinates get NaN, which every estimator here handles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.neighbors import BallTree
from sklearn.utils.validation import check_is_fitted

from .features import LAT, LON

EARTH_RADIUS_KM = 6371.0088
NEIGHBOUR_PREFIX = "nb_"


def _frame(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError("NeighbourAugmentedRegressor needs a DataFrame with latitude/longitude columns")
    return X


class NeighbourAugmentedRegressor(RegressorMixin, BaseEstimator):
    """Wrap ``estimator`` with leave-self-out spatial neighbour features of the training targets.

    Parameters
    ----------
    estimator : regressor accepting NaN inputs (and ``sample_weight``).
    n_neighbors : number of reference districts averaged.
    offset_km : added to distances in the inverse-distance weights (avoids a single very close neighbour taking
        all the weight; about the size of a small district).
    neighbour_columns : input columns also averaged over the neighbours.
    """

    def __init__(self, estimator=None, n_neighbors: int = 10, offset_km: float = 5.0, neighbour_columns=()):
        self.estimator = estimator
        self.n_neighbors = n_neighbors
        self.offset_km = offset_km
        self.neighbour_columns = neighbour_columns

    # -- reference set ------------------------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Keep the reference set, add leave-self-out neighbour features, fit the wrapped estimator.

        Extra ``fit_params`` (e.g. the ensemble's ``progress``) go to the wrapped estimator's ``fit``.
        """
        X = _frame(X)
        y = np.asarray(y, dtype=float)
        if np.isnan(y).any():
            raise ValueError("y contains NaN: fit on labelled rows only")
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        coords = X[[LAT, LON]].to_numpy(dtype=float)
        valid = np.isfinite(coords).all(axis=1)
        self.ref_ids_ = np.asarray(X.index.astype(str))[valid]
        self.ref_y_ = y[valid]
        self.ref_weight_ = np.clip(weight[valid], 1e-6, None)
        self.ref_columns_ = list(self.neighbour_columns)
        self.ref_values_ = X[self.ref_columns_].to_numpy(dtype=float)[valid] if self.ref_columns_ else None
        self.tree_ = BallTree(np.radians(coords[valid]), metric="haversine") if valid.any() else None
        augmented = self.augment(X)
        self.feature_names_out_ = np.asarray(augmented.columns, dtype=object)
        self.estimator_ = clone(self.estimator)
        if sample_weight is None:
            self.estimator_.fit(augmented, y, **fit_params)
        else:
            self.estimator_.fit(augmented, y, sample_weight=weight, **fit_params)
        return self

    def neighbour_feature_names(self) -> list[str]:
        names = [f"{NEIGHBOUR_PREFIX}target_mean", f"{NEIGHBOUR_PREFIX}distance_km"]
        return names + [f"{NEIGHBOUR_PREFIX}{c}" for c in self.neighbour_columns]

    def augment(self, X) -> pd.DataFrame:
        """``X`` plus the neighbour features (computed from the reference set, leaving each row's own id out)."""
        X = _frame(X)
        names = self.neighbour_feature_names()
        out = np.full((len(X), len(names)), np.nan)
        coords = X[[LAT, LON]].to_numpy(dtype=float)
        valid = np.isfinite(coords).all(axis=1)
        if self.tree_ is not None and valid.any():
            k_ref = len(self.ref_y_)
            k = min(self.n_neighbors + 1, k_ref)
            dist, idx = self.tree_.query(np.radians(coords[valid]), k=k)
            dist = dist * EARTH_RADIUS_KM
            ids = np.asarray(X.index.astype(str))[valid]
            keep = self.ref_ids_[idx] != ids[:, None]
            # Keep the first n_neighbors non-self neighbours of each row (stable order = nearest first).
            rank = np.cumsum(keep, axis=1)
            keep &= rank <= self.n_neighbors
            w = np.where(keep, self.ref_weight_[idx] / (dist + self.offset_km), 0.0)
            wsum = w.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                block = [
                    (w * self.ref_y_[idx]).sum(axis=1) / wsum,
                    np.where(keep, dist, 0.0).sum(axis=1) / keep.sum(axis=1),
                ]
                for j in range(len(self.ref_columns_)):
                    values = self.ref_values_[idx, j]
                    wj = np.where(np.isfinite(values), w, 0.0)
                    block.append((wj * np.nan_to_num(values)).sum(axis=1) / wj.sum(axis=1))
            out[valid] = np.column_stack(block)
        augmented = X.copy()
        for j, name in enumerate(names):
            augmented[name] = out[:, j]
        return augmented

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(self.augment(X))
