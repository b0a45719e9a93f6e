"""The servers' verbs, ``dicec op serve NAME...`` and ``dicec answer serve``, and the groups they join.

Only click and the step side's click verbs import at load time; each server
(:mod:`dicec.serving.model_server`, :mod:`dicec.serving.answer_server`) loads when its verb runs.
:func:`op_group` is the step side's ``op`` group (:func:`dicec.runtime.commands.op_verb`: ``step``,
``call``) with ``serve`` added, :func:`answer_group` the ``answer`` group
(:func:`dicec.runtime.commands.answer_verb`: ``step``) with ``serve`` added: the ``dicec`` command
registers both, and ``python -m dicec.serving op serve NAME...`` / ``python -m dicec.serving answer
serve`` run them on their own (:mod:`dicec.serving.__main__`).
"""

from __future__ import annotations

import sys

import click

from dicec.runtime.commands import answer_verb, op_verb

#: ``serve``'s line in the ``dicec op`` group's help.
SERVE_USAGE = "dicec op serve NAME...     the model server of services mode"
#: ``serve``'s line in the ``dicec answer`` group's help.
ANSWER_SERVE_USAGE = "dicec answer serve         the answer server of services mode"


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
    POST /v1/step  {"call","image","patch","index","refs"} (a workflow's HTTP step)
    SIGTERM drains: unready, in-flight requests answered, exit 0.
    """
    from dicec.serving.model_server import ServeOptions
    from dicec.serving.model_server import serve as run_server

    options = ServeOptions(operators=names, host=host, port=port, max_batch=max_batch, max_wait_ms=max_wait_ms,
                           models=models, operator_dirs=operator_dirs, shutdown_delay_s=shutdown_delay_s)
    sys.exit(run_server(options, log=_stderr, announce=_announce))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a pod).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on (0: any free port; the URL is printed on standard output).")
@click.option("--allow-services", metavar="REGEX", default=None,
              help="Model-server URLs a request may name (matched whole; default: in-namespace dicec Services, "
                   "http://dicec-NAME[:PORT]).")
@click.option("--max-seconds", type=click.FloatRange(0, 86400, min_open=True), default=300.0, show_default=True,
              help="Each request's program: wall-clock seconds, operator calls included.")
@click.option("--max-lines", type=click.IntRange(1), default=5_000_000, show_default=True,
              help="Each request's program: executed lines.")
@click.option("--shutdown-delay-s", type=click.FloatRange(0, 600), default=0.0, show_default=True,
              help="On SIGTERM, keep answering this long while unready before closing (endpoints update).")
@click.option("--wait", "wait_s", type=click.FloatRange(0, 3600), default=60.0, show_default=True,
              help="Seconds a call without a record keeps retrying a model server that is not up or not ready.")
@click.option("--operators", "operator_dirs", multiple=True, metavar="DIR", help="Also load operator folders from DIR.")
def answer_serve(host: str, port: int, allow_services: str | None, max_seconds: float, max_lines: int,
                 shutdown_delay_s: float, wait_s: float, operator_dirs: tuple[str, ...]) -> None:
    """Serve the answer step over HTTP: replay a program over its steps' results (the answer server of
    services mode); calls without a record go to the allowed model servers.

    \b
    GET /healthz  liveness      GET /readyz  200 while taking requests
    GET /metrics  Prometheus    POST /v1/answer  {"image","program","results","services"}
    $DICEC_SERVICES (JSON, Service name -> base URL) redirects allowed model-server URLs.
    SIGTERM drains: unready, in-flight requests answered, exit 0.
    """
    from dicec.runtime.client import services_from
    from dicec.serving.answer_server import DEFAULT_ALLOW_SERVICES, AnswerOptions
    from dicec.serving.answer_server import serve as run_server

    options = AnswerOptions(host=host, port=port, allow_services=allow_services or DEFAULT_ALLOW_SERVICES,
                            max_seconds=max_seconds, max_lines=max_lines, operator_dirs=operator_dirs,
                            shutdown_delay_s=shutdown_delay_s, services=services_from({}), wait_s=wait_s)
    sys.exit(run_server(options, log=_stderr, announce=_announce))


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def op_group() -> click.Group:
    """``dicec op``: one pods-mode step (the default), ``call`` (a services-mode step) and ``serve``."""
    return op_verb((serve, SERVE_USAGE))


def answer_group() -> click.Group:
    """``dicec answer``: the answer step (the default) and ``serve`` (the answer server)."""
    return answer_verb((answer_serve, ANSWER_SERVE_USAGE))
