"""The batch plan: which stage pods a shard runs, worked out by hand on synthetic operators.

Synthetic operators (tests/support.py): find and exists 6 GB, verify_property 4 GB, compute_depth 3 GB,
simple_query 26 GB, no model files (each operator is its own model). Pools: small (A4000, 16 GB) and big
(A100, 80 GB), so detections land on small and simple_query on big.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from dicec.analysis import analyse
from dicec.errors import DicecError
from dicec.placement import place
from dicec.placement.pools import parse_pools
from dicec.placement.stages import (DEFAULT_SHARDS, PLAN_ANNOTATION, BatchPlan, default_shards, plan_batch,
                                    plan_from_json, plan_of_workflow)
from dicec.runtime.contract import shard_slice

POOLS = {"version": 1, "pools": [
    {"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None},
    {"name": "small", "gpu_class": "A4000", "gpu_memory_gb": 16, "usd_per_hour": 0.36},
    {"name": "big", "gpu_class": "A100", "gpu_memory_gb": 80, "usd_per_hour": 3.6},
]}


def catalogue(**limits):
    pools = [dict(p, **({"max_nodes": limits[p["name"]]} if p["name"] in limits else {})) for p in POOLS["pools"]]
    return parse_pools({"version": 1, "pools": pools}, path="pools.yaml")


def placed(registry, body: str, cat=None):
    source = "def execute_command(image):\n    image_patch = ImagePatch(image)\n" + textwrap.indent(
        textwrap.dedent(body), "    ")
    return place(analyse(source, registry, path="p.py"), registry, cat or catalogue())


def chain(plan: BatchPlan) -> list[tuple[str, list[str]]]:
    return [(s.pool, [t.task for t in s.tasks]) for s in plan.stages]


def test_a_stage_takes_every_task_its_pool_can_run_in_a_row(registry):
    p = placed(registry, """
        cars = image_patch.find("car")
        colour = image_patch.simple_query("What colour is the car?")
        return [car.verify_property("car", "red") for car in cars], colour
    """)
    verify = next(t.id for t in p.graph.tasks if t.operator == "verify_property")
    plan = plan_batch([p], registry, shards=4)
    # graph order is find, simple_query, verify; the verify fan-out joins find's pod instead of a third stage
    assert chain(plan) == [("small", ["find-car", verify]), ("big", ["simple-query-what-colour-is-t"])]
    first, second = plan.stages
    assert first.levels == (1, 2) and second.levels == (1,) and second.reads == () and first.reads == ()
    assert [t.fanout for t in first.tasks] == [None, "find-car"]
    assert [(m.key, m.operators, m.load_s, m.gpu_memory_gb) for m in first.models] == [
        ("operator:find", ("find",), 10.0, 6.0), ("operator:verify_property", ("verify_property",), 10.0, 4.0)]
    assert first.gpu and first.gpu_memory_gb == 10.0 and first.load_s == 20.0
    assert [t.call_s for t in first.tasks] == [0.5, 0.5] and second.tasks[0].call_s == 0.2
    assert plan.answer.pool == "cpu" and not plan.answer.gpu and plan.chain == (first.name, second.name, "answer")


def test_a_dependency_through_another_pool_forces_a_boundary(registry):
    p = placed(registry, """
        cars = image_patch.find("car")
        kind = cars[0].simple_query("What kind of vehicle is it?")
        return image_patch.exists(kind)
    """)
    sq = next(t.id for t in p.graph.tasks if t.operator == "simple_query")
    plan = plan_batch([p], registry, shards=2)
    assert chain(plan) == [("small", ["find-car"]), ("big", [sq]), ("small", ["exists"])]
    assert plan.stages[1].reads == (plan.stages[0].name,) and plan.stages[2].reads == (plan.stages[1].name,)
    assert [s.levels for s in plan.stages] == [(1,), (2,), (3,)]
    assert len({s.name for s in plan.stages}) == 3


def test_the_next_pool_is_the_one_that_leaves_the_fewest_stages(registry):
    p = placed(registry, """
        cars = image_patch.find("car")
        kind = image_patch.simple_query("What kind of vehicle is it?")
        return image_patch.exists(kind), len(cars)
    """)
    sq = next(t.id for t in p.graph.tasks if t.operator == "simple_query")
    # starting with find (graph order) would need small, big, small; starting with the query needs two stages
    assert chain(plan_batch([p], registry, shards=2)) == [("big", [sq]), ("small", ["find-car", "exists"])]


def test_models_that_do_not_fit_one_gpu_together_split_a_stage(registry):
    # 6 + 6 + 4 = 16 GB fit the small pool's 16 GB; compute_depth's 3 GB more do not
    p = placed(registry, """
        a = image_patch.exists("dog")
        cars = image_patch.find("car")
        b = image_patch.verify_property("car", "red")
        return a, b, len(cars), image_patch.compute_depth()
    """)
    plan = plan_batch([p], registry, shards=1)
    assert [s.pool for s in plan.stages] == ["small", "small"]
    assert [t.operator for t in plan.stages[1].tasks] == ["compute_depth"]
    assert all(s.gpu_memory_gb <= 16 for s in plan.stages)


def test_questions_share_the_stages_and_keep_their_own_tasks(registry):
    one = placed(registry, "return image_patch.exists('dog')")
    two = placed(registry, "return image_patch.exists('dog'), image_patch.simple_query('Where?')")
    plan = plan_batch([one, two], registry, shards=3)
    assert [q.name for q in plan.queries] == ["q1", "q2"] and [q.tasks for q in plan.queries] == [1, 2]
    assert [(t.query, t.task) for t in plan.stages[0].tasks] == [(0, "exists-dog"), (1, "exists-dog")]
    assert [m.key for m in plan.stages[0].models] == ["operator:exists"]  # loaded once for both questions
    assert plan.stages[1].tasks[0].query == 1
    import hashlib

    assert plan.queries[1].program_sha256 == hashlib.sha256(two.graph.source.encode()).hexdigest()


def test_a_program_without_operator_calls_has_only_the_answer_pod(registry):
    plan = plan_batch([placed(registry, "return 'nothing'")], registry)
    assert plan.stages == () and plan.chain == ("answer",)


def test_shards_default_to_the_largest_node_limit_of_the_gpu_pools_used(registry):
    body = "return image_patch.exists('dog'), image_patch.simple_query('Where?')"
    assert default_shards([placed(registry, body)]) == DEFAULT_SHARDS
    assert plan_batch([placed(registry, body, catalogue(small=3, big=5, cpu=40))], registry).shards == 5
    assert plan_batch([placed(registry, "return image_patch.exists('x')", catalogue(small=3, big=5))],
                      registry).shards == 3
    with pytest.raises(DicecError, match="--shards must be a whole number from 1"):
        plan_batch([placed(registry, body)], registry, shards=0)


@pytest.mark.parametrize("images", [0, 1, 7, 8, 9, 100, 1001])
@pytest.mark.parametrize("shards", [1, 3, 8])
def test_slices_are_contiguous_balanced_and_cover_every_image_once(images, shards):
    slices = [shard_slice(i, shards, images) for i in range(shards)]
    assert slices[0][0] == 0 and slices[-1][1] == images
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))
    sizes = [b - a for a, b in slices]
    assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError):
        shard_slice(shards, shards, images)


def test_the_plan_round_trips_through_json_and_the_workflow_annotation(registry):
    p = placed(registry, """
        cars = image_patch.find("car")
        return [car.simple_query("Is it red?") for car in cars]
    """)
    plan = plan_batch([p, p], registry, shards=6)
    data = json.loads(plan.dumps())
    assert data["version"] == 1 and data["kind"] == "dicec/batch-plan" and data["shards"] == 6
    assert plan_from_json(data) == plan and plan_from_json(json.loads(plan.dumps(compact=True))) == plan
    assert plan.slice(5, 12) == range(10, 12)
    doc = {"metadata": {"annotations": {PLAN_ANNOTATION: plan.dumps(compact=True)}}}
    assert plan_of_workflow(doc) == plan and plan_of_workflow({"metadata": {}}) is None
    assert "Is it red" not in plan.dumps()  # no program or question text


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(version=9), "not a dicec batch plan"),
    (lambda d: d["stages"][0].update(levels=[7]), "are not its tasks' levels"),
    (lambda d: d["queries"][0].update(tasks=5), "tasks per question"),
    (lambda d: d["stages"][0]["tasks"].pop(), "runs no task"),
    (lambda d: d["stages"][1].update(reads=["nowhere"]), "does not come before it"),
    (lambda d: d.update(shards="8"), "--shards must be a whole number"),
    (lambda d: d.pop("answer"), "malformed batch plan"),
])
def test_a_malformed_plan_is_one_line(registry, change, message):
    p = placed(registry, """
        cars = image_patch.find("car")
        return [car.simple_query("Is it red?") for car in cars]
    """)
    data = json.loads(plan_batch([p], registry, shards=2).dumps())
    change(data)
    with pytest.raises(DicecError, match=message) as err:
        plan_from_json(data, where="wf.yaml")
    assert "\n" not in str(err.value)
    with pytest.raises(DicecError, match="is not JSON"):
        plan_of_workflow({"metadata": {"annotations": {PLAN_ANNOTATION: "{"}}})


def test_an_edge_pool_is_refused(registry, tmp_path):
    from support import write_operator
    from dicec.tools import discover

    edge_pools = {"version": 1, "pools": [*POOLS["pools"], {"name": "jetson", "gpu_class": "A4000", "gpu_memory_gb": 8,
                                                            "usd_per_hour": None, "edge": True, "uplink_mbps": 10}]}
    write_operator(tmp_path, "exists", [("method", "exists(object_name: str) -> bool")], 2)
    reg = discover([registry.sources[0], tmp_path], builtin=False, entry_points=False)
    p = placed(reg, "return image_patch.exists('dog') and image_patch.simple_query('Is it big?') == 'yes'",
               parse_pools(edge_pools, path="pools.yaml"))
    if not any(getattr(pool, "edge", False) for pool in p.pools.values()):
        pytest.skip("placement kept everything in the cloud")
    with pytest.raises(DicecError, match="is an edge device"):
        plan_batch([p], reg)


def test_a_stage_loads_a_model_file_once_for_every_operator_that_names_it(builtin_registry):
    from dicec.placement import load_pools

    p = place(analyse("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
                      "    return (image_patch.exists('dog'), len(image_patch.find('car')),\n"
                      "            image_patch.verify_property('car', 'red'), image_patch.best_text_match(['a', 'b']))\n",
                      builtin_registry, path="p.py"), builtin_registry, load_pools())
    (stage,) = plan_batch([p], builtin_registry, shards=1).stages
    assert [(m.operators, m.load_s, m.gpu_memory_gb) for m in stage.models] == [
        (("exists", "find"), 10.8, 3.9), (("best_text_match", "verify_property"), 10.4, 1.9)]
    assert stage.gpu_memory_gb == pytest.approx(5.8) and stage.load_s == pytest.approx(21.2)
