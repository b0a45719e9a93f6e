"""The program checker: parse with astroid, then walk the tree once collecting messages.

A program passes when it defines ``execute_command(image)`` at the top level (helper functions beside
it are allowed, recursion is not), calls only discovered operators, the model-free ImagePatch API
(:mod:`dicec.tools.api`), allowed builtins and its own helpers, each with an arity that fits, and stays
inside a safe subset of Python: no import, class, global, while, with, async, yield; no dunder
name or attribute; no exec/eval/open/getattr-style builtins; lambdas only as sort keys; loops over a
literal ``range`` bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import astroid
from astroid import nodes

from dicec.check import messages as m
from dicec.errors import DicecError, Location, one_line
from dicec.tools import api
from dicec.tools.registry import Registry

ENTRY = "execute_command"

FORBIDDEN_STATEMENTS = {
    nodes.Import: "import", nodes.ImportFrom: "import", nodes.Global: "global", nodes.Nonlocal: "nonlocal",
    nodes.ClassDef: "a class definition", nodes.While: "a while loop (loops must iterate over values)",
    nodes.With: "with", nodes.AsyncFunctionDef: "async def", nodes.AsyncFor: "async for",
    nodes.AsyncWith: "async with", nodes.Await: "await", nodes.Yield: "yield", nodes.YieldFrom: "yield",
    nodes.Delete: "del", nodes.NamedExpr: "an assignment expression (:=)",
}

#: Constant integers above this are refused: evaluating them (``9**9**9``) could stall a step.
MAX_CONSTANT = 10**18

FORBIDDEN_NAMES = frozenset({
    "exec", "eval", "compile", "open", "getattr", "setattr", "delattr", "hasattr", "globals", "locals",
    "vars", "dir", "__import__", "input", "breakpoint", "help", "type", "object", "super", "memoryview",
    "classmethod", "staticmethod", "property", "exit", "quit", "iter", "next", "id", "hash", "callable",
    "bytearray", "bytes", "frozenset", "slice", "issubclass", "format", "repr", "ascii", "chr", "ord",
    "ImportError", "Exception", "BaseException", "__builtins__", "__loader__", "__spec__",
})


class CheckFailed(DicecError):
    """A program failed the checker.

    Attributes:
        problems: every message, in line order; ``str()`` shows the first and counts the rest.
    """

    def __init__(self, problems: list[m.Message]) -> None:
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first.text + more, location=Location(path=first.path, line=first.line))


def parse_program(source: str, *, path: str = "<string>") -> nodes.Module:
    """Parse ``source`` with astroid; a syntax error becomes :class:`CheckFailed` with its line."""
    try:
        return astroid.parse(source, path=path if path != "<string>" else None)
    except astroid.AstroidSyntaxError as exc:
        err = exc.error if isinstance(getattr(exc, "error", None), SyntaxError) else None
        line = (err.lineno if err is not None and err.lineno else 1)
        msg = err.msg if err is not None else str(exc).splitlines()[0]
        raise CheckFailed([m.SyntaxProblem(path, line, 0, msg)]) from None
    except (ValueError, RecursionError) as exc:  # NUL bytes, absurd nesting
        raise CheckFailed([m.SyntaxProblem(path, 1, 0, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)]) from None


def check_program(source: str, registry: Registry, *, path: str = "<string>") -> tuple[nodes.Module | None, list[m.Message]]:
    """Return the parsed module (``None`` if it does not parse) and every problem found, in line order."""
    try:
        module = parse_program(source, path=path)
    except CheckFailed as exc:
        return None, exc.problems
    checker = _Checker(registry=registry, path=path, module=module)
    checker.run()
    problems = sorted(checker.problems, key=lambda p: (p.line, p.col, p.text))
    return module, problems


def require_valid(source: str, registry: Registry, *, path: str = "<string>") -> nodes.Module:
    """Parse and check ``source``; raise :class:`CheckFailed` listing the problems if there are any."""
    module, problems = check_program(source, registry, path=path)
    if problems:
        raise CheckFailed(problems)
    assert module is not None
    return module


@dataclass(kw_only=True)
class _Checker:
    registry: Registry
    path: str
    module: nodes.Module

    def __post_init__(self) -> None:
        self.problems: list[m.Message] = []
        self.helpers: dict[str, nodes.FunctionDef] = {}

    def report(self, cls: type[m.Message], node: nodes.NodeNG, *args: object) -> None:
        self.problems.append(cls(self.path, node.lineno or 1, node.col_offset or 0, *args))

    # -- top level -------------------------------------------------------------------------------
    def run(self) -> None:
        for stmt in self.module.body:
            if isinstance(stmt, nodes.FunctionDef):
                self.helpers[stmt.name] = stmt
            elif isinstance(stmt, nodes.Expr) and isinstance(stmt.value, nodes.Const) and isinstance(stmt.value.value, str):
                continue  # a docstring
            elif type(stmt) in FORBIDDEN_STATEMENTS:
                self.report(m.ForbiddenStatement, stmt, FORBIDDEN_STATEMENTS[type(stmt)])
            else:
                self.report(m.TopLevelStatement, stmt, _describe(stmt))
        entry = self.helpers.get(ENTRY)
        if entry is None:
            self.problems.append(m.MissingEntryPoint(self.path, 1, 0))
        else:
            params = entry.args.args or []
            if len(params) != 1 or entry.args.vararg or entry.args.kwarg or entry.args.kwonlyargs:
                self.report(m.BadEntrySignature, entry, f"({entry.args.as_string()})")
        for fn in self.helpers.values():
            self.check_function(fn)
        self.check_recursion()

    def check_function(self, fn: nodes.FunctionDef) -> None:
        if isinstance(fn, nodes.AsyncFunctionDef):  # astroid's AsyncFunctionDef is a FunctionDef
            self.report(m.ForbiddenStatement, fn, "async def")
        if fn.decorators is not None:
            self.report(m.ForbiddenStatement, fn, "a decorator")
        if fn.args.vararg or fn.args.kwarg:
            self.report(m.ForbiddenStatement, fn, "*args/**kwargs")
        for name in _param_names(fn):
            if _is_dunder(name):
                self.report(m.ForbiddenName, fn, name)
        assigned = _param_names(fn) | _assigned_names(fn)
        for stmt in fn.body:
            self.visit(stmt, assigned)

    def check_recursion(self) -> None:
        """Helpers may call each other but not in a cycle (recursion is an unbounded loop)."""
        calls = {name: {c.func.name for c in fn.nodes_of_class(nodes.Call)
                        if isinstance(c.func, nodes.Name) and c.func.name in self.helpers}
                 for name, fn in self.helpers.items()}
        for start, fn in self.helpers.items():
            seen, stack = set(), list(calls[start])
            while stack:
                cur = stack.pop()
                if cur == start:
                    self.report(m.UnboundedLoop, fn, f"function {start!r} is recursive; recursion is not allowed")
                    break
                if cur not in seen:
                    seen.add(cur)
                    stack.extend(calls[cur])

    # -- statements and expressions --------------------------------------------------------------
    def visit(self, node: nodes.NodeNG, assigned: set[str]) -> None:
        kind = type(node)
        if kind in FORBIDDEN_STATEMENTS:
            self.report(m.ForbiddenStatement, node, FORBIDDEN_STATEMENTS[kind])
            return
        if isinstance(node, nodes.FunctionDef):
            self.report(m.ForbiddenStatement, node, "a nested function definition")
            return
        if isinstance(node, nodes.Lambda):
            self.report(m.ForbiddenLambda, node)
            return
        if isinstance(node, nodes.Name):
            self.check_name(node, assigned)
        elif isinstance(node, (nodes.AssignName, nodes.DelName)):
            if _is_dunder(node.name) or node.name in FORBIDDEN_NAMES:
                self.report(m.ForbiddenName, node, node.name)
        elif isinstance(node, (nodes.Attribute, nodes.AssignAttr, nodes.DelAttr)):
            self.check_attribute(node)
        elif isinstance(node, nodes.Call):
            self.check_call(node, assigned)
            return
        elif isinstance(node, nodes.ExceptHandler) and node.type is None:
            self.report(m.ForbiddenStatement, node, "a bare 'except:' (it would swallow every error)")
        elif isinstance(node, nodes.BinOp):
            self.check_size(node)
        for child in node.get_children():
            self.visit(child, assigned)

    def check_name(self, node: nodes.Name, assigned: set[str]) -> None:
        name = node.name
        if _is_dunder(name) or name in FORBIDDEN_NAMES:
            self.report(m.ForbiddenName, node, name)
        elif not (name in assigned or name in self.helpers or name in api.SAFE_NAMES
                  or name in api.SAFE_BUILTINS or name in api.API_FUNCTIONS
                  or self.registry.function(name) is not None):
            if _comprehension_binds(node, name) or _lambda_binds(node, name):
                return
            self.report(m.UndefinedName, node, name)

    def check_attribute(self, node: nodes.NodeNG) -> None:
        name = node.attrname
        if _is_dunder(name) or name.startswith("_"):
            self.report(m.DunderAttribute, node, name)
        elif not (name in api.PATCH_ATTRIBUTES or name in api.PATCH_METHODS or name in api.VALUE_METHODS
                  or self.registry.method(name) is not None):
            self.report(m.UnknownAttribute, node, name)

    def check_call(self, node: nodes.Call, assigned: set[str]) -> None:
        func = node.func
        lambdas_ok = False
        if isinstance(func, nodes.Name):
            lambdas_ok = func.name in ("sorted", "min", "max")
            if func.name == "range":
                self.check_range(node)
            self.check_function_call(node, func.name, assigned)
        elif isinstance(func, nodes.Attribute):
            lambdas_ok = func.attrname == "sort"
            self.check_attribute(func)
            self.check_method_call(node, func.attrname)
            self.visit(func.expr, assigned)
        else:
            self.report(m.NotCallable, node, _describe(func))
            self.visit(func, assigned)
        for arg in node.args or []:
            self.visit(arg, assigned)
        for kw in node.keywords or []:
            if isinstance(kw.value, nodes.Lambda) and lambdas_ok and kw.arg == "key":
                self.visit_lambda(kw.value, assigned)
            else:
                self.visit(kw.value, assigned)

    def visit_lambda(self, node: nodes.Lambda, assigned: set[str]) -> None:
        inner = assigned | {a.name for a in node.args.args or []}
        if node.args.vararg or node.args.kwarg:
            self.report(m.ForbiddenLambda, node)
        self.visit(node.body, inner)

    def check_function_call(self, node: nodes.Call, name: str, assigned: set[str]) -> None:
        if _is_dunder(name) or name in FORBIDDEN_NAMES:
            self.report(m.ForbiddenName, node, name)
            return
        op = self.registry.function(name)
        if op is not None:
            spec, form = op
            self.check_arity(node, f"{name}()", form.min_args, form.max_args, [p.name for p in form.params])
        elif name in self.helpers:
            fn = self.helpers[name]
            params = list(_param_names_ordered(fn))
            required = len(params) - len(fn.args.defaults or [])
            self.check_arity(node, f"{name}()", required, len(params), params)
        elif name in api.API_FUNCTIONS:
            lo, hi = api.API_FUNCTIONS[name]
            self.check_arity(node, f"{name}()", lo, hi, sorted(api.API_KEYWORDS.get(name, ())))
        elif name in api.SAFE_BUILTINS:
            lo, hi = api.SAFE_BUILTINS[name]
            self.check_arity(node, f"{name}()", lo, hi, None, allowed_keywords=api.BUILTIN_KEYWORDS.get(name, set()))
        elif name in assigned:
            self.report(m.NotCallable, node, f"the variable {name!r}")
        else:
            self.report(m.UnknownFunction, node, name)
        self.visit(node.func, assigned)

    def check_method_call(self, node: nodes.Call, name: str) -> None:
        op = self.registry.method(name)
        if op is not None:
            _, form = op
            self.check_arity(node, f".{name}()", form.min_args, form.max_args, [p.name for p in form.params])
        elif name in api.PATCH_METHODS:
            lo, hi = api.PATCH_METHODS[name]
            self.check_arity(node, f".{name}()", lo, hi, sorted(api.API_KEYWORDS.get(name, ())))
        elif name == "format":
            self.check_format(node)

    def check_arity(self, node: nodes.Call, what: str, lo: int, hi: int | None, params: list[str] | None,
                    *, allowed_keywords: set[str] = frozenset()) -> None:
        if any(isinstance(a, nodes.Starred) for a in node.args or []) or any(k.arg is None for k in node.keywords or []):
            self.report(m.ForbiddenStatement, node, f"*args/**kwargs in a call to {what}")
            return
        n_pos = len(node.args or [])
        n = n_pos
        for kw in node.keywords or []:
            if params is not None and kw.arg in params:
                n += 1
            elif kw.arg in allowed_keywords:
                continue
            else:
                self.report(m.UnknownKeyword, kw, what, kw.arg)
        if n < lo or (hi is not None and n > hi):
            expected = (f"{lo} argument{'s' if lo != 1 else ''}" if lo == hi
                        else f"{lo} to {hi} arguments" if hi is not None else f"at least {lo} arguments")
            self.report(m.WrongArity, node, what, expected, n, "was" if n == 1 else "were")

    def check_format(self, node: nodes.Call) -> None:
        recv = node.func.expr
        if not (isinstance(recv, nodes.Const) and isinstance(recv.value, str)):
            self.report(m.UnsafeFormat, node, recv.as_string()[:40])
            return
        import string

        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(recv.value) if f is not None]
        except ValueError:
            self.report(m.UnsafeFormat, node, recv.value[:40])
            return
        if any("." in f or "[" in f for f in fields):
            self.report(m.UnsafeFormat, node, recv.value[:40])

    def check_range(self, call: nodes.Call) -> None:
        """``range`` with a constant bound (``10**9`` folded) over :data:`api.MAX_RANGE`, wherever it is
        used: a loop, a comprehension, ``list(range(...))``, ``sum(range(...))``."""
        for a in call.args or []:
            value = _fold(a)
            if value is _HUGE or (isinstance(value, int) and abs(value) > api.MAX_RANGE):
                self.report(m.UnboundedLoop, call, f"range({_short(a)}) exceeds the bound of {api.MAX_RANGE} iterations")
                return

    def check_size(self, node: nodes.BinOp) -> None:
        """Constants too large to compute, and sequences repeated more than :data:`api.MAX_RANGE` times."""
        value = _fold(node)
        if value is _HUGE and not (isinstance(node.parent, nodes.BinOp) and _fold(node.parent) is _HUGE):
            self.report(m.TooLarge, node, f"constant {_short(node)} is over the limit of 10**18")
            return
        if node.op == "*":
            for seq, times in ((node.left, node.right), (node.right, node.left)):
                if isinstance(seq, (nodes.List, nodes.Tuple, nodes.JoinedStr)) or (
                        isinstance(seq, nodes.Const) and isinstance(seq.value, (str, bytes))):
                    n = _fold(times)
                    if n is _HUGE or (isinstance(n, int) and n > api.MAX_RANGE):
                        self.report(m.TooLarge, node, f"repeating a sequence {_short(times)} times exceeds the bound "
                                                      f"of {api.MAX_RANGE}")
                        return


_HUGE = object()


def _fold(node: nodes.NodeNG):
    """The value of an integer constant expression (``10**9``, ``-2**40``), :data:`_HUGE` when it is
    over :data:`MAX_CONSTANT` (found without computing it), or ``None`` when it is not constant."""
    if isinstance(node, nodes.Const):
        if type(node.value) is int:
            return node.value if abs(node.value) <= MAX_CONSTANT else _HUGE
        return None
    if isinstance(node, nodes.UnaryOp) and node.op in ("-", "+"):
        v = _fold(node.operand)
        return v if v is None or v is _HUGE else (-v if node.op == "-" else v)
    if isinstance(node, nodes.BinOp) and node.op in ("+", "-", "*", "//", "%", "**", "<<"):
        left, right = _fold(node.left), _fold(node.right)
        if left is None or right is None:
            return None
        if left is _HUGE or right is _HUGE:
            return _HUGE
        if node.op in ("**", "<<"):
            if right < 0:
                return None
            # an upper bound on the result's bits; past 128 it is certainly over MAX_CONSTANT (2**60)
            bits = right + abs(left).bit_length() if node.op == "<<" else right * abs(left).bit_length()
            if left not in (0, 1, -1) and bits > 128:
                return _HUGE
        try:
            value = {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
                     "//": lambda: left // right, "%": lambda: left % right, "**": lambda: left ** right,
                     "<<": lambda: left << right}[node.op]()
        except ZeroDivisionError:
            return None
        return value if abs(value) <= MAX_CONSTANT else _HUGE
    return None


def _short(node: nodes.NodeNG) -> str:
    return one_line(node.as_string(), 40)


def _is_dunder(name: str) -> bool:
    return name.startswith("__")


def _param_names_ordered(fn: nodes.FunctionDef) -> list[str]:
    return [a.name for a in fn.args.args or []]


def _param_names(fn: nodes.FunctionDef) -> set[str]:
    names = set(_param_names_ordered(fn))
    names.update(a.name for a in fn.args.kwonlyargs or [])
    return names


def _assigned_names(fn: nodes.FunctionDef) -> set[str]:
    """Every name the function binds anywhere (assignment, loop target, with/except, walrus)."""
    out = set()
    for n in fn.nodes_of_class(nodes.AssignName):
        scope = n.scope()
        if scope is fn:
            out.add(n.name)
    return out


def _comprehension_binds(node: nodes.Name, name: str) -> bool:
    scope = node.scope()
    while isinstance(scope, (nodes.ComprehensionScope, nodes.Lambda)):
        for n in scope.nodes_of_class(nodes.AssignName):
            if n.name == name and n.scope() is scope:
                return True
        scope = scope.parent.scope() if scope.parent is not None else None
    return False


def _lambda_binds(node: nodes.Name, name: str) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.Lambda) and name in {a.name for a in parent.args.args or []}:
            return True
        parent = parent.parent
    return False


def _describe(node: nodes.NodeNG) -> str:
    text = node.as_string().splitlines()[0] if node.as_string() else type(node).__name__
    return repr(text[:40])
