"""What the click verbs share when they talk to a script or a file.

One JSON style for ``--format json`` (sorted keys, two-space indent, UTF-8 kept, a final newline) so
every verb's output diffs the same way; ``-o FILE`` written atomically or the text printed; and
``-p NAME=VALUE`` parameters parsed the way ``argo submit -p`` takes them; and the placement
options (``--objective``, ``--max-latency``, ``--spot``, ``--fuse/--no-fuse``) that ``place``,
``compile``, ``cost`` and ``simulate`` all take, defined once so their meaning and help agree; with them,
the options ``cost`` and ``simulate`` share to place and time an INPUT (:func:`placed_input_options`,
read by :func:`dicec.plans.from_options`). Kept apart from :mod:`dicec.cli` so the stage packages' own
command modules can use it without importing the CLI, and importing only click, so that the cost and
simulate verbs can share options without importing each other.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import click


def dumps_json(data: Any) -> str:
    """``data`` as the JSON every ``--format json`` prints."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_or_echo(text: str, output: str | None) -> None:
    """Write ``text`` atomically to ``output``, or print it when no file is given."""
    if output:
        from dicec.files import write_atomic

        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


def parse_parameters(values: tuple[str, ...]) -> dict[str, str]:
    """``("image=car.png", ...)`` -> ``{"image": "car.png"}``; a value without ``=`` is a usage error."""
    out = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {v!r}", param_hint="-p")
        out[name] = value
    return out


def placement_options() -> list[Callable]:
    """The click options for :func:`dicec.placement.place`'s choices; each verb applies them its own way.

    They give the command ``objective``, ``max_latency`` (validated by ``place`` itself), ``spot`` and ``fuse``.
    """
    return [
        click.option("--objective", type=click.Choice(["price", "cost"]), default="price", show_default=True,
                     help="price: the cheapest hourly price that fits; cost: the fewest dollars for each "
                          "task's seconds (a dearer, faster GPU can cost less)."),
        click.option("--max-latency", "max_latency", type=float, default=None, metavar="SECONDS",
                     help="Bound on the estimated critical path: moves critical-path tasks to faster pools, "
                          "cheapest second saved first; refused with the best achievable figure if impossible."),
        click.option("--spot", is_flag=True, help="Price pools at their spot rate where the catalogue lists one."),
        click.option("--fuse/--no-fuse", default=True, show_default=True,
                     help="pods mode: run a group of same-pool tasks as one pod where the start-up and model "
                          "load saved exceed the parallelism lost (dicec.placement.fusion)."),
    ]


def placed_input_options(func: Callable) -> Callable:
    """--operators, --pools, --cloud, --mode, placement and timing-model options: how ``dicec cost`` and
    ``dicec simulate`` place and time an INPUT (:func:`dicec.plans.from_options` reads them)."""
    options = [
        click.option("--operators", "operator_dirs", multiple=True, metavar="DIR",
                     help="Also load operator folders from DIR (repeatable)."),
        click.option("--pools", "pools_file", metavar="FILE", default=None,
                     help="Pool catalogue YAML (default: the shipped list prices, dicec pools)."),
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
                     help="Timing-model figures (JSON or YAML of any of dicec.timing.model.TimingModel's: "
                          "pod_startup_s, image_pull_s, ..., agent_patch_rate_s, controller_requeue_s, "
                          "agent_task_workers; docs/cost.md), e.g. benchmarks/calibrate.py's for this machine; "
                          "the flags above still win."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
