"""One call of a step, computed, and the files a step writes: what ``dicec op`` and a fused group share.

:func:`compute_call` gives the value and the record of one operator call on its patch (the whole
image, a box, no receiver, or a nested fan-out's list of them); :data:`MISSING` stands for a patch the
step does not have, which gives the empty value and a null record. :func:`write_output` writes a value
or a record atomically, and :func:`py_str` is how a value becomes part of a formatted string argument.
One step (:mod:`dicec.runtime.step`) and a fused group's step
(:mod:`dicec.runtime.group`) both use them, so a call writes the same files in either.
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
    whole = {"left": 0, "lower": 0, "right": image.width, "upper": image.height}

    def one(p: Any) -> tuple[Any, Any]:
        if p is MISSING:
            return empty_value(form.result), None
        if isinstance(p, list):
            pairs = [one(q) for q in p]
            return [v for v, _ in pairs], [r for _, r in pairs]
        if form.kind == "method":
            if p == "image":
                p = whole
            elif p is None:
                return empty_value(form.result), None
            elif not is_box(p):
                raise DicecError(f"--patch must be \"image\", a box, or a list of boxes, not {canonical_json(p)[:80]}")
        else:
            p = None
        call = Call(operator=spec.name, form=form.kind, patch=p, args=args)
        value, error = evaluate(backend, spec, form, image, call)
        if error is not None:
            log(f"operator error (recorded; it matters only if the program makes this call): {error}")
        return value, call.record(value, error)

    return one(patch)


def write_output(path: str, text: str | bytes) -> None:
    """Write a step output atomically, creating its folder (a container's ``/tmp/dicec`` starts absent)."""
    parent = os.path.dirname(path)
    if parent:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise DicecError(f"cannot create the output folder {parent!r}: {exc.strerror or exc}") from None
    write_atomic(path, text + "\n" if isinstance(text, str) else text)
