"""``dicec run``: execute an Argo Workflow file on this machine, as Argo would, and return its outputs.

What it reads is the workflow YAML itself, not the task graph: the entry template's DAG, each
task's template, arguments, ``dependencies`` (or a ``depends`` of ``&&``-joined task names),
``withParam``/``withItems``/``withSequence`` fan-outs, ``when`` conditions (:mod:`dicec.runner.when`) and the
templates' ``retryStrategy.limit``. Tasks run in dependency order on a thread pool
(``parallelism`` workers; a fan-out's elements are separate jobs).

Substitution is Argo's: ``{{workflow.parameters.X}}``, ``{{inputs.parameters.X}}``,
``{{tasks.T.outputs.parameters.X}}``, ``{{item}}`` (JSON for a map or list, the text otherwise) and
``{{item.KEY}}``; ``withSequence`` gives the items Argo does (``"0"`` ... for a ``count``, see
:func:`sequence_items`). A fan-out's output parameter is the JSON list of its elements' values in item
order (each value parsed as JSON when it is JSON). A skipped task -- its ``when`` false, or a fan-out
over an empty list ("Skipped, empty params") -- has, as in Argo v4, its template's output parameters
that declare a ``valueFrom.default``, with that default; a reference to any other output of it stays
unresolved.

Each container step runs its ``command`` + ``args`` with its result paths (``/tmp/dicec/...`` and
the folders of its output parameters) moved into a temporary folder of its own, and its output parameters are read from there. Two isolation modes:

* ``process``: every step is a subprocess, exactly the argv a container would run, with ``dicec``
  replaced by :data:`~dicec.runner.launcher.LAUNCHER` (``python -m dicec.runtime``, the step side's
  verbs alone);
* ``thread`` (the default): steps whose command is ``dicec op`` / ``dicec answer`` are parsed by the
  same click commands and run in this process (models load once), with the same files written and
  read; any other command still runs as a subprocess. The two modes give identical outputs (the
  tests check it); ``thread`` is only faster.

A DAG task may call another DAG template (a batch workflow's per-image query): it runs with its
input parameters in scope, under the calling template's ``parallelism`` cap (as Argo bounds a DAG's
children), and its output parameters are the task's outputs. A step's ``inputs.artifacts`` are
fetched by :mod:`dicec.runner.artifacts` (local paths and ``file://`` only) into its folder, or, for
one a DAG task supplies ``from: {{tasks.T.outputs.artifacts.NAME}}``, taken from the file task ``T``'s
step left at that output artifact's path (an edge step's crops, :mod:`dicec.runtime.crops`); a
missing output artifact fails its step unless it is ``optional``.

An ``http`` template (services mode's operator calls and answer, :mod:`dicec.emit.http`) is sent as Argo's
agent sends it (:mod:`dicec.runner.httpsteps`): its response body is the task's ``outputs.result``
(``{{tasks.T.outputs.result}}``), and at most ``agent_workers`` requests are in flight at once, on a
pool of their own (the agent is one pod per workflow with that many workers), whatever
``parallelism`` the container steps run under.

A DAG task may also supply an input artifact as ``raw`` data with references (the answer step's records, a
fused group's inputs: values too large for an argument), substituted and written to the input's path.

Every node Argo would create -- DAGs, task groups, retried steps and their attempts, skipped tasks -- is
reported, with its inputs and outputs, to a :class:`~dicec.runner.argostatus.NodeTree`, and a finished run
is weighed (:func:`dicec.runner.weight.measured`: ``RunResult.argo``). With ``RunOptions.model`` every
container step and HTTP request is answered by a stand-in instead (:mod:`dicec.runner.modelled`): the
weight estimate's modelled run.

A failing step (after its retries) stops the run: its name and the tail of its log are reported.

Only dicec's own step commands run (:data:`dicec.runtime.contract.STEP_COMMANDS`: ``dicec op ...``,
``dicec answer ...``): a workflow with any other container command is refused in one line before
anything runs, since it would run on this machine, as this user, outside any container. The user
lifts that with ``RunOptions.run_any_command`` (``dicec run --run-any-command``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dicec.errors import DicecError, one_line
from dicec.runner.aggregate import aggregate_parameter, aggregate_results
from dicec.runner.answerstep import counts_in_headers, counts_in_log
from dicec.runner.argostatus import NodeTree, item_node_name, workflow_name
from dicec.runner.artifacts import RawData, resolve_inputs, stage
from dicec.runner.documents import load_workflow, read_documents
from dicec.runner.httpsteps import DEFAULT_AGENT_WORKERS, RESULT_KEY
from dicec.runner.launcher import LAUNCHER, subprocess_env
from dicec.runtime.commands import OPERATORS_ENV
from dicec.runtime.contract import RESULT_DIR, is_step_command

#: How a task's output artifacts are kept among its outputs (the name after it; the value a local file).
ARTIFACT_KEY = "artifact:"
LOG_TAIL_LINES = 20
_REF = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_ITEM_REF = re.compile(r"\{\{\s*item\b")


class StepFailed(DicecError):
    """A step failed after its retries.

    Attributes:
        step: the step's name (``task`` or ``task(i:item)`` for a fan-out element).
        log_tail: the last lines of its log.
    """

    def __init__(self, step: str, reason: str, log_tail: list[str]) -> None:
        super().__init__(f"step {step} failed: {reason}")
        self.step, self.reason, self.log_tail = step, reason, log_tail


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How to run.

    Attributes:
        parameters: workflow parameters (``-p name=value``).
        parallelism: worker threads.
        isolation: ``thread`` or ``process`` (see the module docstring).
        env: extra environment for the steps (``DICEC_MODELS``, ``DICEC_OPERATORS``).
        progress: a callback given a one-line status after every change, or ``None``.
        keep_dir: keep the step folders (their files and ``step.log``) here instead of a temporary
            folder removed at the end.
        run_any_command: also run containers whose command is not a dicec step command (they run on
            this machine as this user; see :func:`check_commands`).
        agent_workers: HTTP steps in flight at once (Argo's ``ARGO_AGENT_TASK_WORKERS``).
        model: a stand-in that answers every container step and HTTP request instead of running or sending
            it (:class:`dicec.runner.weight.StepModel`: the weight estimate's modelled run), or ``None``.
    """

    parameters: dict[str, str] = field(default_factory=dict)
    parallelism: int = 4
    isolation: str = "thread"
    env: dict[str, str] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    keep_dir: str | None = None
    run_any_command: bool = False
    agent_workers: int = DEFAULT_AGENT_WORKERS
    model: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.agent_workers, bool) or not isinstance(self.agent_workers, int) or self.agent_workers < 1:
            raise DicecError(f"agent workers must be a whole number of at least 1, not {self.agent_workers!r}")


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """A finished run.

    Attributes:
        outputs: the entry template's output parameters.
        steps: how many container steps ran (what would each be a pod; fan-out elements count each).
        skipped: tasks whose ``when`` was false.
        seconds: wall-clock time.
        annotations: the workflow's annotations (a pods-mode batch's plan is one, :mod:`dicec.runner.batch`).
        requests: how many HTTP steps were sent (Argo's agent sends them; no pod each).
        nodes: the run's node statuses as Argo would keep them (:class:`dicec.runner.argostatus.NodeTree`).
        argo: what they weigh (:class:`dicec.runner.weight.Measured`; ``None`` for a modelled run).
        answer_counts: what each answer step's replay reported of its records and computed calls
            (:mod:`dicec.runner.answerstep`), in the order the steps finished.
    """

    outputs: dict[str, str]
    steps: int
    skipped: tuple[str, ...]
    seconds: float
    annotations: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    nodes: NodeTree | None = None
    argo: Any = None
    answer_counts: tuple[Any, ...] = ()


