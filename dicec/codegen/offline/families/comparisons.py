"""The ``compare`` family: two objects compared by size, position, depth, count or attribute.

"Is the car bigger than the truck?" (box sizes and positions, depth from ``compute_depth``), "Are
there more forks than knives?" (counts), "Are the shirt and the pants the same colour?" (each asked
with :func:`~dicec.codegen.offline.families.attributes.describe`). The two objects are independent
``find`` calls, so parallel tasks. :data:`COMPARATIVES` is shared with ``which`` ("Which animal is
larger, the dog or the cat?").
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import ATTRIBUTE_KINDS_RE
from dicec.codegen.offline.families.attributes import describe
from dicec.codegen.offline.literals import slug
from dicec.codegen.offline.phrases import NounPhrase, parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question

#: A comparative -> what is measured (see ``ProgramWriter.measure``) and how the two measures compare.
COMPARATIVES = {
    "bigger": ("area", ">"), "larger": ("area", ">"), "smaller": ("area", "<"),
    "taller": ("height", ">"), "shorter": ("height", "<"), "wider": ("width", ">"),
    "narrower": ("width", "<"), "longer": ("length", ">"),
    "higher": ("vertical_center", ">"), "lower": ("vertical_center", "<"),
    "closer": ("depth", "<"), "nearer": ("depth", "<"), "farther": ("depth", ">"), "further": ("depth", ">"),
}
COMPARATIVE_RE = "|".join(COMPARATIVES)


def compare_two(q: Question, p: ProgramWriter) -> bool:
    """Comparing two objects: "Is the car bigger than the truck?" (box sizes, positions or depth), "Are
    the shirt and the pants the same colour?", "Is the material of the window the same as the
    table?", "Are there more forks than knives?", "What type of bird is the same color as the
    motorcycle?". The two objects are independent finds."""
    s = q.s
    m = re.fullmatch(rf"(?:is|are) (?P<a>.+?) (?P<cmp>{COMPARATIVE_RE}) than (?P<b>.+)", s)
    if m:
        a, b = parse_noun_phrase(m.group("a")), parse_noun_phrase(m.group("b"))
        if a is None or b is None:
            return False
        what, op = COMPARATIVES[m.group("cmp")]
        p.default = "no"
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        p.add(1, f"return bool_to_yesno({p.measure(pa, what)} {op} {p.measure(pb, what)})")
        return True
    m = re.fullmatch(r"are there (?P<cmp>more|fewer|less) (?P<a>.+?) than (?P<b>.+)", s) or \
        re.fullmatch(r"are there (?P<cmp>as many|the same number of) (?P<a>.+?) (?:as|and) (?P<b>.+)", s)
    if m:
        a, b = parse_noun_phrase(m.group("a")), parse_noun_phrase(m.group("b"))
        if a is None or b is None:
            return False
        op = {"more": ">", "fewer": "<", "less": "<"}.get(m.group("cmp"), "==")
        la, lb = p.locate(a, b)
        p.add(1, f"return bool_to_yesno(len({la}) {op} len({lb}))")
        return True
    same = [
        rf"(?:are|do|does) (?:both )?(?P<a>.+?) and (?P<b>.+?) (?:both )?(?:have )?(?:the )?(?P<diff>same|different) (?P<kind>{ATTRIBUTE_KINDS_RE})s?",
        r"(?:are|do|does) (?:both )?(?P<a>.+?) and (?P<b>.+?) (?:both )?made (?:of|from) (?:the )?(?P<diff>same|different) (?P<kind>material)s?",
        rf"(?:is|are|does|do) (?P<a>.+?) (?:have )?(?:the )?(?P<diff>same|different) (?P<kind>{ATTRIBUTE_KINDS_RE}) (?:as|than|from) (?P<b>.+)",
        rf"(?:is|are) the (?P<kind>{ATTRIBUTE_KINDS_RE}) of (?P<a>.+?) (?:the )?(?P<diff>same|different) (?:as|than|from) (?:that of )?(?P<b>.+)",
    ]
    m = re.fullmatch(rf"(?:what|which) (?:(?:kind|type|sort)s? of )?(?P<cat>[\w'-]+(?: [\w'-]+)?) (?:is|are) (?:of )?(?:the )?same "
                     rf"(?P<kind>{ATTRIBUTE_KINDS_RE}) (?:as|that) (?P<b>.+)", s)
    if m:
        return _which_same_as(q, p, m.group("cat"), m.group("kind"), m.group("b"))
    for pattern in same:
        m = re.fullmatch(pattern, s)
        if m:
            a, b = parse_noun_phrase(m.group("a")), parse_noun_phrase(m.group("b"))
            if a is None or b is None:
                continue
            kind = {"type": "kind"}.get(m.group("kind"), m.group("kind"))
            p.default = "no"
            p.locate(a, b)
            pa, pb = p.firsts(a, b)
            values = []
            for np, patch in ((a, pa), (b, pb)):
                var = p.name(f"{slug(np.head)}_{kind}")
                values.append(var)
                p.add(1, f"{var} = {describe(p, patch, np, kind)}")
            op = "==" if m.group("diff") == "same" else "!="
            p.add(1, f"return bool_to_yesno({values[0]} {op} {values[1]})")
            return True
    return False


def _which_same_as(q: Question, p: ProgramWriter, cat_text: str, kind: str, other_text: str) -> bool:
    """"What type of bird is the same color as the motorcycle?": the detection whose ``kind`` matches the
    other object's, asked what it is (a fan-out of ``describe`` over the candidates)."""
    cat, other = parse_noun_phrase(cat_text), parse_noun_phrase(other_text)
    if cat is None or other is None or cat.filters or cat.head == other.head:
        return False
    kind = {"type": "kind"}.get(kind, kind)
    cat = NounPhrase(head=cat.head, attrs=cat.attrs, plural=False, definite=False)
    found, _ = p.locate(cat, other)
    (other_patch,) = p.firsts(other)
    value = p.name(f"{slug(other.head)}_{kind}")
    p.add(1, f"{value} = {describe(p, other_patch, other, kind)}")
    item = p.name(f"{slug(cat.head)}_patch")
    p.add(1, f"for {item} in {found}:")
    p.add(2, f"if {describe(p, item, cat, kind)} == {value}:")
    p.add(3, f"return {p.query(item, f'What {cat.head} is this?')}")
    p.ask_whole(1)
    return True
