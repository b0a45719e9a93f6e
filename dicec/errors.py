"""Errors a user can act on.

Every stage raises :class:`DicecError` (or a subclass) for bad input; the CLI prints it as one line,
``file:line: message`` where a location is known, and exits non-zero. Anything else escaping a stage
is a bug in dicec, not in the user's input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Location:
    """A place in a source file.

    Attributes:
        path: the file as the user named it (or ``<string>`` for text given inline).
        line: 1-based line number, or ``None`` when only the file is known.
        column: 0-based column, or ``None``.
    """

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.path
        return f"{self.path}:{self.line}"


class DicecError(Exception):
    """Bad input, reported to the user as a single line.

    Attributes:
        message: what is wrong, in one line.
        location: where, when known.
    """

    exit_code = 1

    def __init__(self, message: str, *, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split()) or "error"
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class UsageError(DicecError):
    """The command line itself is wrong (exit code 2, as click uses)."""

    exit_code = 2


def one_line(text: object, limit: int = 160) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``limit`` characters with "...".

    For quoting untrusted or long text (a program's expression, a server's reply, a schema message)
    inside a one-line error.
    """
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[:limit - 3] + "..."