# -- parameters and substitution ------------------------------------------------------------------------
def workflow_parameters(wf: dict, given: dict[str, str]) -> dict[str, str]:
    """``spec.arguments.parameters`` with ``given`` applied; unknown or missing values are errors."""
    declared = {p["name"]: p for p in (wf["spec"].get("arguments") or {}).get("parameters") or []}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise DicecError(f"-p {unknown[0]}: the workflow has no parameter {unknown[0]!r} "
                         f"(it has: {', '.join(declared) or 'none'})")
    out = {}
    for name, p in declared.items():
        if name in given:
            out[name] = given[name]
        elif "value" in p:
            out[name] = str(p["value"])
        elif "default" in p:
            out[name] = str(p["default"])
        else:
            raise DicecError(f"the workflow needs -p {name}=VALUE")
    return out


def substitute(text: str, scope: dict[str, str], *, strict: tuple[str, ...] = ()) -> str:
    """Replace ``{{name}}`` by ``scope[name]``; unknown names stay, unless they start with a ``strict`` prefix."""
    def repl(m: re.Match) -> str:
        name = m.group(1)
        if name.startswith("="):
            raise DicecError(f"expression templates ({{{{={name[1:]}}}}}) are not supported by dicec run")
        if name in scope:
            return scope[name]
        if name.startswith(strict):
            raise DicecError(f"unresolved reference {{{{{name}}}}}")
        return m.group(0)
    return _REF.sub(repl, text)


