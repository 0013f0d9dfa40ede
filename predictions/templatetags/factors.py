"""Explanation factors in the page's language: the ML package names them in English, pages translate them."""

import re

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

register = template.Library()

FACTOR_NAMES = {
    "location": gettext_lazy("Location (latitude/longitude)"),
    "altitude": gettext_lazy("Altitude"),
    "area": gettext_lazy("Area (km²)"),
    "density": gettext_lazy("Population density"),
    "population": gettext_lazy("Population"),
    "indigenous_language": gettext_lazy("Share with an indigenous mother tongue"),
    "places": gettext_lazy("Number of populated places"),
    "urban_places": gettext_lazy("Urban populated places"),
    "rural_places": gettext_lazy("Share of rural populated places"),
    "distance": gettext_lazy("Distance of populated places to the capital"),
    "poverty": gettext_lazy("Monetary poverty"),
    "extreme_poverty": gettext_lazy("Extreme poverty"),
    "food_vulnerability": gettext_lazy("Food vulnerability"),
    "water": gettext_lazy("Water from the public network"),
    "sewerage": gettext_lazy("Sewerage"),
    "electricity": gettext_lazy("Electricity"),
    "internet": gettext_lazy("Internet at home"),
    "dropout_records": gettext_lazy("Dropout (SIAGIE)"),
    "overage": gettext_lazy("Over-age pupils (SIAGIE)"),
    "hdi": gettext_lazy("Human Development Index 2019"),
    "neighbour_outcomes": gettext_lazy("Results of neighbouring districts"),
}
GRADES = {
    "p": gettext_lazy("primary"),
    "s": gettext_lazy("secondary"),
}
PROGRAMME = re.compile(r"^result_ece(\d{2})_(\d)([ps])$")


def factor_name(feature: str, fallback: str = "") -> str:
    if feature in FACTOR_NAMES:
        return str(FACTOR_NAMES[feature])
    match = PROGRAMME.match(feature or "")
    if match:
        year, grade, level = match.groups()
        return _("ECE %(year)s result, grade %(grade)s of %(level)s") % {
            "year": f"20{year}",
            "grade": grade,
            "level": GRADES[level],
        }
    return fallback or feature


@register.filter
def factor_label(factor: dict) -> str:
    """The translated name of a stored factor ({feature, label, ...}); its stored English label otherwise."""
    if not isinstance(factor, dict):
        return str(factor)
    return factor_name(factor.get("feature", ""), factor.get("label", ""))
