"""The runtime's verbs as click commands: ``op`` and ``answer`` (what steps run), ``exec`` and ``run``.

Only click and :mod:`dicec.errors` are imported here; each verb imports its stage inside its body,
so ``dicec op`` starts fast. Register them in the ``dicec`` group with ``cli.add_command(...)``;
until then ``python -m dicec.runtime VERB`` runs them (see :mod:`dicec.runtime.__main__`).

Which models answer operator calls: ``--models`` (``seeded`` for testing and simulation, ``builtin``
for the built-in scene and text-reading models, ``onnx`` for each operator's own model file), else the ``DICEC_MODELS`` environment variable, else ``builtin``.
The emitted steps carry no ``--models`` flag, so ``dicec run`` passes its choice to them through
that variable.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Callable

import click

from dicec.errors import DicecError
from dicec.output import dumps_json, parse_parameters

_MODELS_ENV = "DICEC_MODELS"
_OPERATORS_ENV = "DICEC_OPERATORS"


def _models_option(default: str | None) -> Callable:
    return click.option(
        "--models", type=click.Choice(["builtin", "onnx", "seeded"]), default=default,
        show_default=default is not None,
        help="Operator backend: builtin = the built-in scene and text-reading models; onnx = each operator's "
             "own model file (spec model.file); seeded = hash-seeded answers for testing and simulation "
             "(default: $DICEC_MODELS, else builtin).")


_operators_option = click.option(
    "--operators", "operator_dirs", multiple=True, metavar="DIR",
    help="Also load operator folders from DIR (repeatable).")
_format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                              show_default=True, help="Output format; json prints an object with an 'answer' key.")


def _stderr(line: str) -> None:
    click.echo(line, err=True)


# -- what the steps run --------------------------------------------------------------------------------
#: The flags of one operator step, shared by ``dicec op NAME`` and ``dicec op call NAME`` (the step
#: contract, dicec.emit.steps). None is required here: ``op --group`` takes other flags, and the
#: runtime names whatever is missing (dicec.runtime.step.require_step_flags).
_STEP_OPTIONS = (
    click.option("--image", "image_uri", default=None, help="The input image: a path or file:// URI."),
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
@click.option("--out-dir", default=None, metavar="DIR",
              help="With --group: write each call's value and record to DIR/TASK/value.json and record.json.")
@_models_option(None)
@_operators_option
def op(**params) -> None:
    """Run operator NAME for one workflow step and write its value and record, or with --group the
    calls of a fused group, one after another (see dicec/emit/steps.py)."""
    from dicec.runtime.step import run_op

    run_op(**params, log=_stderr)


@click.command("answer")
@click.option("--image", "image_uri", required=True, help="The input image: a path or file:// URI.")
@click.option("--program", "program_payload", required=True, help="base64url of the serial program's text.")
@click.option("--records", "records_json", default="[]", show_default=True,
              help="JSON list of the steps' records (elements that are not valid JSON are skipped).")
@click.option("--out", required=True, metavar="PATH", help="Where to write the answer (JSON).")
@click.option("--services", "services_json", default=None, metavar="JSON",
              help="Services mode: {operator: model-server URL}; calls without a record go there, not to local models.")
@_models_option(None)
@_operators_option
def answer(**params) -> None:
    """Re-run the serial program, answering operator calls from the records (others on demand).

    $DICEC_SERVICES (JSON, Service name -> base URL) redirects a --services URL, as for dicec op call.
    """
    from dicec.runtime.answer import run_answer
    from dicec.runtime.client import services_from

    run_answer(**params, services=services_from({}), log=_stderr)


def run_in_process(argv: list[str], *, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``op ...`` or ``answer ...`` argv in this process: (exit code, log lines), as a subprocess would."""
    from dicec.runtime.answer import run_answer
    from dicec.runtime.step import run_op

    if argv[:2] == ["op", "call"]:  # a services-mode step
        from dicec.runtime.opverbs import run_call_in_process

        return run_call_in_process(argv[2:], env=env)
    if argv[:2] == ["op", "step"]:
        argv = argv[1:]
        argv[0] = "op"
    command = {"op": op, "answer": answer}.get(argv[0])
    if command is None:
        return 2, [f"dicec: no such command {argv[0]!r}"]

    def work(params: dict, log: list[str]) -> None:
        params["models"] = params.get("models") or env.get(_MODELS_ENV)
        if argv[0] == "answer":
            from dicec.runtime.client import services_from

            params["services"] = services_from(env)
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
    extra = tuple(d for d in env.get(_OPERATORS_ENV, "").split(os.pathsep) if d)
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
@click.option("--image", "image_uri", required=True, help="The input image: a path or file:// URI.")
@_models_option("builtin")
@_operators_option
@_format_option
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


