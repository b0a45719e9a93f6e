"""Stage 2, code generation: a plain-English question -> a ViperGPT-style serial program.

The default backend, :func:`generate_offline`, is rule-based: no LLM, no network, deterministic. It
decomposes common families of visual questions into calls of the operators the registry offers and
falls back to asking the whole image (with a warning) for anything else. :mod:`dicec.codegen.prompt`
renders the prompt an LLM backend would use.
"""

from dicec.codegen.offline import MAX_QUESTION_CHARS, GeneratedProgram, generate_offline

__all__ = ["MAX_QUESTION_CHARS", "GeneratedProgram", "generate_offline"]
