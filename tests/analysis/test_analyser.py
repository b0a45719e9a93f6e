"""The analyser: parallel tasks, fan-outs, speculation and residuals, on hand-written programs."""

from __future__ import annotations

import json
import textwrap

import pytest

from dicec.analysis import analyse, graph_from_json
from dicec.analysis.graph import Format, Literal, PatchSource, Ref
from dicec.check import CheckFailed


def only(g, operator):
    (task,) = [t for t in g.tasks if t.operator == operator]
    return task


def plan(src: str, registry):
    return analyse(textwrap.dedent(src), registry, path="p.py")


def test_two_independent_finds_run_in_parallel(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            cars = image_patch.find("car")
            trucks = image_patch.find("truck")
            return bool_to_yesno(cars[0].width > trucks[0].width)
    """, registry)
    assert [t.id for t in g.tasks] == ["find-car", "find-truck"]
    assert all(t.depends == () for t in g.tasks)
    assert g.stats["max_width"] == 2 and g.stats["critical_path"] == 1
    assert g.tasks[0].args == (Literal(value="car"),)


def test_loop_over_detections_is_a_fanout(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            parts = image_patch.find("car part")
            damaged = []
            for part in parts:
                if part.verify_property("car part", "damaged"):
                    damaged.append(part.simple_query("Which part is this?"))
            return ", ".join(damaged)
    """, registry)
    verify = only(g, "verify_property")
    query = only(g, "simple_query")
    for t in (verify, query):
        assert t.fanout == "find-car-part"
        assert t.patch == PatchSource(kind="each", task="find-car-part")
        assert t.depends == ("find-car-part",)
    assert query.guard == "part.verify_property('car part', 'damaged')"  # speculated, guard recorded
    assert g.stats == {"tasks": 3, "operator_calls": 3, "critical_path": 2, "max_width": 2, "fanouts": 2,
                       "residual_calls": 0}


def test_comprehension_is_a_fanout_and_filtered_list_stays_speculative(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            people = image_patch.find("person")
            with_hats = [p for p in people if p.exists("hat")]
            return with_hats[0].simple_query("What color is the hat?")
    """, registry)
    exists = only(g, "exists")
    assert exists.fanout == "find-person"
    query = only(g, "simple_query")
    # The filtered list's first element is some element of find-person: predicted for each.
    assert query.patch == PatchSource(kind="each", task="find-person") and query.fanout == "find-person"


def test_indexing_the_result_is_one_task_on_that_element(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            dogs = image_patch.find("dog")
            if len(dogs) == 0:
                return "no"
            return dogs[-1].simple_query("What breed is it?")
    """, registry)
    q = g.tasks[1]
    assert q.patch == PatchSource(kind="item", task="find-dog", index=-1) and q.fanout is None


def test_loop_returning_on_first_element_uses_element_zero(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            women = image_patch.find("woman")
            for woman in women:
                return woman.simple_query("Who is she watching?")
            return image_patch.simple_query("Who is watching?")
    """, registry)
    assert g.tasks[1].patch == PatchSource(kind="item", task="find-woman", index=0)
    assert g.stats["fanouts"] == 0 and g.stats["max_width"] == 2


def test_nested_fanout(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            for car in image_patch.find("car"):
                for wheel in car.find("wheel"):
                    if wheel.verify_property("wheel", "flat"):
                        return "yes"
            return "no"
    """, registry)
    assert [(t.id, t.fanout) for t in g.tasks] == [
        ("find-car", None), ("find-wheel", "find-car"), ("verify-property-wheel", "find-wheel")]
    assert g.stats["critical_path"] == 3


