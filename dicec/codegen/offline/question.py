"""The question as the rules see it: the text as asked, and a normalised form to parse.

:func:`normalise` makes the parse form once, so that no family has to cope with case, curly
apostrophes, "colour" against "color", "isn't", trailing punctuation, spacing around commas, "in the
picture" or "do you think". The text as asked (whitespace collapsed) is kept for the ``simple_query``
calls that put the user's own question to the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicec.codegen.offline.english import SCENE_WORDS


@dataclass(frozen=True)
class Question:
    """A question, as every family handler receives it."""

    text: str   # the question, whitespace collapsed: what simple_query is asked
    s: str      # the parse form: lower case, no final "?", picture/scene qualifiers dropped


def normalise(text: str) -> str:
    """The parse form of ``text``: lower case, "color", "is not", no final punctuation or picture words."""
    s = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    s = re.sub(r"\bcolou?rs?\b", lambda m: "colors" if m.group().endswith("s") else "color", s)
    s = re.sub(r"\b(is|are|was|were|does|do|did|has|have)n't\b", r"\1 not", s)
    s = re.sub(r"[\s?!.]+$", "", s)
    s = re.sub(r"\s*,\s*", ", ", s)
    s = re.sub(rf"\b(?:in|of|from) (?:the|this|that) {SCENE_WORDS}\b", " ", s)
    s = re.sub(r"^(what|who|which) do you think (is|are)\b", r"\1 \2", s)
    s = re.sub(r"\s+", " ", s)
    return s.strip(" ,")
