"""Feature groups, engineered features and the snapshot → (X, y, weights, groups, coordinates) conversion.

Groups and their defaults (``feature_groups(target)`` returns them; ``options["groups"]`` switches them). The
figures are the change in grouped-CV R² (ridge / gradient boosting, 2018 target) when the group is switched from
its default, from ``python -m bench.ml_quality --ablation``:

==================  =======  =========================================================================
group               default  why
==================  =======  =========================================================================
location            on       latitude, longitude, altitude of the capital. Required: the neighbour
                             features need the coordinates.
territory           on       log area, log population density 2020.
demography          on       log population, % indigenous mother tongue (Census 2017).
remoteness          on       populated places: log count, urban places, % rural places, mean and max
                             distance to the capital, log places per km² (how dispersed the district is).
poverty             on       monetary poverty, extreme poverty, food-vulnerability index.
services            on       % dwellings with water, sewerage, electricity; % households with internet.
school_records      on       SIAGIE administrative records (primary dropout 2023-24, over-age 2025,
                             interannual dropout): counted in every school, years apart from the test and
                             not computed from it, known for 1,890 districts (−0.002 / −0.003 without).
                             The columns that define the dropout target are excluded for that target.
prior_result        on       the district's own earlier result of the same test (ECE 2016, 4th grade, for the
                             2018 target): disparity, the four published percentages and the expected
                             pupils behind them (so a model can trust a tiny district's 2016 value less).
                             It precedes the target, concerns other children, exists for 72 % of the
                             districts without 2018 results, and is the standard covariate of small-area
                             and value-added models of test results. Strongest group (−0.054 / −0.040
                             without).
related_results     on       the programme's other evaluation (2nd secondary 2019 for the 4th-primary
                             target): other pupils and schools, so it does not contain the target; known for
                             79 % of the districts without 2018 results (−0.017 / −0.012 without). Switch
                             it and prior_result off for a purely structural model (−0.10 / −0.08), e.g.
                             to study what infrastructure and poverty explain.
hdi                 off      IDH 2019 contains education (years of schooling, enrolment): an education
                             indicator would explain an education target. Measured gain if switched on:
                             +0.001 / +0.007, not worth the circularity.
neighbour_outcomes  on       computed inside the model's ``fit`` from training targets only
                             (``spatial.NeighbourAugmentedRegressor``): inverse-distance, reliability-
                             weighted mean of the 10 nearest labelled districts, leaving the district itself
                             out (−0.005 / −0.005 without in grouped CV, where a whole province is missing;
                             about −0.01 in shuffled K-fold).
==================  =======  =========================================================================

Never features, whatever the options: every column of the target's own evaluation (``targets.TargetSpec.
excluded_columns``, e.g. all ``ece18_4p_*`` including coverage for the default target), the ubigeo, province and
department codes (the province is the cross-validation group).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .targets import DEFAULT_TARGET, TargetSpec, ece_columns, ece_disparity, get_target

LAT, LON = "latitude", "longitude"


@dataclass(frozen=True)
class FeatureGroup:
    """A switchable set of model inputs; ``factors`` maps each produced column to its explanation factor."""

    name: str
    label: str
    default: bool
    columns: tuple[str, ...]
    factors: dict[str, str] = field(default_factory=dict)
    required: bool = False


# Explanation factors: several columns engineered from one source are explained as one named factor.
FACTOR_LABELS: dict[str, str] = {
    "location": "Location (latitude/longitude)",
    "altitude": "Altitude",
    "area": "Area (km²)",
    "density": "Population density",
    "population": "Population",
    "indigenous_language": "% indigenous mother tongue",
    "places": "Number of populated places",
    "urban_places": "Urban populated places",
    "rural_places": "% rural populated places",
    "distance": "Distance of populated places to the capital",
    "poverty": "Monetary poverty",
    "extreme_poverty": "Extreme poverty",
    "food_vulnerability": "Food vulnerability",
    "water": "Water from the public network",
    "sewerage": "Sewerage",
    "electricity": "Electricity",
    "internet": "Internet at home",
    "dropout_records": "Dropout (SIAGIE)",
    "overage": "Over-age pupils (SIAGIE)",
    "hdi": "Human Development Index 2019",
    "neighbour_outcomes": "Results of neighbouring districts",
}


# The readable value shown next to a factor's contribution: the source column, not its engineered transform.
FACTOR_DISPLAY_COLUMN: dict[str, str] = {
    "altitude": "altitude",
    "area": "superficie",
    "density": "pob_densidad_2020",
    "population": "pob",
    "indigenous_language": "indigenous_language_pct",
    "places": "places_count",
    "urban_places": "places_urban",
    "rural_places": "places_rural_share",
    "distance": "places_mean_distance_km",
    "poverty": "pct_pobreza_total",
    "extreme_poverty": "pct_pobreza_extrema",
    "food_vulnerability": "indice_vulnerabilidad_alimentaria",
    "water": "agua",
    "sewerage": "desague",
    "electricity": "electricidad",
    "internet": "internet",
    "dropout_records": "desercion_prim_23_24",
    "overage": "atraso_prim_2025",
    "hdi": "idh_2019",
}


def _ece_group_columns(programmes: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, str]]:
    columns: list[str] = []
    factors: dict[str, str] = {}
    for programme in programmes:
        produced = (f"disparity_{programme}", *ece_columns(programme), f"pupils_{programme}")
        columns.extend(produced)
        factors.update(dict.fromkeys(produced, f"result_{programme}"))
    return tuple(columns), factors


def feature_groups(target: str | TargetSpec = DEFAULT_TARGET) -> dict[str, FeatureGroup]:
    """The feature groups for ``target``, in a stable order, with their default on/off state."""
    spec = get_target(target) if isinstance(target, str) else target
    prior_cols, prior_factors = _ece_group_columns(spec.prior_programmes)
    related_cols, related_factors = _ece_group_columns(spec.related_programmes)
    record_factor = {
        "desercion_prim_23_24": "dropout_records",
        "admin_dropout_rate": "dropout_records",
        "atraso_prim_2025": "overage",
    }
    records = tuple(c for c in spec.school_record_columns if c not in spec.excluded_columns)
    groups = [
        FeatureGroup(
            "location",
            "Location",
            True,
            (LAT, LON, "altitude"),
            {LAT: "location", LON: "location", "altitude": "altitude"},
            required=True,
        ),
        FeatureGroup(
            "territory",
            "Territory",
            True,
            ("log_superficie", "log_pob_densidad_2020"),
            {"log_superficie": "area", "log_pob_densidad_2020": "density"},
        ),
        FeatureGroup(
            "demography",
            "Demography",
            True,
            ("log_pob", "indigenous_language_pct"),
            {"log_pob": "population", "indigenous_language_pct": "indigenous_language"},
        ),
        FeatureGroup(
            "remoteness",
            "Remoteness",
            True,
            (
                "log_places_count",
                "places_urban",
                "places_rural_share",
                "places_mean_distance_km",
                "places_max_distance_km",
                "log_places_per_km2",
            ),
            {
                "log_places_count": "places",
                "log_places_per_km2": "places",
                "places_urban": "urban_places",
                "places_rural_share": "rural_places",
                "places_mean_distance_km": "distance",
                "places_max_distance_km": "distance",
            },
        ),
        FeatureGroup(
            "poverty",
            "Poverty",
            True,
            ("pct_pobreza_total", "pct_pobreza_extrema", "indice_vulnerabilidad_alimentaria"),
            {
                "pct_pobreza_total": "poverty",
                "pct_pobreza_extrema": "extreme_poverty",
                "indice_vulnerabilidad_alimentaria": "food_vulnerability",
            },
        ),
        FeatureGroup(
            "services",
            "Basic services",
            True,
            ("agua", "desague", "electricidad", "internet"),
            {"agua": "water", "desague": "sewerage", "electricidad": "electricity", "internet": "internet"},
        ),
        FeatureGroup("school_records", "School records", True, records, {c: record_factor.get(c, c) for c in records}),
        FeatureGroup("prior_result", "Earlier result of the same test", True, prior_cols, prior_factors),
        FeatureGroup("related_results", "Other results of the same programme", True, related_cols, related_factors),
        FeatureGroup("hdi", "Human Development Index (contains education)", False, ("idh_2019",), {"idh_2019": "hdi"}),
    ]
    return {g.name: g for g in groups if g.columns or g.name == "location"}


NEIGHBOUR_GROUP = "neighbour_outcomes"
DEFAULT_OPTIONS: dict = {
    "groups": {},  # group name -> bool, overriding the defaults above (and "neighbour_outcomes")
    "weighting": "reliability",  # or "none"
    "fast": False,  # fewer trees / epochs / folds: for tests and previews
    "n_splits": 5,
    "conformal_alpha": 0.1,
    "conformal_scheme": "group",  # which CV's out-of-fold residuals calibrate the intervals: "group" or "kfold"
    "n_jobs": 1,
}


def resolve_options(options: dict | None = None) -> dict:
    """Options with defaults filled in (unknown keys are kept, so callers can carry their own)."""
    resolved = {**DEFAULT_OPTIONS, **(options or {})}
    resolved["groups"] = dict(resolved.get("groups") or {})
    return resolved


def enabled_groups(target: str = DEFAULT_TARGET, options: dict | None = None) -> list[str]:
    """Names of the groups switched on (including ``neighbour_outcomes``, which the estimator computes)."""
    switches = resolve_options(options)["groups"]
    unknown = set(switches) - set(feature_groups(target)) - {NEIGHBOUR_GROUP}
    if unknown:
        raise ValueError(f"Unknown feature groups: {sorted(unknown)}")
    names = [n for n, g in feature_groups(target).items() if g.required or switches.get(n, g.default)]
    if switches.get(NEIGHBOUR_GROUP, True):
        names.append(NEIGHBOUR_GROUP)
    return names


def default_features(target: str = DEFAULT_TARGET, options: dict | None = None) -> list[str]:
    """The model input columns for ``target`` under ``options`` (neighbour features are added by the model)."""
    groups = feature_groups(target)
    columns: list[str] = []
    for name in enabled_groups(target, options):
        if name in groups:
            columns.extend(c for c in groups[name].columns if c not in columns)
    excluded = set(get_target(target).excluded_columns)
    return [c for c in columns if c not in excluded]


def factor_of(target: str = DEFAULT_TARGET) -> dict[str, str]:
    """Column → explanation factor, for every column any group can produce."""
    mapping: dict[str, str] = {}
    for group in feature_groups(target).values():
        mapping.update(group.factors)
    return mapping


def factor_label(factor: str) -> str:
    """Readable English label of an explanation factor (the platform translates it)."""
    if factor.startswith("result_"):
        programme = factor.removeprefix("result_")
        return f"ECE result {programme.replace('_', ' ')}"
    return FACTOR_LABELS.get(factor, factor)


def source_columns(features: list[str]) -> list[str]:
    """The snapshot columns the given model inputs are computed from (plus ``pob``, which scales intervals)."""
    derived = {
        "log_superficie": ("superficie",),
        "log_pob_densidad_2020": ("pob_densidad_2020",),
        "log_pob": ("pob",),
        "log_places_count": ("places_count",),
        "log_places_per_km2": ("places_count", "superficie"),
    }
    needed: list[str] = []
    for feature in features:
        if feature.startswith("disparity_"):
            programme = feature.removeprefix("disparity_")
            sources = (f"{programme}_lec_sat", f"{programme}_mat_sat")
        elif feature.startswith("pupils_"):
            programme = feature.removeprefix("pupils_")
            sources = ("pob", f"{programme}_cob_est", f"{programme}_lec_sat", f"{programme}_mat_sat")
        else:
            sources = derived.get(feature, (feature,))
        needed.extend(c for c in sources if c not in needed)
    if "pob" not in needed:
        needed.append("pob")
    return needed


def factor_display_values(table: pd.DataFrame, target: str = DEFAULT_TARGET) -> pd.DataFrame:
    """District × factor table of readable values (an earlier ECE result is shown as its disparity)."""
    table = table.copy()
    table.index = ubigeo_index(table)
    out = pd.DataFrame(index=table.index)
    for factor, column in FACTOR_DISPLAY_COLUMN.items():
        out[factor] = _num(table, column)
    spec = get_target(target)
    for programme in (*spec.prior_programmes, *spec.related_programmes):
        out[f"result_{programme}"] = ece_disparity(table, programme)
    return out


def _num(table: pd.DataFrame, name: str) -> pd.Series:
    if name in table.columns:
        return pd.to_numeric(table[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=table.index, dtype=float)


RAW_COLUMNS = (
    LAT,
    LON,
    "altitude",
    "indigenous_language_pct",
    "places_urban",
    "places_rural_share",
    "places_mean_distance_km",
    "places_max_distance_km",
    "pct_pobreza_total",
    "pct_pobreza_extrema",
    "indice_vulnerabilidad_alimentaria",
    "idh_2019",
    "agua",
    "desague",
    "electricidad",
    "internet",
    "desercion_prim_23_24",
    "atraso_prim_2025",
    "admin_dropout_rate",
)


def numeric_columns(table: pd.DataFrame, columns) -> dict[str, np.ndarray]:
    """The named columns as float arrays in one conversion (non-numbers and absent columns become NaN)."""
    present = [c for c in dict.fromkeys(columns) if c in table.columns]
    block = table[present]
    try:
        values = block.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        values = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out = {c: values[:, i] for i, c in enumerate(present)}
    missing = np.full(len(table), np.nan)
    return {c: out.get(c, missing) for c in columns}


def _log(values: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(values, 0, None))


def engineer(table: pd.DataFrame, target: str = DEFAULT_TARGET) -> pd.DataFrame:
    """Every column any group can use, row by row (no row depends on another, so scoring one row works).

    Vectorised on NumPy arrays: a one-row table costs about a millisecond, a million rows a few seconds.
    """
    spec = get_target(target)
    programmes = (*spec.prior_programmes, *spec.related_programmes)
    ece = [c for p in programmes for c in ece_columns(p)]
    src = numeric_columns(table, (*RAW_COLUMNS, "superficie", "pob_densidad_2020", "pob", "places_count", *ece))
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in RAW_COLUMNS:
            out[name] = src[name]
        out["log_superficie"] = _log(src["superficie"])
        out["log_pob_densidad_2020"] = _log(src["pob_densidad_2020"])
        out["log_pob"] = _log(src["pob"])
        out["log_places_count"] = _log(src["places_count"])
        area = np.where(src["superficie"] > 0, src["superficie"], np.nan)
        out["log_places_per_km2"] = _log(1000.0 * src["places_count"] / area)
        for programme in programmes:
            disparity = 100.0 - (src[f"{programme}_lec_sat"] + src[f"{programme}_mat_sat"]) / 2.0
            out[f"disparity_{programme}"] = disparity
            for column in ece_columns(programme):
                out[column] = src[column]
            # Expected pupils behind that result: lets the models trust a small district's earlier result less.
            coverage = np.nan_to_num(src[f"{programme}_cob_est"], nan=100.0)
            pupils = spec.cohort_share * src["pob"] * coverage / 100.0
            out[f"pupils_{programme}"] = np.where(np.isnan(disparity), np.nan, _log(pupils))
    frame = pd.DataFrame(out, index=table.index)
    return frame.where(np.isfinite(frame))


@dataclass
class ModelData:
    """Model inputs for every row of a snapshot; ``y`` is NaN where the target is unknown."""

    X: pd.DataFrame
    y: pd.Series
    sample_weight: pd.Series
    groups: pd.Series
    coords: pd.DataFrame
    features: list[str]
    target: str
    options: dict
    noise_variance: pd.Series  # sampling variance of the target from the population alone (conformal scale)

    @property
    def labelled(self) -> pd.Series:
        return self.y.notna()

    def subset(self, mask) -> ModelData:
        mask = np.asarray(mask, dtype=bool)
        return ModelData(
            self.X[mask],
            self.y[mask],
            self.sample_weight[mask],
            self.groups[mask],
            self.coords[mask],
            self.features,
            self.target,
            self.options,
            self.noise_variance[mask],
        )


def ubigeo_index(table: pd.DataFrame) -> pd.Index:
    """The table's index as 6-character ubigeo strings (a ``ubigeo`` column is used when present)."""
    if "ubigeo" in table.columns:
        index = table["ubigeo"].astype(str)
    else:
        index = table.index.astype(str)
    return pd.Index(index.str.zfill(6), name="ubigeo")


