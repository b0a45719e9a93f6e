"""Rendering a cost report as Markdown or a self-contained HTML page with three pictures.

The pictures are inline SVG drawn here (no JavaScript, no network, nothing to fetch): the dollars per
query of the plan and each baseline at the stated load as horizontal bars; the dollars per query
against load (log-log), with the loads where the plan starts or stops saving against the warm serial
fleet marked; and the schedule of one query as a Gantt chart with a row per GPU node (image pull
hatched, each unit labelled). The page layout and the prose are jinja2 templates in
``templates/reports/``.
"""

from __future__ import annotations

import html
import math
from typing import Any

#: Fill colours by operator (a stable hash picks one for an operator not listed).
_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_BAR_COLOURS = {"serial_a100": "#e15759", "a100_nodes": "#f28e2b", "bound": "#9c9c9c", "chosen": "#59a14f"}
BASELINE_LABELS = {"serial_a100": "serial program, warm, A100 machines",
                   "a100_nodes": "parallel plan, identical A100 nodes",
                   "bound": "zero-idle bound (busy seconds only)",
                   "chosen": "parallel plan, chosen pools"}


def _colour(name: str) -> str:
    return _PALETTE[sum(map(ord, name)) % len(_PALETTE)]


def gantt_svg(schedule: dict[str, Any], *, width: int = 900) -> str:
    """The schedule as a Gantt chart: one row per node, one bar per unit, a time axis in seconds."""
    nodes = schedule["nodes"]
    span = max([schedule["makespan_s"]] + [iv["end"] for iv in schedule["intervals"]]) or 1.0
    left, row, top = 110, 26, 10
    plot = width - left - 20
    height = top + row * len(nodes) + 40
    scale = plot / span
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="schedule of one query per GPU node" font-family="sans-serif" font-size="11">',
           '<defs><pattern id="pull" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
           '<rect width="3" height="6" fill="#bbb"/></pattern></defs>']
    for i, node in enumerate(nodes):
        y = top + i * row
        out.append(f'<rect x="{left}" y="{y}" width="{plot}" height="{row - 4}" fill="#f4f4f4"/>')
        out.append(f'<text x="{left - 6}" y="{y + row / 2 + 2}" text-anchor="end">{html.escape(node)}</text>')
    index = {n: i for i, n in enumerate(nodes)}
    for iv in schedule["intervals"]:
        y = top + index[iv["node"]] * row
        x = left + iv["start"] * scale
        w = max(1.0, (iv["end"] - iv["start"]) * scale)
        op = iv["unit"].split("[", 1)[0]
        title = html.escape(f'{iv["unit"]}: {iv["start"]:.2f}-{iv["end"]:.2f} s')
        out.append(f'<g><title>{title}</title><rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{row - 4}" '
                   f'fill="{_colour(op)}" stroke="#fff" stroke-width="0.5"/>')
        if iv.get("pull_s"):
            out.append(f'<rect x="{x:.2f}" y="{y}" width="{max(1.0, iv["pull_s"] * scale):.2f}" height="{row - 4}" '
                       'fill="url(#pull)"/>')
        if w > 60:
            out.append(f'<text x="{x + 3:.2f}" y="{y + row / 2 + 2}" fill="#111" stroke="#fff" stroke-width="3" '
                       f'paint-order="stroke">{html.escape(iv["unit"][:int(w / 6.5)])}</text>')
        out.append('</g>')
    axis_y = top + row * len(nodes) + 4
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot}" y2="{axis_y}" stroke="#333"/>')
    for k in range(6):
        t = span * k / 5
        x = left + t * scale
        out.append(f'<line x1="{x:.2f}" y1="{axis_y}" x2="{x:.2f}" y2="{axis_y + 4}" stroke="#333"/>'
                   f'<text x="{x:.2f}" y="{axis_y + 16}" text-anchor="middle">{t:.1f} s</text>')
    out.append("</svg>")
    return "".join(out)


def bars_svg(baselines: dict[str, float], *, width: int = 900) -> str:
    """Dollars per query of each baseline as horizontal bars, labelled with the figure."""
    left, row, top = 250, 34, 10
    plot = width - left - 130
    top_value = max(baselines.values()) or 1.0
    height = top + row * len(baselines) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="dollars per query by baseline" font-family="sans-serif" font-size="12">']
    for i, (key, usd) in enumerate(baselines.items()):
        y = top + i * row
        w = max(1.0, usd / top_value * plot)
        out.append(f'<text x="{left - 8}" y="{y + row / 2}" text-anchor="end">{html.escape(BASELINE_LABELS.get(key, key))}</text>')
        out.append(f'<rect x="{left}" y="{y + 4}" width="{w:.2f}" height="{row - 12}" fill="{_BAR_COLOURS.get(key, "#888")}"/>')
        out.append(f'<text x="{left + w + 6:.2f}" y="{y + row / 2}">${usd:.6f}</text>')
    out.append("</svg>")
    return "".join(out)


