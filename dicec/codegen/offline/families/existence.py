"""The ``existence`` family: whether an object is in the image.

"Is there a dog?" -> ``exists``; with attributes or a qualifier ("Are there helmets that are not
white?", "Is there an elephant near the pond?", relabelled ``relation``) the detections are
narrowed one by one, a fan-out.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import EXIST_PREFIX
from dicec.codegen.offline.phrases import parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question

_EXISTENCE = re.compile(rf"(?:{EXIST_PREFIX}|is there any|are there any) (?:any |some )?(?P<np>.+)")


def is_there(q: Question, p: ProgramWriter) -> bool:
    """Existence: "Is there a dog?", "Are there any cars?" -> ``exists``; with attributes or a
    qualifier ("Are there helmets that are not white?", "Are there any dogs on the tan sand?", "Is
    there an elephant near the pond?") the detections are checked one by one, a fan-out."""
    m = _EXISTENCE.fullmatch(q.s)
    if not m:
        return False
    np = parse_noun_phrase(m.group("np"))
    if np is None:
        return False
    p.default = "no"
    if not np.attrs and not np.filters:
        p.add(1, f"return bool_to_yesno({p.exists('image_patch', np.head)})")
        return True
    if np.relation is not None:
        p.family = "relation"
    (found,) = p.locate(np)
    p.add(1, f"return bool_to_yesno(len({found}) > 0)")
    return True
