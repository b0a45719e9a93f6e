"""The ``scene`` family: questions about the whole scene, which the whole image answers.

"Is it outdoors?" (``best_text_match`` between indoors and outdoors), "Which place is it?", "What
room is this?", "How is the weather?" (``simple_query`` on the whole image). They name no object to
find, so no decomposition would do better.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import IMAGE_SUBJECT
from dicec.codegen.offline.literals import literal
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


def whole_scene(q: Question, p: ProgramWriter) -> bool:
    """Questions about the whole scene, which the whole image answers: "Which place is it?", "Is it
    outdoors?", "What room is this?" (``best_text_match`` for indoors/outdoors, else ``simple_query``)."""
    s = q.s
    m = re.fullmatch(rf"(?:is|was) {IMAGE_SUBJECT}(?: taken)? (?P<w>indoors|outdoors|inside|outside|indoor|outdoor)", s)
    if m and p.has("best_text_match"):
        place = p.name("place")
        p.add(1, f"{place} = {p.choose('image_patch', ('indoors', 'outdoors'), q.text)}")
        want = "outdoors" if m.group("w").startswith("out") else "indoors"
        p.add(1, f"return bool_to_yesno({place} == {literal(want)})")
        return True
    if m or re.fullmatch(
            r"(?:(?:which|what) (?:kind of |type of |sort of )?(?:place|room|location|area|setting|environment|season|weather|time of day)"
            r" (?:is (?:it|this|that|shown|pictured)|are we in|is this in|was it taken)|where (?:is|was) (?:it|this) (?:taken|shot|photographed)|"
            r"where is this|how is the weather|what is the weather like)", s):
        p.add(1, f"return {p.query('image_patch', q.text)}")
        return True
    return False