def sequence_items(sequence: Any, resolve: Callable[[str], str], task: str) -> list[str]:
    """The items of a ``withSequence`` (Argo's ``expandSequence``): ``count`` (or ``end``) from ``start``
    (default 0), each formatted with ``format`` (a printf integer format, default ``%d``), as strings."""
    if not isinstance(sequence, dict):
        raise StepFailed(task, "withSequence must be a map of count, start, end and format", [])
    numbers = {}
    for key in ("start", "end", "count"):
        if sequence.get(key) is not None:
            text = resolve(str(sequence[key])).strip()
            try:
                numbers[key] = int(text)
            except ValueError:
                raise StepFailed(task, f"withSequence {key} is not a whole number: {text[:40]!r}", []) from None
    start = numbers.get("start", 0)
    if "end" in numbers:
        end = numbers["end"]
    elif "count" in numbers:
        if numbers["count"] < 0:
            raise StepFailed(task, f"withSequence count is negative: {numbers['count']}", [])
        end = start + numbers["count"] - 1
        if numbers["count"] == 0:
            return []
    else:
        raise StepFailed(task, "withSequence needs count or end", [])
    fmt = str(sequence.get("format") or "%d")
    step = 1 if start <= end else -1
    try:
        return [fmt % i for i in range(start, end + step, step)]
    except (TypeError, ValueError):
        raise StepFailed(task, f"withSequence format {fmt!r} is not an integer format dicec run can apply", []) from None


def item_scope(item: Any) -> dict[str, str]:
    """``{{item}}`` (and ``{{item.KEY}}``) for one fan-out element, serialised as Argo does."""
    scope = {"item": _param_text(item)}
    if isinstance(item, dict):
        scope.update({f"item.{k}": _param_text(v) for k, v in item.items()})
    return scope


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _nested(scope: dict[str, str]) -> dict[str, Any]:
    """``{"tasks.a.outputs.result": v}`` as ``{"tasks": {"a": {"outputs": {"result": v}}}}`` (Argo's ``expand``)."""
    out: dict[str, Any] = {}
    for key, value in scope.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[last] = value
    return out


# -- running ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class _Place:
    """Where a task's node hangs in Argo's node tree: its name, its boundary (DAG) node, and the task nodes it
    depends on or the task group it is an item of."""

    name: str
    boundary: str | None = None
    parents: tuple[str, ...] = ()
    member_of: str | None = None


@dataclass
class _TaskState:
    name: str
    spec: dict
    deps: list[str]
    status: str = "pending"  # pending, running, done, skipped, failed
    items: list[Any] | None = None
    results: dict[int, dict[str, str]] = field(default_factory=dict)
    remaining: int = 0
    outputs: dict[str, str] | None = None


