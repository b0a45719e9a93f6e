"""Edge pools in the catalogue, and edge-cloud placement (dicec.placement.edge)."""

from __future__ import annotations

import textwrap

import pytest
from pathlib import Path
from support import write_operator

from dicec.analysis import analyse
from dicec.errors import DicecError
from dicec.placement import load_pools, place
from dicec.placement.edge import offload_guards, place_on_edge
from dicec.placement.place import placed_from_json
from dicec.placement.pools import parse_pools
from dicec.tools import discover

EDGE = {"name": "boat", "gpu_class": "ORIN", "gpu_memory_gb": 8, "usd_per_hour": None, "uplink_mbps": 10,
        "edge": True, "node_labels": {"node-role.kubernetes.io/edge": ""}}
EDGE_CPU = {"name": "boat-cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None, "uplink_mbps": 10,
            "edge": True, "node_labels": {"node-role.kubernetes.io/edge": ""}}
CLOUD = [{"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None},
         {"name": "small", "gpu_class": "A4000", "gpu_memory_gb": 16, "usd_per_hour": 0.36},
         {"name": "big", "gpu_class": "A100", "gpu_memory_gb": 80, "usd_per_hour": 3.6}]


def catalogue(*extra, cloud=CLOUD):
    return parse_pools({"version": 1, "pools": [*extra, *cloud]}, path="test.yaml")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """find and exists run on ORIN (5 GB each), verify_property and simple_query do not."""
    d = tmp_path_factory.mktemp("edge-ops")
    cloud = {"A4000": 0.5, "A6000": 0.3, "A100": 0.2}
    write_operator(d, "find", [("method", "find(object_name: str) -> list[ImagePatch]")], 5, {**cloud, "ORIN": 0.8})
    write_operator(d, "exists", [("method", "exists(object_name: str) -> bool")], 5, {**cloud, "ORIN": 0.8})
    write_operator(d, "verify_property", [("method", "verify_property(object_name: str, property: str) -> bool")], 2,
                   cloud)
    write_operator(d, "simple_query", [("method", "simple_query(question: str) -> str")], 26, cloud)
    return discover([str(d)], builtin=False, entry_points=False)


def graph_of(source: str, registry):
    return analyse(textwrap.dedent(source), registry, path="prog.py")


BOTTLES = """
    def execute_command(image):
        image_patch = ImagePatch(image)
        bottles = image_patch.find("bottle")
        floating = [b for b in bottles if b.verify_property("bottle", "floating")]
        return str(len(floating))
"""


# -- the catalogue --------------------------------------------------------------------------------------
def test_an_edge_pool_has_no_price_and_an_uplink():
    cat = catalogue(EDGE)
    boat = cat.get("boat")
    assert boat.edge and boat.uplink_mbps == 10 and boat.usd_per_hour is None and boat.gpu_class == "ORIN"
    assert parse_pools({"version": 1, "pools": [p.to_json() for p in cat.pools]}, path="x").get("boat") == boat


@pytest.mark.parametrize("change, message", [
    ({"uplink_mbps": None}, "needs uplink_mbps"),
    ({"usd_per_hour": 1.0}, "no hourly price"),
    ({"edge": "yes"}, "edge must be true or false"),
    ({"edge": False}, "an edge GPU class needs edge: true"),
])
def test_edge_pool_mistakes_are_one_clear_error(change, message):
    with pytest.raises(DicecError, match=message):
        catalogue({**EDGE, **change})


def test_uplink_only_on_an_edge_pool():
    with pytest.raises(DicecError, match="only for an edge pool"):
        catalogue(cloud=[CLOUD[0], {**CLOUD[1], "uplink_mbps": 5}])


def test_an_edge_pool_is_never_a_cheapest_fit():
    cat = catalogue(EDGE)
    assert cat.cheapest_fitting(1.0).name == "small"  # the unpriced edge pool would otherwise win at $0
    assert cat.cpu_pool().name == "cpu"


def test_the_shipped_catalogue_has_no_edge_pool_and_places_as_before(builtin_registry):
    g = graph_of(BOTTLES, builtin_registry)
    placed = place(g, builtin_registry, load_pools())
    assert {placed.pools[p.pool].edge for p in placed.placements.values()} == {False}
    assert offload_guards(placed) == {}


# -- placement ------------------------------------------------------------------------------------------
def test_detector_on_the_edge_verifier_offloaded_answer_on_the_vessel(registry):
    placed = place(graph_of(BOTTLES, registry), registry, catalogue(EDGE, EDGE_CPU))
    assert placed.placements["find-bottle"].pool == "boat"
    assert placed.placements["find-bottle"].usd is None
    assert placed.placements["find-bottle"].seconds == pytest.approx(10 + 0.8)  # pods: model load + ORIN latency
    assert placed.placements["verify-property-bottle"].pool == "small"
    assert placed.answer.pool == "boat-cpu"
    assert offload_guards(placed) == {"verify-property-bottle": "find-bottle"}
    again = placed_from_json(placed.to_json())
    assert offload_guards(again) == offload_guards(placed) and again.pools["boat"].edge


def test_without_an_edge_cpu_pool_the_answer_stays_in_the_cloud(registry):
    placed = place(graph_of(BOTTLES, registry), registry, catalogue(EDGE))
    assert placed.answer.pool == "cpu" and placed.placements["find-bottle"].pool == "boat"


def test_edge_memory_holds_its_models_together(registry):
    source = """
        def execute_command(image):
            image_patch = ImagePatch(image)
            a = image_patch.find("bottle")
            b = image_patch.find("bag")
            c = image_patch.exists("boat")
            return str(len(a) + len(b)) + str(c)
    """
    placed = place(graph_of(source, registry), registry, catalogue(EDGE))
    pools = {tid: p.pool for tid, p in placed.placements.items()}
    # find (5 GB) fits the 8 GB device twice over (one model), exists' 5 GB more would not fit beside it
    assert pools == {"find-bottle": "boat", "find-bag": "boat", "exists-boat": "small"}


def test_a_task_needing_a_cloud_result_does_not_come_back_to_the_edge(registry):
    source = """
        def execute_command(image):
            image_patch = ImagePatch(image)
            kind = image_patch.simple_query("What floats here?")
            return str(len(image_patch.find(kind)))
    """
    placed = place(graph_of(source, registry), registry, catalogue(EDGE))
    find = next(t.id for t in placed.graph.tasks if t.operator == "find")
    assert placed.placements[find].pool == "small"  # it fits the edge, but its argument comes from the cloud
    assert offload_guards(placed) == {}


def test_whole_frame_and_argument_users_are_not_guarded(registry):
    source = """
        def execute_command(image):
            image_patch = ImagePatch(image)
            bottles = image_patch.find("bottle")
            first = bottles[0].simple_query("What is this?")
            scene = image_patch.simple_query("Is it " + str(len(bottles)) + "?")
            return first + scene
    """
    placed = place(graph_of(source, registry), registry, catalogue(EDGE))
    guards = offload_guards(placed)
    item = [t.id for t in placed.graph.tasks if t.patch is not None and t.patch.kind == "item"]
    assert guards == {item[0]: "find-bottle"}  # patches[0] needs the crop; the whole-frame query does not


def test_max_latency_is_refused_with_an_edge_pool(registry):
    with pytest.raises(DicecError, match="--max-latency is not supported with an edge pool"):
        place(graph_of(BOTTLES, registry), registry, catalogue(EDGE), max_latency_s=100)


def test_at_most_one_edge_gpu_pool(registry):
    cat = catalogue(EDGE, {**EDGE, "name": "boat2"})
    with pytest.raises(DicecError, match="at most one edge GPU pool"):
        place(graph_of(BOTTLES, registry), registry, cat)


def test_place_on_edge_leaves_a_cloud_catalogue_alone(registry):
    g = graph_of(BOTTLES, registry)
    cat = catalogue()
    placed = place(g, registry, cat)
    same = place_on_edge(g, registry, cat, placed.placements, placed.answer, cat.get("cpu"), mode="pods")
    assert same[0] == placed.placements and same[1] == placed.answer


def test_a_placed_graph_whose_crops_emission_could_not_honour_is_refused(tmp_path):
    """crops name only offloaded tasks, each from the edge task its `when` tests (a hand-edited file)."""
    import json

    from dicec.analysis import analyse
    from dicec.errors import DicecError
    from dicec.pipeline import generate
    from dicec.placement import load_pools, place
    from dicec.placement.place import placed_from_json
    from dicec.tools import discover

    registry = discover()
    marine = Path(__file__).resolve().parents[2] / "examples" / "marine"
    program = generate((marine / "questions" / "floating-bottles.txt").read_text().strip(), registry).code
    placed = place(analyse(program, registry, path="p.py"), registry, load_pools(marine / "pools.yaml"))
    data = placed.to_json()
    assert placed_from_json(json.loads(json.dumps(data))).crops == placed.crops == {
        "verify-property-bottle": "find-bottle"}
    for bad in ({"find-bottle": "verify-property-bottle"}, {"verify-property-bottle": "nothing"}):
        with pytest.raises(DicecError, match="crops: task"):
            placed_from_json({**data, "crops": bad})
