"""The fallback: a question no rule decomposes is asked of the whole image, with a warning.

It is not a row of the rule table: :func:`~dicec.codegen.offline.generator.generate_offline` comes
here when every rule declined, when the question is too long to parse, or when a rule recognised the
question but needed an operator the registry lacks (named in a second warning). The program is one
``simple_query`` of the question as asked, so any question gets an answer, if not a parallel one.
"""

from __future__ import annotations

from dicec.codegen.offline.literals import literal
from dicec.codegen.offline.program import GeneratedProgram, Operators, ProgramWriter
from dicec.errors import DicecError

FALLBACK_WARNING = "could not decompose the question; asking the whole image"


def ask_whole_image(ops: Operators, text: str, missing: str | None) -> GeneratedProgram:
    """``return image_patch.simple_query(<text>)``, family ``fallback``; ``missing``: the operator a rule lacked.

    Raises :class:`DicecError` when the registry lacks ``simple_query``: nothing can answer then.
    """
    prog = ProgramWriter(ops, text)
    if not ops.has("simple_query"):
        have = ", ".join(sorted(ops.available)) or "none of the ViperGPT operators"
        raise DicecError("cannot generate a program offline: the question needs the simple_query operator, "
                         f"which the registry lacks (it has: {have})")
    prog.add(1, f"return image_patch.simple_query({literal(text)})")
    prog.note(FALLBACK_WARNING)
    if missing is not None:
        prog.note(f"the question needs the {missing} operator to be decomposed, and the registry lacks it")
    return prog.result("fallback")
