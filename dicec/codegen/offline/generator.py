"""The entry point, :func:`generate_offline`: check the question, try the rule table, else ask the whole image.

This is the only module that knows the whole flow; the rules, the families and the program writer
each know one part of it (see the package docstring).
"""

from __future__ import annotations

from dicec.codegen.offline.families.fallback import ask_whole_image
from dicec.codegen.offline.program import GeneratedProgram, OperatorUnavailable, Operators, ProgramWriter
from dicec.codegen.offline.question import Question, normalise
from dicec.codegen.offline.rules import RULES
from dicec.errors import DicecError
from dicec.tools.registry import Registry

#: Longest question accepted, in characters (after trimming surrounding whitespace).
MAX_QUESTION_CHARS = 2000

#: Questions longer than this are not parsed by the rules (they go to the whole-image fallback).
_MAX_PARSE_CHARS = 200


def generate_offline(question: str, registry: Registry) -> GeneratedProgram:
    """Turn ``question`` into a ViperGPT-style program using the operators in ``registry``.

    Raises :class:`DicecError` (one line) for an empty question, one over
    :data:`MAX_QUESTION_CHARS` characters, or a registry without the operators even the whole-image
    fallback needs (``simple_query``).
    """
    if not isinstance(question, str):
        raise DicecError(f"the question must be text, not {type(question).__name__}")
    text = " ".join(question.split())
    if not text:
        raise DicecError("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise DicecError(f"the question is {len(text)} characters long, over the {MAX_QUESTION_CHARS}-character limit")
    ops = Operators(registry)
    q = Question(text=text, s=normalise(text))
    missing: str | None = None
    if len(q.s) <= _MAX_PARSE_CHARS:
        for rule in RULES:
            prog = ProgramWriter(ops, text)
            try:
                written = rule.handler(q, prog)
            except OperatorUnavailable as exc:
                # The question has this rule's shape; a later rule would only misread it.
                missing = exc.args[0]
                break
            if written:
                return prog.result(prog.family or rule.family)
    return ask_whole_image(ops, text, missing)
