"""The offline code generator: rules that turn a plain-English question into a ViperGPT-style program.

No LLM, no network. The question is matched against :data:`RULES`, a table of small handlers, one
per family of visual question (existence, counting, an object's attribute, relations, comparisons,
and/or, choices between options, who/which, damage checks, category searches ...). The first
handler that recognises the question extracts its noun phrases (articles dropped, plurals
singularised for ``find``, compound nouns such as "front bumper" kept whole, colour/size/material
adjectives turned into ``verify_property`` filters) and writes ``def execute_command(image):`` over
the ``ImagePatch`` API. Independent ``find`` calls come first, so they run as parallel tasks; checks
on each detection are loops or comprehensions over ``find`` results, so they become fan-outs.

Programs call only operators the registry has, in their method form: without ``verify_property``
a property check becomes a ``simple_query`` yes/no question, without ``exists`` an existence check
becomes ``len(find(...)) > 0``, and so on; a degraded call adds a warning. A question no rule
decomposes is asked of the whole image with ``simple_query`` (family ``fallback``, with a warning);
if the registry cannot express even that, :class:`~dicec.errors.DicecError` says so in one line.

The question is untrusted text. Every piece of it that reaches the program -- the question itself, a
noun phrase, a property, an option -- goes in as a Python string literal written by :func:`_lit`
(``repr``), never pasted into code. Variable names and comments are built only from ASCII letters,
digits and ``_`` of words the rules validated. The output is deterministic: the same question and
registry always give the same bytes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

from dicec.codegen.usage import NONE as NO_USAGE
from dicec.codegen.usage import Usage
from dicec.errors import DicecError
from dicec.tools.registry import Registry

#: Longest question accepted, in characters (after trimming surrounding whitespace).
MAX_QUESTION_CHARS = 2000

#: Questions longer than this are not parsed by the rules (they go to the whole-image fallback).
_MAX_PARSE_CHARS = 200

FALLBACK_WARNING = "could not decompose the question; asking the whole image"


@dataclass(frozen=True, kw_only=True)
class GeneratedProgram:
    """A generated serial program and how it was made.

    Attributes:
        code: the full program text (``def execute_command(image):`` ...), ending with a newline; it
            parses with :mod:`ast` and calls only operators of the registry it was generated for.
        family: the rule that matched: ``existence``, ``count``, ``attribute``, ``relation``,
            ``compare``, ``logic``, ``choice``, ``which``, ``object``, ``position``, ``scene``,
            ``damage``, ``search``, or ``fallback`` when no rule decomposed the question.
        warnings: one-line messages, e.g. the fallback's "could not decompose the question; asking
            the whole image", or an operator the registry lacks and what was used instead.
        backend: the backend that wrote it: ``offline``, ``anthropic`` (family ``llm``) or ``replay``
            (family ``pinned``, and also an ``anthropic`` build answered from its lock).
        rounds: LLM replies read before one passed the checker (0 when no LLM was asked).
        usage: LLM calls and tokens spent (zero for ``offline`` and ``replay``).
    """

    code: str
    family: str
    warnings: tuple[str, ...] = ()
    backend: str = "offline"
    rounds: int = 0
    usage: Usage = NO_USAGE


def generate_offline(question: str, registry: Registry) -> GeneratedProgram:
    """Turn ``question`` into a ViperGPT-style program using the operators in ``registry``.

    Raises :class:`DicecError` (one line) for an empty question, one over
    :data:`MAX_QUESTION_CHARS` characters, or a registry without the operators even the whole-image
    fallback needs (``simple_query``).
    """
    if not isinstance(question, str):
        raise DicecError(f"the question must be text, not {type(question).__name__}")
    text = " ".join(question.split())
    if not text:
        raise DicecError("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise DicecError(f"the question is {len(text)} characters long, over the {MAX_QUESTION_CHARS}-character limit")
    ops = _Ops(registry)
    q = _Question(text=text, s=_normalise(text))
    missing: str | None = None
    if len(q.s) <= _MAX_PARSE_CHARS:
        for rule in RULES:
            prog = _Program(ops, text)
            try:
                written = rule.handler(q, prog)
            except _Unavailable as exc:
                # The question has this rule's shape; a later rule would only misread it.
                missing = exc.args[0]
                break
            if written:
                return prog.result(prog.family or rule.family)
    prog = _Program(ops, text)
    if not ops.has("simple_query"):
        have = ", ".join(sorted(ops.available)) or "none of the ViperGPT operators"
        raise DicecError("cannot generate a program offline: the question needs the simple_query operator, "
                         f"which the registry lacks (it has: {have})")
    prog.add(1, f"return image_patch.simple_query({_lit(text)})")
    prog.note(FALLBACK_WARNING)
    if missing is not None:
        prog.note(f"the question needs the {missing} operator to be decomposed, and the registry lacks it")
    return prog.result("fallback")


# -- string literals and names ------------------------------------------------------------------
def _lit(value: str) -> str:
    """``value`` as a Python string literal (``repr``, double-quoted when that needs no escaping)."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        return '"' + text[1:-1] + '"'
    return text


def _words(text: str) -> str:
    """``text`` as plain ASCII words, safe in a comment."""
    return _slug(text).replace("_", " ")


def _lit_list(values) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _slug(text: str) -> str:
    """An ASCII identifier fragment for ``text`` (variable names and comments only)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:30].strip("_")
    if not slug or slug[0].isdigit():
        slug = "object" + ("_" + slug if slug else "")
    return slug


# -- the lexicon -----------------------------------------------------------------------------------
COLORS = ("white", "black", "red", "blue", "green", "yellow", "orange", "purple", "pink", "brown",
          "gray", "silver", "gold", "tan", "beige")
MATERIALS = ("wood", "metal", "plastic", "glass", "fabric", "leather", "stone", "brick", "concrete",
             "ceramic", "paper")
SHAPES = ("round", "square", "rectangular", "triangular", "oval")
SIZES = ("small", "large")
PATTERNS = ("striped", "checkered", "plaid", "floral", "dotted", "solid")

#: Adjectives that qualify a noun for ``verify_property`` rather than name it for ``find``.
_ATTRIBUTES = frozenset(COLORS + SIZES + SHAPES + PATTERNS + (
    "grey", "golden", "maroon", "navy", "teal", "cream", "khaki", "colorful",
    "big", "little", "tall", "short", "long", "huge", "tiny", "giant", "wide", "thin", "thick",
    "wooden", "metal", "metallic", "plastic", "leather", "brick", "stone", "concrete", "ceramic",
    "wicker", "steel", "cardboard",
    "closed", "open", "empty", "full", "wet", "dry", "old", "young", "adult", "male", "female",
    "cooked", "sliced", "bare", "cloudy", "clear", "dirty", "clean", "lit", "leafy", "shiny",
    "spotted", "fluffy", "soft", "hard", "smooth", "rough", "bright", "dark", "light", "sunny",
))

#: Attribute words that are also things ("the metal", "the plastic").
_MATERIAL_NOUNS = frozenset({"metal", "plastic", "leather", "brick", "stone", "concrete", "steel", "cardboard"})

_KIND_WORDS = {"color": COLORS, "material": MATERIALS, "shape": SHAPES, "size": SIZES, "pattern": PATTERNS}
_KIND_QUESTIONS = {
    "color": "What color {be} the {np}?", "material": "What material {be} the {np} made of?",
    "shape": "What shape {be} the {np}?", "size": "How big {be} the {np}?",
    "pattern": "What pattern {be} the {np}?",
}

_SCENE_WORDS = r"(?:picture|image|photo|photograph|pic|scene|frame|shot|snapshot|video)"
#: The image itself as the subject of a question ("does this frame contain ...").
_SCENE_SUBJECT = rf"(?:it|this|(?:this|the) {_SCENE_WORDS})"

_DEFINITE = frozenset({"the", "this", "that", "these", "those", "his", "her", "their", "its", "my", "your",
                       "our", "both", "each", "every", "all"})
_INDEFINITE = frozenset({"a", "an", "any", "some", "another", "either"})
_DETERMINERS = _DEFINITE | _INDEFINITE

#: Words that can never be part of a noun phrase the rules hand to ``find``.
_STOP = frozenset("""
is are was were be been being am do does did done have has had having could would should will
shall may might must there here what which who whom whose where when why how it they them he she him
we us i me you one ones someone something anything everything anyone everyone nothing and or but nor
not no yes if than as so then also too very either neither both all any some each every same
different more less most least many much few several of for from into onto by about against between
through during without toward towards up down out off around across along a an the this that these
those his her their its my your our kind type sort color material shape size pattern called made
look looks see seen else other another own such only just really maybe perhaps likely two three four
five six seven eight nine ten
""".split())

_WORD = re.compile(r"[^\W_](?:[\w'-]*[^\W_])?")

#: Participles that start a qualifying phrase after a noun ("the man riding the train").
_PARTICIPLES = frozenset("""
riding holding wearing carrying using eating drinking playing looking watching sitting standing lying
laying walking running talking pulling pushing hanging flying swimming surfing skiing skating
throwing catching touching reading sleeping leaning resting facing grazing covering floating
parked covered filled kept perched placed located seen shown lying driving crossing waiting
""".split())

#: Verbs of posture that may come between a subject and a relation ("sitting on", "parked next to").
_POSTURE = frozenset("""
sitting standing lying laying hanging resting parked perched placed located floating walking
swimming flying kept seen
""".split())

#: Relation phrases and their canonical name, longest first.
_RELATIONS = tuple(sorted((
    ("to the left of", "left"), ("on the left of", "left"), ("left of", "left"),
    ("to the right of", "right"), ("on the right of", "right"), ("right of", "right"),
    ("in front of", "front"), ("on top of", "on"), ("in back of", "behind"), ("behind", "behind"),
    ("next to", "near"), ("close to", "near"), ("near", "near"), ("beside", "near"),
    ("above", "above"), ("over", "above"), ("below", "below"), ("beneath", "under"),
    ("underneath", "under"), ("under", "under"), ("on", "on"), ("atop", "on"), ("inside", "in"),
    ("in", "in"), ("within", "in"),
), key=lambda pair: (-len(pair[0]), pair[0])))
_REL_RE = "|".join(re.escape(p) for p, _ in _RELATIONS)
_REL_NAME = dict(_RELATIONS)
_REL_FIRST = frozenset(p.split()[0] for p, _ in _RELATIONS)

#: Words that end a noun phrase's core and start a qualifier.
_QUALIFIER_START = _REL_FIRST | _PARTICIPLES | {"that", "which", "who", "with"}

_POSITION = re.compile(
    r"(?:(?:on|at|in|to) the )?(?P<side>left|right|top|bottom|middle|center|centre)"
    r"(?: side| part| half| edge| corner)?$")

_THIRD_PERSON = {"wears": "wearing", "wear": "wearing", "holds": "holding", "hold": "holding",
                 "carries": "carrying", "carry": "carrying", "rides": "riding", "ride": "riding",
                 "uses": "using", "use": "using", "eats": "eating", "eat": "eating", "has": "with",
                 "have": "with", "drinks": "drinking", "watches": "watching", "plays": "playing"}

# -- singular forms ------------------------------------------------------------------------------
_IRREGULAR = {
    "men": "man", "women": "woman", "people": "person", "persons": "person", "children": "child",
    "feet": "foot", "teeth": "tooth", "geese": "goose", "mice": "mouse", "oxen": "ox",
    "knives": "knife", "leaves": "leaf", "shelves": "shelf", "wolves": "wolf", "halves": "half",
    "loaves": "loaf", "scarves": "scarf", "calves": "calf", "wives": "wife", "lives": "life",
    "thieves": "thief", "buses": "bus", "gases": "gas", "lenses": "lens", "tomatoes": "tomato",
    "potatoes": "potato", "heroes": "hero", "mangoes": "mango", "volcanoes": "volcano",
    "cacti": "cactus", "fungi": "fungus", "dice": "die", "skis": "ski", "taxis": "taxi",
}
_PLURAL_ONLY = frozenset("""
glasses sunglasses eyeglasses goggles pants jeans shorts trousers scissors clothes headphones
earphones binoculars tongs pliers overalls leggings tights pajamas slacks sweatpants
""".split())
_INVARIANT = _PLURAL_ONLY | frozenset("""
sheep deer fish moose aircraft spacecraft watercraft hovercraft bison salmon trout shrimp squid
species series news lens canvas gas atlas bus tennis chess debris chassis iris axis pelvis
""".split())
_IE_WORDS = frozenset("""
cookies movies pies ties brownies hoodies goalies veggies selfies smoothies zombies calories rookies
lies magpies pixies collies
""".split())
_ES_EXCEPTIONS = frozenset("mustaches moustaches niches caches avalanches headaches quiches cliches".split())


def _singular(word: str) -> str:
    """The singular of an English noun (good enough for detector prompts)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _INVARIANT or len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("men") and word not in ("specimen", "abdomen", "omen", "stamen"):
        return word[:-3] + "man"
    if word.endswith("ies"):
        return word[:-1] if word in _IE_WORDS else word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zzes")) and word not in _ES_EXCEPTIONS:
        return word[:-2]
    return word[:-1]


