"""Noun phrases: what ``find`` looks for, and the qualifiers that narrow its detections.

:func:`parse_noun_phrase` reads "the white pillow under the black animal" as a :class:`NounPhrase`:
the compound noun ``find`` is prompted with (singular, determiners dropped: "pillow"), leading
attribute adjectives ("white", each a ``verify_property`` check), and at most one qualifier, a
:class:`Filter` (a property, a position in the image, or a relation to another noun phrase, itself
parsed the same way). :func:`parse_property` reads a short property phrase ("wooden", "wearing a
hat") and :func:`split_relation` a relation ("to the left of the fence"). Every family reads its
objects through these, so a question's nouns are understood the same way whatever it asks.

Anything the parser does not recognise gives ``None``, and the family tries another reading or
leaves the question to the next rule: a wrong parse would be a wrong program, a missed one is only
a whole-image question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicec.codegen.offline.english import (ATTRIBUTE_WORDS, BELONGING_NOUNS, DEFINITE, DETERMINERS,
                                           INVERSE_RELATIONS, LINKING_VERBS, NOUN_ATTRIBUTES, OWNER_NOUNS, PARTICIPLES,
                                           POSTURE_VERBS, RELATION_FIRST_WORDS, RELATION_NAMES, RELATION_RE, RELATIONS,
                                           STOP_WORDS, THIRD_PERSON, WORD, is_plural, singular)


@dataclass(frozen=True)
class Filter:
    """A qualifier that narrows a noun phrase's detections.

    ``kind`` is ``prop`` (``value`` is a property for ``verify_property``), ``position`` (``value``
    is left/right/top/bottom/middle of the image), ``relation`` (``value`` is a canonical relation,
    ``ref`` the noun phrase it relates to) or ``owner`` (``ref`` owns the noun: "the girl's dress";
    the detections inside an owner's box, or all of them when none is). ``negated`` flips it ("that
    are not white").
    """

    kind: str
    value: str
    negated: bool = False
    ref: "NounPhrase | None" = None


@dataclass(frozen=True)
class NounPhrase:
    """A noun phrase: what ``find`` looks for and how to narrow its detections."""

    head: str                      # the compound noun for find, singular ("front bumper")
    attrs: tuple[str, ...] = ()    # leading attribute adjectives ("white",)
    filters: tuple[Filter, ...] = ()
    plural: bool = False
    definite: bool = True

    @property
    def text(self) -> str:
        """The noun with its attribute adjectives ("white pillow")."""
        return " ".join((*self.attrs, self.head))

    @property
    def be(self) -> str:
        """The verb that agrees with the noun: "is" or "are"."""
        return "are" if self.plural else "is"

    @property
    def relation(self) -> Filter | None:
        """The relation qualifier, if there is one."""
        return next((f for f in self.filters if f.kind == "relation"), None)


#: Words that end a noun phrase's core and start a qualifier.
_QUALIFIER_START = RELATION_FIRST_WORDS | PARTICIPLES | {"that", "which", "who", "with"}

#: A relative clause without "that" whose verb's object is the noun before it ("the towel is on").
_REDUCED_RELATIVE = re.compile(rf"(?P<np>.+?) (?:is|are|was|were) (?:(?:{'|'.join(sorted(POSTURE_VERBS))}) )?"
                               rf"(?P<rel>{RELATION_RE})")

#: Nouns dropped before "of" ("a piece of cake" -> cake, "a pair of shoes" -> shoe).
_OF_DROP = frozenset({"piece", "pieces", "pair", "pairs", "kind", "kinds", "type", "types", "sort", "sorts"})

#: A position in the image, as a predicate ("on the left", "in the bottom part").
_POSITION = re.compile(
    r"(?:(?:on|at|in|to) the )?(?P<side>left|right|top|bottom|middle|center|centre)"
    r"(?: side| part| half| edge| corner)?$")


def parse_noun_phrase(text: str, depth: int = 0) -> NounPhrase | None:
    """Parse a noun phrase: determiners, a core of at most four words, then one optional qualifier.

    The qualifier is a relative clause ("that is drinking", "which is to the right of the tap", "the
    towel is on" in "the bathtub the towel is on"), a relation ("to the left of the fence"), a
    participle phrase ("riding the green train"), a "with" phrase, or a position in the image ("on
    the right", "in the bottom"). A possessive core ("the girl's dress", or "the boy shorts" where a
    person or animal comes before something worn or a part of the body) keeps its owner as an
    ``owner`` filter. Returns ``None`` for anything else (pronouns, verbs, punctuation, too many
    words).
    """
    words = text.split()
    if not words or len(words) > 16:
        return None
    definite = True
    if words[0] in DETERMINERS:
        definite = words[0] in DEFINITE
    while words and (words[0] in DETERMINERS or words[0] == "other"):
        words.pop(0)
    end = next((i for i in range(1, len(words)) if words[i] in _QUALIFIER_START or words[i] in DETERMINERS
                or words[i] == "of" and i + 1 < len(words) and words[i + 1] in DEFINITE), len(words))
    core, rest = words[:end], words[end:]
    if len(core) >= 3 and core[1] == "of" and core[0] in _OF_DROP:
        core = core[2:]
    owner_words, core = _split_owner(core)
    if not 1 <= len(core) <= 4 or not _valid_core(core):
        return None
    filters: tuple[Filter, ...] = ()
    if owner_words:
        owner = parse_noun_phrase(" ".join(owner_words), depth + 1) if _valid_core(owner_words) else None
        if owner is None:
            return None
        filters = (Filter("owner", "in", False, owner),)
    if rest:
        if depth >= 2 or (len(rest) == 1 and rest[0] in PARTICIPLES):
            return None
        parsed = _parse_qualifier(rest, depth)
        if parsed is None:
            return None
        filters += parsed
    attrs: list[str] = []
    while len(core) > 1 and core[0] in ATTRIBUTE_WORDS:
        attrs.append(core.pop(0))
    plural = is_plural(core[-1])
    head = " ".join([*core[:-1], singular(core[-1])])
    return NounPhrase(head=head, attrs=tuple(attrs), filters=filters, plural=plural, definite=definite)


def _valid_core(core: list[str]) -> bool:
    """Whether ``core`` can name a thing: at most four plain words, none a stop word, not a lone adjective."""
    if not 1 <= len(core) <= 4:
        return False
    if any(not WORD.fullmatch(w) or w in STOP_WORDS or w.endswith("'s") for w in core):
        return False  # a stop word, or a possessive without the thing possessed ("the girl's")
    if core[-1] in ("left", "right", "top", "bottom"):
        return False
    return not (len(core) == 1 and core[0] in ATTRIBUTE_WORDS and core[0] not in NOUN_ATTRIBUTES)  # "the blue"


def _split_owner(core: list[str]) -> tuple[list[str], list[str]]:
    """(owner words, the rest) of a possessive core: "girl's dress" -> (girl, dress), "boy shorts" -> (boy, shorts)."""
    for i in range(len(core) - 2, -1, -1):
        word = core[i]
        if len(word) > 2 and word.endswith(("'s", "s'")):
            return [*core[:i], word[:-2] if word.endswith("'s") else word[:-1]], core[i + 1:]
    if len(core) >= 2 and singular(core[-2]) in OWNER_NOUNS and singular(core[-1]) in BELONGING_NOUNS:
        return core[:-1], core[-1:]
    return [], core


def _parse_qualifier(words: list[str], depth: int) -> tuple[Filter, ...] | None:
    """The qualifier after a noun phrase's core: "of the house", "that is not white", "riding the train" ..."""
    rest = " ".join(words)
    negated = False
    if words[0] in DETERMINERS and words[0] != "that":
        # "the bathtub the towel is on": a relative clause without "that", its object the noun before it
        m = _REDUCED_RELATIVE.fullmatch(rest)
        other = parse_noun_phrase(m.group("np"), depth + 1) if m else None
        if m is None or other is None:
            return None
        return (Filter("relation", INVERSE_RELATIONS[RELATION_NAMES[m.group("rel")]], False, other),)
    if words[0] == "of" and len(words) > 2 and words[1] in DEFINITE:
        # "the roof of the house": a part, found inside the whole
        whole = parse_noun_phrase(" ".join(words[1:]), depth + 1)
        return None if whole is None else (Filter("relation", "in", False, whole),)
    m = re.match(r"(?:that|which|who) (?:is|are|was|were)(?P<neg> not)? (?P<tail>.+)$", rest)
    if m:
        negated, rest = bool(m.group("neg")), m.group("tail")
    else:
        m = re.match(r"(?:that|which|who) (?:does|do) not (?P<verb>\w+) (?P<tail>.+)$", rest)
        if m:
            negated, rest = True, f"{THIRD_PERSON.get(m.group('verb'), m.group('verb'))} {m.group('tail')}"
        else:
            m = re.match(r"(?:that|which|who) (?P<verb>\w+) (?P<tail>.+)$", rest)
            if m:
                verb = m.group("verb")
                if verb in LINKING_VERBS:
                    rest = m.group("tail")
                elif verb in THIRD_PERSON:
                    rest = f"{THIRD_PERSON[verb]} {m.group('tail')}"
                else:
                    return None
            elif words[0] in ("that", "which", "who"):
                return None
    f = _parse_predicate(rest, negated, depth)
    return None if f is None else (f,)


def _parse_predicate(text: str, negated: bool, depth: int) -> Filter | None:
    """A predicate about a noun: a position, a relation to another noun phrase, or a property."""
    m = _POSITION.fullmatch(text)
    if m:
        side = {"center": "middle", "centre": "middle"}.get(m.group("side"), m.group("side"))
        return Filter("position", side, negated)
    rel = split_relation(text, depth)
    if rel is not None:
        name, ref = rel
        return Filter("relation", name, negated, ref)
    prop = parse_property(text)
    if prop is None:
        return None
    return Filter("prop", prop, negated)


def split_relation(text: str, depth: int) -> tuple[str, NounPhrase] | None:
    """``[posture] RELATION noun-phrase`` -> (canonical relation, noun phrase)."""
    words = text.split()
    if words and words[0] in POSTURE_VERBS:
        words = words[1:]
    rest = " ".join(words)
    for phrase, name in RELATIONS:
        if rest.startswith(phrase + " "):
            ref = parse_noun_phrase(rest[len(phrase) + 1:], depth + 1)
            if ref is not None:
                return name, ref
            return None
    return None


def parse_property(text: str) -> str | None:
    """A short property phrase for ``verify_property`` ("wooden", "wearing a hat"), or ``None``."""
    words = text.split()
    if not 1 <= len(words) <= 6 or words[0] in DETERMINERS or words[0] in RELATION_FIRST_WORDS or words[0] == "of":
        return None
    if words[0] in THIRD_PERSON and len(words) > 1:
        words[0] = THIRD_PERSON[words[0]]
    bad = {"is", "are", "was", "were", "there", "what", "which", "who", "where", "how", "why", "when",
           "or", "and", "it", "they", "you", "than", "that"}
    if any(not WORD.fullmatch(w) or w in bad for w in words):
        return None
    if words[-1] in DETERMINERS or len(words) > 1 and words[-2] in DETERMINERS and words[-1] in ATTRIBUTE_WORDS:
        return None  # cut off in the middle of a noun phrase ("riding the green")
    verbal = words[0] in PARTICIPLES or words[0].endswith(("ing", "ed")) or words[0] == "with"
    if not verbal and re.search(rf"(?:^| )(?:{RELATION_RE})(?: |$)", " ".join(words[1:])):
        return None  # "train in front of the fence": a relation, not a property
    return " ".join(words)
