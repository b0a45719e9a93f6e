"""The ``choice`` family: a choice between options the question names.

"Is the car red or blue?", "Is the man sitting or standing?", "What color is the fence, tan or
black?": ``best_text_match`` over the options on the object's patch. "Is the bowl to the right or to
the left of the man?": the boxes decide. "Is this place the forest or the garden?": the whole image
chooses (relabelled ``scene``).
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import (ATTRIBUTE_KINDS_RE, DETERMINERS, EXIST_PREFIX, IMAGE_SUBJECT, LINKING_VERBS,
                                           POSTURE_VERBS, RELATION_NAMES, RELATION_RE, WORD)
from dicec.codegen.offline.literals import list_literal, literal
from dicec.codegen.offline.phrases import NounPhrase, parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


#: A posture verb between a noun and its relation ("the cat sitting on the couch"), as a regex alternation.
_POSTURE_RE = "|".join(sorted(POSTURE_VERBS))


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
    if _related_to_which(s, p):
        return True
    m = re.fullmatch(rf"(?:is|was) {IMAGE_SUBJECT}(?: taken| located| shot)? (?:in |at |on )?(?P<a>[\w' -]+?),? or (?P<b>[\w' -]+)", s)
    if m:
        opts = _options(m.group("a"), m.group("b"))
        if opts is None:
            return False
        p.add(1, f"return {p.choose('image_patch', opts, q.text)}")
        p.family = "scene"
        return True
    m = re.fullmatch(rf"(?:what|which) (?P<kind>{ATTRIBUTE_KINDS_RE}) (?:is|are|does|do) (?P<np>.+?)(?: made of| made from| have)?, (?P<opts>{_OPTION_LIST})", s)
    if m:
        np = parse_noun_phrase(m.group("np"))
        opts = _option_list(m.group("opts"))
        if np is None or opts is None:
            return False
        return _choose_on(q, p, np, opts)
    m = re.fullmatch(rf"(?P<pre>(?!(?:is|are|was|were|does|do|did) ).+?), (?P<opts>{_OPTION_LIST})", s)
    if m:
        opts = _option_list(m.group("opts"))
        if opts is None or re.match(EXIST_PREFIX, m.group("pre")):
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
    m = re.fullmatch(r"(?:is|are|does|do) (?P<body>.+?)(?P<more>(?:, [\w' -]+)*),? or (?:maybe |perhaps |rather )?(?P<b>[\w' -]+)", s)
    if m:
        b_words = m.group("b").split()
        words = m.group("body").split()
        more = [t for t in m.group("more").split(", ") if t]
        for k in dict.fromkeys((len(b_words), 1, 2, 3)):
            if k >= len(words):
                continue
            head_words = words[:-k]
            if head_words and head_words[-1] in LINKING_VERBS:
                head_words = head_words[:-1]
            if head_words[:1] == ["there"] or head_words[:1] == ["it"]:
                return False
            np = parse_noun_phrase(" ".join(head_words))
            opts = _options(" ".join(words[-k:]), *more, m.group("b"))
            if np is not None and opts is not None:
                return _choose_on(q, p, np, opts)
    return False


def _related_to_which(s: str, p: ProgramWriter) -> bool:
    """"Is the cat on the couch or on the floor?", "Is the lamp left of the bed or right of the sofa?": one
    object in a relation to one of two others; the boxes (or depth) say which, and its name is the answer."""
    m = re.fullmatch(rf"(?:is|are) (?P<a>.+?) (?:(?:{_POSTURE_RE}) )?(?P<r1>{RELATION_RE}) (?P<b>.+?),? or "
                     rf"(?:(?P<r2>{RELATION_RE}) )?(?P<c>.+)", s)
    if not m:
        return False
    a, b, c = (parse_noun_phrase(m.group(k)) for k in ("a", "b", "c"))
    if a is None or b is None or c is None or not a.definite or len({a.head, b.head, c.head}) < 3:
        return False
    r1 = RELATION_NAMES[m.group("r1")]
    r2 = RELATION_NAMES[m.group("r2")] if m.group("r2") else r1
    p.default = b.head
    p.locate(a, b, c)
    pa, pb, pc = p.firsts(a, b, c)
    p.add(1, f"if {p.relation(r1, pa, pb)}:")
    p.add(2, f"return {literal(b.head)}")
    p.add(1, f"if {p.relation(r2, pa, pc)}:")
    p.add(2, f"return {literal(c.head)}")
    p.ask_whole(1)
    return True


def _choose_on(q: Question, p: ProgramWriter, np: NounPhrase, opts: tuple[str, ...]) -> bool:
    """Choose between ``opts`` on the object's patch (on the whole image if it is missing)."""
    if p.has("best_text_match"):
        p.default_code = f"image_patch.best_text_match({list_literal(opts)})"
    p.locate(np)
    (patch,) = p.firsts(np)
    p.add(1, f"return {p.choose(patch, opts, q.text)}")
    return True


#: A list of options at the end of a question: "tan or black", "red, blue or green", "red, blue, or green".
_OPTION_LIST = r"[\w' -]+(?:, [\w' -]+)*,? or (?:maybe |perhaps |rather )?[\w' -]+"


def _option_list(text: str) -> tuple[str, ...] | None:
    """The options of an :data:`_OPTION_LIST` match, or ``None``."""
    return _options(*[t for t in re.split(r",? or (?:maybe |perhaps |rather )?|, ", text) if t])


def _options(*texts: str, limit: int = 3) -> tuple[str, ...] | None:
    """The options of an "A or B" (or "A, B or C") question, determiners and hedges dropped; ``None``
    unless there are two or more, each of one to ``limit`` plain words, all different."""
    if len(texts) < 2:
        return None
    out = []
    for text in texts:
        words = text.strip(" ,").split()
        while words and (words[0] in DETERMINERS or words[0] in ("maybe", "perhaps", "rather", "either", "to", "on", "in", "at")):
            words.pop(0)
        if not 1 <= len(words) <= limit or any(not WORD.fullmatch(w) or w in ("or", "and", "is", "are") for w in words):
            return None
        out.append(" ".join(words))
    if len(set(out)) < len(out):
        return None
    return tuple(out)
