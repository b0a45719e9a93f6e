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
              help="Report format: Markdown, an HTML page with a Gantt chart and cost bars, or JSON.")
@click.option("-o", "--output", metavar="FILE", default=None, help="Write the report to FILE (atomically).")
@click.option("--queries", type=int, default=1000, show_default=True,
              help="Price N queries (services mode spreads model loads over them).")
@click.option("--nodes-per-pool", type=int, default=1, show_default=True,
              help="GPU nodes per used pool in the pictured schedule of one query.")
@placed_input_options
def cost(input_file: str, fmt: str, output: str | None, queries: int, nodes_per_pool: int, **opts: Any) -> None:
    """Dollars per task, per query and per N queries of INPUT's plan, against one A100 machine running the
    serial program and the same plan on identical A100 nodes.

    INPUT: a compiled workflow (.yaml; its program is placed again on --pools), a placed or task graph
    (.json), a program (.py) or a question (.txt).
    """
    from dicec.cost.report import cost_report
    from dicec.plans import from_options, load_placed

    if queries < 1:
        raise DicecError(f"--queries must be at least 1 (got {queries})")
    if nodes_per_pool < 1:
        raise DicecError(f"--nodes-per-pool must be at least 1 (got {nodes_per_pool})")
    registry, catalogue, place_options, model = from_options(opts, (input_file,))
    placed = load_placed(input_file, registry=registry, catalogue=catalogue, options=place_options)
    report = cost_report(placed, registry, catalogue, model=model, mode=opts["mode"], queries=queries,
                         spot=opts["spot"], fuse=opts["fuse"], nodes_per_pool=nodes_per_pool, name=input_file)
    if fmt == "json":
        text = dumps_json(report)
    else:
        from dicec.cost.html import render

        text = render(report, fmt)
    write_or_echo(text, output)
    if output:
        click.echo(f"{output}: ${report['per_query_usd']:.6f} per query ({opts['mode']}); saving "
                   f"{report['savings']['vs_serial_a100'] * 100:.1f}% vs serial on one A100, "
                   f"{report['savings']['vs_a100_nodes'] * 100:.1f}% vs A100 nodes", err=True)
