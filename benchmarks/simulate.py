"""Scaling figures for the GQA-style corpus, next to DiCE's, and the simulator's own throughput.

Usage: python benchmarks/simulate.py [--mode services|pods|both] [--json FILE] [--queries 10000] [--no-fuse]

Each question of benchmarks/gqa_corpus/questions.txt is compiled (offline code generation, analysis,
placement) and simulated on 1, 2, 4 and 8 nodes of the cheapest A100 pool that fits every operator
(the 40 GB A100), in services mode (operator calls as HTTP requests Argo's agent sends to warm model
servers) at Argo's defaults (the agent patches results every 10 s, ARGO_AGENT_PATCH_RATE, and the
controller acts on a patch 10 s later, DEFAULT_REQUEUE_TIME), with ARGO_AGENT_PATCH_RATE=1s alone, and
with DEFAULT_REQUEUE_TIME=1s (which sets both), and in pods mode (fused, as dicec compile emits it):

* batch of 1: each question alone, the mean over the questions of its makespan, speed-up and efficiency;
* batch of 1000: the corpus's questions taking turns, 1000 queries arriving at once, each its own workflow.

Speed-up is over the serial program in one warm process on one such node (every model loaded once, a
ViperGPT user's setup: the calls' latencies plus the program's own CPU work per query); efficiency is
speed-up / nodes; bound is the lower bound no schedule beats (dicec.timing.schedule). Services mode
needs every model of the corpus loaded on some node: where they do not fit the nodes, the row says so.
The services figures are given with the model servers batching queued requests (up to 8, the default;
only decoders gain, by reading their weights once per batch) and without (max_batch 1). Then 10,000
queries of the corpus, mixed, are simulated on 8 nodes and the wall time printed.

**Pods mode as a batch** (what ``dicec compile --batch`` emits: shards of stage pods, each loading its
models once for many images; dicec.timing.batch). A mixed batch of N queries is taken as a team would run
it: ONE workflow of all 118 questions (``dicec compile q1.txt ... q118.txt --batch --shards NODES``, so
each node runs a shard) over ceil(N / 118) images, every image asked every question -- so 118 x that
many queries, at least N (100 queries: 1 image, 118 queries). It runs on 1, 2, 4 and 8 nodes of the
40 GB A100 pool (the plan made again there, one stage pod holding all the corpus's models), for 100,
1,000 and 10,000 queries: makespan, bound, makespan / bound, speed-up over the warm serial program for
the same queries, and dollars per query (the nodes billed for the makespan). The stage pods batch a
task's calls 16 at a time, a decoder reading its weights once per batch (BLIP-2's simple_query: 117 of
the 118 questions end in one); the same runs without that (stage_batch_calls 1, as the shipped
backends compute simple_query today) follow. Last, dicec cost of the corpus's batch workflow as compiled
on the default catalogue (8 shards) at 100, 1,000 and 10,000 queries an hour: one run an hour over that
hour's queries, every pod billed per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "gqa_corpus" / "questions.txt"
NODES = (1, 2, 4, 8)
BATCH = 1000
DICE = {2: (2.0, 1.0), 4: (2.95, 0.74), 8: (3.7, 0.46)}


def compile_corpus(registry, catalogue, fuse: bool, mode: str = "pods"):
    from dicec.analysis import analyse
    from dicec.pipeline import generate
    from dicec.placement import place

    placed = []
    for i, question in enumerate(q.strip() for q in CORPUS.read_text().splitlines() if q.strip()):
        code = generate(question, registry).code
        placed.append(place(analyse(code, registry, path=f"q{i:03d}", question=question), registry, catalogue,
                            fuse=fuse, mode=mode))
    return placed


def _run(jobs, pool, n, model, batch):
    from dicec.errors import DicecError
    from dicec.simulate.runs import run_once

    try:
        return run_once(jobs, pool, n, model, batch=batch, spot=False)
    except DicecError as exc:
        return str(exc)


def figures(placed, registry, catalogue, model, mode: str, fuse: bool, variant: str) -> dict:
    from dicec.simulate.runs import jobs_for

    names = [p.graph.path for p in placed]
    jobs, pool = jobs_for(placed, names, registry, catalogue, model, pool=None, mode=mode, spot=False, fuse=fuse)
    out = {"variant": variant, "mode": mode, "pool": pool.name, "questions": len(jobs),
           "timing_model": model.to_json(), "one_query": {}, f"batch_{BATCH}": {}}
    for n in NODES:
        singles = [_run([job], pool, n, model, 1) for job in jobs]
        fitted = [r for r in singles if not isinstance(r, str)]
        out["one_query"][n] = {"questions": len(fitted),
                               "makespan_s": sum(r.makespan_s for r in fitted) / max(len(fitted), 1),
                               "serial_s": sum(r.serial_s for r in fitted) / max(len(fitted), 1),
                               "speedup": sum(r.speedup for r in fitted) / max(len(fitted), 1),
                               "efficiency": sum(r.efficiency for r in fitted) / max(len(fitted), 1)}
        r = _run(jobs, pool, n, model, BATCH)
        if isinstance(r, str):
            out[f"batch_{BATCH}"][n] = {"error": r}
            continue
        out[f"batch_{BATCH}"][n] = {"makespan_s": r.makespan_s, "serial_s": r.serial_s, "speedup": r.speedup,
                                    "efficiency": r.efficiency, "bound_s": r.bound_s,
                                    "serial_cold_s": r.serial_cold_s, "usd_per_query": r.usd / r.queries,
                                    "latency_p50_s": sorted(r.latency_s)[len(r.latency_s) // 2]}
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
    batch = f"batch_{BATCH}"
    lines = [f"{fig['variant']}: {fig['questions']} questions, nodes of {fig['pool']}; speed-up over the serial "
             "program in one warm process on one node (efficiency in brackets)",
             f"| nodes | one query: makespan s | speed-up | batch of {BATCH}: makespan s | bound s | serial s | "
             "speed-up | DiCE |",
             "|---|---|---|---|---|---|---|---|"]
    for n in NODES:
        one, b = fig["one_query"][n], fig[batch][n]
        dice = f"{DICE[n][0]} ({DICE[n][1]})" if n in DICE else "-"
        first = (f"{one['makespan_s']:.2f} | {one['speedup']:.3f} ({one['efficiency']:.3f})" if one["questions"]
                 else "- | -")
        if one["questions"] and one["questions"] < fig["questions"]:
            first += f" [{one['questions']} of {fig['questions']} fit]"
        if "error" in b:
            lines.append(f"| {n} | {first} | does not fit: {b['error']} | | | | {dice} |")
            continue
        lines.append(f"| {n} | {first} | {b['makespan_s']:.1f} | {b['bound_s']:.1f} | {b['serial_s']:.1f} | "
                     f"**{b['speedup']:.2f}** ({b['efficiency']:.2f}) | {dice} |")
    return "\n".join(lines)


#: Queries of the pods-mode batch runs, and the loads (queries/hour) the batch workflow is priced at.
BATCH_QUERIES = (100, 1000, 10_000)
BATCH_LOADS = (100, 1000, 10_000)


def batch_workflow(placed, registry, shards: int):
    """The corpus's questions as one pods-mode batch workflow in ``shards`` shards (what dicec compile emits)."""
    from dicec.placement.stages import plan_batch
    from dicec.plans import BatchWorkflow

    return BatchWorkflow(path=f"{len(placed)} questions", plan=plan_batch(placed, registry, shards=shards),
                         placed=tuple(placed))