def _is_plural(word: str) -> bool:
    return word in _PLURAL_ONLY or _singular(word) != word


# -- noun phrases ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Filter:
    """A qualifier that narrows a noun phrase's detections.

    ``kind`` is ``prop`` (``value`` is a property for ``verify_property``), ``position`` (``value``
    is left/right/top/bottom/middle of the image) or ``relation`` (``value`` is a canonical relation,
    ``ref`` the noun phrase it relates to). ``negated`` flips it ("that are not white").
    """

    kind: str
    value: str
    negated: bool = False
    ref: "_NP | None" = None


@dataclass(frozen=True)
class _NP:
    """A noun phrase: what ``find`` looks for and how to narrow its detections."""

    head: str                      # the compound noun for find, singular ("front bumper")
    attrs: tuple[str, ...] = ()    # leading attribute adjectives ("white",)
    filters: tuple[_Filter, ...] = ()
    plural: bool = False
    definite: bool = True

    @property
    def text(self) -> str:
        return " ".join((*self.attrs, self.head))

    @property
    def be(self) -> str:
        return "are" if self.plural else "is"

    @property
    def relation(self) -> _Filter | None:
        return next((f for f in self.filters if f.kind == "relation"), None)


_OF_DROP = frozenset({"piece", "pieces", "pair", "pairs", "kind", "kinds", "type", "types", "sort", "sorts"})


def _parse_np(text: str, depth: int = 0) -> _NP | None:
    """Parse a noun phrase: determiners, a core of at most four words, then one optional qualifier.

    The qualifier is a relative clause ("that is drinking", "which is to the right of the tap"), a
    relation ("to the left of the fence"), a participle phrase ("riding the green train"), a "with"
    phrase, or a position in the image ("on the right", "in the bottom"). Returns ``None`` for
    anything else (pronouns, verbs, punctuation, too many words).
    """
    words = text.split()
    if not words or len(words) > 16:
        return None
    definite = True
    if words[0] in _DETERMINERS:
        definite = words[0] in _DEFINITE
    while words and (words[0] in _DETERMINERS or words[0] == "other"):
        words.pop(0)
    end = next((i for i in range(1, len(words)) if words[i] in _QUALIFIER_START
                or words[i] == "of" and i + 1 < len(words) and words[i + 1] in _DEFINITE), len(words))
    core, rest = words[:end], words[end:]
    if len(core) >= 3 and core[1] == "of" and core[0] in _OF_DROP:
        core = core[2:]
    if not 1 <= len(core) <= 4:
        return None
    if any(not _WORD.fullmatch(w) or w in _STOP for w in core) or core[-1] in ("left", "right", "top", "bottom"):
        return None
    if len(core) == 1 and core[0] in _ATTRIBUTES and core[0] not in _MATERIAL_NOUNS:
        return None  # "the blue": an adjective, not a thing to find
    filters: tuple[_Filter, ...] = ()
    if rest:
        if depth >= 2 or (len(rest) == 1 and rest[0] in _PARTICIPLES):
            return None
        parsed = _parse_qualifier(rest, depth)
        if parsed is None:
            return None
        filters = parsed
    attrs: list[str] = []
    while len(core) > 1 and core[0] in _ATTRIBUTES:
        attrs.append(core.pop(0))
    plural = _is_plural(core[-1])
    head = " ".join([*core[:-1], _singular(core[-1])])
    return _NP(head=head, attrs=tuple(attrs), filters=filters, plural=plural, definite=definite)


def _parse_qualifier(words: list[str], depth: int) -> tuple[_Filter, ...] | None:
    rest = " ".join(words)
    negated = False
    if words[0] == "of" and len(words) > 2 and words[1] in _DEFINITE:
        # "the roof of the house": a part, found inside the whole
        whole = _parse_np(" ".join(words[1:]), depth + 1)
        return None if whole is None else (_Filter("relation", "in", False, whole),)
    m = re.match(r"(?:that|which|who) (?:is|are|was|were)(?P<neg> not)? (?P<tail>.+)$", rest)
    if m:
        negated, rest = bool(m.group("neg")), m.group("tail")
    else:
        m = re.match(r"(?:that|which|who) (?:does|do) not (?P<verb>\w+) (?P<tail>.+)$", rest)
        if m:
            negated, rest = True, f"{_THIRD_PERSON.get(m.group('verb'), m.group('verb'))} {m.group('tail')}"
        else:
            m = re.match(r"(?:that|which|who) (?P<verb>\w+) (?P<tail>.+)$", rest)
            if m:
                verb = m.group("verb")
                if verb in ("look", "looks", "seem", "seems", "appear", "appears"):
                    rest = m.group("tail")
                elif verb in _THIRD_PERSON:
                    rest = f"{_THIRD_PERSON[verb]} {m.group('tail')}"
                else:
                    return None
            elif words[0] in ("that", "which", "who"):
                return None
    f = _parse_predicate(rest, negated, depth)
    return None if f is None else (f,)


def _parse_predicate(text: str, negated: bool, depth: int) -> _Filter | None:
    """A predicate about a noun: a position, a relation to another noun phrase, or a property."""
    m = _POSITION.fullmatch(text)
    if m:
        side = {"center": "middle", "centre": "middle"}.get(m.group("side"), m.group("side"))
        return _Filter("position", side, negated)
    rel = _split_relation(text, depth)
    if rel is not None:
        name, ref = rel
        return _Filter("relation", name, negated, ref)
    prop = _property(text)
    if prop is None:
        return None
    return _Filter("prop", prop, negated)


