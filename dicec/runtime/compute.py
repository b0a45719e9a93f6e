"""One call of a step, computed, and the files a step writes: what ``dicec op`` and a fused group share.

:func:`compute_call` gives the value and the record of one operator call on its patch (the whole
image, a box, no receiver, or a nested fan-out's list of them); :data:`MISSING` stands for a patch the
step does not have, which gives the empty value and a null record. :func:`write_output` writes a value
or a record atomically, and :func:`py_str` is how a value becomes part of a formatted string argument.
One step (:mod:`dicec.runtime.step`), a fused group's step (:mod:`dicec.runtime.group`) and a batch's
stage pod (:mod:`dicec.runtime.stage`, through :func:`call_tree` and :func:`settle_tree`, the two halves
of :func:`compute_call`) all use them, so a call gives the same value and record in each.
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


def compute_call(spec, form, args: tuple, patch: Any, *, image, backend, log: Log = lambda s: None) -> tuple[Any, Any]:
    """``(value, record)`` of one call on ``patch`` (``"image"``, a box, ``None`` or :data:`MISSING`;
    a list is a nested fan-out's elements, each computed, values and records as lists in the same order)."""
    tree = call_tree(spec, form, args, patch, image=image)
    return settle_tree(tree, form, lambda call: evaluate(backend, spec, form, image, call), log=log)


def call_tree(spec, form, args: tuple, patch: Any, *, image) -> Any:
    """The canonical calls of one call on ``patch`` (as :func:`compute_call` takes it), not yet computed:
    a :class:`~dicec.runtime.calls.Call`, :data:`MISSING` for a call that cannot be made (empty value, null
    record), or a list of such trees for a nested fan-out's elements. A stage pod collects the calls of
    many images this way and computes them as one batch (:mod:`dicec.runtime.stage`)."""
    whole = {"left": 0, "lower": 0, "right": image.width, "upper": image.height}

    def one(p: Any) -> Any:
        if p is MISSING:
            return MISSING
        if isinstance(p, list):
            return [one(q) for q in p]
        if form.kind == "method":
            if p == "image":
                p = whole
            elif p is None:
                return MISSING
            elif not is_box(p):
                raise DicecError(f"--patch must be \"image\", a box, or a list of boxes, not {canonical_json(p)[:80]}")
        else:
            p = None
        return Call(operator=spec.name, form=form.kind, patch=p, args=args)

    return one(patch)


def tree_calls(tree: Any) -> list[Call]:
    """The calls of a :func:`call_tree`, in the order :func:`settle_tree` asks for their outcomes."""
    if isinstance(tree, Call):
        return [tree]
    if isinstance(tree, list):
        return [c for t in tree for c in tree_calls(t)]
    return []


def settle_tree(tree: Any, form, outcome: Callable[[Call], tuple[Any, str | None]], *,
                log: Log = lambda s: None) -> tuple[Any, Any]:
    """``(value, record)`` of a :func:`call_tree`, ``outcome(call)`` giving each call's (value, error) in
    :func:`tree_calls` order (an error is recorded: it matters only if the program makes that call)."""
    if tree is MISSING:
        return empty_value(form.result), None
    if isinstance(tree, list):
        pairs = [settle_tree(t, form, outcome, log=log) for t in tree]
        return [v for v, _ in pairs], [r for _, r in pairs]
    value, error = outcome(tree)
    if error is not None:
        log(f"operator error (recorded; it matters only if the program makes this call): {error}")
    return value, tree.record(value, error)


def write_output(path: str, text: str | bytes) -> None:
    """Write a step output atomically, creating its folder (a container's ``/tmp/dicec`` starts absent)."""
    parent = os.path.dirname(path)
    if parent:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise DicecError(f"cannot create the output folder {parent!r}: {exc.strerror or exc}") from None
    write_atomic(path, text + "\n" if isinstance(text, str) else text)
