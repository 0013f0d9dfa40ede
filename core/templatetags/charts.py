"""Small inline SVG charts for pages: histograms of a column profile."""

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def histogram(profile: dict, width: int = 160, height: int = 40):
    counts = (profile or {}).get("histogram", {}).get("counts")
    if not counts:
        return ""
    edges = profile["histogram"]["edges"]
    top = max(counts) or 1
    bar = width / len(counts)
    bars = "".join(
        f'<rect x="{i * bar + 0.5:.1f}" y="{height - height * c / top:.1f}" width="{bar - 1:.1f}" '
        f'height="{height * c / top:.1f}"><title>{escape(f"{edges[i]:g} – {edges[i + 1]:g}: {c}")}</title></rect>'
        for i, c in enumerate(counts)
    )
    return mark_safe(  # noqa: S308 - every interpolated value is a number or escaped above
        f'<svg class="histogram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="histogram" fill="#0f5e9c">{bars}</svg>'
    )
