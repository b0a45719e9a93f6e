"""Serial program -> task graph: astroid def-use analysis of ``execute_command``.

The analyser walks the checked program once, in order, with an abstract value for every variable:
the whole image patch, a task's patch list, one element (or each element) of such a list, a task's
scalar result, a literal, a string formatted from those, or *unknown*. Each operator call whose
receiver and arguments are known becomes a :class:`~dicec.analysis.graph.Task`; a call on each
element of a patch list becomes a fan-out; anything else is a :class:`~dicec.analysis.graph.Residual`
the final step runs on demand.

Why this is safe to approximate: tasks only precompute. The workflow's final step re-runs the serial
program and answers calls from the tasks' results, so a wrong or extra prediction costs time, never
the answer. The analyser therefore speculates freely: both branches of an ``if`` are precomputed, a
patch picked from a list by a run-time rule (``sorted(...)[0]``, ``max(..., key=...)``) is predicted
for every element of that list.

It says where it speculates, so a plan can be checked, not only its answers: a task gets a ``guard``
(:class:`~dicec.analysis.graph.Task`) whenever the program may not make its call -- under an ``if``, after
a statement that may ``return``/``break``/``continue``, right of an ``and``/``or``, in a conditional
expression or a comprehension's ``if``, in a loop over a run-time value or over a list that may be empty
(unless the call's patch comes from that list), per element in a loop that may stop early (or a generator
``any()``/``all()`` reads), on an element picked at run time, in an ``except``. A task without a guard
is a claim: the program makes that call whenever it runs to its end, and the answer step's counts
(:mod:`dicec.runtime.plancheck`) show any record of it left unused as a misprediction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Union

from astroid import nodes

from dicec.analysis.graph import IMAGE, Arg, Format, Literal, PatchSource, Ref, Residual, Task, TaskGraph
from dicec.check import require_valid
from dicec.check.checker import ENTRY
from dicec.tools.registry import Registry
from dicec.tools.spec import Form, OperatorSpec


# -- abstract values ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unknown:
    """A value the analysis cannot predict; ``reason`` says why (shown in residual entries)."""

    reason: str = "computed at run time"


@dataclass(frozen=True)
class RawImage:
    """The ``image`` parameter itself (not yet wrapped in ``ImagePatch``)."""


@dataclass(frozen=True)
class Patch:
    """One patch: where it comes from.

    ``picked`` is set (the expression that picks it) for an element of a patch list chosen at run time
    (``max(...)``, ``sorted(...)[0]``, a filtered list's element, a loop variable after its loop): the
    source is every element of the list, and a call on it is predicted for each, speculatively.
    """

    source: PatchSource
    picked: str | None = None


@dataclass(frozen=True)
class PatchList:
    """A list of patches that are elements of task ``task``'s result.

    ``exact`` means it *is* that result (so ``[k]`` is element k); otherwise it was filtered, sorted
    or sliced and only "some element of it" can be predicted. ``complete`` means it holds every element
    of that result (it *is* it, or a sorted or reversed copy), so a loop over it visits each element; a
    filtered, sliced or appended-to list may hold only some.
    """

    task: str
    exact: bool = True
    complete: bool = True


@dataclass(frozen=True)
class Scalar:
    """The result of a non-patch task (a str, bool, number)."""

    task: str


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Fmt:
    parts: tuple[Union[str, Scalar], ...]


Value = Union[Unknown, RawImage, Patch, PatchList, Scalar, Const, Fmt]

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class _Loop:
    """A loop (``for``, a comprehension, a ``key=`` lambda) around the code being analysed.

    ``task`` is the task whose whole patch list it runs over (``None``: a run-time value, or a list that may
    hold only some of a task's elements: either may be empty when no call's patch says so);
    ``ends_early`` says it may stop before the last element (a ``return``, ``raise`` or ``break`` in its
    body, ``any()``/``all()`` over a generator); ``text`` is its source, for guards.
    """

    task: str | None
    ends_early: bool
    text: str


@dataclass(frozen=True)
class _Context:
    """Where the code being analysed runs: under which condition (``guard``) and inside which loops."""

    guard: str | None = None
    loops: tuple[_Loop, ...] = ()

    def under(self, condition: str) -> "_Context":
        """This context, with the code running only when ``condition`` holds too."""
        return _Context(guard=_and(self.guard, condition), loops=self.loops)

    def inside(self, loop: _Loop) -> "_Context":
        return _Context(guard=self.guard, loops=self.loops + (loop,))


@dataclass
class _State:
    registry: Registry
    tasks: list[Task] = field(default_factory=list)
    by_key: dict[tuple, str] = field(default_factory=dict)
    residual: list[Residual] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    fanout_of: dict[str, str | None] = field(default_factory=dict)
    patch_of: dict[str, PatchSource | None] = field(default_factory=dict)
    residual_calls: set[int] = field(default_factory=set)


def analyse(source: str, registry: Registry, *, path: str = "<string>", question: str | None = None) -> TaskGraph:
    """Check ``source`` and turn it into a :class:`TaskGraph` (raises ``CheckFailed`` if it fails the checker)."""
    module = require_valid(source, registry, path=path)
    entry = next(s for s in module.body if isinstance(s, nodes.FunctionDef) and s.name == ENTRY)
    state = _State(registry=registry)
    env: dict[str, Value] = {entry.args.args[0].name: RawImage()}
    _Analyser(state).block(entry.body, env, _Context())
    # Operator calls in helper functions are not followed: the final step runs them on demand.
    for fn in module.body:
        if isinstance(fn, nodes.FunctionDef) and fn.name != ENTRY:
            for call in fn.nodes_of_class(nodes.Call):
                op = _operator_of(call, registry)
                if op is not None:
                    state.residual.append(Residual(operator=op[0].name, line=call.lineno or 1,
                                                   reason=f"inside helper function {fn.name!r}"))
    return TaskGraph(source=source, path=path, question=question, tasks=tuple(state.tasks),
                     residual=tuple(sorted(state.residual, key=lambda r: (r.line, r.operator))))


def _operator_of(call: nodes.Call, registry: Registry) -> tuple[OperatorSpec, Form] | None:
    if isinstance(call.func, nodes.Attribute):
        return registry.method(call.func.attrname)
    if isinstance(call.func, nodes.Name):
        return registry.function(call.func.name)
    return None


class _Analyser:
    def __init__(self, state: _State) -> None:
        self.s = state

    # -- statements ------------------------------------------------------------------------------
    def block(self, body: list[nodes.NodeNG], env: dict[str, Value], ctx: _Context) -> None:
        """Statements in order; after one that may leave the block (``return``, ``raise``, ``break``,
        ``continue``), the rest runs only when it did not: speculative."""
        for stmt in body:
            self.stmt(stmt, env, ctx)
            went_on = _went_on(stmt)
            if went_on is not None:
                ctx = ctx.under(went_on)

    def stmt(self, node: nodes.NodeNG, env: dict[str, Value], ctx: _Context) -> None:
        if isinstance(node, nodes.Assign):
            value = self.expr(node.value, env, ctx)
            for target in node.targets:
                self.bind(target, value, env)
        elif isinstance(node, nodes.AnnAssign):
            if node.value is not None:
                self.bind(node.target, self.expr(node.value, env, ctx), env)
        elif isinstance(node, nodes.AugAssign):
            self.expr(node.value, env, ctx)
            if isinstance(node.target, nodes.AssignName):
                env[node.target.name] = Unknown("updated in place")
        elif isinstance(node, nodes.If):
            self.branch(node, env, ctx)
        elif isinstance(node, nodes.For):
            self.loop(node, env, ctx)
        elif isinstance(node, nodes.Try):
            self.block(node.body, env, ctx)
            for handler in node.handlers:
                self.block(handler.body, env, ctx.under(f"the try at line {node.lineno} raised"))
            self.block(node.orelse, env, ctx)
            self.block(node.finalbody, env, ctx)
        elif isinstance(node, (nodes.Return, nodes.Expr)):
            if node.value is not None:
                self.expr(node.value, env, ctx)
        else:  # assert, raise, print-only statements...: look inside for operator calls
            for child in node.get_children():
                if isinstance(child, _EXPRESSIONS):
                    self.expr(child, env, ctx)
                elif not isinstance(child, (nodes.Pass, nodes.Break, nodes.Continue)):
                    self.stmt(child, env, ctx)

    def bind(self, target: nodes.NodeNG, value: Value, env: dict[str, Value]) -> None:
        if isinstance(target, nodes.AssignName):
            env[target.name] = value
        elif isinstance(target, (nodes.Tuple, nodes.List)):
            items = value.value if isinstance(value, Const) and isinstance(value.value, (list, tuple)) else None
            for i, elt in enumerate(target.elts):
                v = Const(items[i]) if items is not None and i < len(items) else Unknown("unpacked at run time")
                self.bind(elt, v, env)
        # attribute and subscript stores change no tracked variable

    def branch(self, node: nodes.If, env: dict[str, Value], ctx: _Context) -> None:
        self.expr(node.test, env, ctx)
        guard = node.test.as_string()
        then_env, else_env = dict(env), dict(env)
        self.block(node.body, then_env, ctx.under(guard))
        if node.orelse:
            self.block(node.orelse, else_env, ctx.under(f"not ({guard})"))
        for name in set(then_env) | set(else_env):
            a, b = then_env.get(name, env.get(name)), else_env.get(name, env.get(name))
            env[name] = _join(a, b)

    def loop(self, node: nodes.For, env: dict[str, Value], ctx: _Context) -> None:
        """A ``for``: a fan-out over a patch list (its first element only when the body always returns),
        unrolled over a literal list, or once over a run-time value. Calls in the body are speculative where
        the loop may not reach them: over a run-time value or a list that may be empty (unless the call is on
        its elements), past a ``return``/``break`` for a per-element call, on a list only some of whose
        elements the loop visits."""
        it = self.expr(node.iter, env, ctx)
        body_env = dict(env)
        iterated = node.iter.as_string()
        ends_early = _ends_early(node)
        loop_task = covers = None  # the list's task; and when the loop visits all of it, whose emptiness it shares
        if isinstance(it, PatchList):
            if _mutated_in(node):  # sorted or changed in place while the loop runs: it visits some elements
                it = PatchList(task=it.task, exact=False, complete=False)
            loop_task, covers = it.task, it.task if it.complete else None
            first_only = it.exact and bool(node.body) and isinstance(node.body[-1], nodes.Return) and not _has_continue(node)
            if first_only:
                element: Value = Patch(PatchSource(kind="item", task=it.task, index=0))
                ends_early = False  # it runs once, on the first element, by design
            else:
                element = Patch(PatchSource(kind="each", task=it.task),
                                picked=None if it.complete else f"an element of {iterated}")
            self.bind(node.target, element, body_env)
        elif isinstance(it, Const) and isinstance(it.value, (list, tuple)) and len(it.value) <= 32:
            # A loop over a literal list: unroll, so each literal element becomes its own task.
            iteration = ctx
            for item in it.value:
                unrolled = dict(body_env)
                self.bind(node.target, Const(item), unrolled)
                self.block(node.body, unrolled, iteration)
                body_env.update({k: _join(body_env.get(k), v) for k, v in unrolled.items()})
                if ends_early:
                    iteration = iteration.under(f"the loop at line {node.lineno} went on after {item!r}")
            self.block(node.orelse, body_env, ctx.under(f"the loop at line {node.lineno} ran to its end")
                       if ends_early else ctx)
            env.update({k: _join(env.get(k), v) for k, v in body_env.items()})
            return
        else:
            self.bind(node.target, Unknown("a loop variable over a run-time value"), body_env)
        self.block(node.body, body_env, ctx.inside(_Loop(task=covers, ends_early=ends_early, text=iterated)))
        self.block(node.orelse, body_env, ctx.under(f"the loop at line {node.lineno} ran to its end")
                   if ends_early else ctx)
        for name, value in body_env.items():
            if loop_task is not None:
                value = self.after_loop(value, loop_task, node.target.as_string())
            if name not in env or env[name] != value:
                env[name] = _join(env.get(name), value) if name in env else value

    def after_loop(self, value: Value, loop_task: str, target: str) -> Value:
        """A value set in a loop over ``loop_task``'s list, seen after the loop: a patch that was each element
        is the last one the loop reached, a list computed per element is the last element's."""
        if isinstance(value, Patch) and value.source.kind == "each" and value.picked is None:
            return Patch(value.source, picked=f"the last {target} of its loop")
        if isinstance(value, PatchList) and self.fans_out_over(value.task, loop_task):
            return PatchList(task=value.task, exact=value.exact, complete=False)
        return value

    def fans_out_over(self, task: str | None, over: str) -> bool:
        """Whether ``task`` runs once per element of ``over``'s list (it, or the task it fans out over, does)."""
        while task is not None:
            fanout = self.s.fanout_of.get(task)
            if fanout == over:
                return True
            task = fanout
        return False

    def reaches(self, patch: PatchSource | None, task: str) -> bool:
        """Whether ``patch`` is (part of) an element of ``task``'s list, following patch sources back: if that
        list is empty, the call has no patch and writes no record."""
        while patch is not None and patch.task is not None:
            if patch.task == task:
                return True
            patch = self.s.patch_of[patch.task]
        return False

    # -- expressions -----------------------------------------------------------------------------
    def expr(self, node: nodes.NodeNG, env: dict[str, Value], ctx: _Context) -> Value:
        if isinstance(node, nodes.Const):
            return Const(node.value)
        if isinstance(node, nodes.Name):
            return env.get(node.name, Unknown(f"{node.name!r} is not known here"))
        if isinstance(node, nodes.Call):
            return self.call(node, env, ctx)
        if isinstance(node, (nodes.List, nodes.Tuple)):
            values = [self.expr(e, env, ctx) for e in node.elts]
            if all(isinstance(v, Const) for v in values):
                return Const([v.value for v in values])
            return Unknown("a list built at run time")
        if isinstance(node, nodes.JoinedStr):
            return self.joined(node, env, ctx)
        if isinstance(node, nodes.BinOp) and node.op == "+":
            left, right = self.expr(node.left, env, ctx), self.expr(node.right, env, ctx)
            return _concat(left, right)
        if isinstance(node, nodes.Subscript):
            return self.subscript(node, env, ctx)
        if isinstance(node, nodes.UnaryOp) and node.op in ("-", "+"):
            operand = self.expr(node.operand, env, ctx)
            if isinstance(operand, Const) and isinstance(operand.value, (int, float)) and not isinstance(operand.value, bool):
                return Const(-operand.value if node.op == "-" else operand.value)
            return Unknown("computed at run time")
        if isinstance(node, nodes.Attribute):
            self.expr(node.expr, env, ctx)
            return Unknown(f"attribute {node.attrname!r}")
        if isinstance(node, (nodes.ListComp, nodes.GeneratorExp, nodes.SetComp)):
            return self.comprehension(node, env, ctx)
        if isinstance(node, nodes.IfExp):
            self.expr(node.test, env, ctx)
            test = node.test.as_string()
            return _join(self.expr(node.body, env, ctx.under(test)),
                         self.expr(node.orelse, env, ctx.under(f"not ({test})")))
        if isinstance(node, nodes.BoolOp):  # a later operand is evaluated only if the earlier ones let it
            seen: list[str] = []
            for operand in node.values:
                inner = ctx if not seen else ctx.under(" and ".join(seen) if node.op == "and" else
                                                       f"not ({' or '.join(seen)})")
                self.expr(operand, env, inner)
                seen.append(f"({operand.as_string()})")
            return Unknown("computed at run time")
        if isinstance(node, nodes.Compare) and len(node.ops) > 1:  # a < b < c: c only if a < b
            self.expr(node.left, env, ctx)
            for i, (_, operand) in enumerate(node.ops):
                self.expr(operand, env, ctx if i == 0 else ctx.under(f"the comparison at line {node.lineno} went on"))
            return Unknown("computed at run time")
        # Anything else: analyse the parts for calls, the value itself is unknown.
        for child in node.get_children():
            if isinstance(child, (nodes.Lambda,)):
                continue
            self.expr(child, env, ctx)
        return Unknown("computed at run time")

    def joined(self, node: nodes.JoinedStr, env: dict[str, Value], ctx: _Context) -> Value:
        parts: list[Union[str, Scalar]] = []
        for piece in node.values:
            if isinstance(piece, nodes.Const):
                parts.append(str(piece.value))
                continue
            if not isinstance(piece, nodes.FormattedValue) or piece.format_spec is not None or piece.conversion not in (-1, None):
                if isinstance(piece, nodes.FormattedValue):
                    self.expr(piece.value, env, ctx)
                return Unknown("a formatted string with a format spec")
            v = self.expr(piece.value, env, ctx)
            if isinstance(v, Const) and isinstance(v.value, (str, int, float, bool)) or (isinstance(v, Const) and v.value is None):
                parts.append(str(v.value))
            elif isinstance(v, Scalar):
                parts.append(v)
            elif isinstance(v, Fmt):
                parts.extend(v.parts)
            else:
                return Unknown("a formatted string of a run-time value")
        return _fmt(parts)

    def subscript(self, node: nodes.Subscript, env: dict[str, Value], ctx: _Context) -> Value:
        base = self.expr(node.value, env, ctx)
        index = self.expr(node.slice, env, ctx)
        if isinstance(base, PatchList):
            if isinstance(node.slice, nodes.Slice):
                return PatchList(task=base.task, exact=False, complete=False)
            if base.exact and isinstance(index, Const) and isinstance(index.value, int) and not isinstance(index.value, bool):
                return Patch(PatchSource(kind="item", task=base.task, index=index.value))
            return Patch(PatchSource(kind="each", task=base.task), picked=node.as_string())
        if isinstance(base, Const) and isinstance(index, Const):
            try:
                return Const(base.value[index.value])
            except (TypeError, IndexError, KeyError):
                return Unknown("an index out of range")
        return Unknown("an element of a run-time value")

    def comprehension(self, node: nodes.NodeNG, env: dict[str, Value], ctx: _Context) -> Value:
        """A comprehension over a patch list fans out over it; its ``if`` clauses guard what follows them, and
        a generator that ``any()``, ``all()`` or ``next()`` (or anything not known to read it all) reads may
        stop early."""
        inner = dict(env)
        inner_ctx = ctx
        source_list: PatchList | None = None
        ends_early = isinstance(node, nodes.GeneratorExp) and not _read_whole(node)
        filtered = False
        for gen in node.generators:
            it = self.expr(gen.iter, inner, inner_ctx)
            if isinstance(it, PatchList) and source_list is None:
                source_list = it
                picked = None if it.complete else f"an element of {gen.iter.as_string()}"
                self.bind(gen.target, Patch(PatchSource(kind="each", task=it.task), picked=picked), inner)
                inner_ctx = inner_ctx.inside(_Loop(task=it.task if it.complete else None, ends_early=ends_early,
                                                   text=gen.iter.as_string()))
            else:
                self.bind(gen.target, Unknown("a comprehension variable"), inner)
                inner_ctx = inner_ctx.inside(_Loop(task=None, ends_early=ends_early, text=gen.iter.as_string()))
            for cond in gen.ifs:
                self.expr(cond, inner, inner_ctx)
                inner_ctx = inner_ctx.under(cond.as_string())
                filtered = True
        elt = self.expr(node.elt, inner, inner_ctx)
        if source_list is not None and isinstance(elt, Patch) and elt.source.task == source_list.task:
            whole = (source_list.complete and not filtered and len(node.generators) == 1
                     and elt.source.kind == "each" and elt.picked is None)
            return PatchList(task=source_list.task, exact=False, complete=whole)
        return Unknown("a list built at run time")

    def call(self, node: nodes.Call, env: dict[str, Value], ctx: _Context) -> Value:
        func = node.func
        op = _operator_of(node, self.s.registry)
        if op is not None:
            spec, form = op
            receiver = self.expr(func.expr, env, ctx) if isinstance(func, nodes.Attribute) else None
            return self.operator_call(node, spec, form, receiver, env, ctx)
        if isinstance(func, nodes.Name):
            args = [self.expr(a, env, ctx) for a in node.args or []]
            self.keywords(node, args[0] if args else None, env, ctx)
            return _builtin_result(func.name, args, bool(node.keywords))
        if isinstance(func, nodes.Attribute):
            receiver = self.expr(func.expr, env, ctx)
            args = [self.expr(a, env, ctx) for a in node.args or []]
            self.keywords(node, receiver, env, ctx)
            if func.attrname == "append" and isinstance(func.expr, nodes.Name) and args:
                current = env.get(func.expr.name)
                item = args[0]
                if isinstance(item, Patch) and item.source.task is not None and (
                        current == Const([]) or (isinstance(current, PatchList) and current.task == item.source.task)):
                    env[func.expr.name] = PatchList(task=item.source.task, exact=False, complete=False)
                else:
                    env[func.expr.name] = Unknown("a list built at run time")
            if func.attrname == "sort" and isinstance(receiver, PatchList) and isinstance(func.expr, nodes.Name):
                env[func.expr.name] = PatchList(task=receiver.task, exact=False, complete=receiver.complete)
            if func.attrname == "crop":
                return Unknown("a patch cropped at run time")
            return Unknown(f"the result of .{func.attrname}()")
        self.expr(func, env, ctx)
        return Unknown("computed at run time")

    def keywords(self, node: nodes.Call, ordered: Value | None, env: dict[str, Value], ctx: _Context) -> None:
        """Analyse keyword arguments; a ``key=lambda p: ...`` over a patch list fans out over it."""
        for kw in node.keywords or []:
            if not isinstance(kw.value, nodes.Lambda):
                self.expr(kw.value, env, ctx)
                continue
            inner = dict(env)
            params = [a.name for a in kw.value.args.args or []]
            for name in params:
                inner[name] = Unknown("a lambda parameter")
            if isinstance(ordered, PatchList) and len(params) == 1:  # called once per element of the list
                inner[params[0]] = Patch(PatchSource(kind="each", task=ordered.task),
                                         picked=None if ordered.complete else f"an element of {node.as_string()}")
                inner_ctx = ctx.inside(_Loop(task=ordered.task if ordered.complete else None, ends_early=False,
                                             text=node.as_string()))
            else:
                inner_ctx = ctx.inside(_Loop(task=None, ends_early=False, text=node.as_string()))
            self.expr(kw.value.body, inner, inner_ctx)

    def operator_call(self, node: nodes.Call, spec: OperatorSpec, form: Form, receiver: Value | None,
                      env: dict[str, Value], ctx: _Context) -> Value:
        line = node.lineno or 1
        values = [self.expr(a, env, ctx) for a in node.args or []]
        by_name = {kw.arg: self.expr(kw.value, env, ctx) for kw in node.keywords or []}

        def residual(reason: str) -> Value:
            if id(node) not in self.s.residual_calls:  # once per call in the program (an unrolled loop visits it again)
                self.s.residual_calls.add(id(node))
                self.s.residual.append(Residual(operator=spec.name, line=line, reason=reason))
            return _result_unknown(form, reason)

        patch: PatchSource | None = None
        if form.kind == "method":
            if isinstance(receiver, RawImage):
                return residual("called on the raw image, not an ImagePatch")
            if not isinstance(receiver, Patch):
                why = receiver.reason if isinstance(receiver, Unknown) else "not a single patch"
                return residual(f"the patch it is called on is {why}")
            patch = receiver.source

        args: list[Arg] = []
        for i, param in enumerate(form.params):
            if i < len(values):
                v = values[i]
            elif param.name in by_name:
                v = by_name[param.name]
            elif param.has_default:
                v = Const(param.default)
            else:
                return residual(f"argument {param.name!r} is missing")
            arg = self.as_arg(v)
            if arg is None:
                why = v.reason if isinstance(v, Unknown) else "not a value a task can receive"
                return residual(f"argument {param.name!r} is {why}")
            args.append(arg)

        fanout = self.fanout_for(patch, args)
        if fanout is False:
            return residual("it combines values from different elements of a fan-out")
        guard = self.speculation(ctx, patch, fanout, receiver)
        key = (spec.name, form.kind, patch, json.dumps([a.to_json() for a in args], sort_keys=True))
        task_id = self.s.by_key.get(key)
        if task_id is None:
            task_id = self.new_id(spec.name, args)
            self.s.tasks.append(Task(id=task_id, operator=spec.name, form=form.kind, patch=patch,
                                     args=tuple(args), line=line, fanout=fanout, guard=guard))
            self.s.by_key[key] = task_id
            self.s.fanout_of[task_id] = fanout
            self.s.patch_of[task_id] = patch
        elif guard is None:  # the program makes this call for sure somewhere: the task is no speculation
            at = next(i for i, t in enumerate(self.s.tasks) if t.id == task_id)
            self.s.tasks[at] = replace(self.s.tasks[at], guard=None)
        if form.result == "patches":
            return PatchList(task=task_id)
        if form.result == "patch":
            return Patch(PatchSource(kind="item", task=task_id))
        return Scalar(task=task_id)

    def speculation(self, ctx: _Context, patch: PatchSource | None, fanout: str | None,
                    receiver: Value | None) -> str | None:
        """The condition under which the program makes a call the plan computes (``None``: it makes it for
        sure, on every element of a fan-out): the surrounding ``if``s and early exits; each loop around it
        that may not run (a run-time value, an empty list the call's patch does not come from) or may stop
        before an element a per-element call needs; a receiver picked from its list at run time."""
        guard = ctx.guard
        for loop in ctx.loops:
            if loop.task is None or not self.reaches(patch, loop.task):
                guard = _and(guard, f"the loop over {loop.text} runs")
            elif loop.ends_early and (fanout == loop.task or self.fans_out_over(fanout, loop.task)):
                guard = _and(guard, f"the loop over {loop.text} reaches the element")
        if isinstance(receiver, Patch) and receiver.picked is not None:
            guard = _and(guard, f"the element is {receiver.picked}")
        return guard

    def as_arg(self, v: Value) -> Arg | None:
        if isinstance(v, Const) and _is_json(v.value):
            return Literal(value=list(v.value) if isinstance(v.value, tuple) else v.value)
        if isinstance(v, Scalar):
            return Ref(task=v.task)
        if isinstance(v, PatchList) and v.exact:
            return Ref(task=v.task)
        if isinstance(v, Fmt):
            return Format(parts=tuple(p if isinstance(p, str) else Ref(task=p.task) for p in v.parts))
        return None

    def fanout_for(self, patch: PatchSource | None, args: list[Arg]) -> str | None | bool:
        """The task this call fans out over, ``None``, or ``False`` when inputs come from different fan-outs."""
        fanouts = set()
        if patch is not None and patch.kind == "each":
            fanouts.add(patch.task)
        for dep in (t for a in args for t in _refs(a)):
            if self.s.fanout_of.get(dep) is not None:
                return False  # a per-element value used as an argument: not expressible as one fan-out
        if patch is not None and patch.kind == "item" and self.s.fanout_of.get(patch.task) is not None:
            return False
        if len(fanouts) > 1:
            return False
        return next(iter(fanouts), None)

    def new_id(self, operator: str, args: list[Arg]) -> str:
        base = operator.replace("_", "-")
        hint = next((a.value for a in args if isinstance(a, Literal) and isinstance(a.value, str)), "")
        slug = _SLUG.sub("-", hint.lower()).strip("-")[:16].strip("-")
        stem = f"{base}-{slug}" if slug else base
        candidate, n = stem, 2
        while candidate in self.s.ids or candidate in _RESERVED_IDS:
            candidate, n = f"{stem}-{n}", n + 1
        self.s.ids.add(candidate)
        return candidate


#: Task ids the emitter uses for its own steps.
_RESERVED_IDS = frozenset({"answer", "main"})

_EXPRESSIONS = (nodes.Call, nodes.Name, nodes.Const, nodes.BinOp, nodes.BoolOp, nodes.Compare, nodes.UnaryOp,
                nodes.Subscript, nodes.Attribute, nodes.List, nodes.Tuple, nodes.JoinedStr, nodes.IfExp,
                nodes.ListComp, nodes.GeneratorExp, nodes.Dict, nodes.Set)


def _refs(a: Arg) -> list[str]:
    if isinstance(a, Ref):
        return [a.task]
    if isinstance(a, Format):
        return [p.task for p in a.parts if isinstance(p, Ref)]
    return []


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(_is_json(v) for v in value)
    return False


def _has_continue(loop: nodes.For) -> bool:
    return any(True for _ in loop.nodes_of_class(nodes.Continue))


def _join(a: Value | None, b: Value | None) -> Value:
    """The value of a variable after two paths meet."""
    if a is None:
        return b if b is not None else Unknown()
    if b is None or a == b:
        return a
    # An empty list that a loop may have appended patches to: some elements of that task's list.
    if a == Const([]) and isinstance(b, PatchList):
        return PatchList(task=b.task, exact=False, complete=False)
    if b == Const([]) and isinstance(a, PatchList):
        return PatchList(task=a.task, exact=False, complete=False)
    # Two different elements (or sub-lists) of the same task's patch list: some element of it.
    task = _patch_task(a)
    if task is not None and task == _patch_task(b):
        if isinstance(a, Patch) and isinstance(b, Patch):
            if a.source == b.source:  # the same patch, picked at run time on one path at least
                return Patch(a.source, picked=a.picked or b.picked)
            return Patch(PatchSource(kind="each", task=task),
                         picked=a.picked or b.picked or "the one the path taken set")
        if isinstance(a, PatchList) and isinstance(b, PatchList):
            return PatchList(task=task, exact=False, complete=a.complete and b.complete)
    return Unknown("set differently on different paths")


def _patch_task(v: Value) -> str | None:
    if isinstance(v, Patch):
        return v.source.task
    if isinstance(v, PatchList):
        return v.task
    return None


def _fmt(parts: list[Union[str, Scalar]]) -> Value:
    merged: list[Union[str, Scalar]] = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif p != "":
            merged.append(p)
    if all(isinstance(p, str) for p in merged):
        return Const("".join(merged))  # type: ignore[arg-type]
    return Fmt(parts=tuple(merged))


def _concat(left: Value, right: Value) -> Value:
    def parts(v: Value) -> list[Union[str, Scalar]] | None:
        if isinstance(v, Const) and isinstance(v.value, str):
            return [v.value]
        if isinstance(v, Fmt):
            return list(v.parts)
        if isinstance(v, Scalar):
            # str + str is concatenation; for any other type the serial program fails where the
            # speculative task merely computes a call nobody reads: harmless.
            return [v]
        return None

    lp, rp = parts(left), parts(right)
    if lp is not None and rp is not None:
        return _fmt(lp + rp)
    if isinstance(left, Const) and isinstance(right, Const):
        try:
            return Const(left.value + right.value)
        except TypeError:
            return Unknown("a type error at run time")
    return Unknown("computed at run time")


def _builtin_result(name: str, args: list[Value], has_keywords: bool) -> Value:
    """What calling a builtin or API helper on abstract values gives."""
    if name == "ImagePatch" and len(args) == 1 and not has_keywords and isinstance(args[0], RawImage):
        return Patch(IMAGE)
    if name == "ImagePatch" and len(args) == 1 and not has_keywords and isinstance(args[0], Patch):
        return args[0]
    if name == "ImagePatch":  # ImagePatch(image, left=..., ...): a crop whose box is known at run time
        return Unknown("a patch cropped at run time")
    if name in ("sorted", "list", "reversed") and args and isinstance(args[0], PatchList):
        return PatchList(task=args[0].task, exact=name == "list" and args[0].exact, complete=args[0].complete)
    if name in ("min", "max") and len(args) == 1 and isinstance(args[0], PatchList):
        return Patch(PatchSource(kind="each", task=args[0].task), picked=f"the {name}() of its list")
    if name == "str" and len(args) == 1 and isinstance(args[0], (Const, Scalar, Fmt)):
        if isinstance(args[0], Const):
            return Const(str(args[0].value))
        return args[0] if isinstance(args[0], Fmt) else Fmt(parts=(args[0],))
    return Unknown(f"the result of {name}()")


def _result_unknown(form: Form, reason: str) -> Value:
    """The value of a call no task predicts: unknown, and so is everything computed from it."""
    return Unknown(f"the result of a .{form.signature.split('(')[0]}() call made at run time")


def _and(guard: str | None, condition: str) -> str:
    """``guard`` and ``condition`` as one guard."""
    return condition if guard is None else f"({guard}) and ({condition})"


#: Statements that leave the block they are in.
_EXITS = (nodes.Return, nodes.Raise, nodes.Break, nodes.Continue)
#: Where a ``return`` or ``raise`` belongs to other code: a nested function or lambda.
_OWN_SCOPES = (nodes.FunctionDef, nodes.Lambda, nodes.ClassDef)


def _exits_in(node: nodes.NodeNG, *, loop_exits: bool) -> bool:
    """Whether code under ``node`` may leave it: a ``return`` or ``raise`` (not in a nested function), or with
    ``loop_exits`` a ``break`` or ``continue`` of a loop around ``node`` (not one of a loop inside it)."""
    for child in node.get_children():
        if isinstance(child, _OWN_SCOPES):
            continue
        if isinstance(child, (nodes.Return, nodes.Raise)):
            return True
        if isinstance(child, (nodes.Break, nodes.Continue)) and loop_exits:
            return True
        inner_loop = isinstance(child, (nodes.For, nodes.While))
        if _exits_in(child, loop_exits=loop_exits and not inner_loop):
            return True
    return False


def _always_exits(body: list[nodes.NodeNG]) -> bool:
    """Whether a block always leaves: it ends in an exit, or in an ``if`` both of whose branches always do."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, _EXITS):
        return True
    return isinstance(last, nodes.If) and _always_exits(last.body) and _always_exits(last.orelse)


def _went_on(stmt: nodes.NodeNG) -> str | None:
    """The condition under which the statements after ``stmt`` in its block run, or ``None`` if they always
    do: ``not (TEST)`` after an ``if`` whose body always leaves the block, a description otherwise."""
    if isinstance(stmt, _EXITS):
        return f"the code after line {stmt.lineno} is reached"
    if not _exits_in(stmt, loop_exits=not isinstance(stmt, (nodes.For, nodes.While))):
        return None
    if isinstance(stmt, nodes.If) and _always_exits(stmt.body) and not any(
            isinstance(s, _EXITS) or _exits_in(s, loop_exits=True) for s in stmt.orelse):
        return f"not ({stmt.test.as_string()})"
    return f"the statement at line {stmt.lineno} went on"


#: List methods that change a list in place.
_MUTATORS = frozenset({"sort", "append", "extend", "insert", "remove", "pop", "reverse", "clear"})


def _mutated_in(loop: nodes.For) -> bool:
    """Whether the loop's body changes the list it iterates in place (``xs.sort(...)`` in ``for x in xs``)."""
    if not isinstance(loop.iter, nodes.Name):
        return False
    return any(isinstance(call.func, nodes.Attribute) and call.func.attrname in _MUTATORS
               and isinstance(call.func.expr, nodes.Name) and call.func.expr.name == loop.iter.name
               for stmt in loop.body for call in stmt.nodes_of_class(nodes.Call))


def _ends_early(loop: nodes.For) -> bool:
    """Whether a loop may stop before its last element: a ``return``, ``raise`` or ``break`` of its own."""
    def search(node: nodes.NodeNG, own: bool) -> bool:
        for child in node.get_children():
            if isinstance(child, _OWN_SCOPES):
                continue
            if isinstance(child, (nodes.Return, nodes.Raise)) or (own and isinstance(child, nodes.Break)):
                return True
            if search(child, own and not isinstance(child, (nodes.For, nodes.While))):
                return True
        return False

    return any(search(stmt, True) or isinstance(stmt, (nodes.Return, nodes.Raise, nodes.Break)) for stmt in loop.body)


#: Calls that read a generator to its end (any other reader may stop early: ``any``, ``all``, ``next``).
_READ_WHOLE = frozenset({"sum", "list", "tuple", "set", "frozenset", "sorted", "max", "min", "dict", "len"})


def _read_whole(generator: nodes.GeneratorExp) -> bool:
    """Whether the generator is passed straight to a call that reads it all (``sum(...)``, ``", ".join(...)``)."""
    call = generator.parent
    if not isinstance(call, nodes.Call) or generator not in (call.args or []):
        return False
    if isinstance(call.func, nodes.Name):
        return call.func.name in _READ_WHOLE
    return isinstance(call.func, nodes.Attribute) and call.func.attrname == "join"
