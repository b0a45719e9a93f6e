"""The ``dicec`` command: a group of verbs, each a thin shell over one stage.

Exit codes, for scripts: 0 success; 1 bad input or a failed check (one line per problem on
stderr, ``file:line: message``); 2 a usage error; 70 an internal error (a bug in dicec); 130
interrupted. ``-q`` and ``-v`` on the group set how much is said besides (:mod:`dicec.verbosity`). Verbs import the stage they need inside their body, so ``dicec tools`` never loads hera
and no verb loads anthropic or kubernetes unless it uses them.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import click

from dicec import __version__
from dicec.errors import DicecError
from dicec.output import EXIT_INPUT, OneLineErrors, dumps_json, error_line, placement_options, to_stdout, write_or_echo
from dicec.verbosity import note


_operators_option = click.option(
    "--operators", "operator_dirs", multiple=True, metavar="DIR",
    help="Also load operator folders from DIR (repeatable); they replace built-ins of the same name.")
_pools_option = click.option(
    "--pools", "pools_file", metavar="FILE", default=None,
    help="Pool catalogue YAML to place on (default: the shipped A4000/A6000/A100 list prices).")
_output_option = click.option(
    "-o", "--output", metavar="FILE", default=None,
    help="Write the result to FILE (atomically; '-': standard output) instead of standard output.")


def _llm_options(command: Callable) -> Callable:
    """``--backend`` and the LLM flags; the command gets ``backend`` and ``llm`` (LLMOptions, or None offline)."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, model: str, max_tokens: int, timeout_s: float, retries: int, base_url: str | None,
                api_key: str | None, rounds: int, lock_file: str | None, **kwargs: Any) -> Any:
        from dicec.codegen.llm import LLMOptions
        from dicec.errors import UsageError

        if kwargs["backend"] == "offline" and lock_file is not None:
            raise UsageError("--lock needs --backend anthropic (to pin) or --backend replay (to build from it)")
        kwargs["llm"] = None if kwargs["backend"] == "offline" else LLMOptions(
            model=model, max_tokens=max_tokens, timeout_s=timeout_s, retries=retries, base_url=base_url,
            api_key=api_key, rounds=rounds, lock=lock_file)
        return command(*args, **kwargs)

    from dicec.codegen.llm import DEFAULT_MAX_TOKENS, DEFAULT_MODEL, DEFAULT_RETRIES, DEFAULT_ROUNDS, DEFAULT_TIMEOUT_S

    for option in reversed([
        click.option("--backend", type=click.Choice(["offline", "anthropic", "replay"]), default="offline",
                     show_default=True,
                     help="Code generator for a question: offline = built-in rules, no key or network; "
                          "anthropic = the Messages API, its program checked and sent back with the exact "
                          "problems until it passes; replay = only programs pinned in --lock (no LLM call)."),
        click.option("--model", default=DEFAULT_MODEL, show_default=True, help="LLM model id (anthropic, replay)."),
        click.option("--max-tokens", type=click.IntRange(1, 1_000_000), default=DEFAULT_MAX_TOKENS,
                     show_default=True, help="Most tokens one LLM reply may have."),
        click.option("--timeout", "timeout_s", type=click.FloatRange(0, 3600, min_open=True), default=DEFAULT_TIMEOUT_S,
                     show_default=True, metavar="SECONDS", help="Seconds to wait for one LLM reply."),
        click.option("--llm-retries", "retries", type=click.IntRange(0, 20), default=DEFAULT_RETRIES, show_default=True,
                     help="Retries of one LLM request after 429, 529, 5xx, a timeout or a lost connection, "
                          "with exponential backoff (the server's retry-after wins)."),
        click.option("--base-url", default=None, metavar="URL",
                     help="Messages API base URL [default: $ANTHROPIC_BASE_URL, else the SDK's]."),
        click.option("--api-key", default=None, metavar="KEY",
                     help="API key [default: $ANTHROPIC_API_KEY; prefer it, a flag shows in the process list]."),
        click.option("--rounds", type=click.IntRange(1, 10), default=DEFAULT_ROUNDS, show_default=True,
                     help="Refinement rounds: LLM replies the checker may refuse before the build fails."),
        click.option("--lock", "lock_file", metavar="FILE", default=None,
                     help="Lock file of (question, model, prompt hash) -> checked program: anthropic answers "
                          "pinned questions from it and pins new ones; replay builds only from it."),
    ]):
        wrapper = option(wrapper)
    return wrapper