def _split_relation(text: str, depth: int) -> tuple[str, _NP] | None:
    """``[posture] RELATION noun-phrase`` -> (canonical relation, noun phrase)."""
    words = text.split()
    if words and words[0] in _POSTURE:
        words = words[1:]
    rest = " ".join(words)
    for phrase, name in _RELATIONS:
        if rest.startswith(phrase + " "):
            ref = _parse_np(rest[len(phrase) + 1:], depth + 1)
            if ref is not None:
                return name, ref
            return None
    return None


def _property(text: str) -> str | None:
    """A short property phrase for ``verify_property`` ("wooden", "wearing a hat"), or ``None``."""
    words = text.split()
    if not 1 <= len(words) <= 6 or words[0] in _DETERMINERS or words[0] in _REL_FIRST or words[0] == "of":
        return None
    if words[0] in _THIRD_PERSON and len(words) > 1:
        words[0] = _THIRD_PERSON[words[0]]
    bad = {"is", "are", "was", "were", "there", "what", "which", "who", "where", "how", "why", "when",
           "or", "and", "it", "they", "you", "than", "that"}
    if any(not _WORD.fullmatch(w) or w in bad for w in words):
        return None
    if words[-1] in _DETERMINERS or len(words) > 1 and words[-2] in _DETERMINERS and words[-1] in _ATTRIBUTES:
        return None  # cut off in the middle of a noun phrase ("riding the green")
    verbal = words[0] in _PARTICIPLES or words[0].endswith(("ing", "ed")) or words[0] == "with"
    if not verbal and re.search(rf"(?:^| )(?:{_REL_RE})(?: |$)", " ".join(words[1:])):
        return None  # "train in front of the fence": a relation, not a property
    return " ".join(words)


def _options(a: str, b: str, limit: int = 3) -> tuple[str, str] | None:
    """The two options of an "A or B" question, determiners and hedges dropped."""
    out = []
    for text in (a, b):
        words = text.strip(" ,").split()
        while words and (words[0] in _DETERMINERS or words[0] in ("maybe", "perhaps", "rather", "either", "to", "on", "in", "at")):
            words.pop(0)
        if not 1 <= len(words) <= limit or any(not _WORD.fullmatch(w) or w in ("or", "and", "is", "are") for w in words):
            return None
        out.append(" ".join(words))
    if out[0] == out[1]:
        return None
    return out[0], out[1]


# -- operators the registry offers -------------------------------------------------------------------
#: The ImagePatch methods the rules call, with the number of arguments they pass.
_METHOD_ARGS = {"find": 1, "exists": 1, "verify_property": 2, "best_text_match": 1, "simple_query": 1,
                "compute_depth": 0}


class _Unavailable(Exception):
    """A handler needs an operator the registry lacks; ``args[0]`` names it."""


class _Ops:
    """Which of the ViperGPT methods this registry offers, with an arity that fits the call."""

    def __init__(self, registry: Registry) -> None:
        names = []
        for name, n in _METHOD_ARGS.items():
            found = registry.method(name)
            if found is not None and found[1].min_args <= n <= found[1].max_args:
                names.append(name)
        self.available = frozenset(names)

    def has(self, name: str) -> bool:
        return name in self.available


