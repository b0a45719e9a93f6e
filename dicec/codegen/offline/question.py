"""The question as the rules see it: the text as asked, and a normalised form to parse.

:func:`normalise` makes the parse form once, so that no family has to cope with case, curly
apostrophes, contractions ("what's", "isn't"), "colour" against "color", trailing punctuation,
spacing around commas, a colon before the options, "in the picture" or "do you think". It also puts
the ways of asking that are not questions in the direct form the families read:

* indirect questions: "Tell me what colour the car is", "Can you tell me whether there's a dog?",
  "Do you know how many dogs there are?" -> "what color is the car", "is there a dog", "how many
  dogs are there" (an embedded question's verb moved back in front of its subject);
* imperatives: "Count the dogs." -> "how many dogs"; "Show me the red car", "Find the cat" ->
  "where is the red car", "where is the cat" ("Can you find a cat?" -> "is there a cat"); "List the animals" -> "what animals are there";
  "Read the sign" -> "what does the sign say"; "Check whether the door is open" -> "is the door
  open";
* negative questions, which ask the same as the positive ones: "Isn't there a dog?" -> "is there a
  dog", "Doesn't the man wear a cap?" -> "does the man wear a cap".

The text as asked (whitespace collapsed) is kept for the ``simple_query`` calls that put the user's
own question to the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dicec.codegen.offline.english import SCENE_WORDS


@dataclass(frozen=True)
class Question:
    """A question, as every family handler receives it."""

    text: str   # the question, whitespace collapsed: what simple_query is asked
    s: str      # the parse form: lower case, no final "?", picture/scene qualifiers dropped


#: Contractions after a question word or pronoun ("what's" -> "what is"); a noun's "'s" is a possessive.
_IS_CONTRACTED = re.compile(r"\b(what|where|who|which|how|that|there|here|it|he|she|this)'s\b")
_NOT_CONTRACTED = [(re.compile(r"\bcan't\b"), "can not"), (re.compile(r"\bwon't\b"), "will not"),
                   (re.compile(r"\b(is|are|was|were|does|do|did|has|have|had|could|would|should)n't\b"), r"\1 not")]
_OTHER_CONTRACTED = [(re.compile(r"\b(they|you|we|what|who|there)'re\b"), r"\1 are"), (re.compile(r"\bi'm\b"), "i am"),
                     (re.compile(r"\b(i|you|we|they)'d like\b"), r"\1 would like")]

#: Words that open a subject: where an embedded question's subject starts ("what colour *the* car is").
_SUBJECT_START = frozenset("the a an this that these those his her their its my your there it he she they".split())
_AUX = frozenset("is are was were".split())
_WH = r"(?:what|which|who|whom|whose|where|when|why|how)"

#: Politeness and filler before a question ("please", "hey, can you ...").
_FILLER = re.compile(r"^(?:(?:please|hey|ok|okay|so|now|and),? )+")
#: "Can you ..." before a request: taken off, the request stays ("can you count the dogs" -> "count the dogs").
#: "Can you see ..." is an existence question of its own and stays as it is.
_CAN_YOU = re.compile(r"^(?:can|could|would|will) you (?:please )?(?=(?:tell|show|let|count|find|locate|point|check|"
                      r"determine|say|list|name|identify|figure|work|read)\b)")
#: Openings that wrap a question without changing it ("tell me ...", "do you know ...").
_WRAPPERS = re.compile(
    r"^(?:(?:tell|let) me(?: know)?|i (?:want|would like|need) to know|i wonder|i am wondering|do you know|"
    r"(?:show me|check|determine|find out|figure out|work out|say|answer)(?= (?:whether|if|what|which|who|where|how|when|why)\b))"
    r"(?: please)? ")
#: Openings before a statement that is to be confirmed ("is it true that the car is red").
_STATEMENT = re.compile(r"^(?:do you think|is it true|would you say|can you confirm|could you confirm)(?: that)? (?P<rest>.+)$")
#: "... whether X" or "... if X": a yes/no question in declarative order.
_WHETHER = re.compile(r"^(?:whether|if) (?P<rest>.+?)(?: or not)?$")
#: Imperatives that ask to count or to locate, and to read.
_COUNT = re.compile(r"^count (?:up )?(?:all |how many )?(?:(?:of )?the (?:total )?(?:number of )?)?(?P<rest>.+)$")
_LOCATE = re.compile(r"^(?:show me|show|find|locate|point (?:to|at|out)|highlight|detect) (?:me )?(?:all )?(?P<rest>.+)$")
_LIST = re.compile(r"^(?:list|name|identify|enumerate)(?: all)?(?: of)?(?: the)? (?P<rest>.+)$")
_READ = re.compile(r"^read (?:out )?(?:what is written on |the text on |the writing on )?(?P<rest>.+)$")


def normalise(text: str) -> str:
    """The parse form of ``text``: lower case, "color", "is not", no final punctuation or picture words,
    indirect questions, imperatives and negative questions put in the direct form."""
    s = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    s = _IS_CONTRACTED.sub(r"\1 is", s)
    for pattern, repl in _NOT_CONTRACTED + _OTHER_CONTRACTED:
        s = pattern.sub(repl, s)
    s = re.sub(r"\bcolou?rs?\b", lambda m: "colors" if m.group().endswith("s") else "color", s)
    s = re.sub(r"\s*[:;]\s*", ", ", s)
    s = re.sub(r"[\s?!.]+$", "", s)
    s = re.sub(r"\s*,\s*", ", ", s)
    s = re.sub(r",? please$", "", s)
    s = re.sub(rf"\b(?:in|of|from) (?:the|this|that) {SCENE_WORDS}\b", " ", s)
    s = " ".join(s.split()).strip(" ,")
    s = _direct(s)
    s = re.sub(r"^what is the (?:total )?number of (?!(?:the|this|that|a|an|his|her|its|their) )", "how many ", s)
    s = re.sub(r"^(is|are|was|were|does|do|did|has|have|can|could) not (?!only\b)", r"\1 ", s)
    s = re.sub(rf"^({_WH}(?: [\w'-]+)?) do you think (is|are)\b", r"\1 \2", s)
    s = re.sub(r"\s+", " ", s)
    return s.strip(" ,")


def _direct(s: str) -> str:
    """``s`` with its wrappers taken off and its imperative or embedded question put in direct form."""
    s = _FILLER.sub("", s)
    s = _CAN_YOU.sub("", s)
    s = re.sub(r"^(?:(?:can|could|do) you (?:spot|notice)|could you see)\b", "can you see", s)
    wrapped = False
    for _ in range(3):
        m = _WRAPPERS.match(s)
        if not m:
            break
        s, wrapped = _CAN_YOU.sub("", s[m.end():]), True
    s = re.sub(r"^how many of (?:the|these|those) ", "how many ", s)
    m = _STATEMENT.fullmatch(s)
    if m and not re.match(rf"{_WH}\b|whether\b|if\b", m.group("rest")):
        return _yes_no(m.group("rest"))
    m = _WHETHER.fullmatch(s)
    if m:
        return _yes_no(m.group("rest"))
    m = _COUNT.fullmatch(s)
    if m:
        return "how many " + m.group("rest")
    m = _LIST.fullmatch(s)
    if m and not re.match(rf"{_WH}\b", m.group("rest")):
        return f"what {m.group('rest')} are there"
    m = _READ.fullmatch(s)
    if m:
        return "what does " + m.group("rest") + " say"
    m = _LOCATE.fullmatch(s)
    if m and not re.match(rf"{_WH}\b|whether\b|if\b|out\b", m.group("rest")):
        rest = m.group("rest")
        if re.match(r"(?:a|an|any) ", rest):
            return f"is there {rest}"  # "Can you find a dog?": whether there is one
        return f"where {'are' if _looks_plural(rest) else 'is'} {rest}"
    if re.match(rf"{_WH}\b", s):
        return _wh_direct(s)
    if wrapped and s.split()[0] in _SUBJECT_START - {"there", "it"}:
        return "what is " + s  # "tell me the color of the car"
    return s


def _looks_plural(phrase: str) -> bool:
    """Whether a noun phrase to locate names several things ("all the dogs", "the cars")."""
    from dicec.codegen.offline.english import is_plural

    words = re.split(r" (?:that|which|who|on|in|at|to|near|next|under|behind|with)\b", phrase, maxsplit=1)[0].split()
    return bool(words) and (words[0] in ("all", "both", "these", "those") or is_plural(words[-1]))


def _yes_no(statement: str) -> str:
    """A statement as a yes/no question: "there is a dog" -> "is there a dog", "the car is red" -> "is the car red"."""
    words = statement.split()
    for i, w in enumerate(words):
        if w in _AUX or w in ("can", "could", "does", "do", "has", "have") and i > 0 and words[i - 1] == "there":
            return " ".join([w, *words[:i], *words[i + 1:]])
        if i > 0 and w in ("has", "have"):
            return " ".join(["does" if w == "has" else "do", *words[:i], "have", *words[i + 1:]])
    return statement


def _wh_direct(s: str) -> str:
    """An embedded wh-question in direct order: "what color the car is" -> "what color is the car",
    "how many dogs there are" -> "how many dogs are there"; a direct one is returned as it is."""
    words = s.split()
    start = next((i for i in range(1, len(words)) if words[i] in _SUBJECT_START and words[i - 1] != "of"), None)
    if start is None or any(w in _AUX or w in ("do", "does", "did") for w in words[1:start]):
        return s  # the verb already follows the question word: a direct question
    verb = next((i for i in range(start + 1, len(words)) if words[i] in _AUX), None)
    if verb is None:
        return s
    return " ".join([*words[:start], words[verb], *words[start:verb], *words[verb + 1:]])
