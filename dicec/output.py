"""What the click verbs share when they talk to a script or a file.

One JSON style for ``--format json`` (sorted keys, two-space indent, UTF-8 kept, a final newline) so
every verb's output diffs the same way; ``-o FILE`` written atomically or the text printed (``-o -``
too); and
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
import os
from typing import Any, Callable

import click

from dicec.errors import DicecError

#: Exit codes every entry point gives (see :mod:`dicec.cli`): bad input, an internal error, interrupted.
EXIT_INPUT = 1
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class OneLineErrors(click.Group):
    """A command group whose failures are one line on stderr and an exit code, never a traceback.

    ``dicec`` itself and the packages' own ``python -m`` entry points (the step side, the model server)
    are such groups, so a step or a server fails exactly as ``dicec`` does: a :class:`DicecError` is its
    problems, one line each (``dicec:`` before one with no file location) and its exit code; Ctrl-C is 130;
    a bug is ``dicec: internal error: ...`` and 70, with the traceback only when ``$DICEC_DEBUG`` is set.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DicecError as exc:
            for line in getattr(exc, "problems", None) or [exc]:
                click.echo(error_line(line), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("dicec: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            os._exit(EXIT_INPUT)  # the reader went away; nothing left to say
        except Exception as exc:  # a bug: say so in one line, show the traceback only on request
            if os.environ.get("DICEC_DEBUG"):
                raise
            click.echo(f"dicec: internal error: {type(exc).__name__}: {exc} "
                       "(set DICEC_DEBUG=1 for the traceback, and please report it)", err=True)
            ctx.exit(EXIT_INTERNAL)


def error_line(problem: object) -> str:
    """One problem as one line: ``file:line: message`` where it has a location, else ``dicec: message``."""
    text = " ".join(str(problem).split())
    if getattr(problem, "location", True) is None:
        return f"dicec: {text}"
    return text


def dumps_json(data: Any) -> str:
    """``data`` as the JSON every ``--format json`` prints."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def to_stdout(output: str | None) -> bool:
    """Whether ``-o`` names standard output: not given, or ``-``."""
    return not output or output == "-"


def write_or_echo(text: str, output: str | None) -> None:
    """What every verb's ``-o FILE`` does: print ``text`` when no file is given or FILE is ``-``, else write it
    with :func:`dicec.files.write_atomic` (atomically over a regular file, through a symlink to its
    target, in place to ``/dev/null``, a FIFO or a device)."""
    if to_stdout(output):
        click.echo(text, nl=False)
    else:
        from dicec.files import write_atomic

        write_atomic(output, text)


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
