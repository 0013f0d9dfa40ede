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


@register.simple_tag
def scatter(points, width: int = 300, height: int = 300, lo: float = 0.0, hi: float = 100.0):
    """Predicted (y) against observed (x) on the same scale, with the diagonal where they agree."""
    if not points:
        return ""
    pad = 28
    span = hi - lo or 1.0

    def x(v):
        return pad + (v - lo) / span * (width - pad - 6)

    def y(v):
        return height - pad - (v - lo) / span * (height - pad - 6)

    dots = "".join(
        f'<circle cx="{x(o):.1f}" cy="{y(p):.1f}" r="1.6"><title>{escape(str(u))}: {o:.1f} → {p:.1f}</title></circle>'
        for u, o, p in points
        if o is not None and p is not None
    )
    ticks = "".join(
        f'<text x="{x(t):.1f}" y="{height - 8}" font-size="9" text-anchor="{anchor}">{t:g}</text>'
        f'<text x="4" y="{y(t) + 3:.1f}" font-size="9">{t:g}</text>'
        for t, anchor in ((lo, "start"), ((lo + hi) / 2, "middle"), (hi, "end"))  # the ends stay inside the box
    )
    return mark_safe(  # noqa: S308 - numbers only, and escaped labels
        f'<svg class="scatter" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="predicted vs observed"><rect x="{pad}" y="6" width="{width - pad - 6}" '
        f'height="{height - pad - 6}" fill="#f6f8fa" stroke="#d8dee6"/>'
        f'<line x1="{x(lo):.1f}" y1="{y(lo):.1f}" x2="{x(hi):.1f}" y2="{y(hi):.1f}" stroke="#b3122e" '
        f'stroke-dasharray="4 3"/><g fill="#0f5e9c" fill-opacity="0.45">{dots}</g>{ticks}</svg>'
    )
