"""Running a checked serial program: restricted builtins, a step and time budget, operator dispatch.

Every program first passes the checker (:func:`dicec.check.require_valid`); it then runs with a
``__builtins__`` that holds only the names the checker allows (:mod:`dicec.tools.api`), the
ImagePatch API and the registry's operator functions -- no ``__import__``, ``open`` or
``getattr`` even for a program that got past the checker some other way. A line counter (a trace
function on the program's own frames only) and a wall-clock limit stop runaway loops; the program's
``try``/``except`` blocks are rewritten so they cannot swallow that stop.

Operator calls go to :class:`Runtime`: it binds arguments as the spec's signature says, builds the
canonical :class:`~dicec.runtime.calls.Call`, answers from the records when the call was
precomputed (the final step) or from the backend otherwise (the serial baseline, and calls no task
predicted), and hands the program the result. Both ways go through the same JSON value, so the
answer cannot depend on which way a call was answered.
"""

from __future__ import annotations

import ast
import builtins
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from dicec.errors import DicecError, Location
from dicec.runtime.backend import Backend, evaluate
from dicec.runtime.calls import Call, OperatorError, answer_json, bind, canonical, result_of
from dicec.runtime.patch import Frame, ImagePatch, bool_to_yesno, coerce_to_numeric, distance

_BUDGET_NAME = "__dicec_budget__"
MAX_RANGE_LENGTH = 1_000_000


@dataclass(frozen=True, kw_only=True)
class Limits:
    """How far a program may run.

    Attributes:
        max_lines: program lines executed (loop iterations count each line).
        max_seconds: wall-clock seconds, operator calls included.
    """

    max_lines: int = 5_000_000
    max_seconds: float = 900.0


class BudgetExceeded(Exception):
    """The program ran past its line or time budget."""


class ProgramError(DicecError):
    """The program raised (a bug in it, or an operator failing on its input).

    Attributes:
        kind: the exception's type name.
        detail: its message.
        line: the program line, when known.
    """

    def __init__(self, kind: str, detail: str, *, path: str, line: int | None) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind, location=Location(path=path, line=line))
        self.kind, self.detail, self.line = kind, detail, line


