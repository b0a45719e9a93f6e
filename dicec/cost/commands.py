"""The ``dicec cost`` verb.

Only click, dicec.errors and dicec.output are imported here; the stages load inside the command, so
``dicec --help`` stays fast. Register with ``cli.add_command(cost)``. Its options for placing and timing
the input are :func:`dicec.output.placed_input_options`, shared with ``dicec simulate``.

INPUT may be a compiled workflow (``.yaml``: its embedded program is analysed and placed again on
``--pools``/``--operators``, see :mod:`dicec.plans`), a placed or task graph (``.json``), a
program (``.py``) or a question (``.txt``).
"""

from __future__ import annotations

from typing import Any

import click

from dicec.errors import DicecError
from dicec.output import dumps_json, placed_input_options, write_or_echo


@click.command()
@click.argument("input_file", metavar="INPUT")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True,
              help="Report format: Markdown, an HTML page (cost bars, dollars per query against load, a Gantt "
                   "chart of one query), or JSON.")
@click.option("-o", "--output", metavar="FILE", default=None, help="Write the report to FILE (atomically).")
@click.option("--load", "load_qph", type=float, default=3600.0, show_default=True, metavar="QPH",
              help="Queries per hour to price a day at (default 3600: one a second, the load dicec compile "
                   "--qps 1 sizes model servers for; the compile summary and cost label are this figure).")
@click.option("--nodes-per-pool", type=int, default=1, show_default=True,
              help="GPU nodes per used pool in the pictured schedule of one query.")
@placed_input_options
def cost(input_file: str, fmt: str, output: str | None, load_qph: float, nodes_per_pool: int, **opts: Any) -> None:
    """Dollars per query of INPUT's plan at a stated load (a day's bill over its queries: every pod and
    always-on server at its pool's price, busy or idle, CPU pods included), against the serial program
    in warm processes on A100 machines sized to the load, the same plan on identical A100 nodes, and the
    zero-idle bound; with a chart of dollars per query against load (--format html).

    INPUT: a compiled workflow (.yaml; its program is placed again on --pools), a placed or task graph
    (.json), a program (.py) or a question (.txt). A pods-mode batch workflow (dicec compile --batch) is
    priced as it runs: once an hour over that hour's queries (batch_window_s), every stage pod billed
    per second (start-up, an image pull per node, model loads, calls), over the run's queries.
    """
    from dicec.cost.report import cost_report
    from dicec.plans import from_options, load_placed, read_batch_workflow
    from dicec.timing.bill import check_load

    check_load(load_qph)
    if nodes_per_pool < 1:
        raise DicecError(f"--nodes-per-pool must be at least 1 (got {nodes_per_pool})")
    registry, catalogue, place_options, model = from_options(opts, (input_file,))
    batch = read_batch_workflow(input_file, registry=registry, catalogue=catalogue, options=place_options)
    if batch is not None:
        from dicec.cost.batch_report import batch_cost_report

        if opts["mode"] != "pods":
            raise DicecError(f"{input_file} is a pods-mode batch workflow (stage pods for {len(batch.plan.queries)} "
                             "question(s)); price it in pods mode, or a question compiled with --mode services")
        report = batch_cost_report(batch, registry, catalogue, model=model, load_qph=load_qph, spot=opts["spot"],
                                   nodes_per_pool=nodes_per_pool, name=input_file)
    else:
        placed = load_placed(input_file, registry=registry, catalogue=catalogue, options=place_options)
        report = cost_report(placed, registry, catalogue, model=model, mode=opts["mode"], load_qph=load_qph,
                             spot=opts["spot"], fuse=opts["fuse"], nodes_per_pool=nodes_per_pool, name=input_file)
    if fmt == "json":
        text = dumps_json(report)
    else:
        from dicec.cost.html import render

        text = render(report, fmt)
    write_or_echo(text, output)
    if output:
        click.echo(f"{output}: ${report['per_query_usd']:.6f} per query at {load_qph:g} queries/hour "
                   f"({opts['mode']}); saving {report['savings']['vs_serial_a100'] * 100:.1f}% vs the warm serial "
                   f"program on A100 machines, {report['savings']['vs_a100_nodes'] * 100:.1f}% vs A100 nodes", err=True)