# -- writing a program -------------------------------------------------------------------------------
class _Program:
    """The body of ``execute_command`` being written, with helpers that degrade to what the registry has.

    Lines are added with a depth (1 = the function body). When an object is missing and
    ``simple_query`` is unavailable, a guard returns ``default_code`` (an expression) or else the
    literal ``default``; with neither, the handler cannot do without ``simple_query``.
    """

    def __init__(self, ops: _Ops, question: str) -> None:
        self.ops = ops
        self.question = question
        self.lines: list[str] = []
        self.taken = {"image", "image_patch"}
        self.warnings: list[str] = []
        self.default: str | None = None
        self.default_code: str | None = None
        self.family: str | None = None
        self._found: dict[tuple[str, str], str] = {}
        self._located: dict[_NP, str] = {}
        self._first: dict[_NP, str] = {}

    # -- text ----------------------------------------------------------------------------------
    def add(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def name(self, stem: str) -> str:
        """A fresh variable name from an ASCII ``stem``."""
        candidate, n = stem, 2
        while candidate in self.taken:
            candidate, n = f"{stem}_{n}", n + 1
        self.taken.add(candidate)
        return candidate

    def note(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def result(self, family: str) -> GeneratedProgram:
        code = "\n".join(["def execute_command(image):", "    image_patch = ImagePatch(image)", *self.lines]) + "\n"
        return GeneratedProgram(code=code, family=family, warnings=tuple(self.warnings))

    # -- operator calls, degrading to what the registry offers ----------------------------------------
    def has(self, name: str) -> bool:
        return self.ops.has(name)

    def need(self, name: str) -> None:
        if not self.ops.has(name):
            raise _Unavailable(name)

    def find(self, receiver: str, name: str) -> str:
        self.need("find")
        return f"{receiver}.find({_lit(name)})"

    def exists(self, receiver: str, name: str, *, name_var: bool = False) -> str:
        """``receiver.exists(name)`` or ``len(receiver.find(name)) > 0`` (``name_var``: name is a variable)."""
        code = name if name_var else _lit(name)
        if self.has("exists"):
            return f"{receiver}.exists({code})"
        if self.has("find"):
            self.note("exists is not in the registry; using len(find(...)) > 0 instead")
            return f"len({receiver}.find({code})) > 0"
        raise _Unavailable("exists")

    def verify(self, patch: str, noun: str, prop: str, *, negated: bool = False, noun_var: bool = False) -> str:
        """``patch.verify_property(noun, prop)`` or its ``simple_query`` phrasing (``noun_var``: noun is a variable)."""
        noun_code = noun if noun_var else _lit(noun)
        if self.has("verify_property"):
            expr = f"{patch}.verify_property({noun_code}, {_lit(prop)})"
        elif self.has("simple_query"):
            self.note("verify_property is not in the registry; asking simple_query yes/no questions instead")
            if noun_var:
                text = f"{_lit('Is the ')} + {noun} + {_lit(' ' + prop + '?')}"
            else:
                text = _lit(f"Is the {noun} {prop}?")
            expr = f'{patch}.simple_query({text}) == "yes"'
        else:
            raise _Unavailable("verify_property")
        return f"not {expr}" if negated else expr

    def query(self, patch: str, question: str) -> str:
        self.need("simple_query")
        return f"{patch}.simple_query({_lit(question)})"

    def choose(self, patch: str, options, question: str) -> str:
        if self.has("best_text_match"):
            return f"{patch}.best_text_match({_lit_list(options)})"
        if self.has("simple_query"):
            self.note("best_text_match is not in the registry; asking simple_query instead")
            return self.query(patch, question)
        raise _Unavailable("best_text_match")

    def depth(self, patch: str) -> str:
        self.need("compute_depth")
        return f"{patch}.compute_depth()"

    def ask_whole(self, depth: int) -> None:
        """``return image_patch.simple_query(<question>)``, or ``return <default>`` without simple_query."""
        if self.has("simple_query"):
            self.add(depth, f"return image_patch.simple_query({_lit(self.question)})")
        elif self.default_code is not None:
            self.add(depth, f"return {self.default_code}")
        elif self.default is not None:
            self.add(depth, f"return {_lit(self.default)}")
        else:
            raise _Unavailable("simple_query")

    # -- noun phrases ----------------------------------------------------------------------------
    def locate(self, *nps: _NP, receiver: str = "image_patch") -> list[str]:
        """Find ``nps`` and narrow them by their attributes and qualifiers; return their list variables.

        Every ``find`` (including those of noun phrases the qualifiers refer to) is written first, so
        they are independent parallel tasks; the narrowing comprehensions follow.
        """
        order: list[_NP] = []

        def collect(np: _NP) -> None:
            for f in np.filters:
                if f.ref is not None:
                    collect(f.ref)
            if np not in order:
                order.append(np)

        for np in nps:
            collect(np)
        for np in order:
            key = (receiver, self._find_name(np))
            if key not in self._found:
                var = self.name(f"{_slug(key[1])}_patches")
                self.add(1, f"{var} = {self.find(receiver, key[1])}")
                self._found[key] = var
        for np in order:
            self._narrow(np, receiver)
        return [self._located[np] for np in nps]

    def _find_name(self, np: _NP) -> str:
        if np.attrs and not (self.has("verify_property") or self.has("simple_query")):
            return np.text
        return np.head

    def _narrow(self, np: _NP, receiver: str) -> None:
        if np in self._located:
            return
        name = self._find_name(np)
        raw = self._found[(receiver, name)]
        attrs = np.attrs if name == np.head else ()
        if not attrs and not np.filters:
            self._located[np] = raw
            return
        refs = [f.ref for f in np.filters if f.kind == "relation" and f.ref is not None and f.ref.definite]
        ref_vars = self.firsts(*refs) if refs else []
        item = self.name(f"{_slug(np.head)}_patch")
        conds = []
        ref_iter = iter(ref_vars)
        for f in np.filters:
            if f.kind == "position":
                conds.append(_negate(self.on_side(item, f.value), f.negated))
            elif f.kind == "relation":
                assert f.ref is not None
                if f.ref.definite:
                    conds.append(_negate(self.relation(f.value, item, next(ref_iter)), f.negated))
                else:
                    other_list = self._located[f.ref]
                    other = self.name(f"{_slug(f.ref.head)}_patch")
                    test = f"any({self.relation(f.value, item, other)} for {other} in {other_list})"
                    conds.append(_negate(test, f.negated))
        for attr in attrs:
            conds.append(self.verify(item, np.head, attr))
        for f in np.filters:
            if f.kind == "prop":
                conds.append(self.verify(item, np.head, f.value, negated=f.negated))
        tag = "_".join(attrs) or self._tag(np)
        var = self.name(f"{_slug(tag + ' ' + np.head)}_patches")
        self.add(1, f"{var} = [{item} for {item} in {raw} if {' and '.join(conds)}]")
        self._located[np] = var

    @staticmethod
    def _tag(np: _NP) -> str:
        f = np.filters[0]
        prefix = "not " if f.negated else ""
        if f.kind == "prop":
            return prefix + f.value.split()[0]
        return prefix + f.value

    def firsts(self, *nps: _NP) -> list[str]:
        """One guard for all of ``nps`` (ask the whole image if any is missing), then each one's first patch."""
        todo = [np for np in nps if np not in self._first]
        todo = list(dict.fromkeys(todo))
        if todo:
            lists = [self._located[np] for np in todo]
            self.add(1, f"if {' or '.join(f'len({v}) == 0' for v in lists)}:")
            if self.has("simple_query"):
                names = " or ".join(f"no {_words(np.text)}" for np in todo)
                self.add(2, f"# If there is {names}, ask the whole image")
            self.ask_whole(2)
            for np, var in zip(todo, lists):
                patch = self.name(f"{_slug(np.text)}_patch")
                self.add(1, f"{patch} = {var}[0]")
                self._first[np] = patch
        return [self._first[np] for np in nps]

    # -- geometry --------------------------------------------------------------------------------------
    def relation(self, rel: str, a: str, b: str) -> str:
        """The condition "patch ``a`` is ``rel`` patch ``b``" (ViperGPT coordinates: y grows upwards)."""
        box = f"{b}.left, {b}.lower, {b}.right, {b}.upper"
        if rel == "left":
            return f"{a}.horizontal_center < {b}.horizontal_center"
        if rel == "right":
            return f"{a}.horizontal_center > {b}.horizontal_center"
        if rel == "above":
            return f"{a}.vertical_center > {b}.vertical_center"
        if rel == "below":
            return f"{a}.vertical_center < {b}.vertical_center"
        if rel == "on":
            return f"{a}.vertical_center > {b}.vertical_center and {a}.overlaps_with({box})"
        if rel == "under":
            return f"{a}.vertical_center < {b}.vertical_center and {a}.overlaps_with({box})"
        if rel == "in":
            return f"{a}.overlaps_with({box})"
        if rel == "near":
            return f"distance({a}, {b}) < max({b}.width, {b}.height)"
        if rel == "behind":
            return f"{self.depth(a)} > {self.depth(b)}"
        if rel == "front":
            return f"{self.depth(a)} < {self.depth(b)}"
        raise AssertionError(rel)

    @staticmethod
    def on_side(patch: str, side: str) -> str:
        if side == "left":
            return f"{patch}.horizontal_center < image_patch.horizontal_center"
        if side == "right":
            return f"{patch}.horizontal_center > image_patch.horizontal_center"
        if side == "top":
            return f"{patch}.vertical_center > image_patch.vertical_center"
        if side == "bottom":
            return f"{patch}.vertical_center < image_patch.vertical_center"
        return f"abs({patch}.horizontal_center - image_patch.horizontal_center) < image_patch.width / 4"


def _negate(cond: str, negated: bool) -> str:
    return f"not ({cond})" if negated else cond


# -- the rules ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Question:
    text: str   # the question, whitespace collapsed: what simple_query is asked
    s: str      # the parse form: lower case, no final "?", picture/scene qualifiers dropped




def _normalise(text: str) -> str:
    s = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    s = re.sub(r"\bcolou?rs?\b", lambda m: "colors" if m.group().endswith("s") else "color", s)
    s = re.sub(r"\b(is|are|was|were|does|do|did|has|have)n't\b", r"\1 not", s)
    s = re.sub(r"[\s?!.]+$", "", s)
    s = re.sub(r"\s*,\s*", ", ", s)
    s = re.sub(rf"\b(?:in|of|from) (?:the|this|that) {_SCENE_WORDS}\b", " ", s)
    s = re.sub(r"^(what|who|which) do you think (is|are)\b", r"\1 \2", s)
    s = re.sub(r"\s+", " ", s)
    return s.strip(" ,")


@dataclass(frozen=True)
class Rule:
    """One entry of the rule table: a family name and the handler that writes its programs.

    A handler gets the question and a fresh program; it returns ``True`` when it recognised the
    question and wrote the program, ``False`` to let the next rule try.
    """

    family: str
    handler: Callable[[_Question, _Program], bool]


# Each handler's docstring says which questions it handles.

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
_DMG = "|".join(sorted(_DAMAGE, key=lambda w: (-len(w), w)))
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
    re.compile(rf"(?:list|name|show) (?:the |all )?(?P<dmg>{_DMG}) (?:parts|panels|components)(?: of (?P<whole>.+))?$"),
]
_DAMAGE_YESNO = [
    re.compile(rf"(?:is|are) (?P<np>.+?) (?:\w+ly )?(?P<dmg>{_DMG})$"),
    re.compile(rf"(?:does|do) (?P<np>.+?) (?:have|has|show|shows) (?:a |an |any |some )?(?:\w+ )?(?P<dmg>{_DMG})$"),
    re.compile(rf"(?:is|are) there (?:a |an |any |some )?(?:\w+ )?(?P<dmg>{_DMG}) (?:on|in|to|at) (?P<np>.+)$"),
]
_DAMAGE_ANY = re.compile(r"(?:is|are) there (?:any )?(?P<dmg>damage|defects?)$")
_DAMAGE_COUNT = re.compile(r"how many (?P<noun>dents|scratches|cracks|chips|holes) (?:are )?(?:there )?(?:on|in) (?P<np>.+)$")


def _damage(q: _Question, p: _Program) -> bool:
    """Defect and damage checks (insurance, inspection): "Which parts of the car are damaged?", "Is the
    front bumper dented?", "Is the windshield cracked?", "Does the hood have a dent?", "How many dents
    are on the door?". A part list becomes a loop over literal part names whose inner loop verifies
    each detection (a fan-out per part)."""
    for pattern in _DAMAGE_PARTS:
        m = pattern.fullmatch(q.s)
        if m:
            whole_text = m.groupdict().get("whole") or m.groupdict().get("whole2")
            return _damage_parts(q, p, _DAMAGE[m.group("dmg")], whole_text)
    m = _DAMAGE_COUNT.fullmatch(q.s)
    if m:
        np = _parse_np(m.group("np"))
        if np is None:
            return False
        p.default = "0"
        (parts,) = p.locate(np)
        item = p.name(f"{_slug(np.head)}_patch")
        defect = _singular(m.group("noun"))
        p.need("find")
        p.add(1, f"# Count the {_slug(defect)}s on every {_words(np.head)} found")
        p.add(1, f"return str(sum(len({item}.find({_lit(defect)})) for {item} in {parts}))")
        return True
    m = _DAMAGE_ANY.fullmatch(q.s)
    if m:
        return _damage_parts(q, p, _DAMAGE[m.group("dmg")], None, yesno=True)
    for pattern in _DAMAGE_YESNO:
        m = pattern.fullmatch(q.s)
        if not m:
            continue
        dmg = _DAMAGE[m.group("dmg")]
        np = _parse_np(m.group("np"))
        if np is None:
            continue
        p.default = "no"
        (parts,) = p.locate(np)
        p.add(1, f"if len({parts}) == 0:")
        p.ask_whole(2)
        item = p.name(f"{_slug(np.head)}_patch")
        p.add(1, f"# Check every {_words(np.head)} found")
        p.add(1, f"for {item} in {parts}:")
        p.add(2, f"if {p.verify(item, np.head, dmg)}:")
        p.add(3, 'return "yes"')
        p.add(1, 'return "no"')
        return True
    return False


def _damage_parts(q: _Question, p: _Program, dmg: str, whole_text: str | None, *, yesno: bool = False) -> bool:
    """Check every known part of the whole (a vehicle unless named) for ``dmg``; list them, or say yes/no."""
    whole = _parse_np(whole_text) if whole_text else None
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
    p.add(1, f"for {part} in {_lit_list(_PARTS[kind])}:")
    p.add(2, f"for {item} in image_patch.find({part}):")
    p.add(3, f"if {p.verify(item, part, dmg, noun_var=True)} and {part} not in {found}:")
    p.add(4, f"{found}.append({part})")
    if yesno:
        p.add(1, f"return bool_to_yesno(len({found}) > 0)")
    else:
        p.add(1, f"if len({found}) == 0:")
        p.add(2, 'return "none"')
        p.add(1, f'return ", ".join({found})')
    return True


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
    rf"(?:(?:is|are) there|(?:do|can) you (?:see|spot|find|detect|notice)|(?:does|do) (?:{_SCENE_SUBJECT[3:-1]}|the water) "
    r"(?:contain|show|have|include)) (?P<np>.+)$")
_SEARCH_LIST = re.compile(r"(?:what|which) (?:kinds?|types?|sorts?) of (?P<np>.+?) (?:is|are|can you see|do you see)(?: there| visible| present)?$")


