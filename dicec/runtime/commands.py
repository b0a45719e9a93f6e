"""The step side's verbs as click commands: ``op`` (one step), ``op call``, ``op stage``, ``answer`` and ``exec``.

Only click, :mod:`dicec.errors` and :mod:`dicec.output` are imported here; each verb imports its stage
inside its body, so ``dicec op`` starts fast. The ``dicec`` command registers them (:mod:`dicec.cli`,
which adds the model server's ``op serve`` from :mod:`dicec.serving.commands` to the ``op`` group);
``python -m dicec.runtime VERB`` runs them on their own (:mod:`dicec.runtime.__main__`), as ``dicec run
--isolation process`` launches a step, and :func:`run_in_process` runs a step's argv in this process,
as ``dicec run --isolation thread`` does.

Which models answer operator calls: ``--models`` (``seeded`` for testing and simulation, ``builtin``
for the built-in scene and text-reading models, ``onnx`` for each operator's own model file), else the ``DICEC_MODELS`` environment variable, else ``builtin``.
The emitted steps carry no ``--models`` flag, so ``dicec run`` passes its choice to them through
that variable.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import click

from dicec.errors import DicecError
from dicec.output import OneLineErrors, dumps_json

#: The environment variables ``dicec run`` passes its ``--models`` and ``--operators`` to the steps in.
MODELS_ENV = "DICEC_MODELS"
OPERATORS_ENV = "DICEC_OPERATORS"


def models_option(default: str | None) -> Callable:
    """``--models``: which backend answers operator calls (``None``: ``$DICEC_MODELS``, else builtin)."""
    return click.option(
        "--models", type=click.Choice(["builtin", "onnx", "seeded"]), default=default,
        show_default=default is not None,
        help="Operator backend: builtin = the built-in scene and text-reading models; onnx = each operator's "
             "own model file (spec model.file); seeded = hash-seeded answers for testing and simulation "
             "(default: $DICEC_MODELS, else builtin).")


operators_option = click.option(
    "--operators", "operator_dirs", multiple=True, metavar="DIR",
    help="Also load operator folders from DIR (repeatable).")
format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                              show_default=True, help="Output format; json prints an object with an 'answer' key.")


def _stderr(line: str) -> None:
    click.echo(line, err=True)


def flag_or_file(params: dict, name: str, flag: str, default: str) -> None:
    """Replace ``params[name]`` (a JSON flag) by the text of the file its ``--...-file`` twin names, if given:
    what an emitted step gets, from a raw Argo artifact, since Linux refuses one argument over 128 KiB."""
    path = params.pop(f"{name}_file")
    if path is None:
        return
    if params[name] != default:
        raise DicecError(f"give {flag} or {flag}-file, not both")
    from dicec.files import read_text

    params[name] = read_text(path, what=f"{flag}-file", limit=None, empty_ok=True)


# -- what the steps run --------------------------------------------------------------------------------
#: The flags of one operator step, shared by ``dicec op NAME`` and ``dicec op call NAME`` (the step
#: contract, dicec.emit.steps). None is required here: ``op --group`` takes other flags, and the
#: runtime names whatever is missing (dicec.runtime.step.require_step_flags).
_STEP_OPTIONS = (
    click.option("--image", "image_uri", default=None,
                 help="The input image: a path or a file://, http(s)://, s3:// or gs:// URI."),
    click.option("--crops", default=None, metavar="FILE",
                 help="Instead of --image: the crop bundle an edge step sent (an offloaded cloud step)."),
    click.option("--crops-out", default=None, metavar="PATH",
                 help="Also write the crops of this step's boxes for an offloaded cloud step (an edge detection)."),
    click.option("--crops-indices", default="all", show_default=True, metavar="all|I,J,...",
                 help="With --crops-out: only these elements of the value (Python indices)."),
    click.option("--call", "call_payload", default=None, help="base64url of the call's JSON {task, operator, form, args}."),
    click.option("--patch", "patch_json", default='"image"', show_default=True,
                 help='"image", a box, a list of boxes (nested fan-out), or a patch list to pick --index from.'),
    click.option("--index", default="none", show_default=True, help="Element of the --patch list, or none."),
    click.option("--refs", "refs_json", default="{}", show_default=True, help="Values of referenced tasks, {task: value}."),
    click.option("--value-out", default=None, metavar="PATH", help="Where to write the call's JSON value."),
    click.option("--record-out", default=None, metavar="PATH", help="Where to write the call's record."),
)


def step_options(command: Callable) -> Callable:
    """Add the step flags (:data:`_STEP_OPTIONS`) to ``command``."""
    for option in reversed(_STEP_OPTIONS):
        command = option(command)
    return command


@click.command("op")
@click.argument("name", required=False)
@step_options
@click.option("--group", "group_payload", default=None, metavar="B64",
              help="A fused group's step: base64url of its calls, run in order in this process (no NAME, --call).")
@click.option("--inputs", "inputs_json", default="{}", show_default=True,
              help="With --group: values of the tasks outside the group, {task: value}.")
@click.option("--inputs-file", "inputs_json_file", default=None, metavar="FILE",
              help="With --group: the --inputs object in a file (what an emitted step gets).")
@click.option("--out-dir", default=None, metavar="DIR",
              help="With --group: write each call's value and record to DIR/TASK/value.json and record.json.")
@models_option(None)
@operators_option
def op(**params) -> None:
    """Run operator NAME for one workflow step and write its value and record, or with --group the
    calls of a fused group, one after another (see dicec/emit/steps.py)."""
    from dicec.runtime.step import run_op

    flag_or_file(params, "inputs_json", "--inputs", "{}")
    run_op(**params, log=_stderr)


@click.command("stage")
@click.option("--stage", "stage_payload", default=None, metavar="B64",
              help="A stage pod: base64url of its calls per question (see dicec/runtime/stage.py).")
@click.option("--program", "program_payloads", multiple=True, metavar="B64",
              help="The answer pod: base64url of a question's serial program (once per question, in order).")
@click.option("--images", "images_file", required=True, metavar="FILE", help="The batch's images, a JSON list.")
@click.option("--shard", type=click.IntRange(0), required=True, help="This pod's shard, 0..shards-1.")
@click.option("--shards", type=click.IntRange(1), required=True, help="How many shards the images are cut into.")
@click.option("--max-images", type=click.IntRange(0), default=None, help="Refuse a batch of more images than this.")
@click.option("--records-in", default=None, metavar="FILE", help="The records of the pod before this one (JSON Lines).")
@click.option("--records-out", default=None, metavar="FILE", help="A stage pod: where to write the records.")
@click.option("--answers-out", default=None, metavar="FILE", help="The answer pod: the answers, one JSON line per image.")
@click.option("--answers-list-out", default=None, metavar="FILE", help="The answer pod: the answers as one JSON list.")
@models_option(None)
@operators_option
def stage(**params) -> None:
    """Run one pod of a batch's shard chain: a stage's tasks (--stage) or the answers (--program) for every
    image of shard --shard (see dicec/runtime/stage.py)."""
    from dicec.runtime.stage import run_stage

    run_stage(**params, log=_stderr)


@click.command("answer")
@click.option("--image", "image_uri", required=True,
              help="The input image: a path or a file://, http(s)://, s3:// or gs:// URI.")
@click.option("--program", "program_payload", required=True, help="base64url of the serial program's text.")
@click.option("--records", "records_json", default="[]", show_default=True,
              help="JSON list of the steps' records (elements that are not valid JSON are skipped).")
@click.option("--records-file", "records_json_file", default=None, metavar="FILE",
              help="The --records list in a file (what an emitted step gets: one argument holds at most 128 KiB).")
@click.option("--out", required=True, metavar="PATH", help="Where to write the answer (canonical JSON).")
@click.option("--text-out", default=None, metavar="PATH",
              help="Where to write the answer as text: a string as it is, anything else as its JSON (what "
                   "dicec exec prints; the workflow's plain 'answer' output).")
@click.option("--services", "services_json", default=None, metavar="JSON",
              help="Services mode: {operator: model-server URL}; calls without a record go there, not to local models.")
@models_option(None)
@operators_option
def answer(**params) -> None:
    """Re-run the serial program, answering operator calls from the records (others on demand).

    $DICEC_SERVICES (JSON, Service name -> base URL) redirects a --services URL, as for dicec op call.
    """
    from dicec.runtime.answer import run_answer
    from dicec.runtime.client import services_from

    flag_or_file(params, "records_json", "--records", "[]")
    run_answer(**params, services=services_from({}), log=_stderr)


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


def run_in_process(argv: list[str], *, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``op ...``, ``op call ...``, ``op stage ...`` or ``answer ...`` argv in this process: (exit code,
    log lines), as a subprocess would."""
    from dicec.runtime.answer import run_answer
    from dicec.runtime.step import run_op

    if argv[:2] == ["op", "call"]:  # a services-mode step
        from dicec.runtime.client import run_call, services_from

        def work_call(params: dict, log: list[str]) -> None:
            run_call(**params, services=services_from(env), log=log.append)

        return invoke_in_process(call, argv[2:], env, work_call)
    if argv[:2] == ["op", "stage"]:  # a pod of a batch's shard chain
        from dicec.runtime.stage import run_stage

        def work_stage(params: dict, log: list[str]) -> None:
            params["models"] = params.get("models") or env.get(MODELS_ENV)
            run_stage(**params, log=log.append)

        return invoke_in_process(stage, argv[2:], env, work_stage)
    if argv[:2] == ["op", "step"]:
        argv = argv[1:]
        argv[0] = "op"
    command = {"op": op, "answer": answer}.get(argv[0])
    if command is None:
        return 2, [f"dicec: no such command {argv[0]!r}"]

    def work(params: dict, log: list[str]) -> None:
        params["models"] = params.get("models") or env.get(MODELS_ENV)
        if argv[0] == "answer":
            from dicec.runtime.client import services_from

            params["services"] = services_from(env)
            flag_or_file(params, "records_json", "--records", "[]")
        else:
            flag_or_file(params, "inputs_json", "--inputs", "{}")
        (run_op if argv[0] == "op" else run_answer)(**params, log=log.append)

    return invoke_in_process(command, argv[1:], env, work)


