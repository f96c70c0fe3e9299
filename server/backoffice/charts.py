"""Server-rendered SVG charts: horizontal bars and weekly columns, no JavaScript.

Labels are escaped; the SVG is inline in the page, so it prints and zooms like text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#2f6f9f", "#9cc3e0", "#d9822b", "#6a9f3b", "#8b5fa8", "#c0504d")


@dataclass(frozen=True)
class Bar:
    label: str
    values: tuple[float, ...]  # one per series; drawn overlapping, first widest
    text: str = ""  # printed after the bar


def bars(
    items: Sequence[Bar], *, series: Sequence[str] = (), width: int = 720, label_width: int = 220
) -> Markup:
    """Horizontal bars, one row per item; several series overlap (e.g. value and weighted)."""
    if not items:
        return Markup("")
    row_h, pad = 24, 6
    legend_h = 22 if series else 0
    height = legend_h + len(items) * row_h + pad
    top = max((max(i.values) if i.values else 0.0) for i in items) or 1.0
    plot = width - label_width - 150
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for n, name in enumerate(series):
        x = label_width + n * 160
        out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[n]}"/>'
                   f'<text x="{x + 18}" y="15">{escape(name)}</text>')
    for r, item in enumerate(items):
        y = legend_h + r * row_h
        out.append(f'<text class="lbl" x="{label_width - 8}" y="{y + 16}" '
                   f'text-anchor="end">{escape(_clip(item.label, 18))}</text>')
        for n, v in enumerate(item.values):
            w = max(0.0, v) / top * plot
            h = row_h - 8 - n * 6
            out.append(f'<rect x="{label_width}" y="{y + 4 + n * 3}" width="{w:.1f}" '
                       f'height="{max(h, 4)}" fill="{PALETTE[n % len(PALETTE)]}">'
                       f'<title>{escape(item.label)}: {v:,.1f}</title></rect>')
        first = max(item.values) if item.values else 0.0
        out.append(f'<text x="{label_width + first / top * plot + 6:.1f}" y="{y + 16}">'
                   f'{escape(item.text)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def columns(
    labels: Sequence[str], values: Sequence[float], *, line: Sequence[float | None] = (),
    value_name: str = "", line_name: str = "", width: int = 1240, height: int = 260,
) -> Markup:
    """Columns (e.g. visits per week) with an optional line on its own scale (sync lag)."""
    if not labels:
        return Markup("")
    left, right, top_pad, bottom = 20, 20, 28, 38
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    step = plot_w / len(labels)
    vmax = max(values) if values else 0.0
    vmax = vmax or 1.0
    out = [
        f'<svg class="chart wide" role="img" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{left}" y="6" width="12" height="12" fill="{PALETTE[0]}"/>'
        f'<text x="{left + 18}" y="17">{escape(value_name)} (max {vmax:,.0f})</text>',
    ]
    for i, (lab, v) in enumerate(zip(labels, values, strict=False)):
        h = v / vmax * plot_h
        x = left + i * step
        out.append(f'<rect x="{x + step * 0.15:.1f}" y="{top_pad + plot_h - h:.1f}" '
                   f'width="{step * 0.7:.1f}" height="{h:.1f}" fill="{PALETTE[0]}">'
                   f'<title>{escape(lab)}: {v:,.0f}</title></rect>')
        if len(labels) <= 16 or i % max(1, len(labels) // 12) == 0:
            out.append(f'<text class="tick" x="{x + step / 2:.1f}" y="{height - 20}" '
                       f'text-anchor="middle">{escape(lab)}</text>')
    points = [(i, v) for i, v in enumerate(line) if v is not None]
    if points:
        lmax = max(v for _, v in points) or 1.0
        coords = " ".join(
            f"{left + i * step + step / 2:.1f},{top_pad + plot_h - v / lmax * plot_h:.1f}"
            for i, v in points
        )
        out.append(f'<polyline points="{coords}" fill="none" stroke="{PALETTE[2]}" '
                   f'stroke-width="2"/>')
        for i, v in points:
            out.append(f'<circle cx="{left + i * step + step / 2:.1f}" '
                       f'cy="{top_pad + plot_h - v / lmax * plot_h:.1f}" r="3" '
                       f'fill="{PALETTE[2]}"><title>{v:,.1f}</title></circle>')
        lx = left + 260
        out.append(f'<rect x="{lx}" y="6" width="12" height="3" fill="{PALETTE[2]}"/>'
                   f'<text x="{lx + 18}" y="17">{escape(line_name)} (max {lmax:,.1f})</text>')
    out.append(f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" '
               f'y2="{top_pad + plot_h}" stroke="#999"/>')
    out.append("</svg>")
    return Markup("".join(out))


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
