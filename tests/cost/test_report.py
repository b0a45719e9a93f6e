"""The cost report, checked against figures worked out by hand.

Synthetic operators (tests/support.py): model load 10 s, latency A4000 0.5 s, A100 0.2 s. Default timing
model: pod start-up 5 s + Argo overhead 1 s, answer step 0.2 s, request 0.01 s, 3 elements per fan-out.
"""

from __future__ import annotations

import pytest

from dicec.cost.report import cost_report
from dicec.errors import DicecError
from dicec.placement import place
from dicec.timing.job import build_job
from dicec.timing.model import TimingModel
from support import placed_on


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
    r = cost_report(placed, registry, small_big, mode="pods", queries=10)
    assert r["per_query_usd"] == pytest.approx(28 * 0.0001) and r["fuse"] is True
    assert r["tasks"][0]["tasks"] == ["find-car", verify]
    # services mode never fuses (no start-up on a GPU, no model load per step)
    assert place(placed.graph, registry, small_big, mode="services").fusion == ()


def test_cost_report_pods_arithmetic(registry, small_big):
    r = cost_report(placed_on(registry, small_big), registry, small_big, mode="pods", queries=10, fuse=False)
    assert r["baselines"]["chosen"] == pytest.approx(4 * 16.5 * 0.0001)
    assert r["baselines"]["a100_nodes"] == pytest.approx(4 * 16.2 * 0.001)
    assert r["baselines"]["serial_a100"] == pytest.approx(27.0 * 0.001)
    assert r["per_query_usd"] == r["baselines"]["chosen"]
    assert r["per_n_queries_usd"] == pytest.approx(10 * 4 * 16.5 * 0.0001)
    assert r["savings"]["vs_serial_a100"] == pytest.approx(1 - 0.0066 / 0.027, abs=1e-6)
    assert r["savings"]["vs_a100_nodes"] == pytest.approx(1 - 0.0066 / 0.0648, abs=1e-6)
    assert r["baseline_pools"] == {"serial_a100": "big", "a100_nodes": ["big"], "chosen": ["small"]}
    rows = {row["task"]: row for row in r["tasks"]}
    assert rows["find-car"]["usd"] == pytest.approx(16.5 * 0.0001) and rows["find-car"]["elements"] == 1
    fan = next(row for row in r["tasks"] if row["task"].startswith("verify"))
    assert fan["elements"] == 3 and fan["gpu_seconds"] == pytest.approx(49.5)
    # the schedule of one query on one small node: pull 30, then four 16.5 s pods
    assert r["schedule"]["nodes"] == ["small-0"]
    assert r["schedule"]["makespan_s"] == pytest.approx(30 + 4 * 16.5 + 6.2)


def test_cost_report_services_spreads_model_loads_over_the_queries(registry, small_big):
    placed = placed_on(registry, small_big, mode="services")
    r = cost_report(placed, registry, small_big, mode="services", queries=10)
    loads = 20.0  # find + verify_property, 10 s each, once per served operator
    assert r["baselines"]["chosen"] == pytest.approx(4 * 0.51 * 0.0001 + loads * 0.0001 / 10)
    assert r["baselines"]["a100_nodes"] == pytest.approx(4 * 0.21 * 0.001 + loads * 0.001 / 10)
    assert r["baselines"]["serial_a100"] == pytest.approx(1.0 * 0.001 + loads * 0.001 / 10)


def test_cost_report_needs_an_a100_pool(registry, tmp_path):
    from dicec.placement import load_pools

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\npools:\n  - {name: cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: null}\n"
                    "  - {name: small, gpu_class: A4000, gpu_memory_gb: 16, usd_per_hour: 0.36}\n")
    catalogue = load_pools(path)
    with pytest.raises(DicecError, match="no A100 pool"):
        cost_report(placed_on(registry, catalogue), registry, catalogue)