def batch_figures(placed, registry, catalogue, model) -> dict:
    """The corpus as one batch workflow with a shard per node, on N A100 nodes, for each batch of queries."""
    from dicec.simulate.runs import batch_runs

    rows = []
    for n in NODES:
        workflow = batch_workflow(placed, registry, n)
        for queries in BATCH_QUERIES:
            body = batch_runs(workflow, registry, catalogue, model, nodes=[n], batch=queries)
            r = body["runs"][0]
            rows.append({"nodes": n, "asked": queries, "images": body["stages"]["images"], "queries": r["queries"],
                         "pods": body["stages"]["pods"], "makespan_s": r["makespan_s"], "bound_s": r["bound_s"],
                         "makespan_over_bound": r["makespan_over_bound"], "serial_s": r["serial_s"],
                         "speedup": r["speedup"], "efficiency": r["efficiency"], "usd_per_query": r["usd_per_query"]})
    return {"questions": len(placed), "pool": body["pool"], "timing_model": model.to_json(), "rows": rows}


def batch_cost(placed, registry, catalogue) -> list[dict]:
    """dicec cost of the corpus's batch workflow as compiled on the catalogue (default shards) at each load."""
    from dicec.cost.batch_report import batch_cost_report
    from dicec.placement.stages import default_shards

    workflow = batch_workflow(placed, registry, default_shards(placed))
    out = []
    for load in BATCH_LOADS:
        r = batch_cost_report(workflow, registry, catalogue, load_qph=load, curve=False)
        out.append({"load_qph": load, **r["baselines"], "vs_serial_a100": r["savings"]["vs_serial_a100"],
                    "images_per_run": r["batch"]["images_per_run"], "shards": r["batch"]["shards"],
                    "pods": [p["name"] + " on " + p["pool"] for p in r["batch"]["pods"]]})
    return out


