"""The cost report at a stated load, checked against figures worked out by hand.

Synthetic operators (tests/support.py): model load 10 s, latency A4000 0.5 s, A100 0.2 s. Default timing
model: pod start-up 5 s + Argo overhead 1 s, answer step 0.2 s, request 0.01 s, 3 elements per fan-out,
image pull 30 s, replicas sized to 70% busy, Argo's agent ready after 5 s and patching every 10 s.
Catalogue (support.SMALL_BIG_POOLS): small A4000 $0.0001/s, big A100 $0.001/s, a CPU pod $0.000025/s.
"""

from __future__ import annotations

import math

import pytest

from dicec.cost.report import cost_report, serial_pool
from dicec.errors import DicecError
from dicec.placement import place
from dicec.timing.job import build_job
from dicec.timing.model import TimingModel
from support import AGENT_USD_S, CPU_POD_USD_S, placed_on, write_operator

DAY = 24


def test_a_fused_group_is_one_pod_with_one_start_up_and_one_load_per_model(registry, small_big):
    placed = placed_on(registry, small_big, fuse=True)
    verify = placed.graph.tasks[1].id
    assert [g.tasks for g in placed.fusion] == [("find-car", verify)]
    job = build_job(placed, registry, TimingModel(), mode="pods")
    assert [u.name for u in job.units] == ["find-car +1 fused", "answer"]
    # one pod: start 6 + find load 10 + 0.5 + verify load 10 + 3 x 0.5 = 28 s (apart: 16.5 + 3 x 16.5 = 66 GPU s)
    assert job.units[0].gpu_s == pytest.approx(28.0) and job.units[0].tasks == ("find-car", verify)
    assert job.units[1].deps == (0,)
    unfused = build_job(placed, registry, TimingModel(), mode="pods", fuse=False)
    assert len(unfused.units) == 5 and unfused.busy_usd == pytest.approx(66 * 0.0001)
    assert job.busy_usd == pytest.approx(28 * 0.0001)
    r = cost_report(placed, registry, small_big, mode="pods", load_qph=36)
    # 28 GPU s + one node's daily pull (30 s) over 36 x 24 queries + the answer pod's 6.2 s of CPU
    assert r["per_query_usd"] == pytest.approx(28 * 0.0001 + 30 * 0.0001 / (36 * DAY) + 6.2 * CPU_POD_USD_S)
    assert r["fuse"] is True and r["tasks"][0]["tasks"] == ["find-car", verify]
    # services mode never fuses (no start-up on a GPU, no model load per step)
    assert place(placed.graph, registry, small_big, mode="services").fusion == ()


def test_pods_mode_at_a_load_every_pod_priced_cpu_included(registry, small_big):
    r = cost_report(placed_on(registry, small_big), registry, small_big, mode="pods", load_qph=36, fuse=False)
    gpu = 4 * 16.5 * 0.0001 + 1 * 30 * 0.0001 / (36 * DAY)  # 66 GPU s a query: at 0.01 qps one node
    cpu = 6.2 * CPU_POD_USD_S
    assert r["load_qph"] == 36 and r["per_query_usd"] == pytest.approx(gpu + cpu)
    assert r["cpu_usd_per_query"] == pytest.approx(cpu) and r["cpu_usd_per_query"] > 0
    assert r["baselines"]["chosen"] == r["per_query_usd"]
    # the warm serial program: 1.0 s a query on the big A100; at 36 queries/hour one machine, idle most of the day
    assert r["serial"] == {"pool": "big", "warm_s": 1.0, "cold_s": 27.0, "machines": 1,
                           "cold_usd_per_query": pytest.approx(0.027)}
    assert r["baselines"]["serial_a100"] == pytest.approx(3.6 / 36)
    # the same plan on identical A100 nodes: 4 pods of 16.2 s at $0.001/s, a pull, the answer pod
    assert r["baselines"]["a100_nodes"] == pytest.approx(4 * 16.2 * 0.001 + 30 * 0.001 / (36 * DAY) + cpu)
    # the bound: find and 3 checks at their cheapest (0.5 s x $0.0001 on small), the answer's 0.2 s of CPU
    assert r["baselines"]["bound"] == pytest.approx(4 * 0.5 * 0.0001 + 0.2 * CPU_POD_USD_S)
    assert r["plan_over_bound"] == pytest.approx((gpu + cpu) / r["baselines"]["bound"], rel=1e-5)
    assert r["savings"]["vs_serial_a100"] == pytest.approx(1 - (gpu + cpu) / 0.1, abs=1e-6)
    assert r["baseline_pools"] == {"serial_a100": "big", "a100_nodes": ["big"], "chosen": ["small"]}
    rows = {row["task"]: row for row in r["tasks"]}
    assert rows["find-car"]["usd"] == pytest.approx(16.5 * 0.0001) and rows["find-car"]["elements"] == 1
    fan = next(row for row in r["tasks"] if row["task"].startswith("verify"))
    assert fan["elements"] == 3 and fan["gpu_seconds"] == pytest.approx(49.5)
    # the schedule of one query on one small node, the controller acting on a finished pod at its next reconcile
    # (due 10 s after one that started pods, else 10 s after the pod): pull 30 + find 16.5 end at 46.5, seen at
    # 56.5; the checks 56.5-73, 73-89.5, 89.5-106, the last seen at 116; the answer pod 116-122.2, seen at the
    # reconcile due at 126 (after the update at 116)
    assert r["schedule"]["nodes"] == ["small-0"]
    assert r["schedule"]["makespan_s"] == pytest.approx(126.0)