def invoke_in_process(command: click.Command, argv: list[str], env: dict[str, str],
                      work: Callable[[dict, list[str]], None]) -> tuple[int, list[str]]:
    """Parse ``argv`` with ``command``'s options and run ``work(params, log)`` as a container would.

    Returns (exit code, log lines): errors become the one line and exit code the process would give,
    so ``dicec run --isolation thread`` reports a failing step exactly as ``--isolation process`` does.
    """
    log: list[str] = []
    try:
        ctx = command.make_context(command.name or "dicec", list(argv))
    except click.exceptions.Exit as exc:
        return exc.exit_code, log
    except click.ClickException as exc:
        return exc.exit_code, [f"Error: {exc.format_message()}"]
    params = dict(ctx.params)
    extra = tuple(d for d in env.get(OPERATORS_ENV, "").split(os.pathsep) if d)
    params["operator_dirs"] = (*extra, *params.get("operator_dirs", ()))
    try:
        work(params, log)
    except DicecError as exc:
        log.append(f"dicec: {exc}")
        return exc.exit_code, log
    except Exception as exc:  # a crash in the step: reported like a container's non-zero exit
        log.append(f"dicec: internal error: {type(exc).__name__}: {exc}")
        return 70, log
    return 0, log


# -- local execution -----------------------------------------------------------------------------------
@click.command("exec")
@click.argument("program_file", metavar="PROGRAM.py")
@click.option("--image", "image_uri", required=True,
              help="The input image: a path or a file://, http(s)://, s3:// or gs:// URI.")
