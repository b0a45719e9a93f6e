"""How well generated programs agree with correct LLM-written ones: the measure behind benchmarks/codegen_quality.py.

The offline generator has no ground truth of its own, but ../shared/dev has real GQA questions with
the ViperGPT programs that LLMs wrote for them and whether each answered correctly. A program's
*object targets* are the names it passes to ``find`` and ``exists`` (:func:`object_targets`, lower
case, last word singular); two programs agree on a question as much as their target sets overlap
(:func:`jaccard`: 1 when both look for nothing, so a whole-image program that matches a whole-image
LLM program counts). For each question:

* ``agreement``: the mean Jaccard of the generated program with each *correct* LLM program
  (questions with no correct program are not scored);
* ``ceiling``: the mean Jaccard of the correct LLM programs with each other (questions with at least
  two): how much programs that all answered right agree, the reference the generator is measured
  against;
* ``fallback``: whether the generator fell back to one whole-image ``simple_query``;
* ``operators``: the operators the generated program calls.

Questions are grouped into families read from the question's own words (:func:`question_family`,
not from which rule of the generator took it), and split for tuning by a hash of the question id
(:func:`split_part`: about a quarter ``held-out``, never looked at while writing rules).
:func:`load_cases` reads the corpus; :func:`measure` scores every question; :func:`summarise` makes
the figures per family and part. Reporting is the benchmark's; the tests assert floors on the same
figures.
"""

from __future__ import annotations

import ast
import collections
import hashlib
import itertools
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from dicec.codegen.offline.english import singular
from dicec.codegen.offline.families.fallback import FALLBACK_WARNING
from dicec.errors import DicecError

#: The operators whose first argument names an object the program looks for.
TARGET_OPERATORS = ("find", "exists")
#: The parts of the split: ``tuning`` (rules may be written against it) and ``held-out`` (never).
PARTS = ("tuning", "held-out")
#: One question in this many is held out (by :func:`split_part`).
HELD_OUT_ONE_IN = 4

#: Question families, from the question's words; the first pattern that matches names the family.
#: Yes/no questions start with a verb; "or" between options is a choice unless it is an existence
#: question ("Is there a cat or a dog?", logical like "... and ...").
_YES_NO = r"(?:is|are|was|were|do|does|did|can|could|has|have|isn't|aren't|doesn't|don't)\b"
_PICTURE = r"(?:picture|image|photo|photograph|pic|scene|frame|shot|snapshot|video)"
_EXIST = rf"(?:(?:is|are) there|(?:do|can|could) you (?:see|spot|find)|(?:does|do) (?:it|(?:this|the) {_PICTURE}) (?:contain|show|have|include))\b"
_RELATION = (r"\b(?:on|in|at|by|to the (?:left|right) of|(?:on )?top of|in front of|behind|near|next to|beside|under|"
             r"underneath|beneath|below|above|over|around|inside)\b")
_ATTRIBUTE_KINDS = r"(?:colou?r|material|shape|size|pattern)"
FAMILY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("scene", r"^(?:(?:which|what) (?:kind of |type of )?(?:place|room|location|season|weather)\b|"
              r"(?:is|was) (?:it|this)\b.* (?:indoors|outdoors|inside|outside)$|how is the weather)"),
    ("compare", r"\b(?:same|different|than)\b|^(?:which|what)\b[^,]*\b(?:bigger|larger|smaller|taller|shorter|"
                r"closer|nearer|farther|further|higher|lower|longer|wider)\b"),
    ("logical", rf"^{_YES_NO}.*\b(?:and|both|either)\b|^{_EXIST}.* or "),
    ("choose", r" or "),
    ("exist", rf"^{_EXIST}"),
    ("verify", rf"^{_YES_NO}"),
    ("count", r"^how many\b|\bnumber of\b"),
    ("attribute", rf"^(?:what|which) (?:type of |kind of )?{_ATTRIBUTE_KINDS}\b|\bthe {_ATTRIBUTE_KINDS} of\b|"
                  rf"\bmade (?:of|from|out of)$|\b(?:what|which) {_ATTRIBUTE_KINDS}$|^how (?:big|large|small|tall|old)\b"),
    ("where", r"^where\b|^(?:on|in|at)? ?(?:which|what) (?:side|part|half)\b"),
    ("who", r"^who\b|\b(?:who|whom)$"),
    ("relation", rf"^(?:what|which)\b.*{_RELATION}"),
    ("object", r"^(?:what|which)\b|\b(?:what|which)$"),
)
FAMILIES = tuple(name for name, _ in FAMILY_PATTERNS) + ("other",)


