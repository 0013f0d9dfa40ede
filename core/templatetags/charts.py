"""Small inline SVG charts for pages: histograms of a column profile."""

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.simple_tag
def histogram(profile: dict, width: int = 160, height: int = 40):
    counts = (profile or {}).get("histogram", {}).get("counts")
    if not counts:
        return ""
    top = max(counts) or 1
    bar = width / len(counts)
    bars = format_html_join(
        "",
        '<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"><title>{}</title></rect>',
        ((i * bar + 0.5, height - height * c / top, bar - 1, height * c / top, c) for i, c in enumerate(counts)),
    )
    return format_html(
        '<svg class="histogram" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="histogram" '
        'fill="#0f5e9c">{}</svg>',
        width,
        height,
        width,
        height,
        bars,
    )
