"""The ``object`` family: what one object does or has, asked of that object's patch.

"What is the man wearing?", "What does the batter hold?", "What is the glass on?": find the object,
then ``simple_query`` the question on its patch. Tried last: it takes any "what is/does ..."
question in which it can find a noun phrase.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import RELATION_FIRST_WORDS, RELATION_NAMES, WORD
from dicec.codegen.offline.phrases import parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


def what_object_does(q: Question, p: ProgramWriter) -> bool:
    """A question about what one object does or has: "What is the man wearing?", "What does the batter
    hold?", "What is the girl playing with?", "What is the glass on?", "The women are watching who?" ->
    find the object, then ``simple_query`` on its patch."""
    s = q.s
    m = re.fullmatch(r"what (?:is|are|does|do|did) (?P<body>.+)", s) or re.fullmatch(r"(?P<body>.+?) (?:is|are) \w+ing (?:who|what|whom)", s)
    if not m:
        return False
    words = m.group("body").split()
    asks_object = s.endswith((" who", " whom", " what"))
    for i in range(1, len(words) + 1):
        np = parse_noun_phrase(" ".join(words[:i]))
        rest = words[i:]
        if np is None or (not rest and not asks_object):
            continue
        if len(rest) > 5 or any(not WORD.fullmatch(w) for w in rest) or rest[:1] == ["of"]:
            continue  # too long, not words, or the noun phrase cut inside "to the right | of the helmet"
        if rest and rest[0] in RELATION_FIRST_WORDS and " ".join(rest) not in RELATION_NAMES:
            continue
        p.locate(np)
        (patch,) = p.firsts(np)
        p.add(1, f"return {p.query(patch, q.text)}")
        return True
    return False