def question_family(question: str) -> str:
    """The family of ``question`` by its own words (see :data:`FAMILY_PATTERNS`), or ``other``."""
    s = re.sub(r"[\s?.!]+$", "", " ".join(question.lower().replace("\u2019", "'").split()))
    s = " ".join(re.sub(rf"\b(?:in|of|from) (?:the|this|that) {_PICTURE}\b", " ", s).split())
    for name, pattern in FAMILY_PATTERNS:
        if re.search(pattern, s):
            return name
    return "other"


def split_part(question_id: str) -> str:
    """``held-out`` for about one question id in :data:`HELD_OUT_ONE_IN` (by SHA-256), else ``tuning``."""
    digest = hashlib.sha256(question_id.encode("utf-8")).hexdigest()
    return PARTS[1] if int(digest[:8], 16) % HELD_OUT_ONE_IN == 0 else PARTS[0]


def normalise_target(name: str) -> str:
    """An object name as targets are compared: lower case, single spaces, the last word singular."""
    words = name.lower().split()
    if words:
        words[-1] = singular(words[-1])
    return " ".join(words)


def object_targets(code: str) -> frozenset[str] | None:
    """The normalised string literals ``code`` passes to ``find``/``exists``; ``None`` if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    found = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TARGET_OPERATORS
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(normalise_target(node.args[0].value))
    return frozenset(found)


def operators_called(code: str, operators: Iterable[str]) -> collections.Counter:
    """How many times ``code`` calls each of ``operators`` (as a method or a function)."""
    names = set(operators)
    counts: collections.Counter = collections.Counter()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in names:
                counts[name] += 1
    return counts


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a & b| / |a | b|, and 1.0 when both are empty (neither program looks for an object)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True, kw_only=True)
class Case:
    """One GQA question with the targets of the LLM programs written for it.

    Attributes:
        question_id: GQA's id (the split is made on it).
        question: the question as asked.
        family: :func:`question_family` of the question.
        part: :func:`split_part` of the id: ``tuning`` or ``held-out``.
        references: the object targets of each LLM program that answered correctly and parses.
    """

    question_id: str
    question: str
    family: str
    part: str
    references: tuple[frozenset[str], ...]

    def __post_init__(self) -> None:
        if self.family not in FAMILIES or self.part not in PARTS:
            raise ValueError(f"bad case {self.question_id}: family {self.family!r}, part {self.part!r}")


def _rows(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DicecError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
    return rows


def load_cases(folder: Path) -> list[Case]:
    """The GQA questions of ``folder`` (gqa_questions.jsonl) with their correct LLM programs (viper_programs.jsonl).

    A program belongs to a question by ``question_id``; a question none matches by id takes the GQA
    programs whose query is its text. Raises :class:`DicecError` when a file is missing.
    """
    files = [folder / "gqa_questions.jsonl", folder / "viper_programs.jsonl"]
    for path in files:
        if not path.is_file():
            raise DicecError(f"{path}: not found (the shared development set is not beside this repository)")
    questions, programs = (_rows(path) for path in files)
    by_id: dict[str, list[dict]] = collections.defaultdict(list)
    by_text: dict[str, list[dict]] = collections.defaultdict(list)
    for row in programs:
        if row.get("benchmark") != "gqa":
            continue
        if row.get("question_id"):
            by_id[str(row["question_id"])].append(row)
        by_text[" ".join(str(row.get("query", "")).split())].append(row)
    cases = []
    for row in questions:
        qid, text = str(row["question_id"]), row["question"]
        matched = by_id.get(qid) or by_text.get(" ".join(text.split()), [])
        refs = [object_targets(p["code"]) for p in matched if p.get("exec_correct") is True]
        cases.append(Case(question_id=qid, question=text, family=question_family(text), part=split_part(qid),
                          references=tuple(r for r in refs if r is not None)))
    return cases


@dataclass(frozen=True, kw_only=True)
class Scored:
    """One question scored: the case, and what the generator made of it.

    Attributes:
        case: the question and its references.
        code: the generated program.
        targets: its object targets.
        agreement: mean Jaccard with the references, ``None`` when there are none.
        ceiling: mean pairwise Jaccard of the references, ``None`` when there are fewer than two.
        fallback: whether the generator asked the whole image for want of a decomposition.
        operators: how many times the program calls each operator.
    """

    case: Case
    code: str
    targets: frozenset[str]
    agreement: float | None
    ceiling: float | None
    fallback: bool
    operators: collections.Counter


def measure(cases: Iterable[Case], generate: Callable[[str], object], operators: Iterable[str]) -> list[Scored]:
    """Score every case: ``generate(question)`` returns a program with ``code`` and ``warnings``."""
    names = tuple(operators)
    out = []
    for case in cases:
        program = generate(case.question)
        code = program.code
        targets = object_targets(code) or frozenset()
        refs = case.references
        agreement = statistics.fmean(jaccard(targets, r) for r in refs) if refs else None
        ceiling = statistics.fmean(jaccard(a, b) for a, b in itertools.combinations(refs, 2)) if len(refs) > 1 else None
        out.append(Scored(case=case, code=code, targets=targets, agreement=agreement, ceiling=ceiling,
                          fallback=FALLBACK_WARNING in program.warnings, operators=operators_called(code, names)))
    return out


@dataclass(frozen=True, kw_only=True)
class Summary:
    """The figures for a group of questions (a family, a part, or all).

    Attributes:
        questions: how many questions.
        scored: how many have at least one correct LLM program (the agreement's denominator).
        agreement: mean agreement over the scored questions (``None`` if none).
        ceiling: mean agreement of the LLM programs with each other (``None`` if no question has two).
        fallback_rate: the share of questions that fell back to the whole image.
        operators: operator calls over the group's generated programs, most used first.
    """

    questions: int
    scored: int
    agreement: float | None
    ceiling: float | None
    fallback_rate: float
    operators: tuple[tuple[str, int], ...]

    def to_json(self) -> dict:
        return {"questions": self.questions, "scored": self.scored, "agreement": _round(self.agreement),
                "ceiling": _round(self.ceiling), "fallback_rate": round(self.fallback_rate, 4),
                "operators": dict(self.operators)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summarise(scored: Iterable[Scored]) -> Summary:
    """The figures of a group of scored questions."""
    rows = list(scored)
    agreements = [r.agreement for r in rows if r.agreement is not None]
    ceilings = [r.ceiling for r in rows if r.ceiling is not None]
    ops: collections.Counter = collections.Counter()
    for r in rows:
        ops.update(r.operators)
    return Summary(questions=len(rows), scored=len(agreements),
                   agreement=statistics.fmean(agreements) if agreements else None,
                   ceiling=statistics.fmean(ceilings) if ceilings else None,
                   fallback_rate=sum(r.fallback for r in rows) / len(rows) if rows else 0.0,
                   operators=tuple(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))))


def by_family(scored: Iterable[Scored], part: str | None = None) -> dict[str, Summary]:
    """:func:`summarise` per family (families with no question left out), for one ``part`` or all."""
    groups: dict[str, list[Scored]] = collections.defaultdict(list)
    for r in scored:
        if part is None or r.case.part == part:
            groups[r.case.family].append(r)
    return {family: summarise(groups[family]) for family in FAMILIES if groups[family]}
