"""The ``logic`` family: and/or of conditions.

"Is there a cat or a dog?", "Are there both forks and knives?": one independent check per object,
joined with ``or``/``and``. "Is the field green and small?", "Are the glove and the undershirt both
black?": two properties of one object, or one property of two.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import ATTRIBUTE_KINDS_RE, DETERMINERS, EXIST_PREFIX, LINKING_VERB_RE
from dicec.codegen.offline.literals import slug
from dicec.codegen.offline.phrases import NounPhrase, parse_noun_phrase, parse_property
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


def and_or(q: Question, p: ProgramWriter) -> bool:
    """And/or of conditions: "Is there a cat or a dog?", "Are there both forks and knives?", "Is there a
    cat, a dog or a bird?", "Are there any bottles or mugs that are not purple?" (one independent check
    per object), "Is the field green
    and small?", "Does the water have small size and white color?", "Are the glove and the
    undershirt both black?" (two properties of one object, or one of two)."""
    s = q.s
    m = re.fullmatch(rf"{EXIST_PREFIX} (?P<body>.+)", s)
    if m:
        listed = _object_list(m.group("body"))
        if listed is None:
            return False
        nps, op = listed
        p.default = "no"
        checks = _existence_checks(p, nps)
        p.add(1, f"return bool_to_yesno({f' {op} '.join(checks)})")
        return True
    m = re.fullmatch(r"(?:are|is) (?:both )?(?P<body>.+)", s)
    if m:
        for left, right in _splits(m.group("body"), " and "):
            a = parse_noun_phrase(left)
            if a is None or a.relation is not None:
                continue
            for b_text, prop_text in _tails(right):
                b_text = re.sub(r" (?:both|all)$", "", b_text)
                b, prop = parse_noun_phrase(b_text), parse_property(prop_text)
                if b is None or prop is None or b.relation is not None or a.head == b.head:
                    continue
                p.default = "no"
                p.locate(a, b)
                pa, pb = p.firsts(a, b)
                va, vb = p.name(f"is_{slug(a.head)}_{slug(prop)}"), p.name(f"is_{slug(b.head)}_{slug(prop)}")
                p.add(1, f"{va} = {p.verify(pa, a.head, prop)}")
                p.add(1, f"{vb} = {p.verify(pb, b.head, prop)}")
                p.add(1, f"return bool_to_yesno({va} and {vb})")
                return True
    patterns = [
        r"(?:is|are) (?P<body>.+?) (?P<op>and) (?P<p2>[\w' -]+)",
        rf"(?:does|do) (?P<body>.+?) (?:{LINKING_VERB_RE})(?: to be)? (?P<p1>.+?) (?P<op>and) (?P<p2>[\w' -]+)",
        rf"(?:does|do) (?P<body>.+?) have (?:a |an )?(?P<p1>[\w'-]+) (?:{ATTRIBUTE_KINDS_RE}) (?P<op>and) (?:a |an )?(?P<p2>[\w'-]+) (?:{ATTRIBUTE_KINDS_RE})",
    ]
    for pattern in patterns:
        m = re.fullmatch(pattern, s)
        if not m:
            continue
        if "p1" in m.groupdict():
            splits = [(m.group("body"), m.group("p1"))]
        else:
            splits = list(_tails(m.group("body")))
        for np_text, p1_text in splits:
            np = parse_noun_phrase(re.sub(r" (?:both|either)$", "", np_text))
            p1, p2 = parse_property(re.sub(r"^(?:both|either) ", "", p1_text)), parse_property(m.group("p2"))
            if np is None or p1 is None or p2 is None or not np.definite:
                continue
            p.default = "no"
            p.locate(np)
            (patch,) = p.firsts(np)
            names = []
            for prop in (p1, p2):
                var = p.name(f"is_{slug(prop)}")
                names.append(var)
                p.add(1, f"{var} = {p.verify(patch, np.head, prop)}")
            p.add(1, f"return bool_to_yesno({names[0]} {m.group('op')} {names[1]})")
            return True
    return False


#: Where a list of objects splits: ", ", ", and ", ", or ", " and ", " or ".
_LIST_SEPARATOR = re.compile(r",? (and|or) |, ")


def _object_list(body: str) -> tuple[list[NounPhrase], str] | None:
    """The objects of "a cat, a dog or a bird" and the operator joining them (``or``/``and``), or ``None``.

    A relative clause after the last object ("bottles or mugs that are not purple") applies to every
    object; with ``or``, attribute adjectives before the first object apply to the objects written
    without a determiner ("a black cat or bird").
    """
    body = re.sub(r"^(?:any|either|both) ", "", body)
    ops = {m.group(1) for m in _LIST_SEPARATOR.finditer(body) if m.group(1)}
    if len(ops) != 1:
        return None
    (op,) = ops
    texts = [re.sub(r"^(?:any|also|either|both) ", "", t) for t in _LIST_SEPARATOR.split(body) if t and t not in ("and", "or")]
    suffix = ""
    tail = re.search(r" (?:that|which|who) .+$", texts[-1])
    if tail:
        texts[-1], suffix = texts[-1][:tail.start()], tail.group()
    nps = [parse_noun_phrase(t + suffix) for t in texts]
    if len(nps) < 2 or any(np is None for np in nps) or len({np.head for np in nps}) < len(nps):
        return None
    first = nps[0]
    if op == "or" and first.attrs:
        nps = [first] + [NounPhrase(head=np.head, attrs=first.attrs, filters=np.filters, plural=np.plural,
                                    definite=np.definite) if t.split()[0] not in DETERMINERS and not np.attrs else np
                         for np, t in zip(nps[1:], texts[1:])]
    return nps, op


def _splits(text: str, sep: str):
    """Every (left, right) split of ``text`` at an occurrence of ``sep``, leftmost first."""
    start = text.find(sep)
    while start > 0:
        yield text[:start], text[start + len(sep):]
        start = text.find(sep, start + 1)


def _tails(text: str, most: int = 3):
    """(rest, last k words) for k = 1..most: where a short property phrase may end a question."""
    words = text.split()
    for k in range(1, min(most, len(words) - 1) + 1):
        yield " ".join(words[:-k]), " ".join(words[-k:])


def _existence_checks(p: ProgramWriter, nps: list[NounPhrase]) -> list[str]:
    """One boolean variable per noun phrase: is it in the image (after its filters)?"""
    plain = [np for np in nps if not np.attrs and not np.filters]
    narrowed = [np for np in nps if np.attrs or np.filters]
    names: dict[NounPhrase, str] = {}
    for np in plain:
        var = p.name(f"is_{slug(np.head)}")
        p.add(1, f"{var} = {p.exists('image_patch', np.head)}")
        names[np] = var
    if narrowed:
        lists = p.locate(*narrowed)
        for np, var in zip(narrowed, lists):
            flag = p.name(f"is_{slug(np.text)}")
            p.add(1, f"{flag} = len({var}) > 0")
            names[np] = flag
    return [names[np] for np in nps]
