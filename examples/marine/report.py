"""The marine-litter example's edge-cloud report: a Jetson on a survey vessel, offloading to the cloud.

Usage: python examples/marine/report.py [-o examples/marine/REPORT.md]

Every question in examples/marine/questions/ is compiled (offline code generation) and placed on
examples/marine/pools.yaml (a Jetson AGX Orin edge pool, the vessel's CPU, dicec's default cloud
pools), then figured with dicec.cost.edge against cloud-only (the same catalogue without the edge
pools): end-to-end latency, bytes over the uplink and cloud dollars, when the edge finds something,
when it finds nothing, and for a stream of 1000 frames of which 10% hold litter -- in services mode
(warm model servers), in pods mode (a pod per step), and with Argo's per-step start-up set to zero
(a what-if: steps as calls inside one warm process). The figures are set next to DiCE-M's claims.
Then the two plans' cloud bills at 360, 3,600 and 36,000 frames per hour, always-on servers billed idle.
Finally the floating-bottles workflow is run on this machine (``dicec run --models seeded``) on two
generated frames, one where the seeded detector finds nothing, to show the offloaded step skipped,
the answer equal to ``dicec exec``'s, and the bytes of the crop bundle the edge step really wrote for
the cloud step (:mod:`dicec.runtime.crops`) next to the frame's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HIT_RATE, FRAMES = 0.1, 1000
#: Frame rates (frames per hour) the cloud bill is priced at: one frame every 10 s, every second, 10 a second.
LOADS = (360.0, 3600.0, 36000.0)
#: Generated frames (noise, 320x240, as tests/runtime/helpers.write_image makes them): the seeded
#: detector finds no bottle in seed 27 and two in seed 0.
RUN_SEEDS = (27, 0)


def reports(mode: str, **timing):
    from dicec.cost.edge import LinkModel
    from dicec.cost.edge_report import compare_inputs
    from dicec.placement import load_pools
    from dicec.timing.model import TimingModel
    from dicec.tools import discover

    questions = [str(p.relative_to(HERE.parents[1])) for p in sorted((HERE / "questions").glob("*.txt"))]
    return compare_inputs(questions, discover(), load_pools(HERE / "pools.yaml"), TimingModel(**timing), LinkModel(),
                          mode=mode, hit_rate=HIT_RATE, frames=FRAMES)


def at_loads(mode: str = "services") -> tuple[list[str], dict[str, dict]]:
    """Cloud dollars per frame of each question's two plans at LOADS, as dicec cost prices a day: the table's
    lines, and the figures by question."""
    from dicec.analysis import analyse
    from dicec.cost.edge import cloud_catalogue, stream_at_loads
    from dicec.pipeline import generate
    from dicec.placement import load_pools, place
    from dicec.timing.model import TimingModel
    from dicec.tools import discover

    registry, catalogue = discover(), load_pools(HERE / "pools.yaml")
    lines = ["| question | " + " | ".join(f"{load:,.0f} frames/hour: edge-cloud vs cloud-only" for load in LOADS) + " |",
             "|---|" + "---|" * len(LOADS)]
    figures = {}
    for path in sorted((HERE / "questions").glob("*.txt")):
        question = path.read_text().strip()
        graph = analyse(generate(question, registry).code, registry, path=path.name, question=question)
        edge = place(graph, registry, catalogue, mode=mode)
        cloud = place(graph, registry, cloud_catalogue(catalogue), mode=mode)
        usd = figures[path.stem] = stream_at_loads(edge, cloud, registry, catalogue, TimingModel(), mode=mode,
                                                   hit_rate=HIT_RATE, loads=LOADS)
        cells = []
        for load in LOADS:
            e, c = usd["edge_cloud"][load], usd["cloud_only"][load]
            cells.append(f"${e:.6f} vs ${c:.6f} ({(1 - e / c) * 100:.1f}% saved)")
        lines.append(f"| {path.stem} | " + " | ".join(cells) + " |")
    return lines, figures


def loads_prose(figures: dict[str, dict]) -> list[str]:
    """What the table above says, written from its figures."""
    def saved(q: str, load: float) -> str:
        e, c = figures[q]["edge_cloud"][load], figures[q]["cloud_only"][load]
        return f"{(1 - e / c) * 100:.1f}%"

    low, mid, high = LOADS
    alone = [q for q in figures if all(v == 0 for v in figures[q]["edge_cloud"].values())]
    return [f"- `floating-bottles`: the edge saves {saved('floating-bottles', low)} at {low:,.0f} and "
            f"{saved('floating-bottles', mid)} at {mid:,.0f} frames/hour, then {saved('floating-bottles', high)} at "
            f"{high:,.0f}. Cloud-only runs the detector in the cloud, but on the same always-on server as the check "
            "(both fit one A4000), mostly idle at low rates; the edge plan still keeps that server for the crops. "
            "Only when the detector's work needs more replicas does keeping it on the vessel pay.",
            f"- `litter-near-boat` saves {saved('litter-near-boat', low)} to {saved('litter-near-boat', high)}: its "
            "whole-frame VQA server stays in the cloud in both plans; the detector's does not.",
            *([f"- {', '.join(f'`{q}`' for q in alone)}: answered on the vessel alone, no cloud server: "
               "the whole cloud bill is saved."] if alone else [])]


def summary_rows(rows, label: str) -> list[str]:
    from dicec.cost.edge_report import pct

    out = []
    for r in rows:
        n, f, s = r["cases"]["nothing"], r["cases"]["found"], r["stream"]
        be = r["break_even_uplink_mbps"]
        out.append(f"| {Path(r['input']).stem} | {label} | {n['edge_cloud']['latency_s']:.2f} s vs "
                   f"{n['cloud_only']['latency_s']:.2f} s (**{n['latency_speedup']:.2f}x**) | "
                   f"{f['edge_cloud']['latency_s']:.2f} s vs {f['cloud_only']['latency_s']:.2f} s "
                   f"({f['latency_speedup']:.2f}x) | {s['edge_cloud']['uplink_bytes'] / 1e6:.1f} MB vs "
                   f"{s['cloud_only']['uplink_bytes'] / 1e6:.1f} MB | ${s['edge_cloud']['cloud_usd']:.4f} vs "
                   f"${s['cloud_only']['cloud_usd']:.4f} (**{pct(s['cloud_usd_saved'])} saved**) | "
                   + ("never" if be is None else f"<= {be:g} Mbit/s") + " |")
    return out


def run_frames(tmp: Path) -> list[str]:
    """Compile floating-bottles, run it and exec its program on the RUN_SEEDS frames (seeded models)."""
    import numpy as np

    from dicec.analysis import analyse
    from dicec.cost.edge import box_bytes
    from dicec.emit import dump_yaml, emit_workflow
    from dicec.pipeline import generate
    from dicec.placement import load_pools, place
    from dicec.runtime.backend import get_backend, registry_for
    from dicec.runtime.images import encode_png, load_image
    from dicec.runtime.program import run_program
    from dicec.runner.workflow import RunOptions, run_workflow
    from dicec.tools import discover

    registry = discover()
    question = (HERE / "questions" / "floating-bottles.txt").read_text().strip()
    program = generate(question, registry).code
    placed = place(analyse(program, registry, path="floating-bottles.txt", question=question), registry,
                   load_pools(HERE / "pools.yaml"))
    wf = tmp / "wf.yaml"
    wf.write_text(dump_yaml([emit_workflow(placed)]))
    lines = ["| frame | edge detections (boxes) | crop bytes at 3 B/pixel | crop bundle sent | whole frame (raw / PNG file) "
             "| skipped | `dicec run` | `dicec exec` |", "|---|---|---|---|---|---|---|---|"]
    for seed in RUN_SEEDS:
        rng = np.random.default_rng(seed)
        image = tmp / f"frame-{seed}.png"
        image.write_bytes(encode_png(rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)))
        keep = tmp / f"run-{seed}"
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"},
                                                  keep_dir=str(keep)))
        boxes = json.loads(next(keep.glob("find-bottle/**/value.json")).read_text())
        bundle = next(keep.glob("find-bottle/**/crops.zip"), None)
        sent = bundle.stat().st_size if bundle is not None else 0
        serial = run_program(program, registry=registry_for(), image=load_image(str(image)), backend=get_backend("seeded"))
        lines.append(f"| `frame-{seed}.png` (320x240) | {len(boxes)} | {box_bytes(boxes, 3):,.0f} | {sent:,} | "
                     f"{320 * 240 * 3:,} / {image.stat().st_size:,} | "
                     f"{', '.join(result.skipped) or 'none'} | {json.loads(result.outputs['answer-json'])!r} | "
                     f"{serial.answer!r} |")
    return lines


def markdown(services, pods, warm, runs: list[str], loads: tuple[list[str], dict]) -> str:
    from dicec.cost.edge_report import markdown as tables, pct

    s0 = services[0]
    by = {(mode, Path(r["input"]).stem): r for mode, rows in (("services", services), ("pods", pods), ("warm", warm))
          for r in rows}
    fb_s, fb_p, fb_w = (by[(m, "floating-bottles")]["cases"]["nothing"] for m in ("services", "pods", "warm"))
    fb_be = by[("services", "floating-bottles")]["break_even_uplink_mbps"]

    def saved(mode: str) -> str:
        return ", ".join(f"`{q}` {pct(r['stream']['cloud_usd_saved'])}" for (m, q), r in sorted(by.items()) if m == mode)
    out = ["# Marine litter: a Jetson on the vessel, the cloud only for crops", "",
           "Generated by `python examples/marine/report.py -o examples/marine/REPORT.md`; pools in",
           "`examples/marine/pools.yaml` (edge figures and their sources in `SOURCE.md` beside it), timing model in",
           "`dicec/timing/model.py`, edge-cloud model in `dicec/cost/edge.py`. Uplink "
           f"{s0['uplink_mbps']:g} Mbit/s; frames {s0['link']['frame'][0]}x{s0['link']['frame'][1]} at "
           f"{s0['link']['bytes_per_pixel']:g} bytes/pixel; crops {s0['link']['crop'][0]}x{s0['link']['crop'][1]};",
           f"{s0['timing_model']['fanout']} detections when the edge finds something; stream: {FRAMES} frames, "
           f"{HIT_RATE * 100:g}% with litter.", "",
           "## Against DiCE-M's claims", "",
           "| question | setting | nothing found: edge-cloud vs cloud-only | found | uplink, stream | cloud $, stream "
           "| 2x when nothing found needs an uplink |", "|---|---|---|---|---|---|---|",
           *summary_rows(services, "services"), *summary_rows(pods, "pods"),
           *summary_rows(warm, "no per-step start-up (what-if)"), "",
           "- DiCE-M: **more than 2x lower latency when nothing is found**. *Not reproduced with Argo steps*:",
           "  the model gives it only where the frame upload outweighs what both plans pay anyway. With Argo's",
           "  per-step start-up (5 s pod start-up SLO + 1 s step overhead, on the vessel as in the cloud) the",
           f"  detector-then-verify question (`floating-bottles`) is {fb_s['latency_speedup']:.2f}x faster in services mode and",
           f"  {fb_p['latency_speedup']:.2f}x in pods mode at {s0['uplink_mbps']:g} Mbit/s: both plans pay two step start-ups",
           "  (detector, answer) and the edge's GPU is slower; what edge-cloud saves is the frame upload",
           f"  ({s0['link']['frame_bytes'] / 1e6:.1f} MB, {s0['link']['frame_bytes'] * 8 / s0['uplink_mbps'] / 1e6:.1f} s). "
           f"2x needs an uplink of {fb_be:g} Mbit/s or slower (last column). Without",
           "  per-step start-up (the what-if rows: detector and answer as calls in one warm process, as an",
           f"  edge loop would run them) the upload dominates and the edge is {fb_w['latency_speedup']:.1f}x faster, well past 2x.",
           "  `litter-near-boat` gains nothing: its program asks the whole frame a VQA question (speculated:",
           "  the analysis does not evaluate program guards), so the frame goes up anyway.",
           "- DiCE-M: **more than half the cloud cost** saved. Reproduced where the cloud work is mostly the",
           "  detector: cloud-only pays it in the cloud for every frame, edge-cloud pays the cloud only for the",
           f"  offloaded crops of the {HIT_RATE * 100:g}% of frames with litter, and nothing for a question the edge answers alone",
           f"  (saved in services mode: {saved('services')};",
           f"  in pods mode: {saved('pods')}). Where a",
           "  heavy whole-frame step stays in the cloud (`litter-near-boat`'s VQA model) only the detectors'",
           "  share is saved; in pods mode each offloaded pod also pays its model load, so less is saved.",
           "- **Bytes**: cloud-only sends every frame (6.2 MB raw); edge-cloud sends 3 crops of 160x160",
           "  (230 kB) on a hit and nothing otherwise, unless a cloud step reads the whole frame.",
           "- **Pods mode on one edge GPU** is slow when the edge has several steps (`plastic-litter`: six",
           "  GLIP pods, each loading its model, one at a time on the one device): on the edge, use services mode.",
           "", "## Cloud dollars per frame at a stated frame rate", "",
           "The figures above are busy-time dollars: the seconds cloud GPUs compute. A cloud bill also pays the",
           "always-on model servers while they idle. Priced as `dicec cost` prices a day (services mode; every",
           "cloud model server at least one replica all day, replicas sized to keep each at most 70% busy; CPU",
           f"pods, the answer service and Argo's agent priced; the vessel not billed), for a stream in which "
           f"{HIT_RATE * 100:g}% of the",
           "frames hold litter (`dicec.cost.edge.stream_at_loads`):", "", *loads[0], "", *loads_prose(loads[1]),
           "", "## What the model counts, and what it leaves out", "",
           "- Counted: per step, pod start-up + Argo overhead + model load (pods) or request overhead (services)",
           "  + the operator's latency on the pool's GPU (ORIN on the edge, from `operators/*/spec.yaml`); the",
           "  uplink, one transfer at a time; the edge device's single GPU (its work runs one step at a time);",
           "  cloud GPU seconds at list price.",
           "- Left out of the busy-time figures: result JSON both ways and network round trips (small next to a",
           "  frame); image pulls (once per node); the vessel's power; the cloud services' idle time (services",
           "  mode: priced in the section above); queueing between frames of the stream (means are per-frame figures).",
           "- How the crops travel: the edge detection's step writes a crop bundle (a stored ZIP of one PNG per",
           "  box, the frame's one-pixel border ring and a manifest; `--crops-out`), Argo uploads it as the step's",
           "  output artifact, and the offloaded cloud step takes it as an input artifact and reads it instead of",
           "  the frame (`--crops`); in services mode the calling step on the vessel sends each model-server request",
           "  only the crops of its boxes (`--send-crops`). The model's bytes are raw pixels (3 B/pixel); the",
           "  bundle's PNG crops are smaller on real frames (the noise frames below do not compress).",
           "", "## Run on this machine", "",
           "`floating-bottles` compiled on the marine pools and run with `dicec run --models seeded` on two generated",
           "frames; the seeded detector finds nothing in the first, so the offloaded `verify-property-bottle` step",
           "(guarded `when: '{{tasks.find-bottle.outputs.parameters.value}}' != '[]'`) is skipped and the answer",
           "still equals the serial program's. Crop bytes are the areas of the boxes the edge step returned times",
           "3 bytes/pixel; the bundle is the file the edge step wrote and the cloud step read (the seeded detector's",
           "boxes are random, so they are large here, and noise frames do not compress):", "", *runs, "",
           "## Per question (services mode)", "", tables(services)]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=None, help="write the Markdown report here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = run_frames(Path(tmp))
    text = markdown(reports("services"), reports("pods"), reports("services", pod_startup_s=0.0, step_overhead_s=0.0),
                    runs, at_loads())
    if args.output:
        from dicec.files import write_atomic

        write_atomic(args.output, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
