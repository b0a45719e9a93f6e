"""The ``choice`` family: a choice between options the question names.

"Is the car red or blue?", "Is the man sitting or standing?", "What color is the fence, tan or
black?": ``best_text_match`` over the options on the object's patch. "Is the bowl to the right or to
the left of the man?": the boxes decide. "Is this place the forest or the garden?": the whole image
chooses (relabelled ``scene``).
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import ATTRIBUTE_KINDS_RE, DETERMINERS, IMAGE_SUBJECT, LINKING_VERBS, WORD
from dicec.codegen.offline.literals import list_literal, literal
from dicec.codegen.offline.phrases import NounPhrase, parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


def one_of_options(q: Question, p: ProgramWriter) -> bool:
    """Choosing between given options: "Is the car red or blue?", "Is the man sitting or standing?",
    "What color is the fence, tan or black?" (``best_text_match`` on the object's patch), "Is the
    bowl to the right or to the left of the man?" (geometry), "Is this place the forest or the
    garden?", "Was this picture taken in a bathroom or at a dining room?" (the whole image)."""
    s = q.s
    m = re.fullmatch(r"(?:is|are) (?P<a>.+?) (?:to the |on the )?(?P<o1>left|right|above|below|in front|behind) or "
                     r"(?:to the |on the )?(?P<o2>left|right|above|below|in front|behind)(?: of)? (?P<b>.+)", s)
    if m:
        pair = {m.group("o1"), m.group("o2")}
        a, b = parse_noun_phrase(m.group("a")), parse_noun_phrase(m.group("b"))
        if a is None or b is None or pair not in ({"left", "right"}, {"above", "below"}, {"in front", "behind"}):
            return False
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        first, second = {"left": ("left", "right"), "right": ("left", "right"), "above": ("below", "above"),
                         "below": ("below", "above"), "in front": ("in front", "behind"),
                         "behind": ("in front", "behind")}[m.group("o1")]
        relation = {"left": "left", "below": "below", "in front": "front"}[first]
        p.add(1, f"if {p.relation(relation, pa, pb)}:")
        p.add(2, f"return {literal(first)}")
        p.add(1, f"return {literal(second)}")
        return True
    m = re.fullmatch(rf"(?:is|was) {IMAGE_SUBJECT}(?: taken| located| shot)? (?:in |at |on )?(?P<a>[\w' -]+?),? or (?P<b>[\w' -]+)", s)
    if m:
        opts = _options(m.group("a"), m.group("b"))
        if opts is None:
            return False
        p.add(1, f"return {p.choose('image_patch', opts, q.text)}")
        p.family = "scene"
        return True
    m = re.fullmatch(rf"(?:what|which) (?P<kind>{ATTRIBUTE_KINDS_RE}) (?:is|are|does|do) (?P<np>.+?)(?: made of| made from| have)?, (?P<a>[\w' -]+?) or (?P<b>[\w' -]+)", s)
    if m:
        np = parse_noun_phrase(m.group("np"))
        opts = _options(m.group("a"), m.group("b"))
        if np is None or opts is None:
            return False
        return _choose_on(q, p, np, opts)
    m = re.fullmatch(r"(?P<pre>.+?), (?P<a>[\w' -]+?),? or (?P<b>[\w' -]+)", s)
    if m:
        opts = _options(m.group("a"), m.group("b"))
        if opts is None:
            return False
        sub = re.fullmatch(r"(?:what|which|who)(?: [\w-]+)?(?: of [\w-]+)? (?:is|are|does|do) (?P<np>.+?)(?: \w+ing| \w+)?", m.group("pre"))
        np = None
        if sub:
            np = parse_noun_phrase(sub.group("np"))
            if np is None:
                words = sub.group("np").split()
                np = parse_noun_phrase(" ".join(words[:-1])) if len(words) > 1 else None
        if np is None:
            p.add(1, f"return {p.choose('image_patch', opts, q.text)}")
            return True
        return _choose_on(q, p, np, opts)
    m = re.fullmatch(r"(?:is|are|does|do) (?P<body>.+) or (?:maybe |perhaps |rather )?(?P<b>[\w' -]+)", s)
    if m:
        b_words = m.group("b").split()
        words = m.group("body").split()
        for k in dict.fromkeys((len(b_words), 1, 2, 3)):
            if k >= len(words):
                continue
            head_words = words[:-k]
            if head_words and head_words[-1] in LINKING_VERBS:
                head_words = head_words[:-1]
            if head_words[:1] == ["there"] or head_words[:1] == ["it"]:
                return False
            np = parse_noun_phrase(" ".join(head_words))
            opts = _options(" ".join(words[-k:]), m.group("b"))
            if np is not None and opts is not None:
                return _choose_on(q, p, np, opts)
    return False


def _choose_on(q: Question, p: ProgramWriter, np: NounPhrase, opts: tuple[str, str]) -> bool:
    """Choose between ``opts`` on the object's patch (on the whole image if it is missing)."""
    if p.has("best_text_match"):
        p.default_code = f"image_patch.best_text_match({list_literal(opts)})"
    p.locate(np)
    (patch,) = p.firsts(np)
    p.add(1, f"return {p.choose(patch, opts, q.text)}")
    return True


def _options(a: str, b: str, limit: int = 3) -> tuple[str, str] | None:
    """The two options of an "A or B" question, determiners and hedges dropped."""
    out = []
    for text in (a, b):
        words = text.strip(" ,").split()
        while words and (words[0] in DETERMINERS or words[0] in ("maybe", "perhaps", "rather", "either", "to", "on", "in", "at")):
            words.pop(0)
        if not 1 <= len(words) <= limit or any(not WORD.fullmatch(w) or w in ("or", "and", "is", "are") for w in words):
            return None
        out.append(" ".join(words))
    if out[0] == out[1]:
        return None
    return out[0], out[1]
