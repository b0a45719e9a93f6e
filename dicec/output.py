"""What the click verbs share when they talk to a script or a file.

One JSON style for ``--format json`` (sorted keys, two-space indent, UTF-8 kept, a final newline) so
every verb's output diffs the same way; ``-o FILE`` written atomically or the text printed; and
``-p NAME=VALUE`` parameters parsed the way ``argo submit -p`` takes them; and the placement
options (``--objective``, ``--max-latency``, ``--spot``, ``--fuse/--no-fuse``) that ``place``,
``compile``, ``cost`` and ``simulate`` all take, defined once so their meaning and help agree. Kept apart from
:mod:`dicec.cli` so the stage packages' own command modules can use it without importing the CLI.
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
