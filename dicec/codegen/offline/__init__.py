"""The offline code generator: rules that turn a plain-English question into a ViperGPT-style program.

No LLM, no network, deterministic: the same question and registry always give the same bytes. The
question is untrusted text, and reaches the program only as string literals (``literals``).

How a question flows through the package:

1. :func:`generate_offline` (``generator``) checks the text (a string, not empty, at most
   :data:`MAX_QUESTION_CHARS` characters) and makes a ``question.Question``: the text as asked,
   for ``simple_query``, and a normalised form to parse, in which indirect questions ("Tell me
   what colour the car is"), imperatives ("Count the dogs.", "Show me the cat") and negative or
   contracted questions ("Isn't there a dog?", "What's on the table?") read as direct ones.
2. The rule table, :data:`RULES` (``rules``), is tried from the top. Each row names a family and a
   handler in ``families/``. A handler matches the question's shape with regular expressions,
   reads the objects in it with ``phrases`` (noun phrases, properties, relations, over the word
   lists of ``english``) and, if it recognises the question, writes the program with a fresh
   ``program.ProgramWriter``; otherwise it returns ``False`` and the next row tries.
3. The writer gives every program the same shape: all ``find`` calls first (parallel tasks),
   checks on each detection in loops and comprehensions (fan-outs), and only operators the
   registry offers (a substitute, with a warning, where one is missing).
4. The first handler that writes a program wins and its family labels the result. If none does,
   or one needs an operator the registry lacks, ``families.fallback`` asks the whole image with
   ``simple_query`` (family ``fallback``, with :data:`FALLBACK_WARNING`); if the registry cannot
   do even that, :class:`~dicec.errors.DicecError` says so in one line.

The modules:

* ``generator``: :func:`generate_offline`, the flow above.
* ``rules``: :class:`Rule` and :data:`RULES`, the order in which families are tried.
* ``question``: the question as the rules see it, and its normalisation (direct form).
* ``english``: word lists (colours, materials, determiners, relations ...), singular and plural,
  phrasings several families share.
* ``phrases``: noun phrases and the qualifiers that narrow their detections (properties, positions,
  relations, an owner: "the girl's dress", "the boy shorts").
* ``program``: :class:`GeneratedProgram` and the writer that makes it, with the operators a
  registry offers.
* ``literals``: string literals and ASCII names, the only way question text reaches a program.
* ``families/``: one module per family of question (existence, counting, attributes, relations,
  comparisons, logic, choices, which, objects, position, scene, damage, search, text) and the
  fallback.

A new kind of question is a new family module and a row in :data:`RULES`; a new way of saying
something the rules already handle is usually a word in ``english`` or a pattern in its family.
"""

from __future__ import annotations

from dicec.codegen.offline.english import COLORS, MATERIALS, PATTERNS, SHAPES, SIZES
from dicec.codegen.offline.families.fallback import FALLBACK_WARNING
from dicec.codegen.offline.families.search import SEARCH_CATEGORIES
from dicec.codegen.offline.generator import MAX_QUESTION_CHARS, generate_offline
from dicec.codegen.offline.program import GeneratedProgram
from dicec.codegen.offline.rules import RULES, Rule

__all__ = ["COLORS", "FALLBACK_WARNING", "MATERIALS", "MAX_QUESTION_CHARS", "PATTERNS", "RULES", "Rule",
           "SEARCH_CATEGORIES", "SHAPES", "SIZES", "GeneratedProgram", "generate_offline"]
