"""Build the platform's feature-table snapshot straight from the shared public CSVs.

The Django side builds the same table from its database (districts, populated places, uploaded indicator
datasets). This module is the plain-pandas reference of that table, used by the benchmark and the tests so that
the models are exercised on the real thing, and as a specification for the Django builder:

* one row per district, indexed by the 6-digit INEI ubigeo as text (leading zeros kept);
* the source column names are kept (master, services, ECE, dropout/language);
* populated-place aggregates: ``places_count``, ``places_urban``, ``places_rural_share`` (% of places that are
  rural, 0-100), ``places_mean_distance_km`` and ``places_max_distance_km`` (haversine distance from each place
  to the district capital's latitude/longitude);
* ``province`` (4 digits) and ``department`` (2 digits) derived from the ubigeo.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

MASTER_COLUMNS = [
    "superficie",
    "pob_densidad_2020",
    "altitude",
    "latitude",
    "longitude",
    "indice_vulnerabilidad_alimentaria",
    "idh_2019",
    "pct_pobreza_total",
    "pct_pobreza_extrema",
]
SERVICE_COLUMNS = ["pob", "agua", "desague", "electricidad", "internet"]
DROPOUT_LANGUAGE_COLUMNS = ["admin_dropout_rate", "indigenous_language_pct"]
PLACES_COLUMNS = [
    "places_count",
    "places_urban",
    "places_rural_share",
    "places_mean_distance_km",
    "places_max_distance_km",
]
EARTH_RADIUS_KM = 6371.0088
# The one master row without an INEI code: SAN ANTONIO (Moquegua), RENIEC 170107, INEI 180107 (see SOURCE.md).
_MISSING_INEI = {"170107": "180107"}


def default_data_dir() -> Path:
    """The shared data folder: $PERU_SHARED_DATA, else /work/shared/data/peru."""
    return Path(os.environ.get("PERU_SHARED_DATA") or "/work/shared/data/peru")


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between arrays of points given in decimal degrees."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def places_aggregates(places: pd.DataFrame, capitals: pd.DataFrame) -> pd.DataFrame:
    """Per-district aggregates of populated places; ``capitals`` is indexed by ubigeo with latitude/longitude."""
    p = places.rename(columns={"inei_distrito": "ubigeo"})
    cap = capitals[["latitude", "longitude"]].rename(columns={"latitude": "cap_lat", "longitude": "cap_lon"})
    p = p.join(cap, on="ubigeo")
    p["distance_km"] = haversine_km(p["latitude"], p["longitude"], p["cap_lat"], p["cap_lon"])
    p["is_urban"] = p["tipo"].eq("Urban")
    grouped = p.groupby("ubigeo")
    out = pd.DataFrame(
        {
            "places_count": grouped.size(),
            "places_urban": grouped["is_urban"].sum(),
            "places_mean_distance_km": grouped["distance_km"].mean(),
            "places_max_distance_km": grouped["distance_km"].max(),
        }
    )
    out["places_rural_share"] = 100.0 * (1.0 - out["places_urban"] / out["places_count"])
    return out[PLACES_COLUMNS]


def build_feature_table(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The feature-table snapshot (one row per district of the master table), from the shared CSVs."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    master = pd.read_csv(root / "districts" / "ubigeo_distrito.csv", dtype=str, keep_default_na=False, na_values=["NA"])
    master["inei"] = master["inei"].fillna(master["reniec"].map(_MISSING_INEI))
    master = master.dropna(subset=["inei"]).set_index("inei")
    master.index.name = "ubigeo"
    table = master[MASTER_COLUMNS].apply(pd.to_numeric, errors="coerce")

    services = pd.read_csv(root / "services" / "indicadores-distrito.csv", dtype={"ubigeo": str}).set_index("ubigeo")
    ece = pd.read_csv(root / "ece" / "ece_district.csv", dtype={"ubigeo": str}).set_index("ubigeo")
    dropout = pd.read_csv(root / "dropout_language" / "dropout_language.csv", dtype={"ubigeo": str})
    dropout = dropout.set_index("ubigeo")
    places = pd.read_csv(
        root / "districts" / "ubigeo_ccpp.csv",
        dtype={"inei_distrito": str},
        usecols=["inei_distrito", "tipo", "latitude", "longitude"],
    )
    table = table.join(services[SERVICE_COLUMNS].astype(float))
    table = table.join(ece.astype(float))
    table = table.join(dropout[DROPOUT_LANGUAGE_COLUMNS].astype(float))
    table = table.join(places_aggregates(places, table))
    table["places_count"] = table["places_count"].fillna(0)
    table["places_urban"] = table["places_urban"].fillna(0)
    table["province"] = table.index.str[:4]
    table["department"] = table.index.str[:2]
    return table.sort_index()