def build_xy(
    table: pd.DataFrame, target: str = DEFAULT_TARGET, options: dict | None = None, typical: float | None = None
) -> ModelData:
    """Turn the snapshot into model inputs (all rows, labelled or not).

    ``sample_weight`` is the target's reliability (``targets.py``) normalised to mean 1 over labelled rows, or 1
    with ``options["weighting"] == "none"``; ``noise_variance`` the target's sampling variance from the
    population alone (the conformal scale). Both need a typical target value: ``typical`` (a trained model's
    mean) or else the mean of the table's labelled rows. ``groups`` is the 4-digit province, the unit of grouped
    cross-validation.
    """
    opts = resolve_options(options)
    spec = get_target(target)
    index = ubigeo_index(table)
    features = default_features(target, opts)
    engineered = engineer(table, target)
    engineered.index = index
    X = engineered[features]
    y = pd.Series(spec.values(table).to_numpy(dtype=float), index=index, name=spec.name)
    labelled = y.notna().to_numpy()
    if typical is None and labelled.any():
        typical = float(y[labelled].mean())
    noise = spec.sampling_variance(table, typical, use_coverage=False).to_numpy(dtype=float)
    if opts["weighting"] == "reliability":
        weight = spec.reliability(table, typical).to_numpy(dtype=float)
        if labelled.any():
            weight = weight / weight[labelled].mean()
    elif opts["weighting"] == "none":
        weight = np.ones(len(index))
    else:
        raise ValueError(f"Unknown weighting {opts['weighting']!r}")
    if "province" in table.columns:
        groups = table["province"].astype(str).to_numpy()
    else:
        groups = index.str[:4].to_numpy()
    return ModelData(
        X,
        y,
        pd.Series(weight, index=index, name="sample_weight"),
        pd.Series(groups, index=index, name="province"),
        engineered[[LAT, LON]],
        features,
        target,
        opts,
        pd.Series(noise, index=index, name="noise_variance"),
    )