class Runner:
    """One run of one workflow."""

    def __init__(self, wf: dict, options: RunOptions, *, where: str = "workflow") -> None:
        self.wf, self.options, self.where = wf, options, where
        self.templates = {t["name"]: t for t in wf["spec"].get("templates") or []}
        self.params = workflow_parameters(wf, options.parameters)
        self.steps_run = 0
        self.requests_sent = 0
        self.lock = threading.Lock()
        self.tree = NodeTree(workflow_name(wf.get("metadata") or {}))
        self.answer_counts: list[Any] = []
        self.fanout_paths: dict[str, tuple[int, ...]] = {}  # a step's label -> the fan-out elements it runs in

    def run(self) -> RunResult:
        start = time.monotonic()
        entry = self.wf["spec"].get("entrypoint")
        template = self.templates.get(entry)
        if template is None:
            raise DicecError(f"{self.where}: entrypoint {entry!r} is not a template")
        base = Path(self.options.keep_dir) if self.options.keep_dir else Path(tempfile.mkdtemp(prefix="dicec-run-"))
        base.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.agent = ThreadPoolExecutor(max_workers=self.options.agent_workers, thread_name_prefix="dicec-agent")
        root = _Place(name=self.tree.workflow)
        argo = None
        try:
            if "dag" in template:
                self.tree.dag(root.name, template, boundary=None)
                outputs, skipped = self.run_dag_template(template, {}, base, "", top=True, place=root)
            elif "container" in template:
                outputs, skipped = self.run_container(template, {}, "main", base / "main", place=root), []
            elif "http" in template:
                outputs, skipped = self.run_http(template, {}, "main", base / "main", place=root), []
            else:
                raise DicecError(f"{self.where}: the entry template {entry!r} is not a dag, container or http "
                                 "template (steps, script and resource templates are not supported by dicec run)")
            if self.options.model is None:  # weighed before the steps' files go (a batch's records are files)
                from dicec.runner.weight import measured

                dirs = tuple(d for d in self.options.env.get(OPERATORS_ENV, "").split(os.pathsep) if d)
                argo = measured(self.tree, self.wf, self.params, operator_dirs=dirs)
        finally:
            self.agent.shutdown(wait=True)
            if not self.options.keep_dir:
                shutil.rmtree(base, ignore_errors=True)
        return RunResult(outputs=outputs, steps=self.steps_run, skipped=tuple(skipped),
                         seconds=time.monotonic() - start, requests=self.requests_sent,
                         annotations=dict((self.wf.get("metadata") or {}).get("annotations") or {}), nodes=self.tree,
                         argo=argo, answer_counts=tuple(self.answer_counts))

    # -- the DAG ---------------------------------------------------------------------------------------
    def run_dag_template(self, template: dict, inputs: dict[str, str], base: Path, label: str, *,
                         top: bool = False, place: _Place) -> tuple[dict[str, str], list[str]]:
        """Run a DAG template (the entry one, or one a task calls, with its input parameters) as the DAG node
        ``place`` (reported to :attr:`tree` before the call): its outputs."""
        tasks, skipped = self.run_dag(template, inputs=inputs, base=base, label=label, top=top, node=place.name)
        scope = self.global_scope(tasks, inputs)
        outputs = {}
        for p in (template.get("outputs") or {}).get("parameters") or []:
            value_from = p.get("valueFrom") or {}
            if "expression" in value_from:  # evaluated over the scope's names as nested maps, as Argo does
                from dicec.runner.expr import evaluate_expression

                try:
                    outputs[p["name"]] = evaluate_expression(str(value_from["expression"]), _nested(scope))
                except DicecError as exc:
                    raise StepFailed(f"{label}outputs", str(exc), []) from None
                continue
            ref = value_from.get("parameter")
            outputs[p["name"]] = substitute(ref if ref is not None else str(p.get("value", "")), scope)
        needed = {d for t in tasks.values() for d in t.deps}
        self.tree.dag_done(place.name, template, outputs=outputs,
                           leaves=[f"{place.name}.{n}" for n in tasks if n not in needed])
        return outputs, skipped

    def run_dag(self, template: dict, *, inputs: dict[str, str] | None = None, base: Path | None = None,
                label: str = "", top: bool = True, node: str = "") -> tuple[dict[str, _TaskState], list[str]]:
        inputs = inputs or {}
        base = base if base is not None else self.base
        workers = max(1, self.options.parallelism)
        if isinstance(template.get("parallelism"), int) and template["parallelism"] > 0:
            workers = min(workers, template["parallelism"])  # Argo: at most that many children at once
        tasks: dict[str, _TaskState] = {}
        for t in template["dag"].get("tasks") or []:
            tasks[t["name"]] = _TaskState(name=t["name"], spec=t, deps=_dependencies(t))
        for t in tasks.values():
            missing = [d for d in t.deps if d not in tasks]
            if missing:
                raise DicecError(f"{self.where}: task {t.name!r} depends on {missing[0]!r}, which is not in the DAG")
        skipped: list[str] = []
        running: dict[Future, tuple[str, int | None]] = {}
        failure: StepFailed | None = None
        with ThreadPoolExecutor(max_workers=workers) as pool:
            while True:
                if failure is None:
                    for t in tasks.values():
                        if t.status == "pending" and all(tasks[d].status in ("done", "skipped") for d in t.deps):
                            try:
                                self.start(t, tasks, pool, running, skipped, inputs, base, label, node)
                            except DicecError as exc:
                                t.status = "failed"
                                failure = exc if isinstance(exc, StepFailed) else StepFailed(t.name, str(exc), [])
                                break
                if top:
                    self.report(tasks, running)
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    name, index = running.pop(fut)
                    t = tasks[name]
                    try:
                        result = fut.result()
                    except StepFailed as exc:
                        t.status = "failed"
                        failure = failure or exc
                        continue
                    except DicecError as exc:
                        t.status = "failed"
                        failure = failure or StepFailed(name, str(exc), [])
                        continue
                    self.finish(t, index, result)
        if top:
            self.report(tasks, {}, final=True)
        if failure is not None:
            raise failure
        stuck = [t.name for t in tasks.values() if t.status == "pending"]
        if stuck:
            raise DicecError(f"{self.where}: tasks {', '.join(stuck)} never became ready (a dependency cycle?)")
        return tasks, skipped

    def global_scope(self, tasks: dict[str, _TaskState], inputs: dict[str, str] | None = None) -> dict[str, str]:
        scope = {f"workflow.parameters.{k}": v for k, v in self.params.items()}
        scope.update({f"inputs.parameters.{k}": v for k, v in (inputs or {}).items()})
        for t in tasks.values():
            for k, v in (t.outputs or {}).items():
                if k.startswith(ARTIFACT_KEY):
                    scope[f"tasks.{t.name}.outputs.artifacts.{k[len(ARTIFACT_KEY):]}"] = v
                elif k == RESULT_KEY:
                    scope[f"tasks.{t.name}.outputs.result"] = v
                else:
                    scope[f"tasks.{t.name}.outputs.parameters.{k}"] = v
        return scope

    def start(self, t: _TaskState, tasks: dict[str, _TaskState], pool: ThreadPoolExecutor,
              running: dict[Future, tuple[str, int | None]], skipped: list[str], inputs: dict[str, str],
              base: Path, label: str, node: str = "") -> None:
        scope = self.global_scope(tasks, inputs)
        spec = t.spec
        place = _Place(name=f"{node}.{t.name}", boundary=node, parents=tuple(f"{node}.{d}" for d in t.deps))
        loops = "withParam" in spec or "withItems" in spec or "withSequence" in spec
        if loops and "when" in spec and not _ITEM_REF.search(str(spec["when"])):
            # Argo (since 3.5) evaluates a task's when before expanding its loop: false skips the whole task.
            if not self.when(spec, scope):
                self.skip(t, skipped, place, scope)
                return
        if loops:
            if "withSequence" in spec:
                items = sequence_items(spec["withSequence"], lambda text: substitute(text, scope), t.name)
            elif "withParam" in spec:
                text = substitute(str(spec["withParam"]), scope)
                try:
                    items = json.loads(text)
                except json.JSONDecodeError:
                    items = None
                if not isinstance(items, list):
                    t.status = "failed"
                    raise StepFailed(t.name, f"withParam is not a JSON list: {text[:120]!r}", [])
            else:
                items = list(spec["withItems"])
            t.items, t.remaining, t.status = items, 0, "running"
            template = str(spec.get("template"))
            if items:
                self.tree.group(place.name, template, boundary=node, parents=place.parents)
            else:
                self.tree.skipped(place.name, template, boundary=node, parents=place.parents,
                                  message="Skipped, empty params")
            for i, item in enumerate(items):
                local = {**scope, **item_scope(item)}
                member = _Place(name=item_node_name(place.name, i, item), boundary=node, member_of=place.name)
                if not self.when(spec, local):
                    self.tree.skipped(member.name, template, boundary=node, member_of=place.name,
                                      message=self.when_message(spec, local))
                    continue
                t.remaining += 1
                element = f"{label}{t.name}({i}:{_param_text(item)[:40]})"
                path = self.path_of(label) + (i,)
                with self.lock:
                    self.fanout_paths[element] = path
                running[self.executor(t, pool).submit(self.run_task, t, local, element, i, base, member)] = (t.name, i)
            if t.remaining == 0:
                self.finish(t, None, None)
            return
        if not self.when(spec, scope):
            self.skip(t, skipped, place, scope)
            return
        t.status, t.remaining = "running", 1
        running[self.executor(t, pool).submit(self.run_task, t, scope, f"{label}{t.name}", None, base,
                                              place)] = (t.name, None)

    def executor(self, t: _TaskState, pool: ThreadPoolExecutor) -> ThreadPoolExecutor:
        """Where a task runs: an HTTP step on the agent's pool, anything else on the DAG's."""
        return self.agent if "http" in (self.templates.get(t.spec.get("template")) or {}) else pool

    def skip(self, t: _TaskState, skipped: list[str], place: _Place, scope: dict[str, str]) -> None:
        t.status, t.outputs = "skipped", self.declared_defaults(t)
        skipped.append(t.name)
        self.tree.skipped(place.name, str(t.spec.get("template")), boundary=place.boundary or "",
                          parents=place.parents, message=self.when_message(t.spec, scope))

    @staticmethod
    def when_message(spec: dict, scope: dict[str, str]) -> str:
        """A skipped node's message: ``when 'EXPR' evaluated false``, the expression substituted."""
        return f"when '{substitute(str(spec.get('when', '')), scope)}' evaluated false"

    def declared_defaults(self, t: _TaskState) -> dict[str, str] | None:
        """A skipped task's outputs: its template's output parameters with a ``valueFrom.default`` (Argo v4)."""
        template = self.templates.get(t.spec.get("template")) or {}
        out = {p["name"]: str(p["valueFrom"]["default"]) for p in (template.get("outputs") or {}).get("parameters") or []
               if isinstance(p.get("valueFrom"), dict) and "default" in p["valueFrom"]}
        return out or None

    def when(self, spec: dict, scope: dict[str, str]) -> bool:
        if "when" not in spec:
            return True
        from dicec.runner.when import evaluate_when

        return evaluate_when(substitute(str(spec["when"]), scope))

    def finish(self, t: _TaskState, index: int | None, result: dict[str, str] | None) -> None:
        if index is None and t.items is None:
            t.outputs, t.status = result or {}, "done"
            return
        if index is not None:
            t.results[index] = result or {}
            t.remaining -= 1
        if t.remaining > 0:
            return
        t.status = "done"
        if not t.results:
            t.outputs = self.declared_defaults(t)  # no elements ran: Argo v4's "Skipped, empty params"
            return
        order = sorted(t.results)  # Argo sorts a loop's children by their index
        names = sorted({k for r in t.results.values() for k in r if not k.startswith(ARTIFACT_KEY)})
        t.outputs = {}
        for k in names:  # exactly Argo's aggregation (dicec.runner.aggregate), from the elements that have k
            values = [t.results[i][k] for i in order if k in t.results[i]]
            t.outputs[k] = (aggregate_results(values, task=t.name) if k == RESULT_KEY else aggregate_parameter(values))

    def run_task(self, t: _TaskState, scope: dict[str, str], label: str, index: int | None,
                 base: Path | None = None, place: _Place | None = None) -> dict[str, str]:
        template = self.templates.get(t.spec.get("template"))
        if template is None:
            raise StepFailed(label, f"template {t.spec.get('template')!r} does not exist", [])
        if "container" not in template and "dag" not in template and "http" not in template:
            raise StepFailed(label, "only container, http and dag templates are supported inside a DAG by dicec run",
                             [])
        arguments = {p["name"]: substitute(str(p.get("value", "")), scope)
                     for p in (t.spec.get("arguments") or {}).get("parameters") or []}
        passed: dict[str, str | RawData] = {}
        for a in (t.spec.get("arguments") or {}).get("artifacts") or []:
            if isinstance(a.get("raw"), dict):  # raw data: Argo writes the (substituted) text to the input's path
                passed[str(a.get("name"))] = RawData(substitute(str(a["raw"].get("data", "")), scope))
                continue
            if "from" not in a:
                raise StepFailed(label, f"artifact argument {a.get('name')!r}: only 'from' and 'raw' are supported "
                                        "by dicec run", [])
            path = substitute(str(a["from"]), scope)
            if "{{" in path:
                raise StepFailed(label, f"input artifact {a.get('name')!r}: {a['from']} was not produced", [])
            passed[str(a.get("name"))] = path
        folder = (base if base is not None else self.base) / (t.name if index is None else f"{t.name}-{index}")
        place = place or _Place(name=t.name)
        if "dag" in template:
            inputs = self.input_values(template, arguments, label)
            path = self.path_of(label)
            with self.lock:
                self.fanout_paths[f"{label}/"] = path
            self.tree.dag(place.name, template, boundary=place.boundary, parents=place.parents,
                          member_of=place.member_of, inputs=inputs)
            return self.run_dag_template(template, inputs, folder, f"{label}/", top=False, place=place)[0]
        if "http" in template:
            return self.run_http(template, arguments, label, folder, place=place)
        return self.run_container(template, arguments, label, folder, passed, place=place)

    def input_values(self, template: dict, arguments: dict[str, str], label: str) -> dict[str, str]:
        """A template's input parameters: the task's arguments, else the declared defaults."""
        values = {}
        for p in (template.get("inputs") or {}).get("parameters") or []:
            if p["name"] in arguments:
                values[p["name"]] = arguments[p["name"]]
            elif "default" in p or "value" in p:
                values[p["name"]] = str(p.get("value", p.get("default")))
            else:
                raise StepFailed(label, f"input parameter {p['name']!r} has no value", [])
        return values

    # -- one container step --------------------------------------------------------------------------
    def run_container(self, template: dict, arguments: dict[str, str], label: str, folder: Path,
                      passed: dict[str, str | RawData] | None = None, *, place: _Place) -> dict[str, str]:
        """Run one container step in ``folder`` as node ``place``; ``passed``: input artifacts the task supplies
        (name -> another step's file, or raw data)."""
        scope = {f"workflow.parameters.{k}": v for k, v in self.params.items()}
        values = self.input_values(template, arguments, label)
        scope.update({f"inputs.parameters.{k}": v for k, v in values.items()})
        try:
            artifacts = resolve_inputs(template, lambda text: substitute(text, scope, strict=("inputs.", "workflow.")),
                                       passed or {}, locate=self.options.model is None)
        except DicecError as exc:
            raise StepFailed(label, str(exc), []) from None
        container = template["container"]
        argv = [substitute(str(a), scope, strict=("inputs.", "workflow.")) for a in
                [*(container.get("command") or []), *(container.get("args") or [])]]
        if not argv:
            raise StepFailed(label, "the container has no command (dicec run cannot use an image's entrypoint)", [])
        out_params = (template.get("outputs") or {}).get("parameters") or []
        out_artifacts = [a for a in (template.get("outputs") or {}).get("artifacts") or [] if a.get("path")]
        # container paths moved into the step's own folder: the steps' result folder, plus the folder of
        # every output parameter's path (input paths such as the image are left alone) and artifacts' folders
        roots = {RESULT_DIR} | {os.path.dirname(str((p.get("valueFrom") or {}).get("path")))
                                for p in out_params if (p.get("valueFrom") or {}).get("path")}
        roots |= {os.path.dirname(a.path) for a in artifacts}
        roots |= {os.path.dirname(str(a["path"])) for a in out_artifacts}
        roots = sorted((r.rstrip("/") for r in roots if r not in ("", "/")), key=len, reverse=True)
        argv = [self.remap(a, folder, roots) for a in argv]
        outputs = [(p["name"], self.remap(str((p.get("valueFrom") or {}).get("path", "")), folder, roots), p)
                   for p in out_params]
        outputs += [(ARTIFACT_KEY + str(a["name"]), self.remap(str(a["path"]), folder, roots), a) for a in out_artifacts]
        limit = _retry_limit(template)
        log: list[str] = []
        for attempt in range(limit + 1):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            (folder / "tmp").mkdir()
            for a in artifacts:
                stage(a, Path(self.remap(a.path, folder, roots)))
            rc, log = self.execute(argv)
            (folder / "step.log").write_text("".join(line + "\n" for line in log), encoding="utf-8")
            if rc == 0:
                try:
                    found = self.read_outputs(outputs, label)
                except StepFailed as exc:
                    log = log + [exc.reason]
                    rc = 1
                else:
                    self.keep_counts(counts_in_log(log, step=label, indices=self.path_of(label)))
                    self.tree.step(place.name, template, boundary=place.boundary, parents=place.parents,
                                   member_of=place.member_of, parameters=values,
                                   artifacts={a.name: a.location or {} for a in artifacts},
                                   outputs={k: v for k, v in found.items() if not k.startswith(ARTIFACT_KEY)},
                                   produced={k[len(ARTIFACT_KEY):]: v for k, v in found.items()
                                             if k.startswith(ARTIFACT_KEY)})
                    return found
            if attempt < limit:
                log.append(f"(attempt {attempt + 1} of {limit + 1} failed; retrying)")
        raise StepFailed(label, f"exit code {rc}" + (f" after {limit + 1} attempts" if limit else ""),
                         log[-LOG_TAIL_LINES:])

    # -- one HTTP step ---------------------------------------------------------------------------------
    def run_http(self, template: dict, arguments: dict[str, str], label: str, folder: Path, *,
                 place: _Place) -> dict[str, str]:
        """Send one ``http`` template's request as Argo's agent does (:mod:`dicec.runner.httpsteps`) as node
        ``place``; its log (requests and responses) goes to ``folder/step.log``."""
        outputs = self.send_http(template, arguments, label, folder)
        self.tree.step(place.name, template, boundary=place.boundary, parents=place.parents, member_of=place.member_of,
                       parameters=self.input_values(template, arguments, label), result=outputs.get(RESULT_KEY))
        return outputs

    def send_http(self, template: dict, arguments: dict[str, str], label: str, folder: Path) -> dict[str, str]:
        from dicec.runner import httpsteps
        from dicec.runtime.client import SERVICES_ENV, parse_services

        scope = {f"workflow.parameters.{k}": v for k, v in self.params.items()}
        scope.update({f"inputs.parameters.{k}": v for k, v in self.input_values(template, arguments, label).items()})
        if self.options.model is not None:  # a modelled run: the stand-in answers, nothing is sent
            with self.lock:
                self.requests_sent += 1
            http = template["http"] or {}
            return {RESULT_KEY: self.options.model.http(
                substitute(str(http.get("url", "")), scope), substitute(str(http.get("body", "")), scope))}
        try:
            request = httpsteps.request_of(template["http"] or {},
                                           lambda text: substitute(text, scope, strict=("inputs.", "workflow.")),
                                           parse_services(self.options.env.get(SERVICES_ENV)))
        except DicecError as exc:
            raise StepFailed(label, str(exc), []) from None
        limit = _retry_limit(template)
        log: list[str] = []
        folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(limit + 1):
            with self.lock:
                self.requests_sent += 1
            try:
                exchange = httpsteps.send(request)
            except DicecError as exc:  # a condition dicec run cannot evaluate: not worth retrying
                raise StepFailed(label, str(exc), log[-LOG_TAIL_LINES:]) from None
            log += exchange.log
            (folder / "step.log").write_text("".join(line + "\n" for line in log), encoding="utf-8")
            if exchange.ok:
                self.keep_counts(counts_in_headers(exchange.headers, step=label, indices=self.path_of(label)))
                return httpsteps.result_outputs(exchange)
            if attempt < limit:
                log.append(f"(attempt {attempt + 1} of {limit + 1} failed; retrying)")
        reason = f"HTTP {exchange.status}" if exchange.status else "no response"
        raise StepFailed(label, reason + (f" after {limit + 1} attempts" if limit else ""), log[-LOG_TAIL_LINES:])

    def path_of(self, label: str) -> tuple[int, ...]:
        """The fan-out elements a step (or a DAG's label prefix) runs in, outermost first."""
        with self.lock:
            if label in self.fanout_paths:
                return self.fanout_paths[label]
            return self.fanout_paths.get(label.rsplit("/", 1)[0] + "/", ()) if "/" in label else ()

    def keep_counts(self, found: list[Any]) -> None:
        """An answer step's counts (:mod:`dicec.runner.answerstep`), kept for the run's result."""
        if found:
            with self.lock:
                self.answer_counts.extend(found)

    def remap(self, text: str, folder: Path, roots: list[str]) -> str:
        for root in roots:
            if text == root or text.startswith(root + "/"):
                return str(folder / "tmp" / text.lstrip("/"))
        return text

    def read_outputs(self, outputs: list[tuple[str, str, dict]], label: str) -> dict[str, str]:
        out = {}
        for name, path, p in outputs:
            if not path:
                continue
            if name.startswith(ARTIFACT_KEY):  # an output artifact: the file stays where the step left it
                if Path(path).is_file():
                    out[name] = path
                elif not p.get("optional"):
                    raise StepFailed(label, f"output artifact {name[len(ARTIFACT_KEY):]!r}: {path} was not written", [])
                continue
            try:  # Argo's executor trims one newline off a file's value ("for user convenience")
                text = Path(path).read_text(encoding="utf-8")
                out[name] = text[:-1] if text.endswith("\n") else text
            except OSError:
                default = (p.get("valueFrom") or {}).get("default")
                if default is None:
                    raise StepFailed(label, f"output parameter {name!r}: {path} was not written", []) from None
                out[name] = str(default)
        return out

    def execute(self, argv: list[str]) -> tuple[int, list[str]]:
        with self.lock:
            self.steps_run += 1
        if self.options.model is not None:
            return self.options.model.container(argv)
        if self.options.isolation == "thread" and argv[0] == "dicec" and len(argv) > 1 and argv[1] in ("op", "answer"):
            from dicec.runtime.commands import run_in_process

            return run_in_process(argv[1:], env=self.options.env)
        if argv[0] == "dicec":
            argv = [*LAUNCHER, *argv[1:]]
        env = subprocess_env(self.options.env)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            return 127, [f"cannot start {argv[0]}: {exc.strerror or exc}"]
        return proc.returncode, (proc.stdout + proc.stderr).splitlines()

    def report(self, tasks: dict[str, _TaskState], running: dict, final: bool = False) -> None:
        if self.options.progress is None:
            return
        done = sum(1 for t in tasks.values() if t.status in ("done", "skipped"))
        names = sorted({n for n, _ in running.values()})
        text = f"{done}/{len(tasks)} tasks done, {len(running)} steps running" + (f": {', '.join(names)}"[:80] if names else "")
        self.options.progress("" if final else text)


