"""The ``relation`` family: objects in a spatial relation to other objects.

"What is on the table?" (asked of the table's patch, or of the crop beside it for left/right/
above/below), "What device is to the right of the cake?" (the candidates narrowed by geometry, then
asked what they are), "Is the cup to the left of the plate?" (yes/no from the boxes, or from
``compute_depth`` for behind/in front of).
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import KIND_WORDS, POSTURE_VERBS, RELATION_NAMES, RELATION_RE
from dicec.codegen.offline.literals import comment_words, slug
from dicec.codegen.offline.phrases import NounPhrase, parse_noun_phrase, split_relation
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question

#: A posture verb between a noun and its relation ("what is sitting on the bench"), as a regex alternation.
_POSTURE_RE = "|".join(sorted(POSTURE_VERBS))


def what_is_related(q: Question, p: ProgramWriter) -> bool:
    """What is in a relation to an object: "What is on the table?", "What is under the bed?" ->
    ``simple_query`` on the object's patch; "What is to the left of the taxi?" -> on the part of the
    image beside it (a ``crop``)."""
    m = re.fullmatch(rf"what (?:is|are) (?:(?:{_POSTURE_RE}) )?(?P<rel>{RELATION_RE}) (?P<np>.+)", q.s)
    if not m:
        return False
    ref = parse_noun_phrase(m.group("np"))
    if ref is None:
        return False
    rel = RELATION_NAMES[m.group("rel")]
    p.locate(ref)
    (patch,) = p.firsts(ref)
    crops = {
        "left": f"image_patch.left, image_patch.lower, {patch}.left, image_patch.upper",
        "right": f"{patch}.right, image_patch.lower, image_patch.right, image_patch.upper",
        "above": f"{patch}.left, {patch}.upper, {patch}.right, image_patch.upper",
        "below": f"{patch}.left, image_patch.lower, {patch}.right, {patch}.lower",
    }
    if rel in crops:
        region = p.name(f"{rel}_patch")
        p.add(1, f"# Ask about the part of the image {rel} of the {comment_words(ref.head)}")
        p.add(1, f"{region} = image_patch.crop({crops[rel]})")
        p.add(1, f"return {p.query(region, q.text)}")
    else:
        p.add(1, f"return {p.query(patch, q.text)}")
    return True


def which_is_related(q: Question, p: ProgramWriter) -> bool:
    """Which object of a kind is in a relation: "What kind of animal is sitting in the container?",
    "What device is to the right of the cake?", "What vehicles are left of the taxi?", "What is the
    animal in front of the lamp?", and the other way round, "What kind of watercraft is the fruit
    on?" -> the candidates narrowed by geometry against the named object, then asked what they are."""
    s = q.s
    m = re.fullmatch(r"(?:what|which) (?:(?:kind|type|sort|piece)s? of )?(?P<cat>[\w'-]+(?: [\w'-]+)?) (?:is|are) (?P<rest>.+)", s)
    if m:
        cat = parse_noun_phrase(m.group("cat"))
        if cat is None or cat.filters or m.group("cat") in KIND_WORDS:
            return False
        subject = NounPhrase(head=cat.head, attrs=cat.attrs, plural=cat.plural, definite=False)
        rel = split_relation(m.group("rest"), 0)
        if rel is not None:
            return _which_related(q, p, subject, rel[0], rel[1], inverse=False)
        # "What kind of watercraft is the fruit on?": the named object is in the relation to the candidate.
        inv = re.fullmatch(rf"(?P<np>.+?) (?:(?:{_POSTURE_RE}) )?(?P<rel>{RELATION_RE})", m.group("rest"))
        other = parse_noun_phrase(inv.group("np")) if inv else None
        if inv is None or other is None:
            return False
        return _which_related(q, p, subject, RELATION_NAMES[inv.group("rel")], other, inverse=True)
    m = re.fullmatch(r"what (?:is|are) (?P<np>the .+)", s)
    if m:
        np = parse_noun_phrase(m.group("np"))
        if np is None or np.relation is None or len(np.filters) != 1:
            return False
        subject = NounPhrase(head=np.head, attrs=np.attrs, plural=np.plural, definite=False)
        return _which_related(q, p, subject, np.relation.value, np.relation.ref, inverse=False)
    return False


def _which_related(q: Question, p: ProgramWriter, subject: NounPhrase, rel: str, ref: NounPhrase | None, *, inverse: bool) -> bool:
    """Ask what each ``subject`` detection is, for those in ``rel`` to ``ref`` (``ref`` to them if ``inverse``)."""
    if ref is None or ref.head == subject.head:
        return False
    found, _ = p.locate(subject, ref)
    (ref_patch,) = p.firsts(ref)
    item = p.name(f"{slug(subject.head)}_patch")
    cond = p.relation(rel, ref_patch, item) if inverse else p.relation(rel, item, ref_patch)
    ask = f"What {subject.head} is this?"
    if subject.plural:
        names = p.name(f"{slug(subject.head)}_names")
        p.add(1, f"{names} = [{p.query(item, ask)} for {item} in {found} if {cond}]")
        p.ask_whole_if_empty(names)
        p.add(1, f'return ", ".join({names})')
        return True
    p.add(1, f"for {item} in {found}:")
    p.add(2, f"if {cond}:")
    p.add(3, f"return {p.query(item, ask)}")
    p.ask_whole(1)
    return True


def is_related(q: Question, p: ProgramWriter) -> bool:
    """Yes/no relations between two objects: "Is the cup to the left of the plate?", "Is the white
    pillow under the black animal?", "Is the blue sky behind a cathedral?" (left/right/above/below/on/
    under/in/near/next to from the boxes, behind/in front of from ``compute_depth``)."""
    m = re.fullmatch(r"(?:is|are) (?P<body>.+)", q.s)
    if not m:
        return False
    body = m.group("body")
    hits = [h for h in re.finditer(rf"(?<= )(?:{RELATION_RE})(?= )", body)]
    for hit in reversed(hits):
        subject_words = body[:hit.start()].split()
        if len(subject_words) > 1 and subject_words[-1] in POSTURE_VERBS:
            subject_words = subject_words[:-1]  # "the cat sitting on the couch"
        a = parse_noun_phrase(" ".join(subject_words))
        if a is None or not a.definite:
            continue
        b = parse_noun_phrase(body[hit.end():].strip())
        if b is None:
            continue
        rel = RELATION_NAMES[hit.group()]
        p.default = "no"
        la, lb = p.locate(a, b)
        if b.definite and a.plural:
            (pb,) = p.firsts(b)
            p.ask_whole_if_empty(la)
            item = p.name(f"{slug(a.head)}_patch")
            p.add(1, f"return bool_to_yesno(all({p.relation(rel, item, pb)} for {item} in {la}))")
        elif b.definite:
            pa, pb = p.firsts(a, b)
            p.add(1, f"return bool_to_yesno({p.relation(rel, pa, pb)})")
        else:
            (pa,) = p.firsts(a)
            item = p.name(f"{slug(b.head)}_patch")
            p.add(1, f"for {item} in {lb}:")
            p.add(2, f"if {p.relation(rel, pa, item)}:")
            p.add(3, 'return "yes"')
            p.add(1, 'return "no"')
        return True
    return False
