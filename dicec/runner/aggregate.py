"""Argo's aggregation of a loop's outputs (``withParam``, ``withItems``, ``withSequence``), byte for byte.

When every element of a loop has run, Argo v4.1.2 gives the task an aggregated value for each output
parameter (``{{tasks.T.outputs.parameters.NAME}}``) and for its result (``{{tasks.T.outputs.result}}``);
``workflow/controller/operator.go``, ``processAggregateNodeOutputs``:

* an output parameter: ``aggregatedJSONValueList`` over the succeeded elements' values, in loop order.
  ``tryJSONUnmarshal`` parses every value as JSON and succeeds only when *all* of them are JSON lists or
  objects; then the list of parsed values is marshalled, otherwise the list of the values *as strings*.
  So ``["a", "b"]`` and ``{"k": 1}`` aggregate as ``[["a","b"],{"k":1}]``, but ``true``, ``3``, ``"x"``
  and ``null`` do not parse into the list: ``["true","3","\\"x\\"","null"]`` (and one such value turns
  every other value of the list into a string as well);
* the result: every element's result is read as a ``wfv1.Item`` (any JSON value; a result that is not
  JSON fails the aggregation), which keeps the JSON text as it is (a ``json.RawMessage``), and the list of
  them is marshalled: each text compacted as Go's ``json.Marshal`` compacts a raw message
  (:func:`go_compact`: whitespace between tokens dropped, ``<``, ``>``, ``&`` and U+2028/U+2029 escaped),
  its keys in their order and its numbers as written (``1.0`` stays ``1.0``).

The parameters' list is marshalled as Go's ``encoding/json`` does (:func:`go_json`): object keys sorted, no
spaces, ``<``, ``>`` and ``&`` escaped as ``\\u003c``, ``\\u003e``, ``\\u0026``, U+2028/U+2029 escaped, and
numbers as the ``float64`` Go parsed them into (``1.0`` is ``1``, ``1e21`` is ``1e+21``, a 20-digit integer
loses its last digits). ``dicec run`` aggregates with :func:`aggregate_parameter` and :func:`aggregate_results`, so a
step downstream reads exactly the text it would read on a cluster.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from dicec.errors import DicecError

#: Go's ``encoding/json`` escapes these for HTML safety (``HTMLEscape``), and U+2028/U+2029 always.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
               '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class NotGoJSON(ValueError):
    """Text that Go's ``json.Unmarshal`` would refuse."""


def _refuse_constant(name: str) -> Any:
    raise NotGoJSON(f"{name} is not JSON")


def go_unmarshal(text: str) -> Any:
    """``text`` parsed as Go's ``json.Unmarshal`` into ``any`` would: numbers become floats (a number too large
    for a float64 is refused, as are ``NaN`` and ``Infinity``); :class:`NotGoJSON` where Go fails."""

    def number(literal: str) -> float:
        value = float(literal)
        if math.isinf(value):
            raise NotGoJSON(f"{literal} does not fit a float64")
        return value

    try:
        return json.loads(text, parse_int=number, parse_float=number, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NotGoJSON(str(exc)) from None


def go_float(value: float) -> str:
    """A float64 as Go's ``encoding/json`` writes it: ``strconv.FormatFloat`` with the shortest digits that read
    back the same (Python's ``repr`` digits are those too), in ``'f'`` form, or ``'e'`` form below 1e-6 and from
    1e21, where ``e-07`` is cleaned to ``e-7``."""
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    shortest = Decimal(repr(abs(value))).normalize().as_tuple()
    digits, exponent = "".join(map(str, shortest.digits)), int(shortest.exponent)  # abs(value) = digits x 10**exponent
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        power = exponent + len(digits) - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        written = f"{abs(power):02d}"
        if power < 0 and len(written) == 2 and written[0] == "0":
            written = written[1]
        return f"{sign}{mantissa}e{'-' if power < 0 else '+'}{written}"
    if exponent >= 0:
        return sign + digits + "0" * exponent
    point = len(digits) + exponent
    if point > 0:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}0.{'0' * -point}{digits}"


def go_json(value: Any) -> str:
    """``value`` marshalled as Go's ``json.Marshal`` would marshal what :func:`go_unmarshal` gave."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return go_float(float(value))
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_string(k)}:{go_json(v)}" for k, v in
                              sorted(value.items(), key=lambda kv: kv[0].encode("utf-8", "surrogatepass"))) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _go_string(text: str) -> str:
    out = ['"']
    for ch in text:
        escaped = _GO_ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch < " ":
            out.append(f"\\u00{ord(ch):02x}")
        elif "\ud800" <= ch <= "\udfff":  # a lone surrogate (\ud800 in the JSON): Go decodes it as U+FFFD
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def aggregate_parameter(values: list[str]) -> str:
    """Argo's ``aggregatedJSONValueList``: the parsed values when every one is a JSON list or object, else the
    values as strings; marshalled as Go does."""
    parsed = []
    for text in values:
        try:
            value = go_unmarshal(text)
        except NotGoJSON:
            break
        if not isinstance(value, (list, dict)):
            break
        parsed.append(value)
    else:
        return go_json(parsed)
    return go_json(list(values))


def aggregate_results(results: list[str], *, task: str) -> str:
    """Argo's aggregated ``outputs.result`` of a loop: every element's result read as JSON and kept as its text
    (a ``wfv1.Item``), the list marshalled (:func:`go_compact` of each); a result that is not JSON fails the
    aggregation (one line naming the task)."""
    for text in results:
        try:  # the syntax only: a raw message keeps its numbers as text (1e400 is valid)
            json.loads(text, parse_int=str, parse_float=str, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, RecursionError, NotGoJSON):
            raise DicecError(f"task {task!r}: an element's result is not JSON, and Argo aggregates a loop's results "
                             f"only when each is: {text[:80]!r}") from None
    return "[" + ",".join(go_compact(text) for text in results) + "]"


#: What Go's ``compact`` escapes in a raw message ``json.Marshal`` writes (``escapeHTML``), anywhere in the text.
_COMPACT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_compact(text: str) -> str:
    """Valid JSON ``text`` as ``json.Marshal`` writes a ``json.RawMessage`` of it (``appendCompact`` with HTML
    escaping): whitespace between tokens dropped, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped; everything
    else (key order, number literals, a string's other escapes) as written."""
    out: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch in " \t\n\r":
            continue
        elif ch == '"':
            in_string = True
        out.append(_COMPACT_ESCAPES.get(ch, ch))
    return "".join(out)