@dataclass(kw_only=True)
class Stats:
    """What the run did with its operator calls.

    Attributes:
        calls: operator calls the program made.
        from_records: calls answered from a record.
        on_demand: calls answered by the backend (no record had them).
        errors: calls whose answer was an operator error.
        used: the keys (:attr:`~dicec.runtime.calls.Call.key`) of the records that answered a call.
        computed: each call answered on demand, as ``(operator, program line)`` in call order; the line is
            where the program's own code made the call (``None`` if no frame of the program was found).
    """

    calls: int = 0
    from_records: int = 0
    on_demand: int = 0
    errors: int = 0
    used: set[str] = field(default_factory=set)
    computed: list[tuple[str, int | None]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A finished program run.

    Attributes:
        answer: the program's return value as JSON.
        stats: its operator calls.
    """

    answer: Any
    stats: Stats


class Runtime:
    """Answers one program run's operator calls."""

    def __init__(self, *, registry: Any, image: Any, backend: Backend, records: dict[str, dict] | None = None,
                 deadline: float | None = None, filename: str | None = None) -> None:
        self.registry, self.image, self.backend = registry, image, backend
        self.records = records or {}
        self.deadline = deadline
        self.filename = filename  # the program's code object file name: where its calls are made
        self.stats = Stats()

    def method(self, name: str) -> Callable | None:
        found = self.registry.method(name)
        if found is None:
            return None
        spec, form = found
        return lambda patch, args, kwargs: self.invoke(spec, form, patch, args, kwargs)

    def function(self, spec: Any, form: Any) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self.invoke(spec, form, None, args, kwargs)
        call.__name__ = spec.name
        return call

    def invoke(self, spec: Any, form: Any, receiver: ImagePatch | None, args: tuple, kwargs: dict) -> Any:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded("the program ran past its time budget")
        values = bind(form.params, spec.name, args, kwargs)
        call = Call(operator=spec.name, form=form.kind, patch=None if receiver is None else receiver.root_box,
                    args=tuple(canonical(v) for v in values))
        self.stats.calls += 1
        key = call.key
        record = self.records.get(key)
        if record is not None:
            self.stats.from_records += 1
            self.stats.used.add(key)
            value, error = record.get("value"), record.get("error")
        else:
            self.stats.on_demand += 1
            self.stats.computed.append((spec.name, self.call_line()))
            value, error = evaluate(self.backend, spec, form, self.image, call)
        if error is not None:
            self.stats.errors += 1
            raise OperatorError(error)
        frame = receiver._frame if receiver is not None else Frame(self, self.image)
        return result_of(form.result, value, receiver, values, frame)


    def call_line(self) -> int | None:
        """The line of the program's innermost frame: where the operator call being made sits."""
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back
        return None if frame is None else frame.f_lineno


def safe_builtins() -> dict[str, Any]:
    """The builtins a program sees: what the checker allows, nothing else."""
    from dicec.tools import api

    names = set(api.SAFE_BUILTINS) | set(api.SAFE_NAMES)
    out = {n: getattr(builtins, n) for n in names if hasattr(builtins, n)}
    out["range"] = _bounded_range
    return out


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE_LENGTH:
        raise BudgetExceeded(f"range of {len(r)} elements is over the limit of {MAX_RANGE_LENGTH}")
    return r


def run_program(source: str, *, registry: Any, image: Any, backend: Backend, records: dict[str, dict] | None = None,
                path: str = "<program>", limits: Limits = Limits(), log: Callable[[str], None] | None = None) -> Outcome:
    """Check and run ``source``'s ``execute_command(image)``; :class:`ProgramError` if it raises."""
    from dicec.check import require_valid

    require_valid(source, registry, path=path)
    deadline = time.monotonic() + limits.max_seconds
    filename = f"<dicec program {path}>"
    runtime = Runtime(registry=registry, image=image, backend=backend, records=records, deadline=deadline,
                      filename=filename)
    code = compile(_guard_handlers(source, path), filename, "exec")
    namespace = _namespace(runtime, registry, log)
    tracer = _Tracer(filename, limits.max_lines, deadline)
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        exec(code, namespace)
        answer = namespace["execute_command"](Frame(runtime, image))
    except DicecError:
        raise  # bad set-up (a model file, the image), not the program
    except Exception as exc:  # the program raised: its bug, an operator failing, the budget
        line = _program_line(exc.__traceback__, filename)
        raise ProgramError(type(exc).__name__, str(exc), path=path, line=line) from None
    finally:
        sys.settrace(previous)
    if tracer.exceeded is not None:
        raise ProgramError("BudgetExceeded", tracer.exceeded, path=path, line=None)
    return Outcome(answer=answer_json(answer), stats=runtime.stats)


def _namespace(runtime: Runtime, registry: Any, log: Callable[[str], None] | None) -> dict[str, Any]:
    def program_print(*args: Any, sep: str = " ", end: str = "\n") -> None:
        text = (sep if sep is not None else " ").join(str(a) for a in args)
        (log or (lambda s: print(s, file=sys.stderr)))(f"program: {text}")

    names: dict[str, Any] = safe_builtins()
    names["print"] = program_print
    ns: dict[str, Any] = {"__builtins__": names, "__name__": "dicec_program", _BUDGET_NAME: BudgetExceeded,
                          "ImagePatch": ImagePatch, "distance": distance, "bool_to_yesno": bool_to_yesno,
                          "coerce_to_numeric": coerce_to_numeric}
    for spec in registry:
        form = spec.form("function")
        if form is not None:
            ns[spec.name] = runtime.function(spec, form)
    return ns


def _guard_handlers(source: str, path: str) -> ast.Module:
    """Give every ``try`` a first handler that re-raises the budget stop, so no ``except:`` swallows it."""
    tree = ast.parse(source, filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and node.handlers:
            guard = ast.ExceptHandler(type=ast.Name(id=_BUDGET_NAME, ctx=ast.Load()), name=None,
                                      body=[ast.Raise(exc=None, cause=None)])
            ast.copy_location(guard, node.handlers[0])
            ast.fix_missing_locations(guard)
            node.handlers.insert(0, guard)
    return tree


class _Tracer:
    """Counts the program's line events (only its own frames are traced) and checks the clock."""

    def __init__(self, filename: str, max_lines: int, deadline: float) -> None:
        self.filename, self.max_lines, self.deadline = filename, max_lines, deadline
        self.lines = 0
        self.exceeded: str | None = None

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "call" and frame.f_code.co_filename == self.filename:
            return self.local
        return None

    def local(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines += 1
            if self.lines > self.max_lines:
                self.exceeded = f"the program ran past its budget of {self.max_lines} lines"
            elif self.lines % 1024 == 0 and time.monotonic() > self.deadline:
                self.exceeded = "the program ran past its time budget"
            if self.exceeded is not None:
                raise BudgetExceeded(self.exceeded)
        return self.local


def _program_line(tb: Any, filename: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