def batch_table(fig: dict) -> str:
    """Per batch of queries, per node count: makespan / bound (their ratio), speed-up, dollars per query."""
    lines = [f"| queries asked (images x {fig['questions']} questions) | "
             + " | ".join(f"{n} node{'s' if n > 1 else ''}" for n in NODES) + " |", "|---" * (len(NODES) + 1) + "|"]
    for queries in BATCH_QUERIES:
        rows = {r["nodes"]: r for r in fig["rows"] if r["asked"] == queries}
        first = rows[NODES[0]]
        cells = [f"{r['makespan_s']:.0f} s / {r['bound_s']:.0f} s ({r['makespan_over_bound']:.2f}), "
                 f"{r['speedup']:.2f}x, ${r['usd_per_query']:.6f}" for r in (rows[n] for n in NODES)]
        lines.append(f"| {queries:,} ({first['images']} x {fig['questions']} = {first['queries']:,}) | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def batch_cost_table(rows: list[dict]) -> str:
    lines = ["| queries/hour | images a run | batch workflow | serial, warm A100 fleet | identical A100 nodes | bound "
             "| vs serial |", "|---" * 7 + "|"]
    for r in rows:
        saving = r["vs_serial_a100"]
        lines.append(f"| {r['load_qph']:,} | {r['images_per_run']} | ${r['chosen']:.6f} | ${r['serial_a100']:.6f} | "
                     f"${r['a100_nodes']:.6f} | ${r['bound']:.6f} | "
                     + (f"**{saving * 100:.1f}%** |" if saving >= 0 else f"**{-saving * 100:.1f}% more** |"))
    return "\n".join(lines)


#: The summary's columns: (variant title, patch rate, requeue, server batch cap, mode).
SUMMARY = (("services, Argo's defaults", 10.0, 10.0, 8, "services"),
           ("the same, no server batching", 10.0, 10.0, 1, "services"),
           ("ARGO_AGENT_PATCH_RATE=1s", 1.0, 10.0, 8, "services"),
           ("DEFAULT_REQUEUE_TIME=1s", 1.0, 1.0, 8, "services"),
           ("pods, fused", None, None, None, "pods"))


def summary(figs: list[dict]) -> str:
    """The README's and docs/cost.md's table: per node count, the batch's speed-up (efficiency) in each variant,
    then one query's mean makespan."""
    def pick(title, patch, requeue, cap, mode):
        for f in figs:
            t = f["timing_model"]
            if f["mode"] == mode and (mode == "pods" or (t["agent_patch_rate_s"], t["controller_requeue_s"],
                                                           t["max_batch"]) == (patch, requeue, cap)):
                return f
        raise KeyError(title)

    chosen = [pick(*v) for v in SUMMARY]
    batch = f"batch_{BATCH}"
    lines = [f"| nodes | {' | '.join(v[0] for v in SUMMARY)} | DiCE |", "|---" * (len(SUMMARY) + 2) + "|"]
    for n in NODES:
        cells = []
        for f in chosen:
            b = f[batch][n]
            cells.append("does not fit" if "error" in b else f"{b['speedup']:.2f} ({b['efficiency']:.2f}), {b['makespan_s']:.0f} s")
        dice = f"{DICE[n][0]} ({DICE[n][1]})" if n in DICE else "-"
        lines.append(f"| {n} | {' | '.join(cells)} | {dice} |")
    alone = " | ".join(f"{f['one_query'][8]['makespan_s']:.1f} s" for f in chosen)
    lines.append(f"| one query alone, mean | {alone} | |")
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

    registry, catalogue = discover(), load_pools()
    modes = ["services", "pods"] if args.mode == "both" else [args.mode]
    report = {"figures": [], "throughput": []}
    if "services" in modes:
        placed = compile_corpus(registry, catalogue, fuse, mode="services")
        for patch, requeue in ((10.0, 10.0), (1.0, 10.0), (1.0, 1.0)):
            for batch_cap in (8, 1):
                model = TimingModel(agent_patch_rate_s=patch, controller_requeue_s=requeue, max_batch=batch_cap)
                variant = (f"services, agent patch rate {patch:g} s, controller requeue {requeue:g} s, server "
                           f"batches of up to {batch_cap}" + (" (no batching)" if batch_cap == 1 else ""))
                fig = figures(placed, registry, catalogue, model, "services", fuse, variant)
                report["figures"].append(fig)
                print(table(fig) + "\n")
        tp = throughput(placed, registry, catalogue, TimingModel(), "services", args.queries, fuse)
        report["throughput"].append(tp)
        print(f"simulated {tp['queries']} queries ({tp['units']} units, mode services) on 8 nodes in "
              f"{tp['wall_s']:.2f} s ({tp['queries_per_s']:.0f} queries/s)\n")
    if "pods" in modes:
        placed = compile_corpus(registry, catalogue, fuse, mode="pods")
        fig = figures(placed, registry, catalogue, TimingModel(), "pods", fuse,
                      f"pods, {'fused' if fuse else 'a pod per task'}")
        report["figures"].append(fig)
        print(table(fig) + "\n")
        tp = throughput(placed, registry, catalogue, TimingModel(), "pods", args.queries, fuse)
        report["throughput"].append(tp)
        print(f"simulated {tp['queries']} queries ({tp['units']} units, mode pods) on 8 nodes in "
              f"{tp['wall_s']:.2f} s ({tp['queries_per_s']:.0f} queries/s)\n")
        report["batch"] = batch_figures(placed, registry, catalogue, TimingModel())
        report["batch_unbatched"] = batch_figures(placed, registry, catalogue, TimingModel(stage_batch_calls=1))
        print(f"pods mode as one batch workflow of the {len(placed)} questions, a shard per node, on A100 40 GB "
              "nodes: makespan s / bound s (their ratio), speed-up over the warm serial program, dollars per "
              "query\n" + batch_table(report["batch"]) + "\n")
        print("the same, the stage pods computing each call alone (stage_batch_calls 1)\n"
              + batch_table(report["batch_unbatched"]) + "\n")
        report["batch_cost"] = batch_cost(placed, registry, catalogue)
        print(f"dicec cost of the batch workflow as compiled ({', '.join(report['batch_cost'][0]['pods'])}; "
              f"{report['batch_cost'][0]['shards']} shards), one run an hour, per query\n"
              + batch_cost_table(report["batch_cost"]) + "\n")
    if args.mode == "both":
        print(f"summary: batch of {BATCH}, speed-up over the warm serial program (efficiency), makespan; "
              "then one query alone\n" + summary(report["figures"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
