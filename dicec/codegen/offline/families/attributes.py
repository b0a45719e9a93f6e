"""The ``attribute`` family: what an object's attribute is, and whether it has a property.

"What colour is the car?", "What is the sink made of?", "How big is the carrot?": find the object,
then ask its patch (``simple_query``, or ``best_text_match`` over the known colours, materials ...
when ``simple_query`` is missing). "Is the table wooden?", "Does the man wear a cap?": find the
object, then ``verify_property`` on its patch, or on every detection for a plural "the ...s".
:func:`describe`, asking a patch for one kind of attribute, is also how ``comparisons`` compares
two objects' colours or materials.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import (ATTRIBUTE_KINDS_RE, BELONGING_NOUNS, KIND_WORDS, LINKING_VERB_RE, OWNER_NOUNS,
                                           RELATION_FIRST_WORDS, THIRD_PERSON, singular)
from dicec.codegen.offline.literals import comment_words, slug
from dicec.codegen.offline.phrases import NounPhrase, parse_noun_phrase, parse_property
from dicec.codegen.offline.program import OperatorUnavailable, ProgramWriter
from dicec.codegen.offline.question import Question

#: The question :func:`describe` asks a patch, per kind of attribute.
_KIND_QUESTIONS = {
    "color": "What color {be} the {np}?", "material": "What material {be} the {np} made of?",
    "shape": "What shape {be} the {np}?", "size": "How big {be} the {np}?",
    "pattern": "What pattern {be} the {np}?",
}


def describe(p: ProgramWriter, patch: str, np: NounPhrase, kind: str) -> str:
    """An expression asking ``patch`` for its ``kind`` (colour, material ...)."""
    template = _KIND_QUESTIONS.get(kind, "What kind of {np} {be} this?")
    question = template.format(be=np.be, np=np.text)
    if p.has("simple_query"):
        return p.query(patch, question)
    if kind in KIND_WORDS:
        return p.choose(patch, KIND_WORDS[kind], question)
    raise OperatorUnavailable("simple_query")


#: "What <kind> is the <object>?" and its other phrasings; ``np``: the object, ``kind``: what is asked.
_ATTRIBUTE_WH = [
    r"(?:what|which) (?P<kind>color|material|shape|size|pattern) (?:is|are|does|do) (?P<np>.+?)(?: made of| made from| made out of| have)?",
    r"what (?:is|are) the (?P<kind>color|material|shape|size|pattern)s? of (?P<np>.+)",
    r"(?P<np>.+?) (?:is|are) (?:of )?(?:what|which) (?P<kind>color|material|shape|size|pattern)",
    r"what (?:type|kind|sort) of (?P<kind>material) (?:is|are) (?P<np>.+?) made (?:of|from|out of)",
    r"what (?:is|are) (?P<np>.+?) made (?:of|from|out of)",
    r"how (?:big|large|small|tall) (?:is|are) (?P<np>.+)",
    r"what size (?:is|are) (?P<np>.+)",
]


def what_attribute(q: Question, p: ProgramWriter) -> bool:
    """An object's attribute: "What colour is the car?", "What is the sink made of?", "The pot is of
    which color?", "How big is the carrot?" -> find the object, then ``simple_query`` on its patch
    (or ``best_text_match`` over known colours/materials when ``simple_query`` is absent)."""
    for pattern in _ATTRIBUTE_WH:
        m = re.fullmatch(pattern, q.s)
        if not m:
            continue
        np = parse_noun_phrase(m.group("np"))
        if np is None:
            return False
        kind = m.groupdict().get("kind") or ("material" if "made" in pattern else "size")
        p.locate(np)
        (patch,) = p.firsts(np)
        p.add(1, f"return {describe(p, patch, np, kind)}")
        return True
    return False


def has_property(q: Question, p: ProgramWriter) -> bool:
    """Yes/no properties of an object: "Is the table wooden?", "Does the giraffe look adult?", "Are the
    mountains covered with snow?", "Does the man wear a cap?", "Does the pizza slice have large size?"
    -> ``verify_property`` on the object's patch (on every one, for a plural "the ...s")."""
    s = q.s
    candidates: list[tuple[str, str, bool]] = []
    m = re.fullmatch(rf"(?:does|do) (?P<np>.+?) (?:{LINKING_VERB_RE})(?: to be)? (?P<neg>not )?(?P<prop>.+)", s)
    if m:
        candidates.append((m.group("np"), m.group("prop"), bool(m.group("neg"))))
    m = re.fullmatch(rf"(?:does|do) (?P<np>.+?) have (?:a |an )?(?P<prop>[\w'-]+(?: [\w'-]+)?) (?:{ATTRIBUTE_KINDS_RE})", s)
    if m:
        candidates.append((m.group("np"), m.group("prop"), False))
    m = re.fullmatch(r"(?:does|do) (?P<np>.+?) (?P<verb>wear|have|hold|carry|ride|use|eat|drink|contain) (?P<obj>.+)", s)
    if m:
        verb = {"contain": "containing"}.get(m.group("verb"), THIRD_PERSON.get(m.group("verb")))
        candidates.append((m.group("np"), f"{verb} {m.group('obj')}", False))
    m = re.fullmatch(r"(?:is|are) (?P<body>.+)", s)
    if m:
        words = m.group("body").split()
        for i in range(1, len(words)):
            rest = words[i:]
            neg = rest[0] == "not"
            if neg:
                rest = rest[1:]
            if not rest or rest[0] in RELATION_FIRST_WORDS:
                continue  # a relation, which is_related handles
            if singular(words[i - 1]) in OWNER_NOUNS and singular(rest[0]) in BELONGING_NOUNS:
                continue  # "is the boy shorts blue": "the boy shorts" is one noun phrase
            candidates.append((" ".join(words[:i]), " ".join(rest), neg))
    for np_text, prop_text, negated in candidates:
        np = parse_noun_phrase(np_text)
        prop = parse_property(prop_text)
        if np is None or prop is None or not np.definite:
            continue
        p.default = "no"
        (found,) = p.locate(np)
        if np.plural:
            p.ask_whole_if_empty(found)
            item = p.name(f"{slug(np.head)}_patch")
            p.add(1, f"# Every {comment_words(np.head)} must have the property")
            p.add(1, f"for {item} in {found}:")
            p.add(2, f"if {p.verify(item, np.head, prop, negated=not negated)}:")
            p.add(3, 'return "no"')
            p.add(1, 'return "yes"')
        else:
            (patch,) = p.firsts(np)
            p.add(1, f"return bool_to_yesno({p.verify(patch, np.head, prop, negated=negated)})")
        return True
    return False
