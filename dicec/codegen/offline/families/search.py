"""The ``search`` family: searching a scene for a category of object under several names.

"Is there plastic litter in this frame?", "Do you see any fishing gear?", "What kinds of debris are
there?" (marine surveys, litter picking): :data:`SEARCH_CATEGORIES` maps a category to the
phrasings a detector is prompted with; each is its own ``exists`` (independent, so parallel), and
any one is enough.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import SCENE_SUBJECT
from dicec.codegen.offline.literals import comment_words, list_literal
from dicec.codegen.offline.phrases import parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question

_LITTER = ("trash", "plastic bottle", "plastic bag", "can", "wrapper", "debris")
_PLASTIC = ("plastic bottle", "plastic bag", "plastic wrapper", "plastic cup", "plastic debris")
_FISHING_GEAR = ("fishing net", "fishing line", "rope", "buoy")
_MARINE_LIFE = ("fish", "turtle", "seal", "dolphin", "whale", "seabird", "jellyfish")
_OIL = ("oil slick", "oil spill", "oil sheen")
_VESSELS = ("boat", "ship", "kayak", "jet ski")
#: A category to search for -> the phrasings searched (the question's own phrase is searched too).
SEARCH_CATEGORIES = {
    "plastic": _PLASTIC, "plastic litter": _PLASTIC, "plastic waste": _PLASTIC, "plastic debris": _PLASTIC,
    "plastic pollution": _PLASTIC, "plastic trash": _PLASTIC, "plastic garbage": _PLASTIC,
    "litter": _LITTER, "trash": _LITTER, "garbage": _LITTER, "rubbish": _LITTER, "debris": _LITTER,
    "marine debris": _LITTER, "waste": _LITTER, "pollution": _LITTER + _OIL, "floating debris": _LITTER,
    "fishing gear": _FISHING_GEAR, "ghost net": _FISHING_GEAR, "fishing net": _FISHING_GEAR,
    "marine life": _MARINE_LIFE, "sea life": _MARINE_LIFE, "wildlife": _MARINE_LIFE,
    "marine animal": _MARINE_LIFE, "sea creature": _MARINE_LIFE, "sea animal": _MARINE_LIFE,
    "oil": _OIL, "oil spill": _OIL, "oil slick": _OIL, "vessel": _VESSELS, "watercraft": _VESSELS,
}
_SEARCH_YESNO = re.compile(
    rf"(?:(?:is|are) there|(?:do|can) you (?:see|spot|find|detect|notice)|(?:does|do) (?:{SCENE_SUBJECT[3:-1]}|the water) "
    r"(?:contain|show|have|include)) (?P<np>.+)$")
_SEARCH_LIST = re.compile(r"(?:what|which) (?:kinds?|types?|sorts?) of (?P<np>.+?) (?:is|are|can you see|do you see)(?: there| visible| present)?$")


def _category(text: str) -> tuple[str, tuple[str, ...]] | None:
    np = parse_noun_phrase(text)
    if np is None or np.filters:
        return None
    if np.text in SEARCH_CATEGORIES:
        return np.text, SEARCH_CATEGORIES[np.text]
    return None


def category_search(q: Question, p: ProgramWriter) -> bool:
    """Searching a scene for a kind of object (marine survey, litter picking): "Is there plastic
    litter in this frame?", "Do you see any fishing gear?", "What kinds of debris are there?". Each
    phrasing of the category is its own ``exists`` (independent, so parallel); any one is enough."""
    m = _SEARCH_YESNO.fullmatch(q.s) or _SEARCH_LIST.fullmatch(q.s)
    if not m:
        return False
    found = _category(m.group("np"))
    if found is None:
        return False
    phrase, names = found
    names = tuple(dict.fromkeys((phrase, *names)))
    p.default = "no"
    hits = p.name("found")
    name = p.name("object_name")
    p.add(1, f"# Search for several phrasings of {comment_words(phrase)}")
    p.add(1, f"{hits} = []")
    p.add(1, f"for {name} in {list_literal(names)}:")
    if m.re is _SEARCH_YESNO:
        p.add(2, f"{hits}.append({p.exists('image_patch', name, name_var=True)})")
        p.add(1, f"return bool_to_yesno(any({hits}))")
    else:
        p.add(2, f"if {p.exists('image_patch', name, name_var=True)}:")
        p.add(3, f"{hits}.append({name})")
        p.return_joined(hits)
    return True