@models_option("builtin")
@operators_option
@format_option
@click.option("--max-lines", type=click.IntRange(1), default=5_000_000, show_default=True,
              help="Stop the program after this many executed lines.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=900.0, show_default=True,
              help="Stop the program after this many seconds.")
def exec_(program_file: str, image_uri: str, models: str, operator_dirs: tuple[str, ...], fmt: str,
          max_lines: int, timeout: float) -> None:
    """Run a serial program directly on an image (the baseline `dicec run` must agree with) and print its answer."""
    import time

    from dicec.files import read_text
    from dicec.runtime.backend import get_backend, registry_for
    from dicec.runtime.calls import answer_text
    from dicec.runtime.images import load_image
    from dicec.runtime.program import Limits, run_program

    start = time.monotonic()
    source = read_text(program_file, what="program")
    image = load_image(image_uri)
    outcome = run_program(source, registry=registry_for(operator_dirs), image=image, backend=get_backend(models),
                          path=program_file, limits=Limits(max_lines=max_lines, max_seconds=timeout), log=_stderr)
    if fmt == "json":
        click.echo(dumps_json({"answer": outcome.answer, "operator_calls": outcome.stats.calls, "models": models,
                           "seconds": round(time.monotonic() - start, 3)}), nl=False)
    else:
        click.echo(answer_text(outcome.answer))


