"""Reporting edge-cloud figures: the plans for each input, and the Markdown ``dicec edge`` prints.

:func:`compare_inputs` places each input twice (on the catalogue with its edge pool, and on the same
catalogue without it) and figures both with :mod:`dicec.cost.edge`; :func:`markdown` renders the
reports as tables next to DiCE-M's claims. Analysis lives in :mod:`dicec.cost.edge`, not here.
"""

from __future__ import annotations

from typing import Any

from dicec.cost.edge import DICE_M, LinkModel, cloud_catalogue, edge_report
from dicec.timing.model import TimingModel


def compare_inputs(inputs: list[str], registry, catalogue, model: TimingModel, link: LinkModel, *, mode: str,
                   hit_rate: float, frames: int) -> list[dict[str, Any]]:
    """One :func:`dicec.cost.edge.edge_report` per input (question, program, graph or workflow)."""
    from dicec.placement import place
    from dicec.plans import PlaceOptions, load_placed

    out = []
    for path in inputs:
        edge_placed = load_placed(path, registry=registry, catalogue=catalogue, options=PlaceOptions(mode=mode))
        cloud_placed = place(edge_placed.graph, registry, cloud_catalogue(catalogue), mode=mode)
        out.append(edge_report(edge_placed, cloud_placed, registry, model, link, mode=mode, hit_rate=hit_rate,
                               frames=frames, name=path))
    return out


def _s(x: float) -> str:
    return f"{x:.2f} s"


def _mb(x: float) -> str:
    return f"{x / 1e6:.3f} MB"


def _usd(x: float) -> str:
    return f"${x:.6f}"


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal (``n/a`` when unknown)."""
    return "n/a" if x is None else f"{x * 100:.1f}%"


def _x(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def markdown(reports: list[dict[str, Any]]) -> str:
    """The reports as Markdown tables (one section per input)."""
    out: list[str] = []
    for r in reports:
        link = r["link"]
        out += [f"### {r['input']}", "",
                f"mode {r['mode']}; uplink {r['uplink_mbps']:g} Mbit/s; frame {link['frame'][0]}x{link['frame'][1]}, "
                f"crop {link['crop'][0]}x{link['crop'][1]}, {link['bytes_per_pixel']:g} B/pixel; "
                f"{r['timing_model']['fanout']} detections when found; offloaded: "
                + (", ".join(f"{t} (from {s})" for t, s in r["offloaded"].items()) or "none"), "",
                "| case | plan | latency | uplink | cloud $ | steps (pool) |", "|---|---|---|---|---|---|"]
        for case, title in (("found", "edge finds something"), ("nothing", "edge finds nothing")):
            c = r["cases"][case]
            for plan, label in (("edge_cloud", "edge-cloud"), ("cloud_only", "cloud-only")):
                f = c[plan]
                steps = ", ".join(sorted({f"{s[0].split('[')[0]} ({s[1]})" for s in f["steps"]}))
                out.append(f"| {title} | {label} | {_s(f['latency_s'])} | {_mb(f['uplink_bytes'])} | "
                           f"{_usd(f['cloud_usd'])} | {steps} |")
            out.append(f"| {title} | **edge-cloud vs cloud-only** | **{_x(c['latency_speedup'])} faster** | "
                       f"**{pct(c['uplink_bytes_saved'])} fewer bytes** | **{pct(c['cloud_usd_saved'])} saved** | |")
        st = r["stream"]
        e, c = st["edge_cloud"], st["cloud_only"]
        out += ["", f"Stream of {r['frames']} frames, {r['hit_rate'] * 100:g}% with a detection: mean latency "
                f"{_s(e['latency_s_mean'])} vs {_s(c['latency_s_mean'])} ({_x(st['latency_speedup'])}); uplink "
                f"{_mb(e['uplink_bytes'])} vs {_mb(c['uplink_bytes'])} ({pct(st['uplink_bytes_saved'])} fewer); "
                f"cloud {_usd(e['cloud_usd'])} vs {_usd(c['cloud_usd'])} ({pct(st['cloud_usd_saved'])} saved).",
                "", "Break-even uplink for DiCE-M's {:g}x when nothing is found: {}.".format(
                    DICE_M["latency_speedup_nothing_found"],
                    "never reached between 0.01 Mbit/s and 10 Gbit/s" if r["break_even_uplink_mbps"] is None
                    else f"{r['break_even_uplink_mbps']:g} Mbit/s or slower"), ""]
    return "\n".join(out) + "\n"
