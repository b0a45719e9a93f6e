"""One call of a step, computed, and the files a step writes: what ``dicec op`` and a fused group share.

:func:`compute_call` gives the value and the record of one operator call on its patch (the whole
image, a box, no receiver, or a nested fan-out's list of them); :data:`MISSING` stands for a patch the
step does not have, which gives the empty value and a null record. It is three steps, each usable on
its own: :func:`call_plan` (which calls, in the patch's shape), evaluating :func:`plan_calls` (here one
at a time; the model server's ``/v1/step`` hands a step's calls to its batching queue together, so a
fan-out's elements run as one batch) and :func:`settle_plan` (values and records in the patch's shape).
:func:`write_output` writes a value or a record atomically, and :func:`py_str` is how a value becomes
part of a formatted string argument. One step (:mod:`dicec.runtime.step`), a fused group's step
(:mod:`dicec.runtime.group`), a batch's stage pod (:mod:`dicec.runtime.stage`, which collects many
images' calls into one batch) and an HTTP step's server (:mod:`dicec.serving.model_server`) all use
them, so a call gives the same value and record in each.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from dicec.errors import DicecError
from dicec.files import write_atomic
from dicec.runtime.backend import empty_value, evaluate
from dicec.runtime.calls import Call, canonical_json, is_box

Log = Callable[[str], None]


def py_str(value: Any) -> str:
    """``str()`` of a JSON value as the serial program holds it."""
    return str(value)


#: A patch that does not exist (an index out of range, a value a step did not get): empty value, null record.
MISSING = object()


#: A plan's leaf for an element with no call (a missing patch, or no receiver): empty value, null record.
EMPTY = object()


def whole_box(image: Any) -> dict:
    """The box of the whole image (what ``--patch "image"`` means)."""
    return {"left": 0, "lower": 0, "right": image.width, "upper": image.height}


def call_plan(spec, form, args: tuple, patch: Any, *, whole: Callable[[], dict]) -> Any:
    """The calls one step makes, in the shape of its patch: a :class:`Call`, :data:`EMPTY`, or (a nested
    fan-out's element) a list of plans in the patch's order. ``whole()`` gives the whole image's box, asked
    only when the patch is ``"image"`` (so a server need not read an image it will not compute on).

    A patch that is neither ``"image"``, a box, a list, ``None`` nor :data:`MISSING` is a clear error."""
    def one(p: Any) -> Any:
        if p is MISSING:
            return EMPTY
        if isinstance(p, list):
            return [one(q) for q in p]
        if form.kind == "method":
            if p == "image":
                p = whole()
            elif p is None:
                return EMPTY
            elif not is_box(p):
                raise DicecError(f"--patch must be \"image\", a box, or a list of boxes, not {canonical_json(p)[:80]}")
        else:
            p = None
        return Call(operator=spec.name, form=form.kind, patch=p, args=args)

    return one(patch)


def plan_calls(plan: Any) -> list[Call]:
    """The calls of a plan, in order (depth first, as the patch lists them)."""
    out: list[Call] = []
    stack = [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif node is not EMPTY:
            out.append(node)
    return out


def settle_plan(plan: Any, form, outcomes: list[tuple[Any, str | None]], log: Log = lambda s: None, *,
                task: str | None = None) -> tuple[Any, Any]:
    """``(value, record)`` of a plan given each of its calls' ``(value, error)``, in :func:`plan_calls`'
    order: for a list, the lists of values and records in the same order (nested lists stay nested).
    Each record names ``task``, the task that computed it, when given."""
    remaining = iter(outcomes)

    def one(node: Any) -> tuple[Any, Any]:
        if node is EMPTY:
            return empty_value(form.result), None
        if isinstance(node, list):
            pairs = [one(n) for n in node]
            return [v for v, _ in pairs], [r for _, r in pairs]
        value, error = next(remaining)
        if error is not None:
            log(f"operator error (recorded; it matters only if the program makes this call): {error}")
        return value, node.record(value, error, task)

    return one(plan)


def compute_call(spec, form, args: tuple, patch: Any, *, image, backend, log: Log = lambda s: None,
                 task: str | None = None) -> tuple[Any, Any]:
    """``(value, record)`` of one call on ``patch`` (``"image"``, a box, ``None`` or :data:`MISSING`;
    a list is a nested fan-out's elements, each computed, values and records as lists in the same order);
    the records name ``task``, the task the step runs."""
    plan = call_plan(spec, form, args, patch, whole=lambda: whole_box(image))
    outcomes = [evaluate(backend, spec, form, image, call) for call in plan_calls(plan)]
    return settle_plan(plan, form, outcomes, log, task=task)


def write_output(path: str, text: str | bytes) -> None:
    """Write a step output atomically, creating its folder (a container's ``/tmp/dicec`` starts absent)."""
    parent = os.path.dirname(path)
    if parent:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise DicecError(f"cannot create the output folder {parent!r}: {exc.strerror or exc}") from None
    write_atomic(path, text + "\n" if isinstance(text, str) else text)
