"""Argo's ``when`` conditions: the subset of its (govaluate) expressions that workflows use.

After parameter substitution a condition is text such as ``"yes" == yes && 3 > 2``. Supported:
``==``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``&&``, ``||``, ``!``, parentheses, single- or
double-quoted strings, numbers, ``true``/``false``, and bare words (read as strings, as Argo's own
examples compare ``{{steps.flip.outputs.result}} == heads``). Numbers compare as numbers; a number
and a string are never equal and cannot be ordered. Anything else is a clear error, never a guess.
"""

from __future__ import annotations

import re
from typing import Any

from dicec.errors import DicecError

_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
                      |(?P<op>==|!=|<=|>=|&&|\|\||[<>!()])|(?P<word>[A-Za-z_][\w.\-/:]*))""", re.X)


def evaluate_when(text: str) -> bool:
    """The truth of an Argo ``when`` condition (after substitution)."""
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    value = parser.disjunction()
    if parser.pos != len(tokens):
        raise DicecError(f"when: unexpected {tokens[parser.pos][1]!r} in {text!r}")
    if not isinstance(value, bool):
        raise DicecError(f"when: {text!r} is not a condition (it gives {value!r})")
    return value


def _tokenize(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise DicecError(f"when: cannot read {text[pos:pos + 20]!r} in {text!r} (supported: ==, !=, <, >, <=, >=, "
                             "&&, ||, !, parentheses, quoted strings, numbers)")
        pos = m.end()
        if m.group("num") is not None:
            n = m.group("num")
            out.append(("value", float(n) if any(c in n for c in ".eE") else int(n)))
        elif m.group("str") is not None:
            out.append(("value", re.sub(r"\\(.)", r"\1", m.group("str")[1:-1])))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            word = m.group("word")
            out.append(("value", {"true": True, "false": False}.get(word, word)))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], text: str) -> None:
        self.tokens, self.text, self.pos = tokens, text, 0

    def peek(self) -> Any:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op" else None

    def disjunction(self) -> Any:
        left = self.conjunction()
        while self.peek() == "||":
            self.pos += 1
            right = self.conjunction()
            left = _truth(left, self.text) or _truth(right, self.text)
        return left

    def conjunction(self) -> Any:
        left = self.comparison()
        while self.peek() == "&&":
            self.pos += 1
            right = self.comparison()
            left = _truth(left, self.text) and _truth(right, self.text)
        return left

    def comparison(self) -> Any:
        left = self.unary()
        op = self.peek()
        if op in ("==", "!=", "<", ">", "<=", ">="):
            self.pos += 1
            return _compare(left, op, self.unary(), self.text)
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.pos += 1
            return not _truth(self.unary(), self.text)
        if self.peek() == "(":
            self.pos += 1
            value = self.disjunction()
            if self.peek() != ")":
                raise DicecError(f"when: missing ')' in {self.text!r}")
            self.pos += 1
            return value
        if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "value":
            raise DicecError(f"when: expected a value in {self.text!r}")
        self.pos += 1
        return self.tokens[self.pos - 1][1]


def _truth(value: Any, text: str) -> bool:
    if not isinstance(value, bool):
        raise DicecError(f"when: {value!r} is not true or false in {text!r}")
    return value


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(a: Any, op: str, b: Any, text: str) -> bool:
    if op == "==":
        return a == b and _number(a) == _number(b)
    if op == "!=":
        return not (a == b and _number(a) == _number(b))
    if _number(a) and _number(b) or isinstance(a, str) and isinstance(b, str):
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    raise DicecError(f"when: cannot order {a!r} and {b!r} in {text!r}")
