"""The model server's verb, ``dicec op serve NAME...``, and the whole ``dicec op`` group it joins.

Only click and the step side's click verbs import at load time; the server itself
(:mod:`dicec.serving.model_server`) loads when the verb runs. :func:`op_group` is the step side's
``op`` group (:func:`dicec.runtime.commands.op_verb`: ``step``, ``call``) with ``serve`` added: the
``dicec`` command registers it, and ``python -m dicec.serving op serve NAME...`` runs it on its own
(:mod:`dicec.serving.__main__`).
"""

from __future__ import annotations

import sys

import click

from dicec.runtime.commands import op_verb

#: ``serve``'s line in the ``dicec op`` group's help.
SERVE_USAGE = "dicec op serve NAME...     the model server of services mode"


def _stderr(line: str) -> None:
    click.echo(line, err=True)


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
    from dicec.serving.model_server import ServeOptions
    from dicec.serving.model_server import serve as run_server

    options = ServeOptions(operators=names, host=host, port=port, max_batch=max_batch, max_wait_ms=max_wait_ms,
                           models=models, operator_dirs=operator_dirs, shutdown_delay_s=shutdown_delay_s)

    def announce(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    sys.exit(run_server(options, log=_stderr, announce=announce))


def op_group() -> click.Group:
    """``dicec op``: one pods-mode step (the default), ``call`` (a services-mode step) and ``serve``."""
    return op_verb((serve, SERVE_USAGE))
