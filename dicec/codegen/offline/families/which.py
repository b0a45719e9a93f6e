"""The ``which`` family: which object, or who, answers a description.

"Which animal is larger, the dog or the cat?" (two named objects compared), "What animal is white?"
(a fan-out of checks over the detections, then ask the match what it is), "Who is holding the
umbrella?" (the same over every person found), "What animals are there?" (every detection asked
what it is).
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import KIND_WORDS, RELATION_FIRST_WORDS
from dicec.codegen.offline.families.comparisons import COMPARATIVES, COMPARATIVE_RE
from dicec.codegen.offline.literals import literal, slug
from dicec.codegen.offline.phrases import NounPhrase, parse_noun_phrase, parse_property, split_relation
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


def which_of_two(q: Question, p: ProgramWriter) -> bool:
    """Which of two named objects: "Which animal is larger, the dog or the cat?", "Which is closer,
    the car or the bus?", "What piece of furniture is not wooden, the table or the chair?"."""
    m = re.fullmatch(rf"(?:which|what)(?: one| (?:kind|type|sort) of [\w ]+?| [\w ]+?)? (?:is|are|looks?|seems?) (?P<cmp>{COMPARATIVE_RE}),? (?P<a>.+?) or (?P<b>.+)", q.s)
    if m:
        a, b = parse_noun_phrase(m.group("a")), parse_noun_phrase(m.group("b"))
        if a is None or b is None or a.head == b.head:
            return False
        what, op = COMPARATIVES[m.group("cmp")]
        p.default = a.head
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        p.add(1, f"if {p.measure(pa, what)} {op} {p.measure(pb, what)}:")
        p.add(2, f"return {literal(a.head)}")
        p.add(1, f"return {literal(b.head)}")
        return True
    m = re.fullmatch(r"(?:which|what)(?: one| (?:kind|type|sort|piece) of [\w ]+?| [\w ]+?)? (?:is|are|looks?|seems?) (?P<neg>not )?(?P<prop>[\w' -]+?),? (?P<a>the .+?) or (?P<b>(?:the )?.+)", q.s)
    if m:
        a, b = parse_noun_phrase(m.group("a")), parse_noun_phrase(m.group("b"))
        prop = parse_property(m.group("prop"))
        if a is None or b is None or prop is None or a.head == b.head:
            return False
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        negated = bool(m.group("neg"))
        va, vb = p.name(f"is_{slug(a.head)}"), p.name(f"is_{slug(b.head)}")
        p.add(1, f"{va} = {p.verify(pa, a.head, prop, negated=negated)}")
        p.add(1, f"{vb} = {p.verify(pb, b.head, prop, negated=negated)}")
        p.add(1, f"if {va} and not {vb}:")
        p.add(2, f"return {literal(a.head)}")
        p.add(1, f"if {vb} and not {va}:")
        p.add(2, f"return {literal(b.head)}")
        p.default = a.head
        p.ask_whole(1)
        return True
    return False


def who_does(q: Question, p: ProgramWriter) -> bool:
    """Who-questions: "Who is holding the umbrella?", "Who wears a cap?", "Who is surfing?" (a fan-out
    of checks over every person found, then ``simple_query`` on the match), and "Who is on the
    snowboard on the right?" (geometry against the named object)."""
    m = re.fullmatch(r"who (?:is|are|was|were) (?P<vp>.+)", q.s) or re.fullmatch(r"who (?P<vp>\w+s .+)", q.s)
    if not m:
        return False
    rel = split_relation(m.group("vp"), 0)
    prop = None if rel else parse_property(m.group("vp"))  # "wears a cap" becomes "wearing a cap"
    if rel is None and prop is None:
        return False
    person = NounPhrase(head="person", plural=False, definite=False)
    if rel is not None:
        name, ref = rel
        people, _ = p.locate(person, ref)
        (ref_patch,) = p.firsts(ref)
        item = p.name("person_patch")
        p.add(1, f"for {item} in {people}:")
        p.add(2, f"if {p.relation(name, item, ref_patch)}:")
    else:
        (people,) = p.locate(person)
        item = p.name("person_patch")
        p.add(1, f"for {item} in {people}:")
        p.add(2, f"if {p.verify(item, 'person', prop)}:")
    p.add(3, f"return {p.query(item, 'Who is this?')}")
    p.ask_whole(1)
    return True


def which_has_property(q: Question, p: ProgramWriter) -> bool:
    """Which object has a property: "What animal is white?", "Which kind of clothing is black?", "What
    vehicle isn't black?", "What is the striped animal called?" (a fan-out of checks over the
    detections, then ``simple_query`` on the match)."""
    m = re.fullmatch(r"(?:what|which) (?:(?:kind|type|sort|piece)s? of )?(?P<cat>[\w'-]+(?: [\w'-]+)?) (?:in [\w ]+ )?(?:is|are) (?P<neg>not )?(?P<prop>[\w'-]+(?: [\w'-]+)?)", q.s)
    if m:
        cat = parse_noun_phrase(m.group("cat"))
        prop = parse_property(m.group("prop"))
        if cat is None or prop is None or cat.filters or prop.split()[0] in RELATION_FIRST_WORDS or m.group("cat") in KIND_WORDS:
            return False
        cat = NounPhrase(head=cat.head, attrs=cat.attrs, plural=False, definite=False)
        (found,) = p.locate(cat)
        item = p.name(f"{slug(cat.head)}_patch")
        p.add(1, f"for {item} in {found}:")
        p.add(2, f"if {p.verify(item, cat.head, prop, negated=bool(m.group('neg')))}:")
        p.add(3, f"return {p.query(item, f'What {cat.head} is this?')}")
        p.ask_whole(1)
        return True
    m = re.fullmatch(r"what (?:is|are) (?P<np>.+?) called", q.s)
    if m:
        np = parse_noun_phrase(m.group("np"))
        if np is None:
            return False
        p.locate(np)
        (patch,) = p.firsts(np)
        p.add(1, f"return {p.query(patch, f'What {np.head} is this?')}")
        return True
    return False


def what_kinds_are_there(q: Question, p: ProgramWriter) -> bool:
    """Which things of a kind there are: "What animals are there?", "What kinds of fruit can you see?",
    "List the vehicles." (the normaliser reads it so) -> every detection asked what it is, a fan-out."""
    m = re.fullmatch(r"(?:what|which) (?:(?:kinds?|types?|sorts?) of )?(?P<cat>.+?) (?:(?:is|are) (?:there|visible|present|shown)|"
                     r"(?:can|do) you see)", q.s)
    if not m:
        return False
    cat = parse_noun_phrase(m.group("cat"))
    if cat is None or m.group("cat") in KIND_WORDS:
        return False
    (found,) = p.locate(cat)
    item = p.name(f"{slug(cat.head)}_patch")
    names = p.name(f"{slug(cat.head)}_names")
    p.add(1, f"{names} = [{p.query(item, f'What {cat.head} is this?')} for {item} in {found}]")
    p.ask_whole_if_empty(names)
    p.add(1, f'return ", ".join({names})')
    return True
