"""Checking programs before anything runs or is compiled: the safe subset of Python, known operators.

Generated code is untrusted. :func:`check_program` parses a program with astroid and returns every
problem as a :class:`~dicec.check.messages.Message` pointing at its line; :func:`require_valid` raises
:class:`CheckFailed` instead. Every backend and every ``.py`` input goes through the same checker.
"""

from dicec.check.checker import CheckFailed, check_program, parse_program, require_valid
from dicec.check.messages import Message

__all__ = ["CheckFailed", "Message", "check_program", "parse_program", "require_valid"]
