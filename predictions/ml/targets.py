"""Target registry: what the models predict, which columns that forbids as features, and how reliable each value is.

Small districts and extreme values
----------------------------------
A district percentage is computed from the handful of children who sat the test there, so in small districts it is
mostly sampling noise: a district with six evaluated pupils can only score 0, 16.7, 33.3 ... 100, and 54 of the
1,473 labelled districts show exactly 0 or 100 disparity (their median population is ~1,000). On the shared data
the standard deviation of the 2016→2018 change is 19-20 points in districts below 3,000 inhabitants and 5 points
above 30,000. Nothing is dropped, clipped or filtered on coverage (that would bias the sample towards towns, and
the districts without results that the platform must predict tend to be the small ones). Instead:

1. **Reliability weights.** The expected number of evaluated pupils is ``n = cohort_share × pob × coverage/100``
   (``cohort_share`` ≈ 1.8 %, one school grade; coverage = the target year's ``cob_est`` where known, else 100 %).
   The sampling variance of the district value is ``design_effect × p̄(1−p̄) × 100² / n``: binomial with the
   national mean proportion p̄ (never the district's own value, which would give a 0 % or 100 % district zero
   variance and infinite weight), doubled for the clustering of pupils in schools. The sample weight is the
   empirical-Bayes reliability ``τ² / (τ² + sampling variance)``, the share of the observed value that is signal,
   with ``τ²`` the between-district variance a good model leaves unexplained: 6 pupils weigh ≈0.09, 60 pupils
   ≈0.5, 600 pupils ≈0.9 (then normalised to mean 1). Weighted least squares is the efficient estimator under
   known heteroscedastic noise. Effect in grouped CV: small but consistent, about +0.003 R² over unweighted
   training; τ² between 30 and 250 made no measurable difference (60 is used).
2. **Robust losses for the flexible models.** Boosting and the network chase the 0 %/100 % outliers of tiny
   districts with squared error; absolute error (gradient boosting, +0.03 grouped-CV R² and −0.3 MAE) and Huber
   loss (MLP, −0.1 MAE) fit the bulk instead. Ridge stays least squares (Huber lowered its R²).
3. **Intervals that widen with the noise.** The same sampling variance scales the conformal intervals
   (``conformal.py``): a small district gets a wide interval, a city a narrow one, and both are covered ~90 %.

Metrics are always reported unweighted (every district counts once) and reliability-weighted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ECE_PROGRAMMES = ("ece16_4p", "ece18_4p", "ece19_2s")
TYPICAL_POPULATION = 3700.0  # median district population (services/indicadores-distrito.csv)
ECE_MEASURES = ("cob_est", "lec_sat", "mat_sat", "lec_prev")


def ece_columns(programme: str) -> tuple[str, ...]:
    """All four district columns of one ECE evaluation, e.g. ``ece18_4p_cob_est`` ... ``ece18_4p_lec_prev``."""
    return tuple(f"{programme}_{measure}" for measure in ECE_MEASURES)


def ece_disparity(table: pd.DataFrame, programme: str) -> pd.Series:
    """100 − mean(% satisfactory in reading, % satisfactory in maths): share of pupils NOT reaching the standard."""
    lec = _column(table, f"{programme}_lec_sat")
    mat = _column(table, f"{programme}_mat_sat")
    return (100.0 - (lec + mat) / 2.0).rename(f"disparity_{programme}")


def _array(table: pd.DataFrame, name: str) -> np.ndarray:
    if name in table.columns:
        return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.full(len(table), np.nan)


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    if name in table.columns:
        return pd.to_numeric(table[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=table.index, dtype=float, name=name)


@dataclass(frozen=True)
class TargetSpec:
    """One predictable quantity.

    ``excluded_columns`` are never used as features for this target (leakage: the target's own evaluation,
    including its coverage). ``prior_programmes`` are earlier evaluations of the same kind and
    ``related_programmes`` other evaluations of the programme, both optional feature groups (``features.py``).
    ``cohort_share``, ``design_effect`` and ``signal_variance`` (τ², points²) define the reliability weights and
    the interval scale (module docstring).
    """

    name: str
    label: str
    source_columns: tuple[str, ...]
    excluded_columns: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]
    coverage_column: str | None
    cohort_share: float
    design_effect: float
    signal_variance: float
    prior_programmes: tuple[str, ...] = ()
    related_programmes: tuple[str, ...] = ()
    school_record_columns: tuple[str, ...] = ()
    bounds: tuple[float, float] = (0.0, 100.0)
    compute_kind: str = "disparity"  # "disparity": 100 − mean(source columns); "direct": the one source column
    higher_is_worse: bool = True
    notes: str = ""

    def values(self, table: pd.DataFrame) -> pd.Series:
        """The target for every row (NaN where it cannot be computed)."""
        return self.compute(table).astype(float).rename(self.name)

    def with_labels(self, table: pd.DataFrame, labels: dict[str, float]) -> pd.DataFrame:
        """A copy of ``table`` whose target equals ``labels`` (ubigeo → value) for those districts.

        Used for accepted feedback labels. A disparity label sets both "% satisfactory" source columns to
        ``100 − value`` (so the disparity is exactly ``value``); a direct target sets its column.
        """
        out = table.copy()
        for ubigeo, value in labels.items():
            value = float(value)
            if self.compute_kind == "disparity":
                for column in self.source_columns:
                    out.loc[ubigeo, column] = self.bounds[1] - value
            else:
                out.loc[ubigeo, self.source_columns[0]] = value
        return out

    def with_label(self, table: pd.DataFrame, ubigeo: str, value: float) -> pd.DataFrame:
        """``with_labels`` for one district."""
        return self.with_labels(table, {ubigeo: value})

    def expected_pupils(self, table: pd.DataFrame, use_coverage: bool = True) -> pd.Series:
        """Expected number of pupils behind the district value (population × grade share × coverage).

        A missing population counts as a typical district's (``TYPICAL_POPULATION``), a missing coverage as 100 %.
        ``use_coverage=False`` ignores the coverage column, which districts without results never have.
        """
        pob = np.nan_to_num(_array(table, "pob"), nan=TYPICAL_POPULATION)
        coverage = 100.0
        if use_coverage and self.coverage_column:
            coverage = np.nan_to_num(np.clip(_array(table, self.coverage_column), 0, 100), nan=100.0)
        pupils = np.clip(self.cohort_share * pob * coverage / 100.0, 1.0, None)
        return pd.Series(pupils, index=table.index, name="expected_pupils")

    def sampling_variance(self, table: pd.DataFrame, mean: float | None = None, use_coverage: bool = True) -> pd.Series:
        """Binomial sampling variance (percentage points²) of the district value, with a design effect.

        ``mean`` is the typical value of the target (the training mean); the district's own value is never used.
        """
        lo, hi = self.bounds
        p = 0.5 if mean is None or not np.isfinite(mean) else float(np.clip((mean - lo) / (hi - lo), 0.02, 0.98))
        scale = (hi - lo) ** 2
        return self.design_effect * p * (1 - p) * scale / self.expected_pupils(table, use_coverage)

    def reliability(self, table: pd.DataFrame, mean: float | None = None) -> pd.Series:
        """Empirical-Bayes reliability in (0, 1]: signal variance / (signal + sampling variance)."""
        noise = self.sampling_variance(table, mean)
        return (self.signal_variance / (self.signal_variance + noise)).rename("reliability")


def _dropout(table: pd.DataFrame) -> pd.Series:
    return _column(table, "admin_dropout_rate")


TARGETS: dict[str, TargetSpec] = {
    "disparity_ece18_4p": TargetSpec(
        name="disparity_ece18_4p",
        label="% of 4th-grade pupils below the satisfactory level (ECE 2018, reading and maths)",
        source_columns=("ece18_4p_lec_sat", "ece18_4p_mat_sat"),
        excluded_columns=ece_columns("ece18_4p"),
        compute=lambda t: ece_disparity(t, "ece18_4p"),
        coverage_column="ece18_4p_cob_est",
        cohort_share=0.018,
        design_effect=2.0,
        signal_variance=60.0,
        prior_programmes=("ece16_4p",),
        related_programmes=("ece19_2s",),
        school_record_columns=("desercion_prim_23_24", "atraso_prim_2025", "admin_dropout_rate"),
    ),
    "disparity_ece19_2s": TargetSpec(
        name="disparity_ece19_2s",
        label="% of 2nd-grade secondary pupils below the satisfactory level (ECE 2019, reading and maths)",
        source_columns=("ece19_2s_lec_sat", "ece19_2s_mat_sat"),
        excluded_columns=ece_columns("ece19_2s"),
        compute=lambda t: ece_disparity(t, "ece19_2s"),
        coverage_column="ece19_2s_cob_est",
        cohort_share=0.018,
        design_effect=2.0,
        signal_variance=25.0,
        prior_programmes=("ece16_4p", "ece18_4p"),
        related_programmes=(),
        school_record_columns=("desercion_prim_23_24", "atraso_prim_2025", "admin_dropout_rate"),
    ),
    "dropout": TargetSpec(
        name="dropout",
        label="Interannual dropout rate, primary and secondary (%)",
        source_columns=("admin_dropout_rate",),
        excluded_columns=("admin_dropout_rate", "desercion_prim_23_24"),
        compute=_dropout,
        coverage_column=None,
        cohort_share=0.20,
        design_effect=2.0,
        signal_variance=1.0,
        prior_programmes=(),
        related_programmes=("ece16_4p", "ece18_4p", "ece19_2s"),
        school_record_columns=("atraso_prim_2025",),
        compute_kind="direct",
        higher_is_worse=True,
        notes="Enrolment ≈ 20 % of the population (primary + secondary).",
    ),
}
DEFAULT_TARGET = "disparity_ece18_4p"


def get_target(name: str) -> TargetSpec:
    """The registered target called ``name`` (ValueError listing the known names otherwise)."""
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"Unknown target {name!r}; known: {', '.join(TARGETS)}") from None
