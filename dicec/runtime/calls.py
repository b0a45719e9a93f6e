"""One operator call, its canonical key, and how its JSON value becomes a Python result.

The final step re-runs the serial program and looks every operator call up in the records the steps
wrote, so a step and the replay must compute *the same key* for the same call. The key is the JSON
(sorted keys, compact) of ``{"operator", "form", "patch", "args"}`` where

* ``patch`` is the receiver's box in the input image (``{"left","lower","right","upper"}``), or
  ``null`` for a module function; the whole image is its full box, never ``"image"``;
* ``args`` are positional, in the order of the spec's signature, with left-out defaults filled in
  as the signature gives them (exactly as the analyser fills them, see ``operator_call`` in
  ``dicec/analysis/analyser.py``); an ``ImagePatch`` argument is its box, tuples are lists.

Values are JSON too, and the serial baseline (``dicec exec``) sends every result through the same
JSON form, so a value read from a record and a value computed on the spot are indistinguishable:
``patches`` results are lists of boxes in the input image (ViperGPT's crop, with its margin,
already applied), a ``patch`` result is a box (or an int with ``return_index``), the rest are plain
JSON values. An operator that raised gives ``{"error": message}`` in the record, and the replay
raises :class:`OperatorError` with that message, as the serial program would have.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

from dicec.runtime.patch import ImagePatch, PatchError, crop_box

BOX_KEYS = ("left", "lower", "right", "upper")


class OperatorError(Exception):
    """An operator call failed for this input; the program sees it as an exception from the call."""


@dataclass(frozen=True, kw_only=True)
class Call:
    """One operator call in canonical form.

    Attributes:
        operator: the operator's name.
        form: ``method`` or ``function``.
        patch: the receiver's box in the input image, or ``None`` for a function.
        args: positional arguments as canonical JSON values, defaults filled in.
    """

    operator: str
    form: str
    patch: dict | None
    args: tuple

    @property
    def key(self) -> str:
        return canonical_json({"operator": self.operator, "form": self.form, "patch": self.patch,
                               "args": list(self.args)})

    def record(self, value: Any, error: str | None = None, task: str | None = None) -> dict:
        """The call's record: the call, its value, ``error`` when the operator failed, and ``task``, the id
        of the task that computed it (the answer step counts its unused records by task against the plan,
        :mod:`dicec.runtime.plancheck`; the lookup key leaves it out)."""
        out = {"operator": self.operator, "form": self.form, "patch": self.patch, "args": list(self.args),
               "value": value}
        if error is not None:
            out["error"] = error
        if task is not None:
            out["task"] = task
        return out


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


def canonical(value: Any) -> Any:
    """A program value as the JSON an operator receives (patches become their boxes in the input image)."""
    if isinstance(value, ImagePatch):
        return value.root_box
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: canonical(v) for k, v in value.items()}
    raise OperatorError(f"a {type(value).__name__} cannot be passed to an operator")


def bind(params: Sequence[Any], name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
    """Positional arguments in signature order, defaults filled in (a ``TypeError`` like Python's otherwise)."""
    if len(args) > len(params):
        raise TypeError(f"{name}() takes {len(params)} arguments but {len(args)} were given")
    out = list(args)
    names = [p.name for p in params]
    for k in kwargs:
        if k not in names:
            raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
        if names.index(k) < len(args):
            raise TypeError(f"{name}() got multiple values for argument '{k}'")
    for p in params[len(args):]:
        if p.name in kwargs:
            out.append(kwargs[p.name])
        elif p.has_default:
            out.append(p.default)
        else:
            raise TypeError(f"{name}() missing required argument: '{p.name}'")
    return out


def is_box(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), int) and not isinstance(value.get(k), bool)
                                           for k in BOX_KEYS)


def boxes_read(patch: Any, args: Any) -> list[dict]:
    """The boxes a call reads the pixels of: its receiver and the patches among its arguments (a list of
    patches, as ``best_image_match`` takes, counts each)."""
    boxes = [patch] if is_box(patch) else []
    for a in args:
        boxes.extend(b for b in (a if isinstance(a, list) else [a]) if is_box(b))
    return boxes


def value_of(kind: str, raw: Any, patch: dict | None, call: Call, params: Sequence[Any]) -> Any:
    """A backend's raw answer -> the call's JSON value (the same in steps and in the serial run)."""
    if kind == "patches":
        if patch is None:
            raise OperatorError(f"{call.operator} returned patches but has no patch to crop them from")
        w, h = patch["right"] - patch["left"], patch["upper"] - patch["lower"]
        out = []
        for box in raw or []:
            try:
                l, lo, r, u = crop_box(w, h, *_box_tuple(box))
            except PatchError as exc:
                raise OperatorError(str(exc)) from None
            out.append({"left": patch["left"] + l, "lower": patch["lower"] + lo,
                        "right": patch["left"] + r, "upper": patch["lower"] + u})
        return out
    if kind == "patch":
        return _patch_value(raw, patch, call, params)
    if kind == "bool":
        return bool(raw)
    if kind == "str":
        return "" if raw is None else str(raw)
    if kind == "float":
        f = float(raw)
        return f if math.isfinite(f) else None
    if kind == "int":
        return int(raw)
    return raw


def _box_tuple(box: Any) -> tuple:
    if isinstance(box, dict):
        return tuple(box[k] for k in BOX_KEYS)
    return tuple(box)


def _patch_value(raw: Any, patch: dict | None, call: Call, params: Sequence[Any]) -> Any:
    """A ``patch`` result: an index into the first list-of-patches argument, or a box in the receiver."""
    if raw is None:
        return None
    names = [p.name for p in params]
    want_index = "return_index" in names and bool(call.args[names.index("return_index")])
    lists = [a for a in call.args if isinstance(a, list) and all(is_box(b) for b in a)]
    if isinstance(raw, bool) or not isinstance(raw, int):
        if patch is None:
            raise OperatorError(f"{call.operator} returned a box but has no patch to crop it from")
        return value_of("patches", [raw], patch, call, params)[0]
    if not lists or not -len(lists[0]) <= raw < len(lists[0]):
        raise OperatorError(f"{call.operator} returned index {raw}, outside the list it was given")
    candidates = lists[0]
    box = candidates[raw]
    first = next(i for i, b in enumerate(candidates) if b == box)  # equal boxes are the same patch
    return first if want_index else box


def result_of(kind: str, value: Any, receiver: ImagePatch | None, args: Sequence[Any], frame: Any) -> Any:
    """A call's JSON value -> what the program receives (patches on the receiver's frame)."""
    if kind == "patches":
        base = receiver if receiver is not None else ImagePatch(frame)
        return [base.from_root(b) for b in value or []]
    if kind == "patch":
        if value is None or isinstance(value, int):
            return value
        for a in args:
            if isinstance(a, (list, tuple)):
                for p in a:
                    if isinstance(p, ImagePatch) and p.root_box == value:
                        return p
        base = receiver if receiver is not None else ImagePatch(frame)
        return base.from_root(value)
    return value


def answer_json(value: Any) -> Any:
    """The program's answer as JSON (patches as their boxes in the input image)."""
    if isinstance(value, ImagePatch):
        return value.root_box
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [answer_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): answer_json(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted((answer_json(v) for v in value), key=canonical_json)
    return str(value)


def answer_text(answer: Any) -> str:
    """How ``exec`` and ``run`` print an answer: a string as is, anything else as JSON."""
    return answer if isinstance(answer, str) else canonical_json(answer)
