"""Load Peru's areas (departments, provinces, districts, populated places, boundaries) and the reference indicator
tables from a folder laid out like `../shared/data/peru/` (plain or gzip-compressed files).

Idempotent: a second run with the same files changes nothing; with new files it updates rows in place. Every
mismatch between the sources (codes without polygons, polygons without districts, missing indicators, NA markers)
is reported and kept in a `ReferenceImport` row.
"""

import gzip
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import transaction

from datasets.models import Department, District, PopulatedPlace, Province, ReferenceImport

FILES = {
    "departments": "districts/ubigeo_departamento.csv",
    "provinces": "districts/ubigeo_provincia.csv",
    "districts": "districts/ubigeo_distrito.csv",
    "places": "districts/ubigeo_ccpp.csv",
    "department_shapes": "boundaries/peru_departamental_simple.geojson",
    "province_shapes": "boundaries/peru_provincial_simple.geojson",
    "district_shapes": "boundaries/peru_distrital_simple.geojson",
}
# Known defects of the sources, documented in districts/SOURCE.md: the row of SAN ANTONIO (Moquegua) has no INEI
# code; its RENIEC code is 170107 and its INEI code 180107 (the code ECE and the dropout tables use).
INEI_CODE_FIXES = {"170107": "180107"}
EARTH_RADIUS_KM = 6371.0088


def resolve(source_dir: Path, relative: str) -> Path:
    for candidate in (source_dir / relative, source_dir / f"{relative}.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{relative} (or .gz) not found in {source_dir}")


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def read_csv(path: Path, **kwargs) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(read_bytes(path)), dtype=str, keep_default_na=False, **kwargs)


