"""Scaling figures for the GQA-style corpus, next to DiCE's, and the simulator's own throughput.

Usage: python benchmarks/simulate.py [--mode services|pods|both] [--json FILE] [--queries 10000] [--no-fuse]

Each question of benchmarks/gqa_corpus/questions.txt is compiled (offline code generation, analysis,
placement) and simulated on 2, 4 and 8 nodes of the cheapest A100 pool that fits every operator:
* one query: the mean over the questions of each one's speed-up and efficiency;
* a batch of 100: the first 100 questions as one mixed batch (all arrive at once);
speed-up is over the serial program on one node of the same pool (see dicec.timing.job). Then 10,000
queries of the corpus, mixed, are simulated on 8 nodes and the wall time printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "gqa_corpus" / "questions.txt"
NODES = (2, 4, 8)
DICE = {2: (2.0, 1.0), 4: (2.95, 0.74), 8: (3.7, 0.46)}


def compile_corpus(registry, catalogue, fuse: bool):
    from dicec.analysis import analyse
    from dicec.pipeline import generate
    from dicec.placement import place

    placed = []
    for i, question in enumerate(q.strip() for q in CORPUS.read_text().splitlines() if q.strip()):
        code = generate(question, registry).code
        placed.append(place(analyse(code, registry, path=f"q{i:03d}", question=question), registry, catalogue,
                            fuse=fuse))
    return placed


def figures(placed, registry, catalogue, model, mode: str, fuse: bool) -> dict:
    from dicec.simulate.runs import jobs_for, run_once

    names = [p.graph.path for p in placed]
    jobs, pool = jobs_for(placed, names, registry, catalogue, model, pool=None, mode=mode, spot=False, fuse=fuse)
    out = {"mode": mode, "pool": pool.name, "questions": len(jobs), "one_query": {}, "batch_100": {}}
    for n in NODES:
        singles = [run_once([job], pool, n, model, batch=1, spot=False) for job in jobs]
        out["one_query"][n] = {"speedup": sum(r.speedup for r in singles) / len(singles),
                               "efficiency": sum(r.efficiency for r in singles) / len(singles)}
        batch = run_once(jobs[:100], pool, n, model, batch=100, spot=False)
        out["batch_100"][n] = {"speedup": batch.speedup, "efficiency": batch.efficiency,
                               "makespan_s": batch.makespan_s, "serial_s": batch.serial_s,
                               "usd_per_query": batch.usd / batch.queries}
    return out


def throughput(placed, registry, catalogue, model, mode: str, queries: int, fuse: bool) -> dict:
    from dicec.simulate.runs import jobs_for, run_once

    names = [p.graph.path for p in placed]
    jobs, pool = jobs_for(placed, names, registry, catalogue, model, pool=None, mode=mode, spot=False, fuse=fuse)
    started = time.perf_counter()
    result = run_once(jobs, pool, 8, model, batch=queries, spot=False)
    wall = time.perf_counter() - started
    units = sum(len(jobs[q % len(jobs)].units) for q in range(queries))
    return {"mode": mode, "queries": queries, "units": units, "wall_s": wall, "queries_per_s": queries / wall,
            "simulated_makespan_s": result.makespan_s}


def table(fig: dict) -> str:
    lines = [f"mode {fig['mode']}, {fig['questions']} questions, nodes of {fig['pool']}",
             "| nodes | one query: speed-up | efficiency | batch of 100: speed-up | efficiency | DiCE: speed-up | efficiency |",
             "|---|---|---|---|---|---|---|"]
    for n in NODES:
        one, batch = fig["one_query"][n], fig["batch_100"][n]
        lines.append(f"| {n} | {one['speedup']:.2f} | {one['efficiency']:.2f} | {batch['speedup']:.2f} | "
                     f"{batch['efficiency']:.2f} | {DICE[n][0]} | {DICE[n][1]} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["services", "pods", "both"], default="both")
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--no-fuse", action="store_true",
                        help="pods mode: a pod per task (default: fused groups, as dicec compile emits them)")
    args = parser.parse_args(argv)
    fuse = not args.no_fuse
    from dicec.placement import load_pools
    from dicec.timing.model import TimingModel
    from dicec.tools import discover

    registry, catalogue, model = discover(), load_pools(), TimingModel()
    placed = compile_corpus(registry, catalogue, fuse)
    modes = ["services", "pods"] if args.mode == "both" else [args.mode]
    report = {"figures": [], "throughput": []}
    if "services" in modes:
        # Warm workers with no pod per step (DiCE's own executor; dicec run on one machine): only the
        # GPU work, the request overhead and the answer step's CPU work remain.
        warm = TimingModel(pod_startup_s=0.0, step_overhead_s=0.0)
        fig = figures(placed, registry, catalogue, warm, "services", fuse)
        fig["variant"] = "services, no pod per step (warm workers)"
        report["figures"].append(fig)
        print("no pod per step (warm workers, as DiCE's executor): " + table(fig) + "\n")
    for mode in modes:
        fig = figures(placed, registry, catalogue, model, mode, fuse)
        fig["variant"] = f"{mode}, one Argo pod per step"
        report["figures"].append(fig)
        print("one Argo pod per step: " + table(fig) + "\n")
        tp = throughput(placed, registry, catalogue, model, mode, args.queries, fuse)
        report["throughput"].append(tp)
        print(f"simulated {tp['queries']} queries ({tp['units']} units, mode {mode}) on 8 nodes in "
              f"{tp['wall_s']:.2f} s ({tp['queries_per_s']:.0f} queries/s)\n")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