def _category(text: str) -> tuple[str, tuple[str, ...]] | None:
    np = _parse_np(text)
    if np is None or np.filters:
        return None
    if np.text in SEARCH_CATEGORIES:
        return np.text, SEARCH_CATEGORIES[np.text]
    return None


def _search(q: _Question, p: _Program) -> bool:
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
    p.add(1, f"# Search for several phrasings of {_words(phrase)}")
    p.add(1, f"{hits} = []")
    p.add(1, f"for {name} in {_lit_list(names)}:")
    if m.re is _SEARCH_YESNO:
        p.add(2, f"{hits}.append({p.exists('image_patch', name, name_var=True)})")
        p.add(1, f"return bool_to_yesno(any({hits}))")
    else:
        p.add(2, f"if {p.exists('image_patch', name, name_var=True)}:")
        p.add(3, f"{hits}.append({name})")
        p.add(1, f"if len({hits}) == 0:")
        p.add(2, 'return "none"')
        p.add(1, f'return ", ".join({hits})')
    return True


_COUNT_SUFFIX = re.compile(r" (?:(?:are|is) there|there are|can you see|do you see|can be seen|(?:are|is) (?:visible|shown|pictured|present|there)|are|is)$")


_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_AT_LEAST = {"at least": ">=", "more than": ">", "fewer than": "<", "less than": "<", "at most": "<=", "exactly": "=="}


def _count(q: _Question, p: _Program) -> bool:
    """Counting: "How many dogs are there?" -> ``str(len(image_patch.find("dog")))``; also "How many
    black cars are there?", "How many dogs are on the couch?", "How many people are wearing hats?"
    (the detections narrowed first, by a fan-out of checks or by geometry), and "Are there two
    dogs?", "Are there at least three cars?" (the count compared)."""
    m = re.fullmatch(rf"(?:are|is) there (?P<cmp>(?:{'|'.join(_AT_LEAST)}) )?(?P<n>\d{{1,3}}|{'|'.join(_NUMBERS)}) (?P<np>.+)", q.s)
    if m:
        np = _parse_np(m.group("np"))
        if np is None:
            return False
        n = int(m.group("n")) if m.group("n").isdigit() else _NUMBERS[m.group("n")]
        op = _AT_LEAST[m.group("cmp").strip()] if m.group("cmp") else "=="
        p.default = "no"
        (patches,) = p.locate(np)
        p.add(1, f"return bool_to_yesno(len({patches}) {op} {n})")
        return True
    m = re.fullmatch(r"how many (?P<rest>.+)", q.s)
    if not m:
        return False
    rest = _COUNT_SUFFIX.sub("", m.group("rest"))
    np = _parse_np(rest)
    if np is None:
        for split in re.finditer(r" (?:are|is) | (?:can|do) you see ", rest):
            a, b = rest[:split.start()], rest[split.end():]
            np = _parse_np(f"{a} that are {b}") if "are" in split.group() or "is" in split.group() else _parse_np(f"{a} {b}")
            if np is not None:
                break
    if np is None:
        return False
    p.default = "0"
    (patches,) = p.locate(np)
    p.add(1, f"return str(len({patches}))")
    return True


def _position(q: _Question, p: _Program) -> bool:
    """Where an object is in the frame: "On which side is the car, the left or the right?", "In which
    part is the remote, the bottom or the top?", "Is the bottle in the bottom of the image?", "Are the
    black cars in the top part of the photo?" (from the detection's box, no further operator)."""
    m = re.fullmatch(r"(?:on )?(?:which|what) side (?:is|are) (?P<np>.+?)(?:, (?:on )?(?:the )?(?:left|right) or (?:on )?(?:the )?(?:left|right)(?: side)?)?", q.s)
    if m:
        return _which_side(p, m.group("np"), ("left", "right"))
    m = re.fullmatch(r"(?:in |on |at )?(?:which|what) (?:part|half) (?:is|are) (?P<np>.+?)(?:, (?:in |at )?(?:the )?(?:top|bottom) or (?:in |at )?(?:the )?(?:top|bottom)(?: part)?)?", q.s)
    if m:
        return _which_side(p, m.group("np"), ("bottom", "top"))
    m = re.fullmatch(r"(?:is|are) (?P<np>.+?) (?:on|in|at|to) the (?P<a>left|right|top|bottom)(?: side| part| half)? or (?:on |in |at |to )?(?:the )?(?P<b>left|right|top|bottom)(?: side| part| half)?", q.s)
    if m and {m.group("a"), m.group("b")} in ({"left", "right"}, {"top", "bottom"}):
        return _which_side(p, m.group("np"), ("left", "right") if m.group("a") in ("left", "right") else ("bottom", "top"))
    m = re.fullmatch(r"(?:is|are) (?P<np>.+?) (?:on|in|at|to) the (?P<side>left|right|top|bottom)(?: side| part| half)?", q.s)
    if not m:
        return False
    np = _parse_np(m.group("np"))
    if np is None or np.relation is not None:
        return False
    p.default = "no"
    (patches,) = p.locate(np)
    if np.plural and np.definite:
        p.add(1, f"if len({patches}) == 0:")
        p.ask_whole(2)
        item = p.name(f"{_slug(np.head)}_patch")
        p.add(1, f"return bool_to_yesno(all({p.on_side(item, m.group('side'))} for {item} in {patches}))")
    else:
        (patch,) = p.firsts(np)
        p.add(1, f"return bool_to_yesno({p.on_side(patch, m.group('side'))})")
    return True


def _which_side(p: _Program, text: str, sides: tuple[str, str]) -> bool:
    np = _parse_np(text)
    if np is None:
        return False
    p.locate(np)
    (patch,) = p.firsts(np)
    axis = "horizontal_center" if sides[0] == "left" else "vertical_center"
    p.add(1, f"if {patch}.{axis} < image_patch.{axis}:")
    p.add(2, f"return {_lit(sides[0])}")
    p.add(1, f"return {_lit(sides[1])}")
    return True


_COMPARATIVES = {
    "bigger": ("area", ">"), "larger": ("area", ">"), "smaller": ("area", "<"),
    "taller": ("height", ">"), "shorter": ("height", "<"), "wider": ("width", ">"),
    "narrower": ("width", "<"), "longer": ("length", ">"),
    "higher": ("vertical_center", ">"), "lower": ("vertical_center", "<"),
    "closer": ("depth", "<"), "nearer": ("depth", "<"), "farther": ("depth", ">"), "further": ("depth", ">"),
}
_CMP = "|".join(_COMPARATIVES)
_SAME_KINDS = r"color|material|size|shape|pattern|type|kind"


def _measure(p: _Program, patch: str, what: str) -> str:
    if what == "area":
        return f"{patch}.width * {patch}.height"
    if what == "length":
        return f"max({patch}.width, {patch}.height)"
    if what == "depth":
        return p.depth(patch)
    return f"{patch}.{what}"


def _compare(q: _Question, p: _Program) -> bool:
    """Comparing two objects: "Is the car bigger than the truck?" (box sizes, positions or depth), "Are
    the shirt and the pants the same colour?", "Is the material of the window the same as the
    table?", "Are there more forks than knives?". The two objects are independent finds."""
    s = q.s
    m = re.fullmatch(rf"(?:is|are) (?P<a>.+?) (?P<cmp>{_CMP}) than (?P<b>.+)", s)
    if m:
        a, b = _parse_np(m.group("a")), _parse_np(m.group("b"))
        if a is None or b is None:
            return False
        what, op = _COMPARATIVES[m.group("cmp")]
        p.default = "no"
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        p.add(1, f"return bool_to_yesno({_measure(p, pa, what)} {op} {_measure(p, pb, what)})")
        return True
    m = re.fullmatch(r"are there (?P<cmp>more|fewer|less) (?P<a>.+?) than (?P<b>.+)", s) or \
        re.fullmatch(r"are there (?P<cmp>as many|the same number of) (?P<a>.+?) (?:as|and) (?P<b>.+)", s)
    if m:
        a, b = _parse_np(m.group("a")), _parse_np(m.group("b"))
        if a is None or b is None:
            return False
        op = {"more": ">", "fewer": "<", "less": "<"}.get(m.group("cmp"), "==")
        la, lb = p.locate(a, b)
        p.add(1, f"return bool_to_yesno(len({la}) {op} len({lb}))")
        return True
    same = [
        rf"(?:are|do|does) (?:both )?(?P<a>.+?) and (?P<b>.+?) (?:both )?(?:have )?(?:the )?(?P<diff>same|different) (?P<kind>{_SAME_KINDS})s?",
        r"(?:are|do|does) (?:both )?(?P<a>.+?) and (?P<b>.+?) (?:both )?made (?:of|from) (?:the )?(?P<diff>same|different) (?P<kind>material)s?",
        rf"(?:is|are|does|do) (?P<a>.+?) (?:have )?(?:the )?(?P<diff>same|different) (?P<kind>{_SAME_KINDS}) (?:as|than|from) (?P<b>.+)",
        rf"(?:is|are) the (?P<kind>{_SAME_KINDS}) of (?P<a>.+?) (?:the )?(?P<diff>same|different) (?:as|than|from) (?:that of )?(?P<b>.+)",
    ]
    for pattern in same:
        m = re.fullmatch(pattern, s)
        if m:
            a, b = _parse_np(m.group("a")), _parse_np(m.group("b"))
            if a is None or b is None:
                continue
            kind = {"type": "kind"}.get(m.group("kind"), m.group("kind"))
            p.default = "no"
            p.locate(a, b)
            pa, pb = p.firsts(a, b)
            values = []
            for np, patch in ((a, pa), (b, pb)):
                var = p.name(f"{_slug(np.head)}_{kind}")
                values.append(var)
                p.add(1, f"{var} = {_describe(p, patch, np, kind)}")
            op = "==" if m.group("diff") == "same" else "!="
            p.add(1, f"return bool_to_yesno({values[0]} {op} {values[1]})")
            return True
    return False


