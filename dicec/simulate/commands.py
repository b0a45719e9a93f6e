"""The ``dicec simulate`` verb: scaling figures for one or many inputs on N-node clusters.

Only click, dicec.errors and dicec.output (whose :func:`~dicec.output.placed_input_options` it shares
with ``dicec cost``) are loaded at import time. Register with ``cli.add_command(simulate)``.
"""

from __future__ import annotations

from typing import Any

import click

from dicec.errors import DicecError
from dicec.output import dumps_json, placed_input_options, write_or_echo


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--nodes", "nodes_text", default="1,2,4,8", show_default=True, metavar="N,N,...",
              help="Node counts to simulate, comma-separated.")
@click.option("--pool", default=None, metavar="NAME",
              help="Pool of the nodes (default: the cheapest A100 pool that fits every operator); "
                   "'placed' = N nodes of each pool the placement chose.")
@click.option("--batch", type=int, default=1, show_default=True,
              help="Queries in the batch (all arrive at once and overlap; several INPUTs take turns, so a batch "
                   "of 1 runs the first INPUT only; a batch workflow of K questions takes ceil(N/K) images).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a table per run; json: runs with nodes, makespan_s, serial_s, speedup, efficiency, "
                   "bound_s, gpu_busy_s, gpu_idle_s, usd, latency_s, serial_cold_s, ...")
@click.option("-o", "--output", metavar="FILE", default=None, help="Write the result to FILE (atomically).")
@placed_input_options
def simulate(inputs: tuple[str, ...], nodes_text: str, pool: str | None, batch: int, fmt: str,
             output: str | None, **opts: Any) -> None:
    """Simulate INPUT(s) on clusters of N nodes: makespan, the lower bound no schedule can beat,
    speed-up over the serial program in one warm process on one node (every model loaded once),
    efficiency, GPU busy and idle time, dollars, and per-query latency, for one query or a batch.

    Services mode models Argo's agent: started once per workflow, sending at most agent_task_workers
    requests at once, and patching results every agent_patch_rate_s (set them with --timing FILE).
    Pods mode waits, as services mode does, for the controller's requeue after a pod finishes.
    INPUT: compiled workflows (.yaml), placed or task graphs (.json), programs (.py) or questions (.txt).
    Several INPUTs are simulated as one mixed batch (each query its own workflow), and each also alone.
    A pods-mode batch workflow (dicec compile --batch) is simulated alone as the shards of stage pods it
    runs: --batch N queries are ceil(N/K) images, each asked all K of its questions.
    """
    from dicec.plans import from_options, load_placed, read_batch_workflow
    from dicec.simulate.runs import batch_runs, parse_nodes, scaling_runs

    nodes = parse_nodes(nodes_text)
    if batch < 1:
        raise DicecError(f"--batch must be at least 1 (got {batch})")
    registry, catalogue, place_options, model = from_options(opts, inputs)
    batches = [read_batch_workflow(path, registry=registry, catalogue=catalogue, options=place_options)
               for path in inputs]
    if any(batches) and len(inputs) > 1:
        raise DicecError(f"{next(b.path for b in batches if b)} is a batch workflow (stage pods for all its questions); "
                         "simulate it alone")
    if batches[0] is not None and opts["mode"] == "pods":
        body = batch_runs(batches[0], registry, catalogue, model, nodes=nodes, pool=pool, batch=batch, spot=opts["spot"])
    else:
        if batches[0] is not None:  # --mode services: its questions as services mode runs them, a query DAG per image
            placed = [_placed_again(p, registry, catalogue, place_options) for p in batches[0].placed]
            names = [f"{inputs[0]} {q.name}" for q in batches[0].plan.queries]
        else:
            placed = [load_placed(path, registry=registry, catalogue=catalogue, options=place_options) for path in inputs]
            names = list(inputs)
        body = scaling_runs(placed, names, registry, catalogue, model, nodes=nodes, pool=pool, batch=batch,
                            mode=opts["mode"], spot=opts["spot"], fuse=opts["fuse"], max_latency_s=opts["max_latency"])
    write_or_echo(dumps_json(body) if fmt == "json" else _text(body), output)


def _placed_again(placed, registry, catalogue, options):
    """A batch workflow's question placed again as ``options`` say (services mode: warm servers' seconds)."""
    from dicec.placement import place

    return place(placed.graph, registry, catalogue, objective=options.objective, mode=options.mode,
                 max_latency_s=options.max_latency_s, spot=options.spot, fuse=options.fuse)


def _text(body: dict[str, Any]) -> str:
    """The runs as tables: the mixed batch, then each input alone (what the help promises)."""
    inputs = body["inputs"]
    head = f"{len(inputs)} input(s), batch {body['batch']}, mode {body['mode']}, pool {body['pool']}"
    if body["mode"] == "services":
        t = body["timing_model"]
        head += (f"; Argo agent: start {t['agent_startup_s']:g} s once per workflow, patch every "
                 f"{t['agent_patch_rate_s']:g} s, {t['agent_task_workers']} requests in flight")
    if "stages" in body:
        b = body["stages"]
        head += (f"\na batch workflow of {b['questions']} question(s) in {b['shards']} shards of "
                 f"{', '.join(f'{p} ({q})' for p, q in zip(b['pods'], b['pools']))}: {b['images']} image(s), every "
                 f"image asked every question, {b['queries']} queries")
    if len(inputs) > 1 and body["batch"] < len(inputs):
        ran = ", ".join(inputs[:body["batch"]])
        head += f"\nbatch {body['batch']} < {len(inputs)} inputs: the mixed batch ran {ran} only (inputs take turns)"
    out = [head + "\nserial s: the serial program in one warm process on one node (every model loaded once); "
           "speed-up = serial s / makespan; bound s: no schedule is shorter\n" + _table(body["runs"])]
    for name, runs in body.get("each", {}).items():
        out.append(f"{name} alone, batch {body['batch']}:\n" + _table(runs))
    return "\n".join(out)


def _table(runs: list[dict[str, Any]]) -> str:
    head = (f"{'nodes':>5} {'makespan s':>11} {'bound s':>9} {'serial s':>10} {'speed-up':>8} {'effic.':>6} "
            f"{'GPU busy s':>10} {'GPU idle s':>10} {'$ cluster':>10} {'$/query':>10} {'p50 s':>8} {'p95 s':>8} "
            f"{'cold serial s':>13}\n")
    rows = [f"{r['nodes']:>5} {r['makespan_s']:>11.2f} {r['bound_s']:>9.2f} {r['serial_s']:>10.2f} {r['speedup']:>8.2f} "
            f"{r['efficiency']:>6.2f} {r['gpu_busy_s']:>10.1f} {r['gpu_idle_s']:>10.1f} {r['usd']:>10.4f} "
            f"{r['usd_per_query']:>10.6f} {r['latency_s']['p50']:>8.2f} {r['latency_s']['p95']:>8.2f} "
            f"{r['serial_cold_s']:>13.2f}\n" for r in runs]
    return head + "".join(rows)