def test_services_mode_bills_always_on_servers_busy_or_idle(registry, small_big):
    placed = placed_on(registry, small_big, mode="services")
    r = cost_report(placed, registry, small_big, mode="services", load_qph=3600)
    # one server set on small (find 6 GB + verify 4 GB fit 16 GB), busy 0.51 + 1.51 = 2.02 s a query: at one
    # query a second, ceil(2.02 / 0.7) = 3 replicas all day; the answer service: 0.21 s, 1 replica of a CPU pod;
    # the agent pod lives the query's 45 s (5 s start; find patched at 15 and acted on at 25; the checks and
    # the answer each a 10 s tick later)
    servers = 3 * 0.0001 * 3600 / 3600
    answer = 1 * CPU_POD_USD_S * 3600 / 3600
    agent = 45.0 * AGENT_USD_S
    assert r["per_query_usd"] == pytest.approx(servers + answer + agent)
    assert r["cpu_usd_per_query"] == pytest.approx(answer + agent)
    lines = {line["what"]: line for line in r["bill"]}
    assert lines["model server find, verify_property"]["replicas"] == 3
    assert lines["model server find, verify_property"]["utilisation"] == pytest.approx(2.02 / 3)
    # at 36 queries/hour the same servers idle almost all day: one replica each, billed all day
    low = cost_report(placed, registry, small_big, mode="services", load_qph=36)
    assert low["per_query_usd"] == pytest.approx(0.36 / 36 + 0.09 / 36 + agent)
    # the warm serial fleet at one query a second: ceil(1.0 / 0.7) = 2 big machines
    assert r["baselines"]["serial_a100"] == pytest.approx(2 * 3.6 / 3600) and r["serial"]["machines"] == 2


def test_the_curve_finds_where_the_plan_stops_saving(registry, small_big):
    r = cost_report(placed_on(registry, small_big, mode="services"), registry, small_big, mode="services", load_qph=3600)
    curve = r["curve"]
    assert len(curve["loads_qph"]) == len(curve["chosen"]) == len(curve["serial_a100"]) == len(curve["bound"])
    assert all(b <= c for b, c in zip(curve["bound"], curve["chosen"]))
    # the plan's always-on servers beat one A100 machine at every load here ($0.45/h of servers at the least)
    assert all(c < s for c, s in zip(curve["chosen"], curve["serial_a100"])) and curve["crossovers_qph"] == []
    pods = cost_report(placed_on(registry, small_big), registry, small_big, mode="pods", fuse=False)
    # pay-per-pod: 66 GPU s a query ($0.0068 with the answer pod) is dear once the serial machine is busy
    # enough; it saves while that one $3.6/h machine idles: below 3.6 / 0.0068 = about 530 queries/hour
    (cross,) = pods["curve"]["crossovers_qph"]
    assert cross["plan_saves"] == "below"
    assert cross["load_qph"] == pytest.approx(3.6 / pods["curve"]["chosen"][0], rel=0.01)
    here = cost_report(placed_on(registry, small_big), registry, small_big, mode="pods", fuse=False,
                       load_qph=cross["load_qph"] * 1.01)
    assert here["savings"]["vs_serial_a100"] < 0


