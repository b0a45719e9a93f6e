"""Diagnostics the checker reports: one small class per kind, each with its message and location.

Modelled on pyflakes' ``messages.py``: a class fixes the wording (``message``) and the arguments it
needs (``message_args``); an instance adds where it was found. ``str(m)`` is ``path:line: text``,
the one line a user (or the LLM, during refinement) is shown.
"""

from __future__ import annotations


class Message:
    """A problem at a place in a program.

    Attributes:
        path: the file (or ``<string>``).
        line: 1-based line.
        col: 0-based column.
        message_args: the values substituted into ``message``.
    """

    message = "problem"

    def __init__(self, path: str, line: int, col: int = 0, *message_args: object) -> None:
        self.path = path
        self.line = line
        self.col = col
        self.message_args = message_args

    @property
    def text(self) -> str:
        return self.message % self.message_args

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"


class SyntaxProblem(Message):
    message = "syntax error: %s"


class MissingEntryPoint(Message):
    message = "the program must define 'def execute_command(image):' at the top level"


class BadEntrySignature(Message):
    message = "execute_command must take exactly one parameter (the image), not %s"


class TopLevelStatement(Message):
    message = "only function definitions may appear at the top level, not %s"


class ForbiddenStatement(Message):
    message = "%s is not allowed in programs"


class ForbiddenName(Message):
    message = "use of %r is not allowed in programs"


class DunderAttribute(Message):
    message = "dunder attribute %r is not allowed"


class UnknownAttribute(Message):
    message = "unknown attribute %r: not part of the ImagePatch API or the allowed str/list/dict methods"


class UnknownFunction(Message):
    message = "unknown function %r: not an operator, an API helper or an allowed builtin"


class UndefinedName(Message):
    message = "name %r is used but never assigned"


class WrongArity(Message):
    message = "%s takes %s, but %d %s given"


class UnknownKeyword(Message):
    message = "%s has no parameter %r"


class ForbiddenLambda(Message):
    message = "lambda is only allowed as the key= of sort/sorted/min/max"


class UnsafeFormat(Message):
    message = "format string %r reaches into attributes or items; use an f-string"


class UnboundedLoop(Message):
    message = "%s"


class TooLarge(Message):
    message = "%s"


class NotCallable(Message):
    message = "only named functions and methods may be called, not %s"
