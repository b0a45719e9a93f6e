"""The codegen quality measure (dicec.codegen.quality), and floors that keep the offline generator's families
from regressing on the GQA development set (../shared/dev; skipped with a reason where it is absent).

The floors are the figures benchmarks/codegen_quality.py printed when they were set, less at most 0.02.
"""

from __future__ import annotations

import json

import pytest

from dicec.codegen import generate_offline
from dicec.codegen.quality import (FAMILIES, HELD_OUT_ONE_IN, PARTS, Case, by_family, jaccard, load_cases, measure,
                                   normalise_target, object_targets, question_family, split_part, summarise)
from dicec.errors import DicecError

#: Mean agreement with the correct LLM programs, per family, at least (figures reached: attribute 0.879,
#: choose 0.745, compare 1.000, exist 0.790, logical 0.781, object 0.747, relation 0.460, verify 0.685,
#: where 0.933, who 0.700; scene has no question with a correct LLM program).
FAMILY_FLOORS = {"attribute": 0.86, "choose": 0.73, "compare": 0.98, "exist": 0.77, "logical": 0.77, "object": 0.73,
                 "relation": 0.44, "verify": 0.67, "where": 0.92, "who": 0.68}
#: Overall (0.748 reached; the issue asks for 0.65), and the two parts of the split (0.732 and 0.797).
OVERALL_FLOOR, PART_FLOORS = 0.73, {"tuning": 0.72, "held-out": 0.78}


# -- the measure itself --------------------------------------------------------------------------------
def test_object_targets_are_normalised_find_and_exists_literals():
    code = ('def execute_command(image):\n    p = ImagePatch(image)\n    a = p.find("Dogs")\n    b = p.exists("traffic  lights")\n'
            '    c = p.find(name)\n    return p.simple_query("How many cats?")\n')
    assert object_targets(code) == {"dog", "traffic light"}
    assert object_targets("def execute_command(image):\n    return (\n") is None
    assert normalise_target(" Red  Glasses ") == "red glasses"


@pytest.mark.parametrize("a, b, value", [(set(), set(), 1.0), ({"dog"}, set(), 0.0), ({"dog", "cat"}, {"dog"}, 0.5),
                                         ({"dog"}, {"dog"}, 1.0)])
def test_jaccard(a, b, value):
    assert jaccard(frozenset(a), frozenset(b)) == value


@pytest.mark.parametrize("question, family", [
    ("Is there a cat or a dog?", "logical"), ("Is the field green and small?", "logical"), ("Is the car red or blue?", "choose"),
    ("Is there a dog?", "exist"), ("Does the giraffe look adult?", "verify"), ("How many dogs are there?", "count"),
    ("What colour is the car?", "attribute"), ("What is the sink made of?", "attribute"), ("Where is the car?", "where"),
    ("On which side of the photo is the chair?", "where"), ("Who is surfing?", "who"), ("What is on the table?", "relation"),
    ("What is the man wearing?", "object"), ("Is it outdoors?", "scene"), ("Is the car bigger than the truck?", "compare"),
    ("Are the shirt and the pants the same colour?", "compare"), ("Hello", "other"),
])
def test_question_family_reads_the_question_not_the_generator(question, family):
    assert question_family(question) == family


def test_split_is_a_fixed_quarter_by_question_id():
    parts = [split_part(str(i)) for i in range(4000)]
    assert set(parts) == set(PARTS)
    assert abs(parts.count("held-out") / len(parts) - 1 / HELD_OUT_ONE_IN) < 0.03
    assert parts == [split_part(str(i)) for i in range(4000)]


def test_measure_scores_against_correct_programs_only(tmp_path, builtin_registry):
    (tmp_path / "gqa_questions.jsonl").write_text(
        json.dumps({"question": "Is there a dog?", "question_id": "1"}) + "\n"
        + json.dumps({"question": "Why is it so?", "question_id": "2"}) + "\n")
    programs = [("1", 'return ImagePatch(image).exists("dogs")', True), ("1", 'return ImagePatch(image).find("cat")', False),
                ("1", 'p = ImagePatch(image)\n    return p.exists("dog") or p.exists("puppy")', True),
                (None, 'return ImagePatch(image).simple_query("Why is it so?")', True)]
    (tmp_path / "viper_programs.jsonl").write_text("".join(
        json.dumps({"query": "Why is it so?" if qid is None else "Is there a dog?", "question_id": qid, "benchmark": "gqa",
                    "exec_correct": ok, "code": f"def execute_command(image):\n    {body}\n"}) + "\n"
        for qid, body, ok in programs))
    cases = load_cases(tmp_path)
    assert [c.references for c in cases] == [(frozenset({"dog"}), frozenset({"dog", "puppy"})), (frozenset(),)]
    scored = measure(cases, lambda q: generate_offline(q, builtin_registry), [s.name for s in builtin_registry])
    dog, why = scored
    assert dog.targets == {"dog"} and dog.agreement == pytest.approx((1 + 0.5) / 2) and dog.ceiling == 0.5
    assert why.fallback and why.agreement == 1.0 and why.ceiling is None
    total = summarise(scored)
    assert total.scored == 2 and total.fallback_rate == 0.5 and dict(total.operators)["exists"] == 1


def test_missing_corpus_is_one_line(tmp_path):
    with pytest.raises(DicecError, match="not found") as info:
        load_cases(tmp_path)
    assert "\n" not in str(info.value)


def test_case_is_validated():
    with pytest.raises(ValueError):
        Case(question_id="1", question="?", family="nonsense", part="tuning", references=())


# -- the floors on the development set --------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(builtin_registry):
    from support import shared_file

    folder = shared_file("dev", "gqa_questions.jsonl").parent
    return measure(load_cases(folder), lambda q: generate_offline(q, builtin_registry), [s.name for s in builtin_registry])


def test_overall_agreement_and_fallback(scored):
    """The issue's done-criteria: agreement of at least 0.65 with fallback under 5% (and the floors reached)."""
    total = summarise(scored)
    assert total.questions == 134
    assert total.agreement >= max(0.65, OVERALL_FLOOR), total
    assert total.fallback_rate < 0.05, total
    for part, floor in PART_FLOORS.items():
        s = summarise(r for r in scored if r.case.part == part)
        assert s.agreement >= floor and s.fallback_rate < 0.05, (part, s)


@pytest.mark.parametrize("family", sorted(FAMILY_FLOORS))
def test_family_does_not_regress(scored, family):
    s = by_family(scored)[family]
    assert s.agreement >= FAMILY_FLOORS[family], s
    assert s.fallback_rate < 0.05, s


def test_every_family_is_known(scored):
    assert {r.case.family for r in scored} <= set(FAMILIES)
    assert {r.case.part for r in scored} == set(PARTS)
