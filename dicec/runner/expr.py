"""The subset of expr-lang that ``dicec run`` evaluates in an HTTP template's ``successCondition``.

Argo's agent evaluates ``successCondition`` with expr-lang (``util/expr/argoexpr.EvalBool`` in Argo
v4.1.2) over ``request`` (``method``, ``url``, ``body``, ``headers``) and ``response`` (``statusCode``,
``body``, ``headers``; headers as ``map[string][]string``), and the result must be a boolean. Supported
here, which covers what dicec emits (``response.statusCode == 200``) and what Argo's own example
workflows use (``response.statusCode == 201``, ``response.body contains "google"``,
``response.headers["Server"][0] == "cloudflare"``):

* literals: integers, decimals, strings in ``"..."``, ``'...'`` or backquotes, ``true``, ``false``,
  ``nil``, and array literals ``[a, b]``;
* names and member access: ``a.b``, ``a["b"]``, ``a[0]`` (a missing map key is ``nil``, as in expr);
* ``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` (numbers with numbers, strings with strings), ``contains``
  ``startsWith`` ``endsWith`` (strings), ``in`` (an element of an array, a key of a map), ``!`` / ``not``,
  ``&&`` / ``and``, ``||`` / ``or``, parentheses.

Anything else (arithmetic, function calls, ``matches``, pipes, ...) is refused with one line naming it,
never guessed; a type error while evaluating is one line too.

The same subset, plus Argo's ``jsonpath(TEXT, PATH)`` for a path of ``$`` and ``.NAME``, ``['NAME']`` or
``[N]`` steps (``util/expr/env``: the text parsed as JSON, the path queried), evaluates an output
parameter's ``valueFrom.expression`` (:func:`evaluate_expression`), which Argo's controller evaluates over
the template's scope (``tasks.NAME.outputs.result`` ...) and writes with Go's ``%v``: dicec emits one only to
take a string out of the answer server's reply (:mod:`dicec.emit.http`), and a result that is not a string
is refused here rather than formatted as Go would.
"""

from __future__ import annotations

import re
from typing import Any

