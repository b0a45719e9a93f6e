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
              help="Queries in the batch (all arrive at once and overlap; several INPUTs take turns).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: a table; json: runs with nodes, speedup, efficiency, makespan_s, usd, ...")
@click.option("-o", "--output", metavar="FILE", default=None, help="Write the result to FILE (atomically).")
@placed_input_options
def simulate(inputs: tuple[str, ...], nodes_text: str, pool: str | None, batch: int, fmt: str,
             output: str | None, **opts: Any) -> None:
    """Simulate INPUT(s) on clusters of N nodes: makespan, speed-up over the serial program on one node,
    efficiency, GPU busy and idle time, and dollars, for one query or a batch.

    INPUT: compiled workflows (.yaml), placed or task graphs (.json), programs (.py) or questions (.txt).
    Several INPUTs are simulated as one mixed batch, and each also alone.
    """
    from dicec.plans import from_options, load_placed
    from dicec.simulate.runs import parse_nodes, scaling_runs

    nodes = parse_nodes(nodes_text)
    if batch < 1:
        raise DicecError(f"--batch must be at least 1 (got {batch})")
    registry, catalogue, place_options, model = from_options(opts, inputs)
    placed = [load_placed(path, registry=registry, catalogue=catalogue, options=place_options) for path in inputs]
    body = scaling_runs(placed, list(inputs), registry, catalogue, model, nodes=nodes, pool=pool, batch=batch,
                        mode=opts["mode"], spot=opts["spot"], fuse=opts["fuse"])
    write_or_echo(dumps_json(body) if fmt == "json" else _table(body), output)


def _table(body: dict[str, Any]) -> str:
    head = (f"{len(body['inputs'])} input(s), batch {body['batch']}, mode {body['mode']}, pool {body['pool']}\n"
            f"{'nodes':>5} {'makespan s':>11} {'serial s':>10} {'speed-up':>8} {'effic.':>6} "
            f"{'GPU busy s':>10} {'GPU idle s':>10} {'$ cluster':>10} {'$/query':>10}\n")
    rows = [f"{r['nodes']:>5} {r['makespan_s']:>11.2f} {r['serial_s']:>10.2f} {r['speedup']:>8.2f} "
            f"{r['efficiency']:>6.2f} {r['gpu_busy_s']:>10.1f} {r['gpu_idle_s']:>10.1f} {r['usd']:>10.4f} "
            f"{r['usd_per_query']:>10.6f}\n" for r in body["runs"]]
    return head + "".join(rows)