def _describe(p: _Program, patch: str, np: _NP, kind: str) -> str:
    """An expression asking ``patch`` for its ``kind`` (colour, material ...)."""
    template = _KIND_QUESTIONS.get(kind, "What kind of {np} {be} this?")
    question = template.format(be=np.be, np=np.text)
    if p.has("simple_query"):
        return p.query(patch, question)
    if kind in _KIND_WORDS:
        return p.choose(patch, _KIND_WORDS[kind], question)
    raise _Unavailable("simple_query")


def _which_compare(q: _Question, p: _Program) -> bool:
    """Which of two named objects: "Which animal is larger, the dog or the cat?", "Which is closer,
    the car or the bus?", "What piece of furniture is not wooden, the table or the chair?"."""
    m = re.fullmatch(rf"(?:which|what)(?: one| (?:kind|type|sort) of [\w ]+?| [\w ]+?)? (?:is|are|looks?|seems?) (?P<cmp>{_CMP}),? (?P<a>.+?) or (?P<b>.+)", q.s)
    if m:
        a, b = _parse_np(m.group("a")), _parse_np(m.group("b"))
        if a is None or b is None or a.head == b.head:
            return False
        what, op = _COMPARATIVES[m.group("cmp")]
        p.default = a.head
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        p.add(1, f"if {_measure(p, pa, what)} {op} {_measure(p, pb, what)}:")
        p.add(2, f"return {_lit(a.head)}")
        p.add(1, f"return {_lit(b.head)}")
        return True
    m = re.fullmatch(r"(?:which|what)(?: one| (?:kind|type|sort|piece) of [\w ]+?| [\w ]+?)? (?:is|are|looks?|seems?) (?P<neg>not )?(?P<prop>[\w' -]+?),? (?P<a>the .+?) or (?P<b>(?:the )?.+)", q.s)
    if m:
        a, b = _parse_np(m.group("a")), _parse_np(m.group("b"))
        prop = _property(m.group("prop"))
        if a is None or b is None or prop is None or a.head == b.head:
            return False
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        negated = bool(m.group("neg"))
        va, vb = p.name(f"is_{_slug(a.head)}"), p.name(f"is_{_slug(b.head)}")
        p.add(1, f"{va} = {p.verify(pa, a.head, prop, negated=negated)}")
        p.add(1, f"{vb} = {p.verify(pb, b.head, prop, negated=negated)}")
        p.add(1, f"if {va} and not {vb}:")
        p.add(2, f"return {_lit(a.head)}")
        p.add(1, f"if {vb} and not {va}:")
        p.add(2, f"return {_lit(b.head)}")
        p.default = a.head
        p.ask_whole(1)
        return True
    return False


_EXIST_PREFIX = (rf"(?:(?:is|are) there(?: either| both)?|(?:do|can) you see(?: either| both)?|(?:does|do) {_SCENE_SUBJECT} "
                 r"(?:contain|show|have|include)(?: either| both)?)")