# -- the op group and stand-alone entry points -----------------------------------------------------------
class StepGroup(click.Group):
    """A verb whose plain form is one workflow step: ``dicec op NAME ...`` and ``dicec answer --image ...``
    (anything that does not name a subcommand) run the ``step`` subcommand; the others (``call``,
    ``serve``) are named."""

    def __init__(self, name: str, *, step_title: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.step_title = step_title

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
        with formatter.section(self.step_title):
            formatter.write_dl(rows)


def op_verb(*more: tuple[click.Command, str]) -> click.Group:
    """The ``dicec op`` group: ``step`` (:func:`op`, also the default: ``dicec op NAME ...`` stays what every
    emitted pods-mode step runs, and an operator named like a subcommand is reachable as ``dicec op step
    NAME``), ``call``, and ``more``: (command, its line in the group's help) pairs, such as the model
    server's ``serve`` (:func:`dicec.serving.commands.op_group`)."""
    usage = ["dicec op NAME ...          one pods-mode step (same as: dicec op step NAME ...)",
             "dicec op call NAME ...     one services-mode step in a container, through a model server",
             "dicec op stage ...         one pod of a pods-mode batch: a stage or the answers, for a shard",
             *(line for _, line in more)]
    group = StepGroup("op", step_title="Options of dicec op NAME (one pods-mode step)",
                      help="What workflow steps and model servers run.\n\n\b\n" + "\n".join(usage))
    group.add_command(op, "step")
    group.add_command(call)
    group.add_command(stage)
    for command, _ in more:
        group.add_command(command)
    return group


def answer_verb(*more: tuple[click.Command, str]) -> click.Group:
    """The ``dicec answer`` group: ``step`` (:func:`answer`, also the default: ``dicec answer --image ...`` is
    what an emitted answer step runs) and ``more``, such as the answer server's ``serve``
    (:func:`dicec.serving.commands.answer_group`)."""
    usage = ["dicec answer --image ...   the answer step (same as: dicec answer step --image ...)",
             *(line for _, line in more)]
    group = StepGroup("answer", step_title="Options of dicec answer (the answer step)",
                      help="Re-run the serial program over the steps' records: the answer step, or its server."
                           "\n\n\b\n" + "\n".join(usage))
    group.add_command(answer, "step")
    for command, _ in more:
        group.add_command(command)
    return group


def entry_point(help_text: str, *commands: click.Command) -> click.Group:
    """A stand-alone ``dicec`` of ``commands`` alone, for a package's ``python -m`` (the ``dicec`` command
    itself is :mod:`dicec.cli`): ``python -m dicec.runtime`` runs the step side's verbs,
    ``python -m dicec.serving`` the model server."""
    group = OneLineErrors("dicec", help=help_text, context_settings={"help_option_names": ["-h", "--help"]})
    for command in commands:
        group.add_command(command)
    return group
