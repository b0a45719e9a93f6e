"""A replay set against the plan (dicec.runtime.plancheck): records used and unused, calls computed, and the
verdicts -- an unused record of a task the plan did not speculate, a computed call it did not leave residual --
made by hand here, so the checks the equivalence suites rely on are seen to fire."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import write_image  # noqa: E402

from dicec.analysis import analyse  # noqa: E402
from dicec.runtime.answer import replay  # noqa: E402
from dicec.runtime.backend import get_backend, registry_for  # noqa: E402
from dicec.runtime.calls import Call  # noqa: E402
from dicec.runtime.compute import whole_box  # noqa: E402
from dicec.runtime.images import load_image  # noqa: E402
from dicec.runtime.plancheck import call_start, call_starts, check_replay  # noqa: E402
from dicec.runtime.program import Stats  # noqa: E402

#: exists-cat runs for sure; each simple_query is speculated (one branch each); the last call spans two lines.
PROGRAM = """def execute_command(image):
    image_patch = ImagePatch(image)
    if image_patch.exists("cat"):
        return image_patch.simple_query("What colour is the cat?")
    return image_patch.simple_query(
        "What is it?")
"""

#: A residual call: its argument is a run-time value's element.
RESIDUAL = """def execute_command(image):
    image_patch = ImagePatch(image)
    name = image_patch.simple_query("Which animal?")
    return image_patch.exists(name[0])
"""


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return load_image(str(write_image(tmp_path_factory.mktemp("img") / "a.png", seed=5)))


def record(image, operator: str, arg: str, value, task):
    return Call(operator=operator, form="method", patch=whole_box(image), args=(arg,)).record(value, task=task)


def counts_of(source: str, records: list, image):
    return replay(source, records=records, image=image, backend=get_backend("seeded"), registry=registry_for(),
                  where="test").counts


def test_the_plan_used_here_marks_what_it_speculates():
    graph = analyse(PROGRAM, registry_for(), path="p.py")
    assert {t.id: t.guard is not None for t in graph.tasks} == {
        "exists-cat": False, "simple-query-what-colour-is-t": True, "simple-query-what-is-it": True}
    assert graph.residual == ()


@pytest.mark.parametrize("cat", [True, False])
def test_a_right_plan_leaves_only_speculated_records_unused(image, cat):
    records = [record(image, "exists", "cat", cat, "exists-cat"),
               record(image, "simple_query", "What colour is the cat?", "black", "simple-query-what-colour-is-t"),
               record(image, "simple_query", "What is it?", "a dog", "simple-query-what-is-it")]
    counts = counts_of(PROGRAM, records, image)
    unused = "simple-query-what-is-it" if cat else "simple-query-what-colour-is-t"
    assert (counts.calls, counts.records_used, counts.records_unused) == (2, 2, 1)
    assert counts.unused == {unused: 1} and counts.calls_computed == {} and counts.right
    assert counts.summary() == "2 of 3 records used (1 unused: 1 speculated, 0 mispredicted); 0 computed"


def test_an_unused_record_of_a_task_the_plan_did_not_speculate_is_mispredicted(image):
    """The record says the unguarded task exists-cat wrote it, but its call is not the one the program makes
    (another object): the plan claimed that call for sure, so the record counts against it -- as does one
    naming no task, or a task the plan does not have."""
    records = [record(image, "exists", "cat", True, "exists-cat"),
               record(image, "exists", "dog", True, "exists-cat"),
               record(image, "exists", "cow", True, None),
               record(image, "exists", "owl", True, "no-such-task"),
               record(image, "simple_query", "What is it?", "a dog", "simple-query-what-is-it"),
               record(image, "simple_query", "What colour is the cat?", "black", "simple-query-what-colour-is-t")]
    counts = counts_of(PROGRAM, records, image)
    assert counts.records_unused == 4 and counts.records_mispredicted == 3 and not counts.right
    assert counts.unused == {"": 1, "exists-cat": 1, "no-such-task": 1, "simple-query-what-is-it": 1}


def test_a_computed_call_the_plan_predicted_is_mispredicted_and_named_where_its_call_starts(image):
    """No records: every call is computed, and none is residual in this plan. The last call's runtime line may
    be either of its two; it is reported on the line its call starts on (5)."""
    records = [record(image, "exists", "cat", False, "exists-cat")]
    counts = counts_of(PROGRAM, records, image)
    assert counts.calls_computed == {"simple_query": 1} and counts.calls_mispredicted == 1
    assert [(s.operator, s.line, s.residual) for s in counts.computed] == [("simple_query", 5, None)]
    assert counts.summary().endswith("1 computed (simple_query 1: 0 residual, 1 mispredicted)")


def test_a_residual_call_computed_is_named_with_the_plans_reason(image):
    graph = analyse(RESIDUAL, registry_for(), path="p.py")
    assert [(r.operator, r.line) for r in graph.residual] == [("exists", 4)]
    records = [record(image, "simple_query", "Which animal?", "cat", graph.tasks[0].id)]
    counts = counts_of(RESIDUAL, records, image)
    assert [(s.operator, s.line, s.calls, s.residual) for s in counts.computed] == [
        ("exists", 4, 1, graph.residual[0].reason)]
    assert counts.calls_mispredicted == 0 and counts.records_used == 1 and counts.right


def test_call_starts_maps_a_line_inside_a_call_to_the_innermost_call_around_it():
    source = "def execute_command(image):\n    p = ImagePatch(image)\n    return p.find(\n        p.simple_query(\n" \
             "            'Which?'))\n"
    starts = call_starts(source, registry_for())
    assert starts == {"find": [(3, 5)], "simple_query": [(4, 5)]}
    assert call_start(starts, "find", 5) == 3 and call_start(starts, "simple_query", 5) == 4
    assert call_start(starts, "find", 9) == 9 and call_start(starts, "find", None) is None


def test_check_replay_counts_records_once_per_call_key(image):
    """A record two fan-out steps both wrote (the same call) is one record, counted under each task."""
    rec = record(image, "exists", "cat", True, "exists-cat")
    twin = {**rec, "task": "simple-query-what-is-it"}
    stats = Stats(calls=0)
    counts = check_replay(PROGRAM, registry_for(), [rec, [twin]], stats)
    assert counts.records_unused == 1 and counts.unused == {"exists-cat": 1, "simple-query-what-is-it": 1}
    assert counts.records_mispredicted == 1  # exists-cat is not speculated