def _usage_json(usage: Any) -> dict[str, int]:
    from dicec.codegen.usage import Usage

    return (usage or Usage()).to_json()


def _emit_options(command: Callable) -> Callable:
    """The workflow-shaping options of compile (kind, batch, inputs, hardening), from dicec.emit.commands."""
    from dicec.emit.commands import emit_options

    return emit_options(command)


def _weight_options(command: Callable) -> Callable:
    from dicec.runner.commands import weight_options

    return weight_options(command)


def _weigh(doc: dict, *, detections: float, bound: int, operator_dirs: tuple[str, ...] = ()) -> Any:
    from dicec.runner.commands import weigh

    return weigh(doc, detections=detections, bound=bound, operator_dirs=tuple(os.path.abspath(d) for d in operator_dirs))


def _weight_warning(weight: Any) -> str | None:
    """The warning for a workflow past the bound: a single query that does not fit, or a batch none fits."""
    if weight.max_images >= 1:
        return None
    size, packed = weight.workflow_bytes(1), weight.compressed_workflow_bytes(1)
    what = "one query" if not weight.batch else "a batch of one image"
    then = (f"Argo v4.1 will gzip its node statuses (the Workflow then about {packed} bytes) and recompress them "
            "on every update" if packed <= weight.bound else
            f"even with its node statuses gzip-compressed ({packed} bytes) it fails unless node status offload to "
            "a database is configured")
    return (f"{what} makes a Workflow of about {size} bytes at {weight.assumptions.detections:g} detections per "
            f"find, over the {weight.bound}-byte bound (Argo's MAX_WORKFLOW_SIZE): {then} (docs/production.md)")


def _warn_weight(where: str, weight: Any) -> None:
    warning = _weight_warning(weight)
    if warning is not None:
        click.echo(f"{where}: warning: {warning}", err=True)


def _placement_options(*, mode: bool) -> Callable:
    """--objective, --max-latency, --spot, --fuse/--no-fuse (and --mode when ``mode``); the command gets
    ``placement``, the keyword options of dicec.placement.place that differ from its defaults."""
    import functools

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, objective: str, max_latency: float | None, spot: bool, fuse: bool,
                    **kwargs: Any) -> Any:
            given = {"objective": objective, "max_latency_s": max_latency, "spot": spot, "fuse": fuse}
            defaults = {"objective": "price", "max_latency_s": None, "spot": False, "fuse": True}
            kwargs["placement"] = {k: v for k, v in given.items() if v != defaults[k]}
            return command(*args, **kwargs)

        options = placement_options()
        if mode:
            options.append(click.option(
                "--mode", type=click.Choice(["pods", "services"]), default="pods", show_default=True,
                help="What a task's seconds include: pods = its model load and call (and tasks may be fused); "
                     "services = a call to a warm model server."))
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


_strict_option = click.option(
    "--strict", is_flag=True, default=False,
    help="Fail (exit 1) when the offline generator cannot decompose the question, instead of asking the "
         "whole image with a warning.")


def _refuse_fallback(path: str, warnings) -> None:
    """Under --strict: the one-line error for a question the offline rules could not decompose."""
    from dicec.codegen.offline import FALLBACK_WARNING
    from dicec.errors import Location

    if FALLBACK_WARNING in warnings:
        raise DicecError("could not decompose the question, and --strict refuses the whole-image simple_query it "
                         "would fall back to (reword the question, or drop --strict)", location=Location(path=path))


def _format_option(*choices: str, default: str) -> Callable:
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help="Output format; json is for scripts.")


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="dicec")
@click.option("-q", "--quiet", is_flag=True,
              help="Print only results, warnings about the input and errors (no summaries or notes).")
@click.option("-v", "--verbose", is_flag=True,
              help="Also say how the work is done: which onnxruntime provider runs each model, and once "
                   "when CUDA was requested but is not usable.")
