"""The task graph: the operator calls of a serial program, their data dependencies and fan-outs.

This is the file format between analysis and placement (``dicec plan`` writes it as JSON). A task is
one predicted operator call -- or, for a fan-out, one call per element of another task's patch list.
Tasks only *precompute*: the workflow's last step re-runs the serial program and answers each
operator call from the tasks' results (a call no task predicted runs on demand there), so the graph
may speculate without ever changing the answer.

Arguments are :class:`Literal` values, :class:`Ref` (the value another task returned), or
:class:`Format` (an f-string or ``+`` of literals and refs). The patch a method is called on is a
:class:`PatchSource`: the whole image, one element of a task's patch list, or each element (a fan-out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Union

from dicec.errors import DicecError

GRAPH_VERSION = 1
GRAPH_KIND = "dicec/task-graph"


@dataclass(frozen=True, kw_only=True)
class Literal:
    """A constant argument (JSON value).

    Attributes:
        value: str, int, float, bool, None, or a list of those.
    """

    value: Any

    def to_json(self) -> dict:
        return {"literal": self.value}


@dataclass(frozen=True, kw_only=True)
class Ref:
    """The value another task returned (for a fan-out task inside the same fan-out: its own element's).

    Attributes:
        task: the id of the task whose result is used.
    """

    task: str

    def to_json(self) -> dict:
        return {"ref": self.task}


@dataclass(frozen=True, kw_only=True)
class Format:
    """A string built from parts, as ``f"..."`` or ``"a" + x`` builds it (``str()`` of each ref).

    Attributes:
        parts: literal strings and :class:`Ref` in order.
    """

    parts: tuple[Union[str, Ref], ...]

    def to_json(self) -> dict:
        return {"format": [p if isinstance(p, str) else p.to_json() for p in self.parts]}


Arg = Union[Literal, Ref, Format]


@dataclass(frozen=True, kw_only=True)
class PatchSource:
    """Which patch a method call runs on.

    Attributes:
        kind: ``image`` (the whole input image), ``item`` (element ``index`` of task ``task``'s patch
            list, or the patch it returned), or ``each`` (every element of task ``task``'s patch list:
            the task fans out).
        task: the producing task for ``item`` and ``each``.
        index: the element for ``item`` (Python indexing, so -1 is the last); ``None`` when the
            producing task returned a single patch.
    """

    kind: str
    task: str | None = None
    index: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("image", "item", "each"):
            raise ValueError(f"bad patch source kind {self.kind!r}")
        if (self.kind == "image") != (self.task is None):
            raise ValueError("an image patch source names no task; item/each name one")

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind}
        if self.task is not None:
            out["task"] = self.task
        if self.index is not None:
            out["index"] = self.index
        return out


IMAGE = PatchSource(kind="image")


@dataclass(frozen=True, kw_only=True)
class Task:
    """One predicted operator call (or one per element, for a fan-out).

    Attributes:
        id: unique in the graph; a valid Kubernetes/Argo task name (lower case, digits, '-').
        operator: the operator's name in the registry.
        form: ``method`` or ``function``.
        patch: the receiver, for method calls; ``None`` for functions.
        args: positional arguments, in call order (keywords are mapped to positions by the analyser).
        line: the program line of the call.
        fanout: the task whose patch list this task fans out over, or ``None``.
        guard: the condition under which the program makes the call, or ``None`` when it makes it for sure
            (on every element, for a fan-out) whenever it runs to its end: a task with a guard is
            *speculative*, precomputed although the program may not use it. Source text where the
            condition is one (an ``if``'s test, ``not (TEST)`` after an ``if`` that returns, the left of an
            ``and``), a description otherwise (a loop that may not run or may stop early, an element picked
            from a list at run time, a ``try``'s handler). The answer step counts a record no call used
            against it (:mod:`dicec.runtime.plancheck`).
    """

    id: str
    operator: str
    form: str
    patch: PatchSource | None
    args: tuple[Arg, ...]
    line: int
    fanout: str | None = None
    guard: str | None = None

    @property
    def depends(self) -> tuple[str, ...]:
        """The tasks whose results this task needs, sorted."""
        deps = set()
        if self.patch is not None and self.patch.task is not None:
            deps.add(self.patch.task)
        for a in self.args:
            deps.update(_arg_refs(a))
        return tuple(sorted(deps))

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "operator": self.operator,
            "form": self.form,
            "patch": None if self.patch is None else self.patch.to_json(),
            "args": [a.to_json() for a in self.args],
            "depends": list(self.depends),
            "fanout": self.fanout,
            "guard": self.guard,
            "line": self.line,
        }


@dataclass(frozen=True, kw_only=True)
class Residual:
    """An operator call no task could predict; the final step runs it on demand.

    Attributes:
        operator: the operator called.
        line: the program line.
        reason: why it could not be precomputed (one line).
    """

    operator: str
    line: int
    reason: str

    def to_json(self) -> dict:
        return {"operator": self.operator, "line": self.line, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class TaskGraph:
    """The analysed program.

    Attributes:
        source: the serial program's text (the final step re-runs it).
        path: the file it was read from.
        question: the question it answers, when known.
        tasks: in topological order (dependencies first), ids unique.
        residual: operator calls left to the final step.
    """

    source: str
    path: str
    question: str | None
    tasks: tuple[Task, ...]
    residual: tuple[Residual, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for t in self.tasks:
            if t.id in seen:
                raise ValueError(f"duplicate task id {t.id!r}")
            missing = [d for d in t.depends if d not in seen]
            if missing:
                raise ValueError(f"task {t.id!r} depends on {missing[0]!r}, which does not come before it")
            if t.fanout is not None and t.fanout not in t.depends:
                raise ValueError(f"task {t.id!r} fans out over {t.fanout!r} but does not depend on it")
            seen.add(t.id)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    @property
    def stats(self) -> dict[str, int]:
        """Counts a reader wants first: tasks, operator calls, critical path, width, fan-outs."""
        depth: dict[str, int] = {}
        for t in self.tasks:
            depth[t.id] = 1 + max((depth[d] for d in t.depends), default=0)
        width: dict[int, int] = {}
        for d in depth.values():
            width[d] = width.get(d, 0) + 1
        return {
            "tasks": len(self.tasks),
            "operator_calls": len(self.tasks) + len(self.residual),
            "critical_path": max(depth.values(), default=0),
            "max_width": max(width.values(), default=0),
            "fanouts": sum(1 for t in self.tasks if t.fanout is not None),
            "residual_calls": len(self.residual),
        }

    def to_json(self) -> dict:
        return {
            "version": GRAPH_VERSION,
            "kind": GRAPH_KIND,
            "program": {"path": self.path, "question": self.question, "source": self.source},
            "tasks": [t.to_json() for t in self.tasks],
            "residual": [r.to_json() for r in self.residual],
            "stats": self.stats,
        }

    def dumps(self) -> str:
        """Deterministic JSON text (sorted keys, two-space indent, trailing newline)."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _arg_refs(a: Arg) -> set[str]:
    if isinstance(a, Ref):
        return {a.task}
    if isinstance(a, Format):
        return {p.task for p in a.parts if isinstance(p, Ref)}
    return set()


def graph_from_json(data: Any, *, where: str = "task graph") -> TaskGraph:
    """Rebuild a :class:`TaskGraph` from :meth:`TaskGraph.to_json` output; one-line error if malformed."""
    try:
        if data.get("kind") != GRAPH_KIND or data.get("version") != GRAPH_VERSION:
            raise ValueError(f"not a dicec task graph of version {GRAPH_VERSION}")
        prog = data["program"]
        tasks = tuple(
            Task(id=t["id"], operator=t["operator"], form=t["form"],
                 patch=None if t["patch"] is None else PatchSource(**t["patch"]),
                 args=tuple(_arg_from_json(a) for a in t["args"]), line=int(t["line"]),
                 fanout=t.get("fanout"), guard=t.get("guard"))
            for t in data["tasks"]
        )
        residual = tuple(Residual(operator=r["operator"], line=int(r["line"]), reason=r["reason"])
                         for r in data.get("residual", []))
        return TaskGraph(source=prog["source"], path=prog["path"], question=prog.get("question"),
                         tasks=tasks, residual=residual)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DicecError(f"{where}: malformed task graph ({exc})") from None


def _arg_from_json(a: dict) -> Arg:
    if "literal" in a:
        return Literal(value=a["literal"])
    if "ref" in a:
        return Ref(task=a["ref"])
    if "format" in a:
        return Format(parts=tuple(p if isinstance(p, str) else Ref(task=p["ref"]) for p in a["format"]))
    raise ValueError(f"bad argument {a!r}")
