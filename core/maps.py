"""Maps drawn on the server as SVG from GeoJSON (WGS84): no tile server, no internet, works offline."""

import math
from dataclasses import dataclass


def _rings(geometry: dict):
    if not geometry:
        return
    if geometry["type"] == "Polygon":
        yield from geometry["coordinates"]
    elif geometry["type"] == "MultiPolygon":
        for polygon in geometry["coordinates"]:
            yield from polygon


def bounds(geometries) -> tuple[float, float, float, float]:
    xs, ys = [], []
    for geometry in geometries:
        for ring in _rings(geometry):
            for x, y in ring:
                xs.append(x)
                ys.append(y)
    if not xs:
        return (-81.4, -18.4, -68.6, 0.0)  # Peru
    return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Projection:
    """Equirectangular projection scaled by the cosine of the middle latitude, fitted into width × height."""

    west: float
    south: float
    east: float
    north: float
    width: int = 600

    def __post_init__(self):
        self.kx = math.cos(math.radians((self.south + self.north) / 2))
        span_x = max((self.east - self.west) * self.kx, 1e-9)
        span_y = max(self.north - self.south, 1e-9)
        self.scale = self.width / span_x
        self.height = max(1, round(span_y * self.scale))

    @classmethod
    def fit(cls, geometries, width: int = 600, margin: float = 0.02) -> "Projection":
        west, south, east, north = bounds(geometries)
        dx, dy = (east - west) * margin, (north - south) * margin
        return cls(west - dx, south - dy, east + dx, north + dy, width)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.west) * self.kx * self.scale, (self.north - lat) * self.scale

    def path(self, geometry: dict) -> str:
        parts = []
        for ring in _rings(geometry):
            points = [self.point(x, y) for x, y in ring]
            if len(points) < 3:
                continue
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points) + "Z")
        return "".join(parts)


SEQUENTIAL = ["#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#8c2d04"]
NO_DATA = "#d9d9d9"


def colour_scale(value: float | None, lo: float, hi: float, palette=SEQUENTIAL) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or hi <= lo:
        return NO_DATA
    position = min(0.999, max(0.0, (value - lo) / (hi - lo)))
    return palette[int(position * len(palette))]


def legend(lo: float, hi: float, palette=SEQUENTIAL) -> list[dict]:
    step = (hi - lo) / len(palette)
    return [{"colour": colour, "from": lo + i * step, "to": lo + (i + 1) * step} for i, colour in enumerate(palette)]