def curve_svg(curve: dict[str, Any], load_qph: float, *, width: int = 900) -> str:
    """Dollars per query against load, log-log, one line per plan, crossovers and the stated load marked."""
    left, top, right, bottom = 80, 16, 200, 44
    height = 320
    plot_w, plot_h = width - left - right, height - top - bottom
    loads = curve["loads_qph"]
    keys = [k for k in ("chosen", "serial_a100", "a100_nodes", "bound") if k in curve]
    values = [v for k in keys for v in curve[k] if v > 0]
    lo, hi = math.log10(min(values)), math.log10(max(values))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    x0, x1 = math.log10(loads[0]), math.log10(loads[-1])

    def x(load: float) -> float:
        return left + (math.log10(load) - x0) / (x1 - x0) * plot_w

    def y(usd: float) -> float:
        return top + (hi - math.log10(max(usd, 10 ** lo))) / (hi - lo) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="dollars per query against queries per hour" font-family="sans-serif" font-size="11">',
           f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>']
    for e in range(math.ceil(x0), math.floor(x1) + 1):
        out.append(f'<line x1="{x(10 ** e):.1f}" y1="{top}" x2="{x(10 ** e):.1f}" y2="{top + plot_h}" stroke="#e4e4e4"/>'
                   f'<text x="{x(10 ** e):.1f}" y="{top + plot_h + 14}" text-anchor="middle">{10 ** e:,}</text>')
    for e in range(math.ceil(lo), math.floor(hi) + 1):
        out.append(f'<line x1="{left}" y1="{y(10 ** e):.1f}" x2="{left + plot_w}" y2="{y(10 ** e):.1f}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 6}" y="{y(10 ** e) + 4:.1f}" text-anchor="end">${10 ** e:g}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">queries per hour (log)</text>')
    for i, key in enumerate(keys):
        points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(loads, curve[key]))
        dash = ' stroke-dasharray="5,4"' if key == "bound" else ""
        out.append(f'<polyline points="{points}" fill="none" stroke="{_BAR_COLOURS.get(key, "#888")}" '
                   f'stroke-width="2"{dash}/>')
        ly = top + 12 + i * 18
        out.append(f'<line x1="{left + plot_w + 12}" y1="{ly - 4}" x2="{left + plot_w + 32}" y2="{ly - 4}" '
                   f'stroke="{_BAR_COLOURS.get(key, "#888")}" stroke-width="2"{dash}/>'
                   f'<text x="{left + plot_w + 36}" y="{ly}">{html.escape(BASELINE_LABELS.get(key, key)[:28])}</text>')
    out.append(f'<line x1="{x(load_qph):.1f}" y1="{top}" x2="{x(load_qph):.1f}" y2="{top + plot_h}" stroke="#333" '
               f'stroke-dasharray="2,3"/><text x="{x(load_qph) + 3:.1f}" y="{top + 10}">stated load</text>')
    for c in curve.get("crossovers_qph", []):
        cx = x(c["load_qph"])
        out.append(f'<g><title>crossover at {c["load_qph"]:g} queries/hour: the plan saves {c["plan_saves"]}</title>'
                   f'<line x1="{cx:.1f}" y1="{top}" x2="{cx:.1f}" y2="{top + plot_h}" stroke="#b22" stroke-width="1.5"/>'
                   f'<text x="{cx + 3:.1f}" y="{top + plot_h - 6}" fill="#b22">{c["load_qph"]:,.0f}/h</text></g>')
    out.append("</svg>")
    return "".join(out)


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as ``md`` or ``html`` text (jinja2 templates in templates/reports/)."""
    import jinja2

    from dicec.resources import package_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(package_dir("dicec.templates") / "reports")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=jinja2.select_autoescape(["html.j2"]))
    env.filters["pct"] = lambda v: f"{v * 100:.1f}%"
    env.filters["usd"] = lambda v: f"${v:.6f}"
    env.filters["load"] = lambda v: f"{v:,.0f}" if v >= 10 else f"{v:g}"
    context = {"r": report, "labels": BASELINE_LABELS}
    if fmt == "html":
        from markupsafe import Markup

        context["gantt"] = Markup(gantt_svg(report["schedule"]))
        context["bars"] = Markup(bars_svg(report["baselines"]))
        context["chart"] = Markup(curve_svg(report["curve"], report["load_qph"])) if report.get("curve") else ""
    return env.get_template(f"cost.{fmt}.j2").render(**context)