def _number(value: str) -> float | None:
    if value is None or value.strip() in {"", "NA", "S.I.", "-"}:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def haversine_km(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def source_checksum(source_dir: Path) -> str:
    digest = hashlib.sha256()
    for relative in sorted(FILES.values()):
        digest.update(resolve(source_dir, relative).read_bytes())
    return digest.hexdigest()


class _Report:
    def __init__(self):
        self.items: list[dict] = []
        self.counts: Counter = Counter()

    def add(self, kind: str, code: str, detail: str = "") -> None:
        self.counts[kind] += 1
        self.items.append({"kind": kind, "code": code, "detail": detail})


def _shapes(path: Path, key: str, report: "_Report | None" = None) -> dict[str, dict]:
    collection = json.loads(read_bytes(path))
    shapes = {}
    for feature in collection["features"]:
        code = str(feature["properties"][key])
        if feature.get("geometry"):
            shapes[code] = feature["geometry"]
        elif report is not None:
            report.add("polygon_empty_in_source", code, str(feature["properties"].get("NOMBDIST", "")))
    return shapes


def registry_load(*, source_dir: Path, force: bool = False, include_places: bool = True, log=print) -> ReferenceImport:
    """Load or refresh the area registry from `source_dir`; returns the import record with its mismatch report.

    `include_places=False` skips the 94,922 populated places (their district aggregates are still computed).
    """
    checksum = source_checksum(source_dir)
    last = ReferenceImport.objects.first()
    if not force and last and last.sha256 == checksum and District.objects.exists():
        log(f"area registry already loaded from these files ({last.counts.get('districts', 0)} districts)")
        return last
    report = _Report()

    departments = read_csv(resolve(source_dir, FILES["departments"]))
    provinces = read_csv(resolve(source_dir, FILES["provinces"]))
    districts = read_csv(resolve(source_dir, FILES["districts"]))
    places = read_csv(resolve(source_dir, FILES["places"]))
    dept_shapes = _shapes(resolve(source_dir, FILES["department_shapes"]), "FIRST_IDDP")
    prov_shapes = _shapes(resolve(source_dir, FILES["province_shapes"]), "FIRST_IDPR")
    dist_shapes = _shapes(resolve(source_dir, FILES["district_shapes"]), "IDDIST", report)

    department_rows = [
        Department(
            code=row.inei[:2],
            name=row.departamento,
            capital=row.capital,
            latitude=_number(row.latitude),
            longitude=_number(row.longitude),
            area_km2=_number(row.superficie),
            boundary=dept_shapes.get(row.inei[:2]),
        )
        for row in departments.itertuples()
    ]
    for dept in department_rows:
        if dept.boundary is None:
            report.add("department_without_polygon", dept.code, dept.name)
    department_codes = {d.code for d in department_rows}

    province_rows = []
    for row in provinces.itertuples():
        code = row.inei[:4]
        if code[:2] not in department_codes:
            report.add("province_unknown_department", code, row.provincia)
            continue
        province_rows.append(
            Province(
                code=code,
                department_id=code[:2],
                name=row.provincia,
                capital=row.capital,
                latitude=_number(row.latitude),
                longitude=_number(row.longitude),
                area_km2=_number(row.superficie),
                boundary=prov_shapes.get(code),
            )
        )
        if code not in prov_shapes:
            report.add("province_without_polygon", code, row.provincia)
    province_codes = {p.code for p in province_rows}

    district_rows = []
    indicator_columns = ["superficie", "altitude", "latitude", "longitude", "idh_2019", "pct_pobreza_total"]
    for row in districts.itertuples():
        code = row.inei
        if code in {"", "NA"}:
            fixed = INEI_CODE_FIXES.get(row.reniec)
            if fixed is None:
                report.add("district_without_code", row.reniec, f"{row.distrito} ({row.departamento})")
                continue
            report.add("district_code_repaired", fixed, f"{row.distrito}: INEI code missing, RENIEC {row.reniec}")
            code = fixed
        if code[:4] not in province_codes:
            report.add("district_unknown_province", code, row.distrito)
            continue
        missing = [column for column in indicator_columns if _number(getattr(row, column)) is None]
        if len(missing) == len(indicator_columns):
            report.add("district_without_indicators", code, row.distrito)
        elif missing:
            report.add("district_na_markers", code, f"{row.distrito}: NA in {', '.join(missing)}")
        shape = dist_shapes.get(code)
        if shape is None:
            report.add("district_without_polygon", code, row.distrito)
        district_rows.append(
            District(
                ubigeo=code,
                province_id=code[:4],
                department_id=code[:2],
                name=row.distrito,
                capital=" ".join(str(row.capital).split()),
                latitude=_number(row.latitude),
                longitude=_number(row.longitude),
                altitude_m=_number(row.altitude),
                area_km2=_number(row.superficie),
                boundary=shape,
                boundary_source="own" if shape else "",
            )
        )
    district_codes = {d.ubigeo for d in district_rows}
    for code in sorted(set(dist_shapes) - district_codes):
        report.add("polygon_without_district", code)

    place_rows, aggregates = _places(places, {d.ubigeo: d for d in district_rows}, report)
    for district in district_rows:
        for field, value in aggregates.get(district.ubigeo, {}).items():
            setattr(district, field, value)
        if district.ubigeo not in aggregates:
            report.add("district_without_places", district.ubigeo, district.name)

    with transaction.atomic():
        _upsert(Department, department_rows, ["name", "capital", "latitude", "longitude", "area_km2", "boundary"])
        _upsert(
            Province, province_rows, ["department", "name", "capital", "latitude", "longitude", "area_km2", "boundary"]
        )
        _upsert(
            District,
            district_rows,
            [
                "province",
                "department",
                "name",
                "capital",
                "latitude",
                "longitude",
                "altitude_m",
                "area_km2",
                "boundary",
                "boundary_source",
                "places_count",
                "places_urban",
                "places_rural_share",
                "places_mean_distance_km",
                "places_max_distance_km",
            ],
        )
        _upsert(
            PopulatedPlace,
            place_rows,
            ["district", "name", "is_urban", "latitude", "longitude", "distance_to_capital_km"],
            batch=5000,
        )
        PopulatedPlace.objects.exclude(code__in=[p.code for p in place_rows]).delete()
        counts = {
            "departments": len(department_rows),
            "provinces": len(province_rows),
            "districts": len(district_rows),
            "places": len(place_rows),
            **report.counts,
        }
        record = ReferenceImport.objects.create(
            source_dir=str(source_dir), sha256=checksum, counts=counts, report=report.items
        )
    log("area registry: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return record


def _upsert(model, rows, fields, batch=1000):
    model.objects.bulk_create(
        rows, batch_size=batch, update_conflicts=True, unique_fields=[model._meta.pk.name], update_fields=fields
    )


def _places(places: pd.DataFrame, districts: dict, report: _Report):
    known = places["inei_distrito"].isin(districts.keys())
    for code, count in places.loc[~known, "inei_distrito"].value_counts().items():
        report.add("places_unknown_district", code, f"{count} populated places")
    places = places.loc[known].copy()
    places["lat"] = pd.to_numeric(places["latitude"], errors="coerce")
    places["lon"] = pd.to_numeric(places["longitude"], errors="coerce")
    capital = pd.DataFrame(
        [(code, d.latitude, d.longitude) for code, d in districts.items()], columns=["code", "clat", "clon"]
    ).set_index("code")
    joined = places.join(capital, on="inei_distrito")
    places["distance"] = haversine_km(joined["lat"], joined["lon"], joined["clat"], joined["clon"])
    places["urban"] = places["tipo"].str.lower().eq("urban")
    rows = [
        PopulatedPlace(
            code=r.inei_ccpp,
            district_id=r.inei_distrito,
            name=r.ccpp[:150],
            is_urban=bool(r.urban),
            latitude=float(r.lat),
            longitude=float(r.lon),
            distance_to_capital_km=None if np.isnan(r.distance) else round(float(r.distance), 3),
        )
        for r in places.itertuples()
        if not (np.isnan(r.lat) or np.isnan(r.lon))
    ]
    grouped = places.groupby("inei_distrito")
    summary = pd.DataFrame(
        {
            "places_count": grouped.size(),
            "places_urban": grouped["urban"].sum(),
            "places_mean_distance_km": grouped["distance"].mean(),
            "places_max_distance_km": grouped["distance"].max(),
        }
    )
    summary["places_rural_share"] = 100.0 * (1 - summary["places_urban"] / summary["places_count"])
    aggregates = {
        code: {
            "places_count": int(row.places_count),
            "places_urban": int(row.places_urban),
            "places_rural_share": round(float(row.places_rural_share), 3),
            "places_mean_distance_km": None
            if np.isnan(row.places_mean_distance_km)
            else round(float(row.places_mean_distance_km), 3),
            "places_max_distance_km": None
            if np.isnan(row.places_max_distance_km)
            else round(float(row.places_max_distance_km), 3),
        }
        for code, row in summary.iterrows()
    }
    return rows, aggregates