from dicec.errors import DicecError

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d+|\d+)(?![\w.])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>\S)
)""", re.X)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}
_WORD_OPS = {"and": "&&", "or": "||", "not": "!"}
_STRING_OPS = ("contains", "startsWith", "endsWith")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
_LITERALS = {"true": True, "false": False, "nil": None}
_JSONPATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^'\\]*)'\]|\[(\d+)\]")
_JSONPATH = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_-]*|\['[^'\\]*'\]|\[\d+\])*")


class ExprError(DicecError):
    """A condition dicec run cannot read or evaluate (one line)."""


def evaluate_condition(text: str, scope: dict[str, Any]) -> bool:
    """The truth of ``text`` over ``scope`` (the names ``request`` and ``response``)."""
    parser = _Parser(_tokenize(text), text, scope)
    value = parser.disjunction()
    if parser.pos != len(parser.tokens):
        raise ExprError(f"successCondition {text!r}: unexpected {parser.tokens[parser.pos][1]!r}")
    if not isinstance(value, bool):
        raise ExprError(f"successCondition {text!r} gives {value!r}, not true or false")
    return value


def evaluate_expression(text: str, scope: dict[str, Any]) -> str:
    """The string an output parameter's ``valueFrom.expression`` gives over ``scope`` (nested maps:
    ``{"tasks": {"answer": {"outputs": {"result": ...}}}}``); refused in one line when it is not a string."""
    parser = _Parser(_tokenize(text, what="expression"), text, scope, what="expression")
    value = parser.disjunction()
    if parser.pos != len(parser.tokens):
        raise ExprError(f"expression {text!r}: unexpected {parser.tokens[parser.pos][1]!r}")
    if not isinstance(value, str):
        raise ExprError(f"expression {text!r} gives {value!r}, not a string (dicec run takes only strings from "
                        "output expressions)")
    return value


def _tokenize(text: str, *, what: str = "successCondition") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text) and text[pos:].strip():
        m = _TOKEN.match(text, pos)
        if m is None or m.group("other") is not None:
            bad = m.group("other") if m else text[pos:pos + 10]
            raise ExprError(f"{what} {text!r}: {bad!r} is not supported by dicec run (supported: "
                            "==, !=, <, <=, >, >=, contains, startsWith, endsWith, in, !, &&, ||, member access)")
        pos = m.end()
        if m.group("num") is not None:
            n = m.group("num")
            out.append(("value", float(n) if "." in n else int(n)))
        elif m.group("str") is not None:
            raw = m.group("str")
            body = raw[1:-1]
            out.append(("value", body if raw[0] == "`" else re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1),
                                                                                                   e.group(1)), body)))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            name = m.group("name")
            if name in _WORD_OPS:
                out.append(("op", _WORD_OPS[name]))
            elif name in _STRING_OPS or name == "in":
                out.append(("op", name))
            elif name in _LITERALS:
                out.append(("value", _LITERALS[name]))
            else:
                out.append(("name", name))
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Parser:
    """Recursive descent, evaluating as it parses (the operands have no side effects)."""

    def __init__(self, tokens: list[tuple[str, Any]], text: str, scope: dict[str, Any], *,
                 what: str = "successCondition") -> None:
        self.tokens, self.text, self.scope, self.pos, self.what = tokens, text, scope, 0, what

    def peek(self) -> Any:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op" else None

    def take(self, op: str) -> None:
        if self.peek() != op:
            found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "the end"
            raise ExprError(f"{self.what} {self.text!r}: expected {op!r}, found {found!r}")
        self.pos += 1

    def fail(self, what: str) -> ExprError:
        return ExprError(f"{self.what} {self.text!r}: {what}")

    def disjunction(self) -> Any:
        left = self.conjunction()
        while self.peek() == "||":
            self.pos += 1
            right = self.conjunction()
            left = self.truth(left) or self.truth(right)
        return left

    def conjunction(self) -> Any:
        left = self.comparison()
        while self.peek() == "&&":
            self.pos += 1
            right = self.comparison()
            left = self.truth(left) and self.truth(right)
        return left

    def comparison(self) -> Any:
        left = self.unary()
        op = self.peek()
        if op in _COMPARISONS or op in _STRING_OPS or op == "in":
            self.pos += 1
            return self.compare(left, op, self.unary())
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.pos += 1
            return not self.truth(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        if self.peek() == "(":
            self.pos += 1
            value = self.disjunction()
            self.take(")")
            return value
        if self.peek() == "[":
            self.pos += 1
            items = []
            while self.peek() != "]":
                items.append(self.disjunction())
                if self.peek() != ",":
                    break
                self.pos += 1
            self.take("]")
            return items
        if self.pos >= len(self.tokens):
            raise self.fail("ends where a value was expected")
        kind, value = self.tokens[self.pos]
        self.pos += 1
        if kind == "value":
            return value
        if kind == "name":
            if self.peek() == "(" and value == "jsonpath" and self.what == "expression":
                return self.jsonpath()
            if self.peek() == "(":
                raise self.fail("function calls are not supported by dicec run")
            if value not in self.scope:
                raise self.fail(f"unknown name {value!r} (known: {', '.join(sorted(self.scope))})")
            return self.scope[value]
        raise self.fail(f"unexpected {value!r}")

    def jsonpath(self) -> Any:
        """Argo's ``jsonpath(TEXT, PATH)`` (after its name): TEXT parsed as JSON, PATH of ``$`` and ``.NAME``,
        ``['NAME']`` or ``[N]`` steps."""
        import json

        self.take("(")
        text = self.disjunction()
        self.take(",")
        path = self.disjunction()
        self.take(")")
        if not isinstance(text, str) or not isinstance(path, str):
            raise self.fail(f"jsonpath needs a JSON text and a path, not {text!r} and {path!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise self.fail(f"jsonpath: {text[:80]!r} is not JSON") from None
        steps = _JSONPATH.fullmatch(path)
        if steps is None:
            raise self.fail(f"jsonpath {path!r}: dicec run reads only paths of $ and .NAME, ['NAME'] or [N] steps")
        for name, quoted, index in _JSONPATH_STEP.findall(path[1:]):
            key: Any = name or quoted or int(index)
            if isinstance(key, int) and isinstance(value, list) and 0 <= key < len(value):
                value = value[key]
            elif isinstance(key, str) and isinstance(value, dict) and key in value:
                value = value[key]
            else:
                raise self.fail(f"jsonpath {path!r}: {key!r} is not in {text[:80]!r}")
        return value

    def postfix(self, value: Any) -> Any:
        while self.peek() in (".", "["):
            if self.peek() == ".":
                self.pos += 1
                if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "name":
                    raise self.fail("expected a field name after '.'")
                key = self.tokens[self.pos][1]
                self.pos += 1
            else:
                self.pos += 1
                key = self.disjunction()
                self.take("]")
            if self.peek() == "(":
                raise self.fail("function calls are not supported by dicec run")
            value = self.member(value, key)
        if self.peek() == "(":
            raise self.fail("function calls are not supported by dicec run")
        return value

    def member(self, value: Any, key: Any) -> Any:
        if isinstance(value, dict):
            return value.get(key)
        if isinstance(value, (list, str)) and _number(key) and float(key).is_integer():
            i = int(key)
            if -len(value) <= i < len(value):
                return value[i]
            raise self.fail(f"index {i} out of range (length {len(value)})")
        raise self.fail(f"cannot take {key!r} of {type(value).__name__} {value!r}")

    def truth(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(f"{value!r} is not true or false")
        return value

    def compare(self, a: Any, op: str, b: Any) -> bool:
        if op in ("==", "!="):
            equal = a == b if _number(a) == _number(b) else False
            return equal if op == "==" else not equal
        if op in _STRING_OPS:
            if not isinstance(a, str) or not isinstance(b, str):
                raise self.fail(f"{op} needs two strings, not {a!r} and {b!r}")
            return {"contains": b in a, "startsWith": a.startswith(b), "endsWith": a.endswith(b)}[op]
        if op == "in":
            if isinstance(b, dict):
                return a in b
            if isinstance(b, list):
                return any(self.compare(a, "==", x) for x in b)
            raise self.fail(f"'in' needs an array or a map, not {b!r}")
        if _number(a) and _number(b) or isinstance(a, str) and isinstance(b, str):
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        raise self.fail(f"cannot compare {a!r} {op} {b!r}")