def _logic(q: _Question, p: _Program) -> bool:
    """And/or of conditions: "Is there a cat or a dog?", "Are there both forks and knives?", "Are there
    any bottles or mugs that are not purple?" (one independent check per object), "Is the field green
    and small?", "Does the water have small size and white color?", "Are the glove and the
    undershirt both black?" (two properties of one object, or one of two)."""
    s = q.s
    m = re.fullmatch(rf"{_EXIST_PREFIX} (?:any )?(?P<a>.+?) (?P<op>or|and) (?:any |also )?(?P<b>.+?)", s)
    if m:
        a_text, b_text, suffix = m.group("a"), m.group("b"), ""
        tail = re.search(r" (?:that|which|who) .+$", b_text)
        if tail:
            b_text, suffix = b_text[:tail.start()], tail.group()
        a, b = _parse_np(a_text + suffix), _parse_np(b_text + suffix)
        if a is None or b is None or a.head == b.head:
            return False
        if m.group("op") == "or" and a.attrs and not b.attrs and b_text.split()[0] not in _DETERMINERS:
            b = _NP(head=b.head, attrs=a.attrs, filters=b.filters, plural=b.plural, definite=b.definite)
        p.default = "no"
        checks = _existence_checks(p, [a, b])
        joiner = f" {m.group('op')} "
        p.add(1, f"return bool_to_yesno({joiner.join(checks)})")
        return True
    m = re.fullmatch(r"(?:are|is) (?:both )?(?P<body>.+)", s)
    if m:
        for left, right in _splits(m.group("body"), " and "):
            a = _parse_np(left)
            if a is None or a.relation is not None:
                continue
            for b_text, prop_text in _tails(right):
                b_text = re.sub(r" (?:both|all)$", "", b_text)
                b, prop = _parse_np(b_text), _property(prop_text)
                if b is None or prop is None or b.relation is not None or a.head == b.head:
                    continue
                p.default = "no"
                p.locate(a, b)
                pa, pb = p.firsts(a, b)
                va, vb = p.name(f"is_{_slug(a.head)}_{_slug(prop)}"), p.name(f"is_{_slug(b.head)}_{_slug(prop)}")
                p.add(1, f"{va} = {p.verify(pa, a.head, prop)}")
                p.add(1, f"{vb} = {p.verify(pb, b.head, prop)}")
                p.add(1, f"return bool_to_yesno({va} and {vb})")
                return True
    patterns = [
        r"(?:is|are) (?P<body>.+?) (?P<op>and) (?P<p2>[\w' -]+)",
        r"(?:does|do) (?P<body>.+?) (?:look|looks|seem|seems|appear|appears)(?: to be)? (?P<p1>.+?) (?P<op>and) (?P<p2>[\w' -]+)",
        rf"(?:does|do) (?P<body>.+?) have (?:a |an )?(?P<p1>[\w'-]+) (?:{_SAME_KINDS}) (?P<op>and) (?:a |an )?(?P<p2>[\w'-]+) (?:{_SAME_KINDS})",
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
            np = _parse_np(re.sub(r" (?:both|either)$", "", np_text))
            p1, p2 = _property(re.sub(r"^(?:both|either) ", "", p1_text)), _property(m.group("p2"))
            if np is None or p1 is None or p2 is None or not np.definite:
                continue
            p.default = "no"
            p.locate(np)
            (patch,) = p.firsts(np)
            names = []
            for prop in (p1, p2):
                var = p.name(f"is_{_slug(prop)}")
                names.append(var)
                p.add(1, f"{var} = {p.verify(patch, np.head, prop)}")
            p.add(1, f"return bool_to_yesno({names[0]} {m.group('op')} {names[1]})")
            return True
    return False


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


def _existence_checks(p: _Program, nps: list[_NP]) -> list[str]:
    """One boolean variable per noun phrase: is it in the image (after its filters)?"""
    plain = [np for np in nps if not np.attrs and not np.filters]
    narrowed = [np for np in nps if np.attrs or np.filters]
    names: dict[_NP, str] = {}
    for np in plain:
        var = p.name(f"is_{_slug(np.head)}")
        p.add(1, f"{var} = {p.exists('image_patch', np.head)}")
        names[np] = var
    if narrowed:
        lists = p.locate(*narrowed)
        for np, var in zip(narrowed, lists):
            flag = p.name(f"is_{_slug(np.text)}")
            p.add(1, f"{flag} = len({var}) > 0")
            names[np] = flag
    return [names[np] for np in nps]


_IMAGE_SUBJECT = "(?:" + "|".join(sorted((
    "it", "this", "this place", "this room", "this scene", "this area", "this location", "this picture", "this photo",
    "this image", "the picture", "the photo", "the image", "the scene", "the place", "the room"), key=lambda w: (-len(w), w))) + ")"


def _choice(q: _Question, p: _Program) -> bool:
    """Choosing between given options: "Is the car red or blue?", "Is the man sitting or standing?",
    "What color is the fence, tan or black?" (``best_text_match`` on the object's patch), "Is the
    bowl to the right or to the left of the man?" (geometry), "Is this place the forest or the
    garden?", "Was this picture taken in a bathroom or at a dining room?" (the whole image)."""
    s = q.s
    m = re.fullmatch(r"(?:is|are) (?P<a>.+?) (?:to the |on the )?(?P<o1>left|right|above|below|in front|behind) or "
                     r"(?:to the |on the )?(?P<o2>left|right|above|below|in front|behind)(?: of)? (?P<b>.+)", s)
    if m:
        pair = {m.group("o1"), m.group("o2")}
        a, b = _parse_np(m.group("a")), _parse_np(m.group("b"))
        if a is None or b is None or pair not in ({"left", "right"}, {"above", "below"}, {"in front", "behind"}):
            return False
        p.locate(a, b)
        pa, pb = p.firsts(a, b)
        first, second = {"left": ("left", "right"), "right": ("left", "right"), "above": ("below", "above"),
                         "below": ("below", "above"), "in front": ("in front", "behind"),
                         "behind": ("in front", "behind")}[m.group("o1")]
        if first == "left":
            cond = f"{pa}.horizontal_center < {pb}.horizontal_center"
        elif first == "below":
            cond = f"{pa}.vertical_center < {pb}.vertical_center"
        else:
            cond = f"{p.depth(pa)} < {p.depth(pb)}"
        p.add(1, f"if {cond}:")
        p.add(2, f"return {_lit(first)}")
        p.add(1, f"return {_lit(second)}")
        return True
    m = re.fullmatch(rf"(?:is|was) {_IMAGE_SUBJECT}(?: taken| located| shot)? (?:in |at |on )?(?P<a>[\w' -]+?),? or (?P<b>[\w' -]+)", s)
    if m:
        opts = _options(m.group("a"), m.group("b"))
        if opts is None:
            return False
        p.add(1, f"return {p.choose('image_patch', opts, q.text)}")
        p.family = "scene"
        return True
    m = re.fullmatch(rf"(?:what|which) (?P<kind>{_SAME_KINDS}) (?:is|are|does|do) (?P<np>.+?)(?: made of| made from| have)?, (?P<a>[\w' -]+?) or (?P<b>[\w' -]+)", s)
    if m:
        np = _parse_np(m.group("np"))
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
            np = _parse_np(sub.group("np"))
            if np is None:
                words = sub.group("np").split()
                np = _parse_np(" ".join(words[:-1])) if len(words) > 1 else None
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
            if head_words and head_words[-1] in ("look", "looks", "seem", "seems", "appear", "appears"):
                head_words = head_words[:-1]
            if head_words[:1] == ["there"] or head_words[:1] == ["it"]:
                return False
            np = _parse_np(" ".join(head_words))
            opts = _options(" ".join(words[-k:]), m.group("b"))
            if np is not None and opts is not None:
                return _choose_on(q, p, np, opts)
    return False


def _choose_on(q: _Question, p: _Program, np: _NP, opts: tuple[str, str]) -> bool:
    if p.has("best_text_match"):
        p.default_code = f"image_patch.best_text_match({_lit_list(opts)})"
    p.locate(np)
    (patch,) = p.firsts(np)
    p.add(1, f"return {p.choose(patch, opts, q.text)}")
    return True


_ATTRIBUTE_WH = [
    r"(?:what|which) (?P<kind>color|material|shape|size|pattern) (?:is|are|does|do) (?P<np>.+?)(?: made of| made from| made out of| have)?",
    r"what (?:is|are) the (?P<kind>color|material|shape|size|pattern)s? of (?P<np>.+)",
    r"(?P<np>.+?) (?:is|are) (?:of )?(?:what|which) (?P<kind>color|material|shape|size|pattern)",
    r"what (?:type|kind|sort) of (?P<kind>material) (?:is|are) (?P<np>.+?) made (?:of|from|out of)",
    r"what (?:is|are) (?P<np>.+?) made (?:of|from|out of)",
    r"how (?:big|large|small|tall) (?:is|are) (?P<np>.+)",
    r"what size (?:is|are) (?P<np>.+)",
]


def _attribute_wh(q: _Question, p: _Program) -> bool:
    """An object's attribute: "What colour is the car?", "What is the sink made of?", "The pot is of
    which color?", "How big is the carrot?" -> find the object, then ``simple_query`` on its patch
    (or ``best_text_match`` over known colours/materials when ``simple_query`` is absent)."""
    for pattern in _ATTRIBUTE_WH:
        m = re.fullmatch(pattern, q.s)
        if not m:
            continue
        np = _parse_np(m.group("np"))
        if np is None:
            return False
        kind = m.groupdict().get("kind") or ("material" if "made" in pattern else "size")
        p.locate(np)
        (patch,) = p.firsts(np)
        p.add(1, f"return {_describe(p, patch, np, kind)}")
        return True
    return False


def _who(q: _Question, p: _Program) -> bool:
    """Who-questions: "Who is holding the umbrella?", "Who wears a cap?", "Who is surfing?" (a fan-out
    of checks over every person found, then ``simple_query`` on the match), and "Who is on the
    snowboard on the right?" (geometry against the named object)."""
    m = re.fullmatch(r"who (?:is|are|was|were) (?P<vp>.+)", q.s) or re.fullmatch(r"who (?P<vp>\w+s .+)", q.s)
    if not m:
        return False
    rel = _split_relation(m.group("vp"), 0)
    prop = None if rel else _property(m.group("vp"))  # "wears a cap" becomes "wearing a cap"
    if rel is None and prop is None:
        return False
    person = _NP(head="person", plural=False, definite=False)
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


def _which_attribute(q: _Question, p: _Program) -> bool:
    """Which object has a property: "What animal is white?", "Which kind of clothing is black?", "What
    vehicle isn't black?", "What is the striped animal called?" (a fan-out of checks over the
    detections, then ``simple_query`` on the match)."""
    m = re.fullmatch(r"(?:what|which) (?:(?:kind|type|sort|piece)s? of )?(?P<cat>[\w'-]+(?: [\w'-]+)?) (?:in [\w ]+ )?(?:is|are) (?P<neg>not )?(?P<prop>[\w'-]+(?: [\w'-]+)?)", q.s)
    if m:
        cat = _parse_np(m.group("cat"))
        prop = _property(m.group("prop"))
        if cat is None or prop is None or cat.filters or prop.split()[0] in _REL_FIRST or m.group("cat") in _KIND_WORDS:
            return False
        cat = _NP(head=cat.head, attrs=cat.attrs, plural=False, definite=False)
        (found,) = p.locate(cat)
        item = p.name(f"{_slug(cat.head)}_patch")
        p.add(1, f"for {item} in {found}:")
        p.add(2, f"if {p.verify(item, cat.head, prop, negated=bool(m.group('neg')))}:")
        p.add(3, f"return {p.query(item, f'What {cat.head} is this?')}")
        p.ask_whole(1)
        return True
    m = re.fullmatch(r"what (?:is|are) (?P<np>.+?) called", q.s)
    if m:
        np = _parse_np(m.group("np"))
        if np is None:
            return False
        p.locate(np)
        (patch,) = p.firsts(np)
        p.add(1, f"return {p.query(patch, f'What {np.head} is this?')}")
        return True
    return False


_POSTURE_RE = "|".join(sorted(_POSTURE))


def _relation_what(q: _Question, p: _Program) -> bool:
    """What is in a relation to an object: "What is on the table?", "What is under the bed?" ->
    ``simple_query`` on the object's patch; "What is to the left of the taxi?" -> on the part of the
    image beside it (a ``crop``)."""
    m = re.fullmatch(rf"what (?:is|are) (?:(?:{_POSTURE_RE}) )?(?P<rel>{_REL_RE}) (?P<np>.+)", q.s)
    if not m:
        return False
    ref = _parse_np(m.group("np"))
    if ref is None:
        return False
    rel = _REL_NAME[m.group("rel")]
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
        p.add(1, f"# Ask about the part of the image {rel} of the {_words(ref.head)}")
        p.add(1, f"{region} = image_patch.crop({crops[rel]})")
        p.add(1, f"return {p.query(region, q.text)}")
    else:
        p.add(1, f"return {p.query(patch, q.text)}")
    return True


def _relation_which(q: _Question, p: _Program) -> bool:
    """Which object of a kind is in a relation: "What kind of animal is sitting in the container?",
    "What device is to the right of the cake?", "What vehicles are left of the taxi?", "What is the
    animal in front of the lamp?", and the other way round, "What kind of watercraft is the fruit
    on?" -> the candidates narrowed by geometry against the named object, then asked what they are."""
    s = q.s
    m = re.fullmatch(r"(?:what|which) (?:(?:kind|type|sort|piece)s? of )?(?P<cat>[\w'-]+(?: [\w'-]+)?) (?:is|are) (?P<rest>.+)", s)
    if m:
        cat = _parse_np(m.group("cat"))
        if cat is None or cat.filters or m.group("cat") in _KIND_WORDS:
            return False
        subject = _NP(head=cat.head, attrs=cat.attrs, plural=cat.plural, definite=False)
        rel = _split_relation(m.group("rest"), 0)
        if rel is not None:
            return _which_related(q, p, subject, rel[0], rel[1], inverse=False)
        # "What kind of watercraft is the fruit on?": the named object is in the relation to the candidate.
        inv = re.fullmatch(rf"(?P<np>.+?) (?:(?:{_POSTURE_RE}) )?(?P<rel>{_REL_RE})", m.group("rest"))
        other = _parse_np(inv.group("np")) if inv else None
        if inv is None or other is None:
            return False
        return _which_related(q, p, subject, _REL_NAME[inv.group("rel")], other, inverse=True)
    m = re.fullmatch(r"what (?:is|are) (?P<np>the .+)", s)
    if m:
        np = _parse_np(m.group("np"))
        if np is None or np.relation is None or len(np.filters) != 1:
            return False
        subject = _NP(head=np.head, attrs=np.attrs, plural=np.plural, definite=False)
        return _which_related(q, p, subject, np.relation.value, np.relation.ref, inverse=False)
    return False


def _which_related(q: _Question, p: _Program, subject: _NP, rel: str, ref: _NP | None, *, inverse: bool) -> bool:
    """Ask what each ``subject`` detection is, for those in ``rel`` to ``ref`` (``ref`` to them if ``inverse``)."""
    if ref is None or ref.head == subject.head:
        return False
    found, _ = p.locate(subject, ref)
    (ref_patch,) = p.firsts(ref)
    item = p.name(f"{_slug(subject.head)}_patch")
    cond = p.relation(rel, ref_patch, item) if inverse else p.relation(rel, item, ref_patch)
    ask = f"What {subject.head} is this?"
    if subject.plural:
        names = p.name(f"{_slug(subject.head)}_names")
        p.add(1, f"{names} = [{p.query(item, ask)} for {item} in {found} if {cond}]")
        p.add(1, f"if len({names}) == 0:")
        p.ask_whole(2)
        p.add(1, f'return ", ".join({names})')
        return True
    p.add(1, f"for {item} in {found}:")
    p.add(2, f"if {cond}:")
    p.add(3, f"return {p.query(item, ask)}")
    p.ask_whole(1)
    return True


def _relation_yesno(q: _Question, p: _Program) -> bool:
    """Yes/no relations between two objects: "Is the cup to the left of the plate?", "Is the white
    pillow under the black animal?", "Is the blue sky behind a cathedral?" (left/right/above/below/on/
    under/in/near/next to from the boxes, behind/in front of from ``compute_depth``)."""
    m = re.fullmatch(r"(?:is|are) (?P<body>.+)", q.s)
    if not m:
        return False
    body = m.group("body")
    hits = [h for h in re.finditer(rf"(?<= )(?:{_REL_RE})(?= )", body)]
    for hit in reversed(hits):
        subject_words = body[:hit.start()].split()
        if len(subject_words) > 1 and subject_words[-1] in _POSTURE:
            subject_words = subject_words[:-1]  # "the cat sitting on the couch"
        a = _parse_np(" ".join(subject_words))
        if a is None or not a.definite:
            continue
        b = _parse_np(body[hit.end():].strip())
        if b is None:
            continue
        rel = _REL_NAME[hit.group()]
        p.default = "no"
        la, lb = p.locate(a, b)
        if b.definite and a.plural:
            (pb,) = p.firsts(b)
            p.add(1, f"if len({la}) == 0:")
            p.ask_whole(2)
            item = p.name(f"{_slug(a.head)}_patch")
            p.add(1, f"return bool_to_yesno(all({p.relation(rel, item, pb)} for {item} in {la}))")
        elif b.definite:
            pa, pb = p.firsts(a, b)
            p.add(1, f"return bool_to_yesno({p.relation(rel, pa, pb)})")
        else:
            (pa,) = p.firsts(a)
            item = p.name(f"{_slug(b.head)}_patch")
            p.add(1, f"for {item} in {lb}:")
            p.add(2, f"if {p.relation(rel, pa, item)}:")
            p.add(3, 'return "yes"')
            p.add(1, 'return "no"')
        p.family = "relation"
        return True
    return False


_EXISTENCE = re.compile(rf"(?:{_EXIST_PREFIX}|is there any|are there any) (?:any |some )?(?P<np>.+)")


def _existence(q: _Question, p: _Program) -> bool:
    """Existence: "Is there a dog?", "Are there any cars?" -> ``exists``; with attributes or a
    qualifier ("Are there helmets that are not white?", "Are there any dogs on the tan sand?", "Is
    there an elephant near the pond?") the detections are checked one by one, a fan-out."""
    m = _EXISTENCE.fullmatch(q.s)
    if not m:
        return False
    np = _parse_np(m.group("np"))
    if np is None:
        return False
    p.default = "no"
    if not np.attrs and not np.filters:
        p.add(1, f"return bool_to_yesno({p.exists('image_patch', np.head)})")
        return True
    if np.relation is not None:
        p.family = "relation"
    (found,) = p.locate(np)
    p.add(1, f"return bool_to_yesno(len({found}) > 0)")
    return True


def _attribute_yesno(q: _Question, p: _Program) -> bool:
    """Yes/no properties of an object: "Is the table wooden?", "Does the giraffe look adult?", "Are the
    mountains covered with snow?", "Does the man wear a cap?", "Does the pizza slice have large size?"
    -> ``verify_property`` on the object's patch (on every one, for a plural "the ...s")."""
    s = q.s
    candidates: list[tuple[str, str, bool]] = []
    m = re.fullmatch(r"(?:does|do) (?P<np>.+?) (?:look|looks|seem|seems|appear|appears)(?: to be)? (?P<neg>not )?(?P<prop>.+)", s)
    if m:
        candidates.append((m.group("np"), m.group("prop"), bool(m.group("neg"))))
    m = re.fullmatch(rf"(?:does|do) (?P<np>.+?) have (?:a |an )?(?P<prop>[\w'-]+(?: [\w'-]+)?) (?:{_SAME_KINDS})", s)
    if m:
        candidates.append((m.group("np"), m.group("prop"), False))
    m = re.fullmatch(r"(?:does|do) (?P<np>.+?) (?P<verb>wear|have|hold|carry|ride|use|eat|drink|contain) (?P<obj>.+)", s)
    if m:
        verb = {"contain": "containing"}.get(m.group("verb"), _THIRD_PERSON.get(m.group("verb")))
        candidates.append((m.group("np"), f"{verb} {m.group('obj')}", False))
    m = re.fullmatch(r"(?:is|are) (?P<body>.+)", s)
    if m:
        words = m.group("body").split()
        for i in range(1, len(words)):
            rest = words[i:]
            neg = rest[0] == "not"
            if neg:
                rest = rest[1:]
            if not rest or rest[0] in _REL_FIRST:
                continue  # a relation, which _relation_yesno handles
            candidates.append((" ".join(words[:i]), " ".join(rest), neg))
    for np_text, prop_text, negated in candidates:
        np = _parse_np(np_text)
        prop = _property(prop_text)
        if np is None or prop is None or not np.definite:
            continue
        p.default = "no"
        (found,) = p.locate(np)
        if np.plural:
            p.add(1, f"if len({found}) == 0:")
            p.ask_whole(2)
            item = p.name(f"{_slug(np.head)}_patch")
            p.add(1, f"# Every {_words(np.head)} must have the property")
            p.add(1, f"for {item} in {found}:")
            p.add(2, f"if {p.verify(item, np.head, prop, negated=not negated)}:")
            p.add(3, 'return "no"')
            p.add(1, 'return "yes"')
        else:
            (patch,) = p.firsts(np)
            p.add(1, f"return bool_to_yesno({p.verify(patch, np.head, prop, negated=negated)})")
        return True
    return False


def _object(q: _Question, p: _Program) -> bool:
    """A question about what one object does or has: "What is the man wearing?", "What does the batter
    hold?", "What is the girl playing with?", "What is the glass on?", "The women are watching who?" ->
    find the object, then ``simple_query`` on its patch."""
    s = q.s
    m = re.fullmatch(r"what (?:is|are|does|do|did) (?P<body>.+)", s) or re.fullmatch(r"(?P<body>.+?) (?:is|are) \w+ing (?:who|what|whom)", s)
    if not m:
        return False
    words = m.group("body").split()
    asks_object = s.endswith((" who", " whom", " what"))
    for i in range(1, len(words) + 1):
        np = _parse_np(" ".join(words[:i]))
        rest = words[i:]
        if np is None or (not rest and not asks_object):
            continue
        if len(rest) > 5 or any(not _WORD.fullmatch(w) for w in rest):
            continue
        if rest and rest[0] in _REL_FIRST and " ".join(rest) not in _REL_NAME:
            continue
        p.locate(np)
        (patch,) = p.firsts(np)
        p.add(1, f"return {p.query(patch, q.text)}")
        return True
    return False


def _scene(q: _Question, p: _Program) -> bool:
    """Questions about the whole scene, which the whole image answers: "Which place is it?", "Is it
    outdoors?", "What room is this?" (``best_text_match`` for indoors/outdoors, else ``simple_query``)."""
    s = q.s
    m = re.fullmatch(rf"(?:is|was) {_IMAGE_SUBJECT}(?: taken)? (?P<w>indoors|outdoors|inside|outside|indoor|outdoor)", s)
    if m and p.has("best_text_match"):
        place = p.name("place")
        p.add(1, f"{place} = {p.choose('image_patch', ('indoors', 'outdoors'), q.text)}")
        want = "outdoors" if m.group("w").startswith("out") else "indoors"
        p.add(1, f"return bool_to_yesno({place} == {_lit(want)})")
        return True
    if m or re.fullmatch(
            r"(?:(?:which|what) (?:kind of |type of |sort of )?(?:place|room|location|area|setting|environment|season|weather|time of day)"
            r" (?:is (?:it|this|that|shown|pictured)|are we in|is this in|was it taken)|where (?:is|was) (?:it|this) (?:taken|shot|photographed)|"
            r"where is this|how is the weather|what is the weather like)", s):
        p.add(1, f"return {p.query('image_patch', q.text)}")
        return True
    return False


#: The rule table, tried in order; the first handler that writes a program wins.
RULES: tuple[Rule, ...] = (
    Rule("scene", _scene),
    Rule("damage", _damage),
    Rule("search", _search),
    Rule("count", _count),
    Rule("position", _position),
    Rule("compare", _compare),
    Rule("which", _which_compare),
    Rule("logic", _logic),
    Rule("choice", _choice),
    Rule("attribute", _attribute_wh),
    Rule("which", _who),
    Rule("relation", _relation_what),
    Rule("relation", _relation_which),
    Rule("which", _which_attribute),
    Rule("relation", _relation_yesno),
    Rule("existence", _existence),
    Rule("attribute", _attribute_yesno),
    Rule("object", _object),
)
