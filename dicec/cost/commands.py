"""The ``dicec cost`` verb (and the options it shares with ``dicec simulate``).

Only click and dicec.errors are imported here; the stages load inside the command, so ``dicec --help``
stays fast. Register with ``cli.add_command(cost)``.

INPUT may be a compiled workflow (``.yaml``: its embedded program is analysed and placed again on
``--pools``/``--operators``, see :mod:`dicec.cost.inputs`), a placed or task graph (``.json``), a
program (``.py``) or a question (``.txt``).
"""

from __future__ import annotations

from typing import Any, Callable

import click

from dicec.errors import DicecError
from dicec.output import dumps_json, placement_options, write_or_echo


def common_options(func: Callable) -> Callable:
    """--operators, --pools, --cloud, --mode, placement and timing-model options."""
    options = [
        click.option("--operators", "operator_dirs", multiple=True, metavar="DIR",
                     help="Also load operator folders from DIR (repeatable)."),
        click.option("--pools", "pools_file", metavar="FILE", default=None,
                     help="Pool catalogue YAML (default: the shipped A4000/A6000/A100 list prices)."),
        click.option("--cloud", default=None, metavar="NAME",
                     help="Use the catalogue's labels and taints for this cloud (e.g. gke); pools it lacks are left out."),
        click.option("--mode", type=click.Choice(["pods", "services"]), default=None,
                     help="pods: each step a pod that loads its model; services: warm model servers per pool "
                          "(default: the mode a workflow INPUT was compiled in, else pods)."),
        *placement_options(),
        click.option("--fanout", type=int, default=None, metavar="N",
                     help="Elements assumed per fan-out (default 3; the real number is known only at run time)."),
        click.option("--pod-startup", "pod_startup", type=float, default=None, metavar="SECONDS",
                     help="Override the pod start-up figure (default 5 s, the Kubernetes p99 SLO)."),
        click.option("--image-pull", "image_pull", type=float, default=None, metavar="SECONDS",
                     help="Override the image-pull figure (default 30 s, an assumption)."),
        click.option("--timing", "timing_file", metavar="FILE", default=None,
                     help="Timing-model figures (JSON or YAML of pod_startup_s, image_pull_s, step_overhead_s, "
                          "request_overhead_s, answer_run_s, fanout), e.g. benchmarks/calibrate.py's for this "
                          "machine; the flags above still win."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def setup(opts: dict[str, Any], inputs: tuple[str, ...] = ()):
    """(registry, catalogue, PlaceOptions, TimingModel) from the common options.

    Without ``--mode``, the mode is the one the workflow ``inputs`` were compiled in (else pods), and
    ``opts["mode"]`` is set to it.
    """
    from dicec.cost.inputs import PlaceOptions, workflow_mode

    if opts.get("mode") is None:
        found = sorted({m for m in (workflow_mode(p) for p in inputs) if m is not None})
        if len(found) > 1:
            raise DicecError("the inputs were compiled in different modes (pods and services); pass --mode")
        opts["mode"] = found[0] if found else "pods"
    from dicec.cost.model import TimingModel, with_model_overrides
    from dicec.placement import load_pools
    from dicec.tools import discover

    registry = discover(opts["operator_dirs"])
    catalogue = load_pools(opts["pools_file"], cloud=opts["cloud"])
    place_options = PlaceOptions(objective=opts["objective"], mode=opts["mode"], max_latency_s=opts["max_latency"],
                                 spot=opts["spot"], fuse=opts["fuse"])
    base = TimingModel()
    if opts.get("timing_file"):
        from dicec.simulate.calibrate import read_timing

        base = with_model_overrides(base, **read_timing(opts["timing_file"]))
    model = with_model_overrides(base, fanout=opts["fanout"], pod_startup_s=opts["pod_startup"],
                                 image_pull_s=opts["image_pull"])
    return registry, catalogue, place_options, model


@click.command()
@click.argument("input_file", metavar="INPUT")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True,
              help="Report format: Markdown, an HTML page with a Gantt chart and cost bars, or JSON.")
@click.option("-o", "--output", metavar="FILE", default=None, help="Write the report to FILE (atomically).")
@click.option("--queries", type=int, default=1000, show_default=True,
              help="Price N queries (services mode spreads model loads over them).")
@click.option("--nodes-per-pool", type=int, default=1, show_default=True,
              help="GPU nodes per used pool in the pictured schedule of one query.")
@common_options
def cost(input_file: str, fmt: str, output: str | None, queries: int, nodes_per_pool: int, **opts: Any) -> None:
    """Dollars per task, per query and per N queries of INPUT's plan, against one A100 machine running the
    serial program and the same plan on identical A100 nodes.

    INPUT: a compiled workflow (.yaml; its program is placed again on --pools), a placed or task graph
    (.json), a program (.py) or a question (.txt).
    """
    from dicec.cost.inputs import load_placed
    from dicec.cost.report import cost_report

    if queries < 1:
        raise DicecError(f"--queries must be at least 1 (got {queries})")
    if nodes_per_pool < 1:
        raise DicecError(f"--nodes-per-pool must be at least 1 (got {nodes_per_pool})")
    registry, catalogue, place_options, model = setup(opts, (input_file,))
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
