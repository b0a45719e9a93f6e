"""Reading a step's JSON flags: strictly, or leniently where Argo may leave a reference unresolved.

A step's ``--refs``, ``--patch``, ``--records`` and ``--inputs`` are JSON that Argo assembled by
substituting other steps' outputs. :func:`json_flag` reads one strictly: a bad value is one line naming
the flag. :func:`lenient_members` reads a list or object whose elements may be unresolved references
(``{{tasks.t.outputs.parameters.record}}`` of a task that did not run), keeping the elements that are
valid JSON: a missing record or input can only cost the final step a call on demand, never change the
answer. Used by :mod:`dicec.runtime.step` and :mod:`dicec.runtime.group`.
"""

from __future__ import annotations

import json
from typing import Any

from dicec.errors import DicecError


def json_flag(text: str, flag: str) -> Any:
    """A flag's JSON text -> its value, or a one-line error naming the flag."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"{flag} is not valid JSON ({exc.msg} at character {exc.pos}): {text[:80]!r}") from None


def lenient_members(text: str, flag: str, *, keyed: bool = False) -> list[tuple[str | None, Any]]:
    """``(None, element)`` of the JSON list ``text`` (brackets included), or with ``keyed`` ``(key, value)``
    of the JSON object, skipping elements or values that are not valid JSON (unresolved Argo references)."""
    decoder, out, pos, end = json.JSONDecoder(), [], 1, len(text) - 1
    while pos < end:
        while pos < end and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= end:
            break
        key = None
        if keyed:
            try:
                key, pos = decoder.raw_decode(text, pos)
                while pos < end and text[pos] in " \t\r\n":
                    pos += 1
                if not isinstance(key, str) or text[pos] != ":":
                    raise ValueError("expected a key and ':'")
                pos += 1
                while pos < end and text[pos] in " \t\r\n":
                    pos += 1
            except (ValueError, IndexError):
                raise DicecError(f"{flag} is not a JSON object of task values: {text[:80]!r}") from None
        try:
            value, nxt = decoder.raw_decode(text, pos)
            rest = text[nxt:end].lstrip()
            if rest and not rest.startswith(","):
                raise ValueError("junk after element")
        except ValueError:
            pos = _skip_element(text, pos, end)
        else:
            out.append((key, value))
            pos = nxt
    return out


def _scan(text: str, pos: int, end: int, *, at_comma: bool) -> int:
    """Walk JSON-ish text from ``pos``, brackets and strings respected (elements need not be valid JSON):
    with ``at_comma``, the index of the ``,`` that ends the element at ``pos`` (or ``end``); otherwise the
    index just past the list or object that opens at ``pos`` (or ``end`` when it never closes)."""
    depth, in_str = 0, False
    while pos < end:
        c = text[pos]
        if in_str:
            if c == "\\":
                pos += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0 and not at_comma:
                return pos + 1
        elif c == "," and depth <= 0 and at_comma:
            return pos
        pos += 1
    return end


def _skip_element(text: str, pos: int, end: int) -> int:
    """Index of the ``,`` ending the (invalid) element at ``pos``, brackets and strings respected."""
    return _scan(text, pos, end, at_comma=True)


def element_end(text: str, pos: int) -> int:
    """The index just past the JSON list or object that opens at ``text[pos]`` (brackets and strings
    respected; its elements need not be valid JSON), or ``len(text)`` when it never closes."""
    return _scan(text, pos, len(text), at_comma=False)
