"""``dicec run``, the runner's verb: execute a workflow file on this machine and print its answer.

Only click, :mod:`dicec.output` and the step side's shared options (:mod:`dicec.runtime.commands`)
import at load time; the runner itself (:mod:`dicec.runner.workflow`) loads when the verb runs. Its
``--models`` and ``--operators`` reach the steps through ``$DICEC_MODELS`` and ``$DICEC_OPERATORS``, as
the emitted steps carry neither flag.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from dicec.errors import DicecError
from dicec.output import dumps_json, parse_parameters
from dicec.runtime.commands import MODELS_ENV, OPERATORS_ENV, format_option, models_option, operators_option

#: Argo's MAX_WORKFLOW_SIZE default (dicec.runner.argostatus; repeated here so this module imports click only).
DEFAULT_BOUND = 1024 * 1024

bound_option = click.option(
    "--max-workflow-bytes", "bound", type=click.IntRange(1024), default=DEFAULT_BOUND, show_default=True,
    metavar="BYTES", help="The bound a Workflow's JSON must stay under: Argo's MAX_WORKFLOW_SIZE (1 MiB by default; "
                          "past it the controller compresses the node statuses, then fails without a database).")


def weight_options(command):
    """``--detections`` and ``--max-workflow-bytes``: how a workflow is weighed (:mod:`dicec.runner.weight`)."""
    command = bound_option(command)
    return click.option(
        "--detections", type=click.FloatRange(0, 100000), default=8.0, show_default=True, metavar="N",
        help="Boxes each detection (find) is taken to return when weighing the workflow's node statuses.")(command)


def weigh(doc: dict, *, detections: float, bound: int, operator_dirs: tuple[str, ...] = ()):
    """The weight of a Workflow document at ``detections`` boxes per find (the weight options' values)."""
    from dicec.runner.modelled import Assumptions
    from dicec.runner.weight import estimate

    return estimate(doc, assumptions=Assumptions(detections=detections), bound=bound, operator_dirs=operator_dirs)


@click.command("run")
@click.argument("workflow_file", metavar="WORKFLOW.yaml")
@click.option("-p", "--parameter", "parameters", multiple=True, metavar="NAME=VALUE",
              help="A workflow parameter, as argo submit -p (e.g. -p image=car.png).")
@click.option("--parallelism", type=click.IntRange(1, 256), default=None,
              help="Steps run at once (default: the number of CPUs, at most 8).")
@models_option("builtin")
@click.option("--isolation", type=click.Choice(["thread", "process"]), default="thread", show_default=True,
              help="thread: dicec steps run in this process (same commands, same files, faster); "
                   "process: every step is a subprocess, exactly as a container runs it.")
@operators_option
@format_option
@click.option("--keep", "keep_dir", metavar="DIR", default=None, help="Keep every step's files under DIR.")
@click.option("--run-any-command", is_flag=True,
              help="DANGER: also run containers whose command is not a dicec step (dicec op, dicec answer). "
                   "They run on this machine, as this user, outside any container: only for a workflow you "
                   "trust as you would a shell script.")
@click.option("--agent-workers", type=click.IntRange(1, 1024), default=16, show_default=True,
              help="HTTP steps in flight at once, as Argo's agent sends them (its ARGO_AGENT_TASK_WORKERS).")
@bound_option
def run(workflow_file: str, parameters: tuple[str, ...], parallelism: int | None, models: str,
        isolation: str, operator_dirs: tuple[str, ...], fmt: str, keep_dir: str | None,
        run_any_command: bool, agent_workers: int, bound: int) -> None:
    """Execute an Argo Workflow file on this machine: tasks in dependency order and in parallel, with the
    commands its containers would run; prints the answer. Only dicec's own step commands run, unless
    --run-any-command.

    With --format json, "argo" says what the run created in Argo's terms: its nodes, their statuses' JSON
    bytes (and gzip-compressed, as Argo v4.1 stores them past the bound), the whole Workflow's bytes, the
    estimate of the same at the detections and image size the run showed, and the most images one
    Workflow of this file can take under --max-workflow-bytes; "answer_step" what the answer step counted
    against the plan (records used and unused, calls computed)."""
    from dicec.runner.answerstep import answer_step_json
    from dicec.runner.workflow import RunOptions, StepFailed, run_workflow
    from dicec.runtime.calls import answer_text

    env = {MODELS_ENV: models}
    dirs = [d for d in os.environ.get(OPERATORS_ENV, "").split(os.pathsep) if d]
    dirs += [os.path.abspath(d) for d in operator_dirs]
    if dirs:
        env[OPERATORS_ENV] = os.pathsep.join(dirs)
    from dicec import verbosity

    tty = sys.stderr.isatty() and verbosity.level() > verbosity.QUIET  # -q: no progress line

    def progress(text: str) -> None:
        click.echo("\r\x1b[K" + (f"dicec run: {text}" if text else ""), err=True, nl=False)

    options = RunOptions(parameters=parse_parameters(parameters), parallelism=parallelism or min(8, os.cpu_count() or 1),
                         isolation=isolation, env=env, progress=progress if tty else None, keep_dir=keep_dir,
                         run_any_command=run_any_command, agent_workers=agent_workers)
    try:
        result = run_workflow(workflow_file, options)
    except StepFailed as exc:
        click.echo(f"dicec: {workflow_file}: step {exc.step} failed: {exc.reason}", err=True)
        for line in exc.log_tail:
            click.echo(f"  | {line}", err=True)
        sys.exit(1)
    from dicec.placement.stages import PLAN_ANNOTATION

    argo = None
    if fmt == "json" and result.argo is not None:
        from dicec.runner.documents import load_workflow
        from dicec.runner.weight import run_report

        argo = run_report(result.argo, load_workflow(workflow_file), bound=bound, operator_dirs=tuple(dirs))
    if "answers" in result.outputs and PLAN_ANNOTATION in result.annotations:  # a pods-mode batch of stage pods
        _print_stage_batch(result, options, workflow_file, fmt, argo)
        return
    if "answers" in result.outputs:  # a batch workflow: one answer per image
        from dicec.runner.batch import batch_answers

        images, answers = batch_answers(result.outputs["answers"], options.parameters, workflow_file)
        if fmt == "json":
            click.echo(dumps_json({"answers": answers, "images": images, "steps": result.steps,
                                   "requests": result.requests, "skipped": list(result.skipped),
                                   "seconds": round(result.seconds, 3), "argo": argo,
                                   "answer_step": answer_step_json(list(result.answer_counts), batch=True)}), nl=False)
        else:
            for image, value in zip(images, answers):
                click.echo(f"{image}: {answer_text(value)}")
            _note_counts(result)
        return
    value = _answer_value(result.outputs)
    if fmt == "json":
        click.echo(dumps_json({"answer": value, "outputs": result.outputs, "steps": result.steps,
                               "requests": result.requests, "skipped": list(result.skipped),
                               "seconds": round(result.seconds, 3), "argo": argo,
                               "answer_step": answer_step_json(list(result.answer_counts), batch=False)}), nl=False)
    elif "answer" in result.outputs:
        click.echo(answer_text(value))
        _note_counts(result)
    else:
        click.echo(dumps_json(result.outputs), nl=False)
        _note_counts(result)


def _note_counts(result) -> None:
    """With ``-v``: the answer step's counts, one line on standard error."""
    from dicec import verbosity
    from dicec.runner.answerstep import answer_step_text

    text = answer_step_text(list(result.answer_counts))
    if text is not None and verbosity.level() >= verbosity.VERBOSE:
        click.echo(text, err=True)


def _answer_value(outputs: dict[str, str]) -> Any:
    """The answer of a finished run: its ``answer-json`` output parsed (the plain ``answer`` output is a string's
    text without quotes), or, for a workflow without one, its ``answer`` read as JSON where it is JSON."""
    from dicec.runtime.contract import ANSWER_JSON_OUTPUT, ANSWER_OUTPUT

    for name in (ANSWER_JSON_OUTPUT, ANSWER_OUTPUT):
        if name in outputs:
            try:
                return json.loads(outputs[name])
            except json.JSONDecodeError:
                if name == ANSWER_JSON_OUTPUT:
                    raise DicecError(f"the workflow's {ANSWER_JSON_OUTPUT} output is not JSON: "
                                     f"{outputs[name][:120]!r}") from None
                return outputs[name]
    return None


def _print_stage_batch(result, options, workflow_file: str, fmt: str, argo: dict | None = None) -> None:
    """A pods-mode batch's answers, one line per image (and question); exit 1 if any failed, after printing."""
    from dicec.placement.stages import plan_of_workflow
    from dicec.runner.answerstep import answer_step_json
    from dicec.runner.batch import stage_answers, stage_report

    plan = plan_of_workflow({"metadata": {"annotations": result.annotations}}, where=workflow_file)
    names = [q.name for q in plan.queries]
    images, outcomes = stage_answers(result.outputs["answers"], options.parameters, len(names), workflow_file)
    lines, body, errors = stage_report(images, outcomes, names)
    if fmt == "json":
        click.echo(dumps_json({**body, "images": images, "steps": result.steps, "skipped": list(result.skipped),
                               "seconds": round(result.seconds, 3), "argo": argo,
                               "answer_step": answer_step_json(list(result.answer_counts), batch=True,
                                                               questions=names)}), nl=False)
    else:
        for line in lines:
            click.echo(line)
        _note_counts(result)
    if errors:
        first = errors[0]
        click.echo(f"dicec: {workflow_file}: {len(errors)} of {len(images) * len(names)} answers failed "
                   f"(first: image {first['index']}: {first['error']})", err=True)
        sys.exit(1)
