"""A plan's recommendations as CSV, XLSX and GeoJSON: what a planner takes to a meeting or a GIS."""

import csv
import io
import json

from core.exports import safe_cell
from datasets.models import District

HEADER = [
    "ubigeo",
    "district",
    "department",
    "intervention",
    "type",
    "status",
    "cost_pen",
    "impact_children",
    "impact_lower",
    "impact_upper",
    "disparity_before",
    "disparity_after",
    "children",
    "estimate",
]


def _rows(plan, recommendations):
    names = dict(District.objects.filter(ubigeo__in=[r.ubigeo for r in recommendations]).values_list("ubigeo", "name"))
    for r in recommendations:
        yield [
            r.ubigeo,
            names.get(r.ubigeo, ""),
            r.department,
            r.intervention.name,
            r.intervention.intervention_type,
            r.status,
            float(r.cost_pen),
            round(r.impact, 2),
            round(r.impact_lower, 2),
            round(r.impact_upper, 2),
            round(r.disparity_before, 2),
            round(r.disparity_after, 2),
            r.children,
            r.estimate,
        ]


def plan_csv(plan, recommendations) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in _rows(plan, recommendations):
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def plan_xlsx(plan, recommendations) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=f"Plan {plan.pk}")
    sheet.append(HEADER)
    for row in _rows(plan, recommendations):
        sheet.append([safe_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def plan_geojson(plan, recommendations) -> bytes:
    shapes = {d.ubigeo: d for d in District.objects.filter(ubigeo__in=[r.ubigeo for r in recommendations])}
    features = []
    for row, r in zip(_rows(plan, recommendations), recommendations, strict=True):
        district = shapes.get(r.ubigeo)
        geometry = (
            district.boundary
            if district and district.boundary
            else ({"type": "Point", "coordinates": [district.longitude, district.latitude]} if district else None)
        )
        # GIS tools turn properties into spreadsheet cells: text is neutralised as in the CSV; numbers stay.
        properties = {key: safe_cell(v) if isinstance(v, str) else v for key, v in zip(HEADER, row, strict=True)}
        features.append({"type": "Feature", "id": r.pk, "geometry": geometry, "properties": properties})
    return json.dumps(
        {"type": "FeatureCollection", "name": safe_cell(plan.name), "features": features}, ensure_ascii=False
    ).encode("utf-8")