def cli(quiet: bool, verbose: bool) -> None:
    """Compile a question about images into a parallel, cost-placed Argo Workflow.

    \b
    The main job:   dicec compile question.txt -o wf.yaml   then   argo submit wf.yaml
    Each stage is also a verb that reads and writes plain files:
      tools      list the vision operators found
      codegen    question (.txt) -> serial ViperGPT-style program (.py)
      plan       program (.py) -> task graph (.json)
      place      task graph -> placed graph (pool, seconds, dollars per task)
      compile    question, program or graph -> Argo Workflow YAML
      validate   check workflow YAML against Argo's schema and references
      exec       run a serial program on an image (the baseline)
      run        run a compiled workflow on this machine, in parallel
      cost       dollars per task, per query and per N queries, against baselines
      simulate   makespan, speed-up and dollars on a modelled cluster of N nodes
      edge       edge-cloud against cloud-only, with an edge pool in the catalogue
      pools      print the pool catalogue, or build one from a live cluster
      submit     create a compiled workflow in a cluster (kubernetes API)
      op, answer the commands each workflow step's container runs

    Exit codes: 0 ok, 1 bad input or failed check, 2 usage error, 70 internal error.
    """
    from dicec import verbosity

    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose cannot be given together")
    if quiet or verbose:  # else $DICEC_VERBOSITY (a pod's env, a parent dicec's level) or the default stands
        verbosity.set_level(verbosity.QUIET if quiet else verbosity.VERBOSE)


def _registry(operator_dirs: tuple[str, ...]):
    from dicec.tools import discover

    return discover(operator_dirs)


@cli.command()
@_operators_option
@_format_option("text", "json", default="text")
def tools(operator_dirs: tuple[str, ...], fmt: str) -> None:
    """List the vision operators discovered: built-in, from installed packages, and from --operators."""
    registry = _registry(operator_dirs)
    if fmt == "json":
        click.echo(dumps_json({"sources": list(registry.sources), "operators": [s.to_json() for s in registry]}), nl=False)
        return
    rows = []
    for spec in registry:
        lat = " ".join(f"{k}={v:g}s" for k, v in sorted(spec.profile.latency_s.items()))
        for form in spec.forms:
            call = f"patch.{form.signature}" if form.kind == "method" else form.signature
            rows.append((call, f"{spec.profile.gpu_memory_gb:g} GB", lat, spec.origin))
    width = max(len(r[0]) for r in rows)
    for call, mem, lat, origin in rows:
        click.echo(f"{call:<{width}}  {mem:>6}  {lat}  [{origin}]")
    click.echo(f"{len(registry)} operators from: {', '.join(registry.sources)}", err=True)


@cli.command()
@click.argument("question_file", metavar="QUESTION.txt")
@_output_option
@_llm_options
@_operators_option
@_format_option("text", "json", default="text")
@_strict_option
def codegen(question_file: str, output: str | None, backend: str, llm: Any, operator_dirs: tuple[str, ...],
            fmt: str, strict: bool) -> None:
    """Write the serial program (def execute_command(image)) that answers the question in QUESTION.txt.

    With --backend anthropic the LLM sees the discovered operators (--operators included); its program
    is checked and, if refused, sent back with the checker's exact messages for up to --rounds
    replies. --format json adds llm_calls, input_tokens and output_tokens (0 offline or replayed).
    """
    from dicec.check import require_valid
    from dicec.pipeline import generate, read_question

    question = read_question(question_file)
    registry = _registry(operator_dirs)
    generated = generate(question, registry, backend=backend, llm=llm, path=question_file)
    require_valid(generated.code, registry, path=f"{question_file} (generated)")
    if strict:
        _refuse_fallback(question_file, generated.warnings)
    for w in generated.warnings:
        click.echo(f"{question_file}: warning: {w}", err=True)
    usage = _usage_json(generated.usage)
    if fmt == "json":
        body = {"question": question, "program": generated.code, "family": generated.family,
                "warnings": list(generated.warnings), "backend": backend, "rounds": generated.rounds, **usage}
        text = dumps_json(body)
    else:
        text = generated.code
        if backend != "offline":
            note(f"{question_file}: {backend} ({generated.family}): {usage['llm_calls']} LLM call(s), "
                 f"{usage['input_tokens']} input + {usage['output_tokens']} output tokens")
    write_or_echo(text, output)


