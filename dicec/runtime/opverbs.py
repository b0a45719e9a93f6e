"""The ``dicec op`` verb: one pods-mode step (``dicec op NAME ...``) plus ``serve`` and ``call``.

``dicec op NAME ...`` stays what every emitted pods-mode step runs (the ``step`` subcommand, chosen
when the first word is not a subcommand's name, so an operator named ``serve`` or ``call`` is still
reachable as ``dicec op step serve ...``). The services-mode verbs:

* ``dicec op serve NAME... [--host] [--port] [--max-batch N] [--max-wait-ms M]``: the model server a
  Deployment runs (:mod:`dicec.runtime.serve`);
* ``dicec op call NAME --service URL ...``: a services-mode step, the same flags as ``dicec op NAME``
  (:mod:`dicec.runtime.client`).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from dicec.runtime.commands import step_options


def _stderr(line: str) -> None:
    click.echo(line, err=True)


class OpGroup(click.Group):
    """Routes ``dicec op NAME ...`` (not a subcommand) to the ``step`` subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["step", *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, then the options of the default ``step`` (what most readers look for)."""
        super().format_help(ctx, formatter)
        step = self.commands.get("step")
        if step is None:
            return
        step_ctx = click.Context(step, info_name="step", parent=ctx)
        rows = [r for p in step.get_params(step_ctx) if (r := p.get_help_record(step_ctx)) is not None]
        with formatter.section("Options of dicec op NAME (one pods-mode step)"):
            formatter.write_dl(rows)


@click.command("serve")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a pod).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: any free port; the URL is printed on standard output).")
@click.option("--max-batch", type=click.IntRange(1, 4096), default=8, show_default=True,
              help="Most requests of one operator run as one batch.")
@click.option("--max-wait-ms", type=click.FloatRange(0, 60_000), default=0.0, show_default=True,
              help="How long a batch waits to fill after its first request (0: it takes what is already queued).")
@click.option("--shutdown-delay-s", type=click.FloatRange(0, 600), default=0.0, show_default=True,
              help="On SIGTERM, keep answering this long while unready before closing (endpoints update).")
@click.option("--models", type=click.Choice(["builtin", "onnx", "seeded"]), default=None,
              help="Operator backend, as for dicec op (default: $DICEC_MODELS, else builtin).")
@click.option("--operators", "operator_dirs", multiple=True, metavar="DIR", help="Also load operator folders from DIR.")
def serve(names: tuple[str, ...], host: str, port: int, max_batch: int, max_wait_ms: float, shutdown_delay_s: float,
          models: str | None, operator_dirs: tuple[str, ...]) -> None:
    """Serve operators NAME... over HTTP with request batching (the model server of services mode).

    \b
    GET /healthz  liveness      GET /readyz  200 once the models are loaded
    GET /metrics  Prometheus    POST /v1/call  {"operator","form","patch","args","image"}
    SIGTERM drains: unready, in-flight requests answered, exit 0.
    """
    from dicec.runtime.serve import ServeOptions
    from dicec.runtime.serve import serve as run_server

    options = ServeOptions(operators=names, host=host, port=port, max_batch=max_batch, max_wait_ms=max_wait_ms,
                           models=models, operator_dirs=operator_dirs, shutdown_delay_s=shutdown_delay_s)

    def announce(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    sys.exit(run_server(options, log=_stderr, announce=announce))


def _call_options(command: Any) -> Any:
    for option in reversed([
        click.argument("name"),
        click.option("--service", required=True, metavar="URL", help="The model server's base URL (http://HOST[:PORT])."),
        click.option("--send-crops", is_flag=True,
                     help="Send each call only the crops of the boxes it reads, not the frame (an offloaded step on the edge)."),
        click.option("--wait", "wait_s", type=click.FloatRange(0, 3600), default=60.0, show_default=True,
                     help="Seconds to keep retrying while the server is not up or not ready."),
        click.option("--operators", "operator_dirs", multiple=True, metavar="DIR", help="Also load operator folders from DIR."),
    ]):
        command = option(command)
    return command


@click.command("call")
@_call_options
@step_options
def call(**params: Any) -> None:
    """Run operator NAME for one services-mode step: the call goes to the model server at --service URL,
    and the value and record are written as dicec op writes them (see dicec/emit/steps.py).

    $DICEC_SERVICES (JSON, Service name -> base URL) redirects a service, as dicec run does.
    """
    from dicec.runtime.client import run_call, services_from

    run_call(**params, services=services_from({}), log=_stderr)


def run_call_in_process(argv: list[str], *, env: dict[str, str]) -> tuple[int, list[str]]:
    """``op call ...`` argv (without ``op call``) in this process, for ``dicec run``: (exit code, log lines)."""
    from dicec.runtime.client import run_call, services_from

    from dicec.runtime.commands import invoke_in_process

    def work(params: dict, log: list[str]) -> None:
        run_call(**params, services=services_from(env), log=log.append)

    return invoke_in_process(call, argv, env, work)


def op_verb(step: click.Command) -> click.Group:
    """The ``op`` group: ``step`` (the given pods-mode command, also the default), ``serve`` and ``call``."""
    group = OpGroup("op", help=(
        "What workflow steps and model servers run.\n\n"
        "\b\n"
        "dicec op NAME ...          one pods-mode step (same as: dicec op step NAME ...)\n"
        "dicec op call NAME ...     one services-mode step, through a model server\n"
        "dicec op serve NAME...     the model server of services mode"))
    group.add_command(step, "step")
    group.add_command(serve)
    group.add_command(call)
    return group
