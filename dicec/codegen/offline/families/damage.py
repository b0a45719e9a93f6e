"""The ``damage`` family: defects on the parts of a vehicle or a building (insurance, inspection).

"Which parts of the car are damaged?" (or "... scratched or dented?", any of several defects) loops over a known list of part names and verifies every
detection of each (a fan-out per part); "Is the front bumper dented?", "Does the hood have a dent?"
check every detection of the part; "How many dents are on the door?" counts the defects found on
it. The part lists and the defect words (with their canonical property: "dent" -> "dented") are
here.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import singular
from dicec.codegen.offline.literals import comment_words, list_literal, literal, slug
from dicec.codegen.offline.phrases import parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question

_DAMAGE = {
    "damaged": "damaged", "damage": "damaged", "dented": "dented", "dent": "dented", "dents": "dented",
    "cracked": "cracked", "crack": "cracked", "cracks": "cracked", "scratched": "scratched",
    "scratch": "scratched", "scratches": "scratched", "broken": "broken", "shattered": "shattered",
    "smashed": "smashed", "bent": "bent", "crushed": "crushed", "rusted": "rusted", "rusty": "rusted",
    "rust": "rusted", "corroded": "corroded", "torn": "torn", "ripped": "torn", "chipped": "chipped",
    "deformed": "deformed", "burnt": "burnt", "burned": "burnt", "defective": "defective",
    "defect": "defective", "defects": "defective", "punctured": "punctured", "flat": "flat",
    "leaking": "leaking",
}
_ONE_DMG = "|".join(sorted(_DAMAGE, key=lambda w: (-len(w), w)))
#: One defect word, or a list of them ("scratched or dented", "cracked, chipped or broken").
_DMG = rf"(?:{_ONE_DMG})(?:(?:,| or| and|, or|, and| and/or) (?:{_ONE_DMG}))*"
_PARTS = {
    "vehicle": ("front bumper", "rear bumper", "hood", "door", "fender", "windshield", "headlight",
                "taillight", "side mirror", "wheel", "roof", "trunk"),
    "building": ("roof", "wall", "window", "door", "gutter", "chimney", "siding", "fence"),
}
_WHOLES = {"car": "vehicle", "vehicle": "vehicle", "truck": "vehicle", "van": "vehicle", "suv": "vehicle",
           "automobile": "vehicle", "bus": "vehicle", "pickup": "vehicle", "motorcycle": "vehicle",
           "house": "building", "building": "building", "home": "building", "property": "building"}
_DAMAGE_PARTS = [
    re.compile(rf"(?:which|what) (?:parts?|panels?|components?|areas?|sections?|pieces?)(?: of (?P<whole>.+?))? "
               rf"(?:is|are|was|were|look|looks|appear|appears|seem|seems|got|have been|has been) (?:\w+ly )?(?P<dmg>{_DMG})$"),
    re.compile(rf"(?:what|which) (?:is|are) (?:\w+ly )?(?P<dmg>{_DMG})(?: on (?P<whole>.+))?$"),
    re.compile(rf"where (?:is|are) (?P<whole>.+?) (?:\w+ly )?(?P<dmg>{_DMG})$"),
    re.compile(r"what (?P<dmg>damage|defects?) (?:is|are|does|do) (?:there|visible|(?P<whole>.+?) have)(?: on (?P<whole2>.+))?$"),
    re.compile(rf"(?:list|name|show|(?:where|what|which) (?:is|are)|what|which) (?:the |all )?(?P<dmg>{_DMG}) "
               rf"(?:parts|panels|components)(?: of (?P<whole>.+?))?(?: (?:are|is) there| (?:can|do) you see)?$"),
]
_DAMAGE_YESNO = [
    re.compile(rf"(?:is|are) (?P<np>.+?) (?:\w+ly )?(?P<dmg>{_DMG})$"),
    re.compile(rf"(?:does|do) (?P<np>.+?) (?:have|has|show|shows) (?:a |an |any |some )?(?:\w+ )?(?P<dmg>{_DMG})$"),
    re.compile(rf"(?:is|are) there (?:a |an |any |some )?(?:\w+ )?(?P<dmg>{_DMG}) (?:on|in|to|at) (?P<np>.+)$"),
]


def _defects(text: str) -> tuple[str, ...]:
    """The canonical defects of a list of defect words ("scratched or dented" -> scratched, dented)."""
    return tuple(dict.fromkeys(_DAMAGE[w] for w in re.findall(rf"\b(?:{_ONE_DMG})\b", text)))


def _any_defect(p: ProgramWriter, patch: str, noun: str, defects: tuple[str, ...], *, noun_var: bool = False) -> str:
    """The condition "``patch`` shows one of ``defects``" (one ``verify_property`` per defect, joined by ``or``)."""
    checks = [p.verify(patch, noun, d, noun_var=noun_var) for d in defects]
    return checks[0] if len(checks) == 1 else "(" + " or ".join(checks) + ")"
_DAMAGE_ANY = re.compile(r"(?:is|are) there (?:any )?(?P<dmg>damage|defects?)$")
_DAMAGE_COUNT = re.compile(r"how many (?P<noun>dents|scratches|cracks|chips|holes) (?:are )?(?:there )?(?:on|in) (?P<np>.+)$")


def damage_check(q: Question, p: ProgramWriter) -> bool:
    """Defect and damage checks (insurance, inspection): "Which parts of the car are damaged?", "Is the
    front bumper dented?", "Is the windshield cracked?", "Does the hood have a dent?", "How many dents
    are on the door?". A part list becomes a loop over literal part names whose inner loop verifies
    each detection (a fan-out per part)."""
    for pattern in _DAMAGE_PARTS:
        m = pattern.fullmatch(q.s)
        if m:
            whole_text = m.groupdict().get("whole") or m.groupdict().get("whole2")
            return _damage_parts(q, p, _defects(m.group("dmg")), whole_text)
    m = _DAMAGE_COUNT.fullmatch(q.s)
    if m:
        np = parse_noun_phrase(m.group("np"))
        if np is None:
            return False
        p.default = "0"
        (parts,) = p.locate(np)
        item = p.name(f"{slug(np.head)}_patch")
        defect = singular(m.group("noun"))
        p.need("find")
        p.add(1, f"# Count the {slug(defect)}s on every {comment_words(np.head)} found")
        p.add(1, f"return str(sum(len({item}.find({literal(defect)})) for {item} in {parts}))")
        return True
    m = _DAMAGE_ANY.fullmatch(q.s)
    if m:
        return _damage_parts(q, p, _defects(m.group("dmg")), None, yesno=True)
    for pattern in _DAMAGE_YESNO:
        m = pattern.fullmatch(q.s)
        if not m:
            continue
        defects = _defects(m.group("dmg"))
        np = parse_noun_phrase(m.group("np"))
        if np is None:
            continue
        p.default = "no"
        (parts,) = p.locate(np)
        p.ask_whole_if_empty(parts)
        item = p.name(f"{slug(np.head)}_patch")
        p.add(1, f"# Check every {comment_words(np.head)} found")
        p.add(1, f"for {item} in {parts}:")
        p.add(2, f"if {_any_defect(p, item, np.head, defects)}:")
        p.add(3, 'return "yes"')
        p.add(1, 'return "no"')
        return True
    return False


def _damage_parts(q: Question, p: ProgramWriter, defects: tuple[str, ...], whole_text: str | None, *,
                  yesno: bool = False) -> bool:
    """Check every known part of the whole (a vehicle unless named) for any of ``defects``; list them, or say yes/no."""
    whole = parse_noun_phrase(whole_text) if whole_text else None
    if whole_text and whole is None:
        return False
    kind = _WHOLES.get(whole.head, None) if whole is not None else "vehicle"
    if kind is None:
        # An object without a known part list: ask about it directly.
        assert whole is not None
        p.locate(whole)
        (patch,) = p.firsts(whole)
        p.add(1, f"return {p.query(patch, q.text)}")
        return True
    p.default = "no" if yesno else "none"
    p.need("find")
    found = p.name("damaged_parts")
    part = p.name("part_name")
    item = p.name("part_patch")
    p.add(1, f"{found} = []")
    p.add(1, "# Look for each part, then check every detection of it for damage")
    p.add(1, f"for {part} in {list_literal(_PARTS[kind])}:")
    p.add(2, f"for {item} in image_patch.find({part}):")
    p.add(3, f"if {_any_defect(p, item, part, defects, noun_var=True)} and {part} not in {found}:")
    p.add(4, f"{found}.append({part})")
    if yesno:
        p.add(1, f"return bool_to_yesno(len({found}) > 0)")
    else:
        p.return_joined(found)
    return True
