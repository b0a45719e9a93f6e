"""Stage 2, code generation: a plain-English question -> a ViperGPT-style serial program.

Three backends behind :func:`dicec.codegen.backends.generate_program`: ``offline``
(:func:`generate_offline`, rule-based: no LLM, no network, deterministic; it decomposes common
families of visual questions into calls of the operators the registry offers and falls back to
asking the whole image, with a warning, for anything else), ``anthropic`` (the Messages API,
:mod:`~dicec.codegen.llm`, with the reply extracted by :mod:`~dicec.codegen.extract` and refined
against the checker by :mod:`~dicec.codegen.refine`) and ``replay`` (programs pinned in a lock file,
:mod:`~dicec.codegen.lock`). :mod:`dicec.codegen.prompt` renders the prompt from the discovered
operators; :mod:`dicec.codegen.usage` counts LLM calls and tokens.

The names below load on first use, so the command line can read the LLM defaults without paying
for the offline rule tables.
"""

from __future__ import annotations

__all__ = ["MAX_QUESTION_CHARS", "GeneratedProgram", "generate_offline"]


def __getattr__(name: str):
    if name in __all__:
        from dicec.codegen import offline

        return getattr(offline, name)
    raise AttributeError(f"module 'dicec.codegen' has no attribute {name!r}")
