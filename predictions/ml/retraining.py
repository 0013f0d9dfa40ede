"""Champion against challenger on the same folds.

The challenger is the champion's recipe (algorithm, parameters, feature options) trained on the newest table
(newest snapshot and every accepted feedback label). Both are scored on the same held-out districts with the
same truth, the newest labels:

* folds: grouped by province over the districts labelled in the newest table (the suite's own folds, so the
  challenger's out-of-fold predictions are reused as they are);
* challenger, fold k: trained on the newest table's labelled districts outside fold k;
* champion, fold k: the same recipe trained on the champion's own training table, on its labelled districts
  outside the provinces of fold k, predicting fold k from the newest features.

So the comparison asks one question: do the newer data and labels predict unseen districts better than what the
champion learned from? The challenger is promoted only if so, by the configured margin.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .evaluation import ProgressCallback, estimator_factory, make_folds, regression_metrics
from .features import NEIGHBOUR_GROUP, build_xy, enabled_groups, resolve_options
from .suite import train_suite
from .targets import get_target


def compare_challenger(
    *,
    champion_table: pd.DataFrame,
    challenger_table: pd.DataFrame,
    algorithm: str,
    target: str,
    options: dict | None = None,
    progress: ProgressCallback | None = None,
    random_state: int = 0,
) -> dict:
    started = time.perf_counter()
    opts = resolve_options({**(options or {}), "schemes": ["group"], "conformal_scheme": "group"})
    suite = train_suite(
        challenger_table,
        target=target,
        algorithms=[algorithm],
        options=opts,
        progress=(lambda p, m: progress(0.6 * p, m)) if progress else None,
        random_state=random_state,
    )
    result = suite.algorithms[algorithm]
    new = build_xy(challenger_table, target, opts)
    new = new.subset(new.labelled.to_numpy())
    fold_of = make_folds(new.groups.to_numpy(), "group", int(opts["n_splits"]), random_state)
    old = build_xy(champion_table, target, opts)
    old = old.subset(old.labelled.to_numpy())
    neighbours = NEIGHBOUR_GROUP in enabled_groups(target, opts)
    factory = estimator_factory(algorithm, opts, random_state, neighbours)
    champion_oof = np.full(len(new.y), np.nan)
    folds = np.unique(fold_of)
    for position, k in enumerate(folds):
        held_out = fold_of == k
        provinces = set(new.groups.to_numpy()[held_out])
        train = ~old.groups.isin(provinces).to_numpy()
        model = factory().fit(
            old.X[train], old.y[train].to_numpy(float), sample_weight=old.sample_weight[train].to_numpy(float)
        )
        champion_oof[held_out] = model.predict(new.X[held_out])
        if progress:
            progress(60 + 38 * (position + 1) / len(folds), f"champion recipe, fold {position + 1}/{len(folds)}")
    lo, hi = get_target(target).bounds
    champion_oof = np.clip(champion_oof, lo, hi)
    challenger_oof = np.array([result.oof_predictions["group"][str(u)] for u in new.X.index.astype(str)])
    y = new.y.to_numpy(float)
    observed = dict(zip(new.X.index.astype(str), y.tolist(), strict=True))
    return {
        "champion": regression_metrics(y, champion_oof),
        "challenger": regression_metrics(y, challenger_oof),
        "model": result.model,
        "params": result.params,
        "features": result.features,
        "conformal": result.conformal,
        "out_of_fold": {u: [observed[u], p] for u, p in result.oof_predictions["group"].items()},
        "n_labelled": suite.n_labelled,
        "seconds": time.perf_counter() - started,
    }