def test_value_of_one_task_feeds_another(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            color = image_patch.simple_query("What color is the car?")
            same = image_patch.find(f"{color} truck")
            return bool_to_yesno(len(same) > 0)
    """, registry)
    find = g.tasks[1]
    assert find.args == (Format(parts=(Ref(task=g.tasks[0].id), " truck")),)
    assert find.depends == (g.tasks[0].id,)
    assert g.stats["critical_path"] == 2


def test_literal_loop_is_unrolled_into_parallel_tasks(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            for name in ["bottle", "bag", "net"]:
                if image_patch.exists(name):
                    return "yes"
            return "no"
    """, registry)
    assert [t.args[0].value for t in g.tasks] == ["bottle", "bag", "net"]
    assert g.stats["max_width"] == 3


def test_same_call_twice_is_one_task(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            if len(image_patch.find("cat")) > 1:
                return str(len(image_patch.find("cat")))
            return "1"
    """, registry)
    assert len(g.tasks) == 1


def test_unpredictable_calls_are_residual_with_reason(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            left = image_patch.crop(0, 0, image_patch.width // 2, image_patch.height)
            answer = left.simple_query("What is on the left?")
            return image_patch.find(answer)
    """, registry)
    assert [r.operator for r in g.residual] == ["simple_query", "find"]
    assert "cropped at run time" in g.residual[0].reason
    # find(answer) depends on a residual value: it is residual too.
    assert "simple_query() call made at run time" in g.residual[1].reason
    assert g.tasks == () and g.stats["operator_calls"] == 2
    g2 = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            left = image_patch.crop(0, 0, 10, 10)
            return image_patch.find(left.simple_query("What?"))
    """, registry)
    assert sorted(r.operator for r in g2.residual) == ["find", "simple_query"]


def test_function_operators(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            pets = image_patch.find("pet")
            best = best_image_match(pets, ["a sleeping cat"])
            return llm_query("Is a cat a pet?", long_answer=False)
    """, registry)
    bim, llm = g.tasks[1], g.tasks[2]
    assert bim.form == "function" and bim.patch is None
    assert bim.args == (Ref(task="find-pet"), Literal(value=["a sleeping cat"]), Literal(value=False))
    assert llm.args == (Literal(value="Is a cat a pet?"), Literal(value=None), Literal(value=False))


def test_graph_json_round_trips_and_is_deterministic(registry):
    src = """
        def execute_command(image):
            image_patch = ImagePatch(image)
            for p in image_patch.find("person"):
                p.simple_query("What is the person wearing?")
            return "ok"
    """
    g = plan(src, registry)
    again = graph_from_json(json.loads(g.dumps()))
    assert again.dumps() == g.dumps() == plan(src, registry).dumps()


def test_refuses_unchecked_programs(registry):
    with pytest.raises(CheckFailed, match=r"p.py:\d+: .*import"):
        plan("import os\ndef execute_command(image):\n    return 1\n", registry)


def test_task_ids_are_kubernetes_names_even_for_hostile_text(registry):
    g = plan('''
        def execute_command(image):
            image_patch = ImagePatch(image)
            return image_patch.find("{{workflow.name}} '; rm -rf / #\\n---")
    ''', registry)
    import re
    assert all(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", t.id) and len(t.id) <= 40 for t in g.tasks)


def test_sort_key_calling_an_operator_fans_out_and_the_sorted_pick_is_speculated(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            people = image_patch.find("person")
            people.sort(key=lambda p: p.compute_depth())
            closest = people[0]
            return closest.simple_query("What is the person doing?")
    """, registry)
    depth, query = only(g, "compute_depth"), only(g, "simple_query")
    assert depth.fanout == "find-person" and depth.patch == PatchSource(kind="each", task="find-person")
    # after sorting, [0] is some element of find-person: predicted for each of them
    assert query.patch == PatchSource(kind="each", task="find-person")


def test_list_filled_by_a_guarded_append_keeps_its_provenance(registry):
    g = plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            taxi = image_patch.find("taxi")[0]
            left = []
            for v in image_patch.find("vehicle"):
                if v.horizontal_center < taxi.horizontal_center:
                    left.append(v)
            return ", ".join([v.simple_query("What vehicle is this?") for v in left])
    """, registry)
    assert only(g, "simple_query").fanout == "find-vehicle" and g.residual == ()