def _dependencies(task: dict) -> list[str]:
    if task.get("dependencies"):
        return [str(d) for d in task["dependencies"]]
    depends = task.get("depends")
    if not depends:
        return []
    if "||" in depends or "!" in depends:
        raise DicecError(f"task {task.get('name')!r}: depends {depends!r} uses || or !, which dicec run does not support")
    out = []
    for part in depends.split("&&"):
        name = part.strip().strip("()").strip().split(".")[0]
        if name:
            out.append(name)
    return out


def _retry_limit(template: dict) -> int:
    strategy = template.get("retryStrategy") or {}
    limit = strategy.get("limit", 0)
    try:
        return max(0, int(str(limit)))
    except ValueError:
        raise DicecError(f"template {template.get('name')!r}: retryStrategy.limit {limit!r} is not a number") from None


def check_commands(wf: dict, where: str) -> None:
    """Refuse, in one line, a workflow with a container whose command + args is not a dicec step command."""
    for template in wf["spec"].get("templates") or []:
        container = template.get("container") if isinstance(template, dict) else None
        if not isinstance(container, dict):
            continue
        argv = [str(a) for part in ("command", "args") for a in _as_list(container.get(part))]
        if argv and not is_step_command(argv):
            shown = one_line(" ".join(argv[:3]) + (" ..." if len(argv) > 3 else ""), 60)
            raise DicecError(f"{where}: template {str(template.get('name'))!r} runs {shown!r}, not a dicec step "
                             "command (dicec op ..., dicec answer ...); dicec run runs only those, unless "
                             "--run-any-command is given")


def _as_list(value: Any) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


def run_workflow(path: str, options: RunOptions) -> RunResult:
    """Load and run the workflow in ``path`` (with the model servers a services-mode file describes)."""
    from dicec.runner.localservices import serving

    docs = read_documents(path)
    workflow = load_workflow(path, docs)
    if not options.run_any_command:
        check_commands(workflow, path)
    with serving(path, options, docs) as options:
        return Runner(workflow, options, where=path).run()
