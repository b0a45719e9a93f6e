"""``python -m dicec.runtime VERB``: the runtime verbs before they are registered in the ``dicec`` command.

``dicec run --isolation process`` launches steps this way (see ``LAUNCHER`` in
:mod:`dicec.runtime.workflow`). Errors are one line and a non-zero exit, as in ``dicec``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from dicec.errors import DicecError
from dicec.runtime.commands import COMMANDS


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DicecError as exc:
            for line in getattr(exc, "problems", None) or [exc]:
                text = " ".join(str(line).split())
                click.echo(text if getattr(line, "location", True) is not None else f"dicec: {text}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("dicec: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if os.environ.get("DICEC_DEBUG"):
                raise
            click.echo(f"dicec: internal error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(70)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dicec runtime verbs: op, answer, exec, run."""


for _command in COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main(prog_name="dicec", args=sys.argv[1:])