@click.command("run")
@click.argument("workflow_file", metavar="WORKFLOW.yaml")
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="A workflow parameter, as argo submit -p (e.g. -p image=car.png).")
@click.option("--parallelism", type=click.IntRange(1, 256), default=None,
              help="Steps run at once (default: the number of CPUs, at most 8).")
@_models_option("builtin")
@click.option("--isolation", type=click.Choice(["thread", "process"]), default="thread", show_default=True,
              help="thread: dicec steps run in this process (same commands, same files, faster); "
                   "process: every step is a subprocess, exactly as a container runs it.")
@_operators_option
@_format_option
@click.option("--keep", "keep_dir", metavar="DIR", default=None, help="Keep every step's files under DIR.")
def run(workflow_file: str, parameters: tuple[str, ...], parallelism: int | None, models: str,
        isolation: str, operator_dirs: tuple[str, ...], fmt: str, keep_dir: str | None) -> None:
    """Execute an Argo Workflow file on this machine: tasks in dependency order and in parallel, with the
    commands its containers would run; prints the answer."""
    from dicec.runtime.calls import answer_text
    from dicec.runtime.workflow import RunOptions, StepFailed, run_workflow

    env = {_MODELS_ENV: models}
    dirs = [d for d in os.environ.get(_OPERATORS_ENV, "").split(os.pathsep) if d]
    dirs += [os.path.abspath(d) for d in operator_dirs]
    if dirs:
        env[_OPERATORS_ENV] = os.pathsep.join(dirs)
    tty = sys.stderr.isatty()

    def progress(text: str) -> None:
        click.echo("\r\x1b[K" + (f"dicec run: {text}" if text else ""), err=True, nl=False)

    options = RunOptions(parameters=parse_parameters(parameters), parallelism=parallelism or min(8, os.cpu_count() or 1),
                         isolation=isolation, env=env, progress=progress if tty else None, keep_dir=keep_dir)
    try:
        result = run_workflow(workflow_file, options)
    except StepFailed as exc:
        click.echo(f"dicec: {workflow_file}: step {exc.step} failed: {exc.reason}", err=True)
        for line in exc.log_tail:
            click.echo(f"  | {line}", err=True)
        sys.exit(1)
    if "answers" in result.outputs:  # a batch workflow: one answer per image
        from dicec.runtime.batch import batch_answers

        images, answers = batch_answers(result.outputs["answers"], options.parameters, workflow_file)
        if fmt == "json":
            click.echo(dumps_json({"answers": answers, "images": images, "steps": result.steps,
                               "skipped": list(result.skipped), "seconds": round(result.seconds, 3)}), nl=False)
        else:
            for image, value in zip(images, answers):
                click.echo(f"{image}: {answer_text(value)}")
        return
    if "answer" in result.outputs:
        try:
            value = json.loads(result.outputs["answer"])
        except json.JSONDecodeError:
            value = result.outputs["answer"]
    else:
        value = None
    if fmt == "json":
        click.echo(dumps_json({"answer": value, "outputs": result.outputs, "steps": result.steps,
                           "skipped": list(result.skipped), "seconds": round(result.seconds, 3)}), nl=False)
    elif "answer" in result.outputs:
        click.echo(answer_text(value))
    else:
        click.echo(dumps_json(result.outputs), nl=False)


def _op_verb() -> click.Group:
    from dicec.runtime.opverbs import op_verb

    return op_verb(op)


#: ``dicec op``: ``op`` above as its default subcommand, plus ``serve`` and ``call`` (dicec.runtime.opverbs).
op_group = _op_verb()

#: The verbs, for ``cli.add_command``.
COMMANDS = (op_group, answer, exec_, run)