@cli.command()
@click.argument("programs", nargs=-1, required=True, metavar="PROGRAM.py...")
@_output_option
@_operators_option
@_format_option("json", "jsonl", default="json")
def plan(programs: tuple[str, ...], output: str | None, operator_dirs: tuple[str, ...], fmt: str) -> None:
    """Analyse serial programs into task graphs (JSON; one object a line for several programs).

    Independent operator calls become parallel tasks; a loop over a call's detections becomes a
    fan-out. A program that cannot be planned is refused with file:line and the reason; the others
    are still written, and the exit code is 1.
    """
    from dicec.analysis import analyse
    from dicec.files import read_text

    registry = _registry(operator_dirs)
    if len(programs) > 1 and fmt == "json":
        fmt = "jsonl"
    lines, failed = [], 0
    for path in programs:
        try:
            graph = analyse(read_text(path, what="program"), registry, path=path)
        except DicecError as exc:
            if len(programs) == 1:
                raise
            failed += 1
            for line in getattr(exc, "problems", None) or [exc]:
                click.echo(error_line(line), err=True)
            continue
        lines.append(graph.dumps() if fmt == "json" else json.dumps(graph.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
    if lines:
        write_or_echo("".join(lines), output)
    if len(programs) > 1:
        click.echo(f"planned {len(programs) - failed} of {len(programs)} programs", err=True)
    if failed:
        sys.exit(EXIT_INPUT)


@cli.command()
@click.argument("graph_file", metavar="GRAPH.json")
@_output_option
@_pools_option
@_operators_option
@_placement_options(mode=True)
def place(graph_file: str, output: str | None, pools_file: str | None, operator_dirs: tuple[str, ...],
          mode: str, placement: dict) -> None:
    """Put every task of a task graph on the cheapest pool whose GPU memory fits (placed graph JSON).

    In pods mode, groups of tasks on one pool are fused into one pod where that pays (see --no-fuse);
    the groups are in the placed graph's "fusion" list.
    """
    from dicec.analysis import graph_from_json
    from dicec.files import read_text
    from dicec.placement import load_pools
    from dicec.placement import place as place_graph

    text = read_text(graph_file, what="task graph")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"{graph_file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    placed = place_graph(graph_from_json(data, where=graph_file), _registry(operator_dirs), load_pools(pools_file),
                         mode=mode, **placement)
    write_or_echo(placed.dumps(), output)


@cli.command(name="compile")
@click.argument("input_files", nargs=-1, required=True, metavar="INPUT...")
@_output_option
@_pools_option
@_operators_option
@_llm_options
@click.option("--name", default=None, help="Fixed metadata.name (default: generateName, as argo submit expects).")
@click.option("--namespace", default=None, help="metadata.namespace to write (default: none, the submitter's).")
@click.option("--mode", type=click.Choice(["pods", "services"]), default="pods", show_default=True,
              help="pods: each step loads its model; services: a model-server Deployment + Service per "
                   "operator group, written before the Workflow, and steps that call them over HTTP.")
@click.option("--qps", type=click.FloatRange(0, 1e9, min_open=True), default=1.0, show_default=True,
              help="Services mode: expected queries per second; sizes each server's replicas.")
@click.option("--cloud", default=None, metavar="NAME",
              help="Use the catalogue's labels and taints for this cloud (e.g. gke); pools it lacks are left out.")
@_format_option("text", "json", default="text")
@_strict_option
@_emit_options
@_placement_options(mode=False)
@_weight_options
def compile_(input_files: tuple[str, ...], output: str | None, pools_file: str | None,
             operator_dirs: tuple[str, ...], backend: str, llm: Any, name: str | None, namespace: str | None, fmt: str,
             placement: dict, strict: bool, detections: float, bound: int, cloud: str | None,
             **emit: Any) -> None:
    """Compile INPUT to an Argo Workflow: a .txt question, a .py program, or a .json (placed) task graph.

    With --batch, several INPUTs make one workflow answering every question for every image, the
    questions sharing the stage pods (q1, q2, ... in the order given). The YAML goes to -o FILE
    (written atomically) or standard output; a summary goes to standard error (or, with --format
    json, a JSON summary to standard output): the plan, and the workflow's weight in Argo (nodes and
    node-status bytes per query, and the most images one Workflow takes under --max-workflow-bytes,
    at --detections boxes per find).
    """
    from dicec import pipeline
    from dicec.emit.commands import options_from
    from dicec.placement import load_pools

    options = options_from(emit, name=name, namespace=namespace, mode=emit.pop("mode"), qps=emit.pop("qps"),
                           spot=bool(placement.get("spot")))  # --spot: the pods go to the spot nodes priced
    given = dict(registry=_registry(operator_dirs), catalogue=load_pools(pools_file, cloud=cloud), options=options,
                 backend=backend, llm=llm, placement=placement)
    result = pipeline.compile_path(input_files[0], **given) if len(input_files) == 1 else \
        pipeline.compile_paths(list(input_files), **given)
    input_file = ", ".join(input_files)
    for path, planned in zip(input_files, result.inputs):  # each warning names the input it is about
        if strict:
            _refuse_fallback(path, planned.warnings)
        for w in planned.warnings:
            click.echo(f"{path}: warning: {w}", err=True)
    if fmt == "json" and to_stdout(output):
        raise DicecError("--format json prints a summary, so the workflow needs -o FILE")
    write_or_echo(result.yaml, output)
    graphs, placed = [p.graph for p in result.inputs], [p.placed for p in result.inputs]
    stats = {k: (max if k in ("critical_path", "max_width") else sum)(g.stats[k] for g in graphs) for k in graphs[0].stats}
    totals = {"usd_per_query": round(result.plan.usd_per_query if result.plan is not None else placed[0].totals[
                  "usd_per_query"], 8),
              "critical_path_seconds": max(p.totals["critical_path_seconds"] for p in placed),
              "load_qph": placed[0].totals.get("load_qph")}
    summary = {
        "input": input_file, "output": output, "question": result.question, "stats": stats,
        "usd_per_query": totals["usd_per_query"], "load_qph": totals["load_qph"],
        "critical_path_seconds": totals["critical_path_seconds"],
        "pools": sorted({pl.pool for p in placed for pl in p.placements.values()}),
        "fused": [] if result.plan is not None else [list(g.tasks) for g in result.placed.fusion],
        "warnings": list(result.warnings), "backend": backend, **_usage_json(result.usage),
    }
    if result.plan is not None:  # a pods-mode batch: shards of stage pods
        summary["batch"] = {"shards": result.plan.shards, "stages": [s.name for s in result.plan.stages],
                            "questions": {q.name: p.path for q, p in zip(result.plan.queries, result.inputs)}}
    try:
        weight = _weigh(result.workflow, detections=detections, bound=bound, operator_dirs=operator_dirs)
    except DicecError as exc:  # the weight is a summary: a workflow it cannot model still compiles
        weight, unweighed = None, str(exc)
    summary["argo"] = weight.to_json() if weight is not None else None
    if fmt == "json":
        click.echo(dumps_json(summary), nl=False)
    else:
        where = "stdout" if to_stdout(output) else output
        fused = f"{len(summary['fused'])} fused group(s); " if summary["fused"] else ""
        if result.plan is not None:
            pairs = [f"{q.name} = {p.path}" for q, p in zip(result.plan.queries, result.inputs)]
            # a long batch names its first questions and its last (--format json lists every one)
            names = ", ".join(pairs if len(pairs) <= 4 else [*pairs[:3], "...", pairs[-1]])
            note(f"{where}: batch of {len(result.plan.queries)} question(s) ({names}) in "
                 f"{result.plan.shards} shards, each a chain of {len(result.plan.chain)} pods: "
                 f"{', '.join(f'{s.name} ({len(s.tasks)} tasks)' for s in result.plan.stages) or 'no stage'}, "
                 f"{result.plan.answer.name} on {result.plan.answer.pool}")
        note(f"{where}: {stats['tasks']} tasks ({stats['fanouts']} fan-outs), critical path "
             f"{stats['critical_path']}, width {stats['max_width']}; pools "
             f"{', '.join(summary['pools']) or 'cpu'}; {fused}"
             f"est. ${totals['usd_per_query']:.6f} per query at {totals['load_qph'] or 0:g} queries/hour "
             "(dicec cost's figure: a day's bill over its queries, every pod, server and CPU priced)")
        if weight is None:
            note(f"{where}: Argo: not weighed ({unweighed})")
        else:
            note(f"{where}: {weight.summary()}")
            _warn_weight(where, weight)


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="WORKFLOW.yaml...")
@_format_option("text", "json", default="text")
@_weight_options
def validate(files: tuple[str, ...], fmt: str, detections: float, bound: int) -> None:
    """Check workflow YAML: Argo's JSON schema (unknown fields refused) plus DAG cycles, dangling
    dependencies and template references, unresolved {{...}} references, Kubernetes name rules and
    resource quantities; services mode's Deployments and Services against Kubernetes' schema when
    kubernetes-validate is installed (a note on stderr says when they were skipped).

    Prints one line per problem (file:line: message) and exits 1 if there is any. A valid workflow that dicec
    wrote is also weighed (as dicec compile does): past --max-workflow-bytes at --detections boxes per find
    it gets a warning (file: warning: ...), which does not fail the check.
    """
    from dicec.validate import validate_path

    results, warnings = {}, {}
    for path in files:
        try:
            results[path] = [str(d) for d in validate_path(path)]
        except DicecError as exc:
            results[path] = [str(exc)]
        warnings[path] = [] if results[path] else _file_weight_warnings(path, detections=detections, bound=bound)
    problems = [line for lines in results.values() for line in lines]
    if fmt == "json":
        click.echo(dumps_json({"valid": not problems, "files": {p: {"valid": not ls, "problems": ls,
                                                                    "warnings": warnings[p]}
                                                            for p, ls in results.items()}}), nl=False)
    else:
        for line in problems:
            click.echo(line, err=True)
        for path, lines in warnings.items():
            for line in lines:
                click.echo(f"{path}: warning: {line}", err=True)
        ok = [p for p, ls in results.items() if not ls]
        if ok:
            note(f"{len(ok)} of {len(files)} file(s) valid")
    from dicec.validate.kubernetes import skipped_note

    skipped = skipped_note(list(files))
    if skipped is not None:  # said, not counted: the exit code is the checks' that ran
        note(skipped)
    if problems:
        sys.exit(EXIT_INPUT)


