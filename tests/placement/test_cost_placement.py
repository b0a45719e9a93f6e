"""Cost-driven placement options, spot prices, per-cloud labels and node limits in the catalogue."""

from __future__ import annotations


import pytest

from dicec.analysis import analyse
from dicec.errors import DicecError
from dicec.placement import load_pools, place
from dicec.placement.pools import parse_pools
from support import CAR_CHECK_PROGRAM

PROGRAM = CAR_CHECK_PROGRAM

# synthetic operators: load 10 s; latency A4000 0.5 s, A6000 0.3 s, A100 0.2 s
CATALOGUE = {"version": 1, "pools": [
    {"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None},
    {"name": "small", "gpu_class": "A4000", "gpu_memory_gb": 16, "usd_per_hour": 0.36},
    {"name": "mid", "gpu_class": "A6000", "gpu_memory_gb": 48, "usd_per_hour": 0.50, "spot_usd_per_hour": 0.20},
    {"name": "big", "gpu_class": "A100", "gpu_memory_gb": 80, "usd_per_hour": 0.54, "max_nodes": 4},
]}


@pytest.fixture()
def catalogue():
    return parse_pools(CATALOGUE, path="pools.yaml")


def graph(registry):
    return analyse(PROGRAM, registry, path="p.py")


def test_default_objective_is_the_cheapest_hourly_price(registry, catalogue):
    placed = place(graph(registry), registry, catalogue)
    assert {p.pool for p in placed.placements.values()} == {"small"}


def test_cost_objective_picks_the_fewest_dollars_for_the_seconds(registry, catalogue):
    # services: small 0.5 s x $0.36/h = 0.18, mid 0.3 x 0.50 = 0.15, big 0.2 x 0.54 = 0.108 -> big
    placed = place(graph(registry), registry, catalogue, objective="cost", mode="services")
    assert {p.pool for p in placed.placements.values()} == {"big"}
    find = placed.placements["find-car"]
    assert find.seconds == pytest.approx(0.2) and find.usd == round(0.2 * 0.54 / 3600, 8)
    # pods: model load 10 s dominates: small 10.5 x 0.36 = 3.78, big 10.2 x 0.54 = 5.51 -> small
    placed = place(graph(registry), registry, catalogue, objective="cost", mode="pods")
    assert {p.pool for p in placed.placements.values()} == {"small"}


def test_spot_prices_are_used_where_listed(registry, catalogue):
    placed = place(graph(registry), registry, catalogue, spot=True)
    find = placed.placements["find-car"]
    assert find.pool == "mid" and find.usd == round(10.3 * 0.20 / 3600, 8)


def test_max_latency_moves_critical_path_tasks_to_faster_pools(registry, catalogue):
    free = place(graph(registry), registry, catalogue)
    assert free.totals["critical_path_seconds"] == pytest.approx(21.0)  # 10.5 + 10.5 on small
    bounded = place(graph(registry), registry, catalogue, max_latency_s=20.8)
    assert bounded.totals["critical_path_seconds"] <= 20.8
    assert sorted(p.pool for p in bounded.placements.values()) == ["big", "small"]  # one move is enough
    with pytest.raises(DicecError, match=r"no placement meets --max-latency 5 s: the best achievable estimated "
                                         r"critical path is 20.40 s .* task 'find-car' alone takes 10.20 s"):
        place(graph(registry), registry, catalogue, max_latency_s=5)
    with pytest.raises(DicecError, match="--max-latency must be a number of seconds > 0"):
        place(graph(registry), registry, catalogue, max_latency_s=0)
    with pytest.raises(DicecError, match="unknown placement objective"):
        place(graph(registry), registry, catalogue, objective="speed")


def test_cloud_labels_replace_the_default_and_drop_pools_the_cloud_lacks():
    gke = load_pools(cloud="gke")
    assert [p.name for p in gke.pools] == ["cpu", "a100-40gb", "a100-80gb", "t4", "l4"]
    assert gke.get("a100-80gb").node_labels == {"cloud.google.com/gke-accelerator": "nvidia-a100-80gb"}
    assert gke.get("a100-40gb").taints[0]["value"] == "present"
    assert load_pools().get("a100-80gb").node_labels == {"nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe"}
    with pytest.raises(DicecError, match="no pool lists labels for cloud 'aks'"):
        load_pools(cloud="aks")


@pytest.mark.parametrize("clouds, message", [
    ("x", "clouds must map a cloud name"),
    ({"gke": {"labels": {}}}, "clouds.gke: unknown key 'labels'"),
    ({"gke": {"taints": [{"key": "k", "effect": "Never"}]}}, "each taint needs"),
])
def test_bad_clouds_entries_are_one_line(clouds, message):
    raw = {"version": 1, "pools": [dict(CATALOGUE["pools"][1], clouds=clouds)]}
    with pytest.raises(DicecError, match=message):
        parse_pools(raw, path="pools.yaml")


def test_clouds_round_trip_through_a_placed_graph(registry):
    from dicec.placement import placed_from_json

    catalogue = load_pools()
    placed = place(graph(registry), registry, catalogue, objective="cost", mode="services")
    again = placed_from_json(placed.to_json())
    assert again.to_json() == placed.to_json()
