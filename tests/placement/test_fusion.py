"""Fusion: which tasks share a pod, worked out by hand, and how the placed graph records it.

Synthetic operators (tests/support.py): model load L = 10 s, latency A4000 0.5 s, A100 0.2 s; find and
exists 6 GB, verify_property 4 GB, simple_query 26 GB. Timing model: S = pod start-up 5 s + Argo 1 s,
3 elements per fan-out. Saved = GPU seconds of start-ups and loads avoided; lost = longer estimate.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from dicec.analysis import analyse
from dicec.errors import DicecError
from dicec.placement import place, placed_from_json
from dicec.placement.fusion import decide
from dicec.placement.pools import parse_pools
from dicec.timing.model import TimingModel
from support import write_operator

POOLS = {"version": 1, "pools": [
    {"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None},
    {"name": "small", "gpu_class": "A4000", "gpu_memory_gb": 16, "usd_per_hour": 0.36},
    {"name": "big", "gpu_class": "A100", "gpu_memory_gb": 80, "usd_per_hour": 3.6},
]}


@pytest.fixture()
def catalogue():
    return parse_pools(POOLS, path="pools.yaml")


def program(body: str) -> str:
    return "def execute_command(image):\n    image_patch = ImagePatch(image)\n" + textwrap.indent(
        textwrap.dedent(body), "    ")


def placed(registry, catalogue, body: str, **kw):
    return place(analyse(program(body), registry, path="p.py"), registry, catalogue, **kw)


def groups(p) -> list[tuple[str, ...]]:
    return [g.tasks for g in p.fusion]


def test_a_fan_out_joins_its_producer_when_start_up_dominates(registry, catalogue):
    p = placed(registry, catalogue, """
        cars = image_patch.find("car")
        return [car.verify_property("car", "damaged") for car in cars]
    """)
    verify = p.graph.tasks[1].id
    assert groups(p) == [("find-car", verify)]
    g = p.fusion[0]
    # saved: apart 16 + 3 x 16 = 64 GPU s, together 6 + 10 + 10 = 26; estimate 28 s fused vs 33 s apart
    assert g.saved_s == pytest.approx(38.0) and g.pool == "small"
    assert g.seconds == pytest.approx(21.0) and g.usd == pytest.approx(21.0 * 0.0001)
    assert p.totals["placement_usd"] == pytest.approx(0.0021)
    assert p.totals["critical_path_seconds"] == pytest.approx(21.0)
    assert place(p.graph, registry, catalogue, fuse=False).fusion == ()


def test_independent_siblings_share_a_pod_unless_the_lost_parallelism_is_larger(registry, catalogue, tmp_path):
    p = placed(registry, catalogue, """
        return image_patch.exists("dog") or image_patch.exists("cat")
    """)
    # saved 32 - 16 = 16 GPU s; lost 17 - 16.5 = 0.5 s
    assert groups(p) == [("exists-dog", "exists-cat")]
    assert p.fusion[0].saved_s == pytest.approx(16.0)
    write_operator(tmp_path, "exists", [("method", "exists(object_name: str) -> bool")], 6,
                   latency={"A4000": 30.0, "A100": 20.0})
    from dicec.tools import discover

    slow = discover([registry.sources[0], tmp_path], builtin=False, entry_points=False)
    # a 30 s call: one pod would take 30 s longer, more than the 16 s of start-up and load it saves
    assert groups(placed(slow, catalogue, "return image_patch.exists('dog') or image_patch.exists('cat')")) == []


def test_unrelated_tasks_and_other_pools_are_not_fused(registry, catalogue):
    p = placed(registry, catalogue, """
        dogs = image_patch.find("dog")
        answer = image_patch.simple_query("Is it sunny?")
        return dogs[0].exists("ball") if dogs else answer
    """)
    # simple_query (26 GB) is on big; exists on dogs[0] depends on find-dog (a chain) and is fused with it
    assert [t for g in groups(p) for t in g if t.startswith("simple-query")] == []
    assert groups(p) == [("find-dog", next(t.id for t in p.graph.tasks if t.operator == "exists"))]


def test_models_that_do_not_fit_together_or_other_images_stay_apart(registry, tmp_path):
    tight = parse_pools({"version": 1, "pools": [
        {"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None},
        {"name": "small", "gpu_class": "A4000", "gpu_memory_gb": 8, "usd_per_hour": 0.36},
        {"name": "big", "gpu_class": "A100", "gpu_memory_gb": 80, "usd_per_hour": 3.6}]}, path="tight.yaml")
    body = """
        cars = image_patch.find("car")
        return [car.verify_property("car", "damaged") for car in cars]
    """
    fan = placed(registry, tight, body).graph.tasks[1].id
    assert groups(placed(registry, tight, body)) == [(fan,)]  # 6 + 4 GB > 8 GB: the fan-out alone
    write_operator(tmp_path, "verify_property", [("method", "verify_property(object_name: str, property: str) -> bool")],
                   4, image="registry.example/other:1")
    from dicec.tools import discover

    other = discover([registry.sources[0], tmp_path], builtin=False, entry_points=False)
    p = parse_pools(POOLS, path="pools.yaml")
    assert groups(placed(other, p, body)) == [(fan,)]  # another image: the fan-out alone


def test_a_group_that_would_make_a_cycle_is_not_formed(registry, catalogue):
    p = placed(registry, catalogue, """
        car = image_patch.find("car")[0]
        name = car.simple_query("What is it?")
        return car.verify_property(name, "red")
    """)
    verify = next(t for t in p.graph.tasks if t.operator == "verify_property")
    assert set(verify.depends) == {"find-car", next(t.id for t in p.graph.tasks if t.operator == "simple_query")}
    # find-car and verify on small, simple_query on big between them: one pod for both would wait on itself
    assert groups(p) == []


def test_a_fan_out_alone_runs_its_elements_in_one_pod(registry, catalogue):
    p = placed(registry, catalogue, """
        cars = image_patch.find("car")
        return [car.simple_query("Is it damaged?") for car in cars]
    """)
    fan = p.graph.tasks[1].id
    assert p.placements[fan].pool == "big" and p.placements["find-car"].pool == "small"
    # 3 pods of 6 + 10 + 0.2 -> one of 6 + 10 + 3 x 0.2: saved 48 - 16 = 32 GPU s, lost 0.4 s
    assert groups(p) == [(fan,)] and p.fusion[0].saved_s == pytest.approx(32.0)


def test_a_latency_bound_limits_fusion(registry, catalogue):
    body = 'return image_patch.exists("dog") or image_patch.exists("cat")'
    assert placed(registry, catalogue, body).totals["critical_path_seconds"] == pytest.approx(11.0)
    bounded = placed(registry, catalogue, body, max_latency_s=10.8)
    assert bounded.fusion == () and bounded.totals["critical_path_seconds"] == pytest.approx(10.5)


def test_services_mode_and_a_wider_fan_out(registry, catalogue):
    p = placed(registry, catalogue, """
        cars = image_patch.find("car")
        return [car.verify_property("car", "damaged") for car in cars]
    """, mode="services")
    assert p.fusion == ()
    pools = {t.id: catalogue.get("small") for t in p.graph.tasks}
    # 100 elements: 100 x 0.5 s in one pod is 49.5 s longer, far less than 99 x 16 s of pods saved
    wide = decide(p.graph, registry, pools, model=TimingModel(fanout=100))
    assert [g.tasks for g in wide] == [tuple(t.id for t in p.graph.tasks)]


def test_the_placed_graph_records_fusion_and_reads_it_back(registry, catalogue):
    p = placed(registry, catalogue, """
        cars = image_patch.find("car")
        return [car.verify_property("car", "damaged") for car in cars]
    """)
    data = json.loads(p.dumps())
    assert data["version"] == 2 and data["fusion"] == [g.to_json() for g in p.fusion]
    back = placed_from_json(data)
    assert back.fusion == p.fusion and back.dumps() == p.dumps()
    old = {**data, "version": 1}
    del old["fusion"]
    assert placed_from_json(old).fusion == ()


@pytest.mark.parametrize("change, message", [
    (lambda f: f[0].update(tasks=["find-car", "nosuch"]), "names task 'nosuch', which is not in the graph"),
    (lambda f: f.append(dict(f[0])), "is in two fused groups"),
    (lambda f: f[0].update(pool="big"), "placed on 'small' but its fused group on 'big'"),
    (lambda f: f[0].update(tasks=["find-car"]), "has one task and it is not a fan-out"),
    (lambda f: f[0].update(saved_s=-1), "negative figures"),
])
def test_a_malformed_fusion_list_is_one_line(registry, catalogue, change, message):
    p = placed(registry, catalogue, """
        cars = image_patch.find("car")
        return [car.verify_property("car", "damaged") for car in cars]
    """)
    data = json.loads(p.dumps())
    change(data["fusion"])
    with pytest.raises(DicecError, match=message) as info:
        placed_from_json(data, where="placed.json")
    assert str(info.value).startswith("placed.json: malformed placed graph") and "\n" not in str(info.value)


def test_operators_of_one_model_file_fit_a_gpu_as_one_model(builtin_registry):
    """find and exists are one GLIP-L file (3.9 GB): on a 6 GB GPU they share a pod, which two copies could not."""
    six = parse_pools({"version": 1, "pools": [
        {"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None},
        {"name": "six", "gpu_class": "A4000", "gpu_memory_gb": 6, "usd_per_hour": 0.36}]}, path="six.yaml")
    p = placed(builtin_registry, six, """
        cars = image_patch.find("car")
        return len(cars), image_patch.exists("dog")
    """)
    assert groups(p) == [tuple(t.id for t in p.graph.tasks)]
    assert p.fusion[0].seconds == pytest.approx(10.8 + 0.33 + 0.33)  # GLIP-L loaded once, two calls


def test_whole_pods_merge_where_task_by_task_stops_short(registry, catalogue):
    """find, then two checks of its first detection (not a fan-out). Task by task, the first check cannot join
    find's pod (the second would then wait for both: 27 + 16.5 + the requeue against 16.5 + 16.5 + two requeues,
    longer by more than the 6 s saved), so the two checks share a pod of their own; merging that pod into find's
    gives one pod of 6 + 10 + 10 + 1.5 = 27.5 s, shorter than 16.5 + 17.5 and cheaper: it is taken."""
    p = placed(registry, catalogue, """
        car = image_patch.find("car")[0]
        return car.verify_property("car", "red"), car.verify_property("car", "blue")
    """, objective="price")
    assert groups(p) == [tuple(t.id for t in p.graph.tasks)]
    assert p.fusion[0].seconds == pytest.approx(10 + 10 + 3 * 0.5)
    steps = TimingModel(controller_requeue_s=0.0)
    assert decide(p.graph, registry, {t.id: catalogue.get("small") for t in p.graph.tasks}, model=steps)[0].tasks \
        == groups(p)[0]  # without the requeue too