def _file_weight_warnings(path: str, *, detections: float, bound: int) -> list[str]:
    """The weight warning of each Workflow dicec wrote in ``path`` (a file of valid documents)."""
    from dicec.runner.documents import read_documents

    out = []
    for doc in read_documents(path):
        labels = ((doc.get("metadata") or {}).get("labels") or {}) if isinstance(doc, dict) else {}
        if doc.get("kind") in ("Workflow", "WorkflowTemplate") and labels.get("app.kubernetes.io/managed-by") == "dicec":
            try:
                warning = _weight_warning(_weigh(doc, detections=detections, bound=bound))
            except DicecError as exc:  # e.g. an operator from a folder this command was not given
                warning = f"not weighed ({exc})"
            if warning is not None:
                out.append(warning)
    return out


def _register_runtime() -> None:
    """The step side's verbs live in dicec.runtime.commands, ``dicec op serve`` and ``dicec answer serve``
    (joining the ``op`` and ``answer`` groups) in dicec.serving.commands, ``dicec run`` in dicec.runner.commands (click only at import time)."""
    from dicec.runner.commands import run
    from dicec.runtime.commands import exec_
    from dicec.serving.commands import answer_group, op_group

    for command in (exec_, run, op_group(), answer_group()):
        cli.add_command(command)


def _register_cost() -> None:
    """Cost, simulation and pool verbs live beside their stages (dicec.cost, dicec.simulate, dicec.placement)."""
    from dicec.cost.commands import cost
    from dicec.cost.edge_commands import edge
    from dicec.placement.commands import pools
    from dicec.simulate.commands import simulate

    for command in (cost, simulate, pools, edge):
        cli.add_command(command)


def _register_submit() -> None:
    """``dicec submit`` lives in dicec.submit (the kubernetes client is imported only when it runs)."""
    from dicec.submit.commands import submit

    cli.add_command(submit)


_register_runtime()
_register_cost()
_register_submit()


def main() -> None:
    """Console entry point."""
    cli(prog_name="dicec")