def test_the_serial_machine_holds_each_model_file_once(tmp_path):
    """Known fault: the serial baseline summed GPU memory per operator, not per model file."""
    from dicec.analysis import analyse
    from dicec.placement import load_pools
    from dicec.tools import discover

    for name, form in (("find", "find(object_name: str) -> list[ImagePatch]"),
                       ("verify_property", "verify_property(object_name: str, property: str) -> bool")):
        write_operator(tmp_path / "ops", name, [("method", form)], 30, model_file="/models/shared.onnx")
    reg = discover([tmp_path / "ops"], builtin=False, entry_points=False)
    (tmp_path / "p.yaml").write_text(
        "version: 1\npools:\n  - {name: cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: null}\n"
        "  - {name: a40, gpu_class: A100, gpu_memory_gb: 40, usd_per_hour: 1.0}\n"
        "  - {name: a80, gpu_class: A100, gpu_memory_gb: 80, usd_per_hour: 2.0}\n")
    graph = analyse("def execute_command(image):\n    p = ImagePatch(image)\n    for c in p.find('car'):\n"
                    "        c.verify_property('car', 'red')\n    return 1\n", reg, path="p.py")
    assert serial_pool(graph, reg, load_pools(tmp_path / "p.yaml")).name == "a40"  # 30 GB once, not 60


def test_cost_report_needs_an_a100_pool(registry, tmp_path):
    from dicec.placement import load_pools

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\npools:\n  - {name: cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: null}\n"
                    "  - {name: small, gpu_class: A4000, gpu_memory_gb: 16, usd_per_hour: 0.36}\n")
    catalogue = load_pools(path)
    with pytest.raises(DicecError, match="no A100 pool"):
        cost_report(placed_on(registry, catalogue), registry, catalogue)
    with pytest.raises(DicecError, match="--load must be a number of queries per hour > 0"):
        cost_report(placed_on(registry, catalogue), registry, catalogue, load_qph=0)


def test_the_placed_figure_is_the_cost_reports_at_the_default_load(registry, small_big):
    for mode, fuse in (("pods", True), ("pods", False), ("services", False)):
        placed = placed_on(registry, small_big, mode=mode, fuse=fuse)
        r = cost_report(placed, registry, small_big, mode=mode, fuse=fuse)
        assert r["load_qph"] == placed.totals["load_qph"] == 3600
        assert placed.totals["usd_per_query"] == pytest.approx(r["per_query_usd"], abs=1e-8)
        assert math.isfinite(r["plan_over_bound"]) and r["baselines"]["bound"] < r["per_query_usd"]


def test_the_bound_is_below_every_plan_and_cpu_is_priced(builtin_registry, pools):
    """Every example question, both modes, three loads: the zero-idle bound is at most the plan and at most
    each baseline, and the plan's CPU pods cost something (the answer step or service, the agent)."""
    from pathlib import Path

    from dicec.analysis import analyse
    from dicec.pipeline import generate

    repo = Path(__file__).resolve().parents[2]
    questions = sorted((repo / "examples" / "questions").glob("*.txt"))[::3]
    questions += sorted((repo / "examples" / "insurance" / "questions").glob("*.txt"))[::3]
    for path in questions:
        text = path.read_text().strip()
        graph = analyse(generate(text, builtin_registry).code, builtin_registry, path=path.name, question=text)
        for mode in ("pods", "services"):
            placed = place(graph, builtin_registry, pools, mode=mode)
            for load in (100, 3600, 100000):
                r = cost_report(placed, builtin_registry, pools, mode=mode, load_qph=load, curve=False)
                b = r["baselines"]
                assert 0 < b["bound"] <= min(b["chosen"], b["serial_a100"], b["a100_nodes"]) + 1e-12, (path.name, mode)
                assert r["cpu_usd_per_query"] > 0, (path.name, mode)
