"""The ``count`` family: how many of an object there are, or whether there are that many.

"How many dogs are there?" (or "Count the dogs.", "How many dogs are there in total?")
-> ``str(len(image_patch.find("dog")))``; the detections are narrowed
first for "How many black cars are there?" or "How many people are wearing hats?"; "Are there two
dogs?", "Are there at least three cars?" compare the count with the number.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.phrases import parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question

_COUNT_SUFFIX = re.compile(r" (?:(?:are|is) there|there are|there is|(?:can|do) you (?:see|count|find|spot)|can be seen|"
                           r"(?:are|is) (?:visible|shown|pictured|present|there)|are|is)$")
#: Words that add nothing to a count: "How many dogs are there in total?", "... altogether?".
_TOTAL = re.compile(r",? (?:in total|altogether|all together|overall|in all|all told|total)$")
_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_AT_LEAST = {"at least": ">=", "more than": ">", "fewer than": "<", "less than": "<", "at most": "<=", "exactly": "=="}


def how_many(q: Question, p: ProgramWriter) -> bool:
    """Counting: "How many dogs are there?" -> ``str(len(image_patch.find("dog")))``; also "How many
    black cars are there?", "How many dogs are on the couch?", "How many people are wearing hats?"
    (the detections narrowed first, by a fan-out of checks or by geometry), and "Are there two
    dogs?", "Are there at least three cars?" (the count compared)."""
    m = re.fullmatch(rf"(?:are|is) there (?P<cmp>(?:{'|'.join(_AT_LEAST)}) )?(?P<n>\d{{1,3}}|{'|'.join(_NUMBERS)}) (?P<np>.+)", q.s)
    if m:
        np = parse_noun_phrase(m.group("np"))
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
    rest = _COUNT_SUFFIX.sub("", _TOTAL.sub("", m.group("rest")))
    np = parse_noun_phrase(rest)
    if np is None:
        for split in re.finditer(r" (?:are|is) | (?:can|do) you see ", rest):
            a, b = rest[:split.start()], rest[split.end():]
            np = parse_noun_phrase(f"{a} that are {b}") if "are" in split.group() or "is" in split.group() else parse_noun_phrase(f"{a} {b}")
            if np is not None:
                break
    if np is None:
        return False
    p.default = "0"
    (patches,) = p.locate(np)
    p.add(1, f"return str(len({patches}))")
    return True
