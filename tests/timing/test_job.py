"""The units of a job and the serial baseline, checked against figures worked out by hand.

Synthetic operators (tests/support.py): model load 10 s, latency A4000 0.5 s, A100 0.2 s. Default timing
model: pod start-up 5 s + Argo overhead 1 s, answer step 0.2 s, request 0.01 s, 3 elements per fan-out.
"""

from __future__ import annotations

import pytest

from dicec.analysis import analyse
from dicec.errors import DicecError
from dicec.timing.job import build_job, serial_seconds
from dicec.timing.model import TimingModel
from support import CAR_CHECK_PROGRAM as PROGRAM
from support import placed_on


def test_pods_units_pay_start_up_and_model_load(registry, small_big):
    job = build_job(placed_on(registry, small_big), registry, TimingModel(), mode="pods")
    names = [u.name for u in job.units]
    assert names == ["find-car", *[f"{job.units[1].tasks[0]}[{i}]" for i in range(3)], "answer"]
    assert [u.gpu_s for u in job.units[:4]] == [pytest.approx(16.5)] * 4  # 5 + 1 + 10 + 0.5 on the A4000
    assert all(u.pull and u.pool == "small" for u in job.units[:4])
    assert job.units[4].cpu_s == pytest.approx(6.2) and job.units[4].gpu_s == 0
    assert job.units[1].deps == (0,) and job.units[4].deps == (0, 1, 2, 3)
    assert job.busy_usd == pytest.approx(4 * 16.5 * 0.0001)


def test_services_units_hold_the_gpu_only_for_the_request(registry, small_big):
    job = build_job(placed_on(registry, small_big, mode="services"), registry, TimingModel(), mode="services")
    assert [(u.cpu_s, u.gpu_s) for u in job.units[:4]] == [(6.0, pytest.approx(0.51))] * 4
    assert job.services == {"small": {"find": 6, "verify_property": 4}}


def test_serial_baseline_seconds(registry, small_big):
    graph = analyse(PROGRAM, registry, path="prog.py")
    big = small_big.get("big")
    # pods: start 6 + loads 10 + 10 + calls 0.2 + 3 x 0.2 + answer 0.2
    assert serial_seconds(graph, registry, big, TimingModel(), "pods") == pytest.approx(27.0)
    # services: a warm process: calls 0.8 + answer 0.2
    assert serial_seconds(graph, registry, big, TimingModel(), "services") == pytest.approx(1.0)


def test_an_override_pool_too_small_is_a_clear_error(registry, small_big):
    placed = placed_on(registry, small_big)
    tiny = small_big.get("small")
    import dataclasses

    tiny = dataclasses.replace(tiny, gpu_memory_gb=2)
    with pytest.raises(DicecError, match=r"needs 6 GB of GPU memory .* pool 'small' has 2 GB"):
        build_job(placed, registry, TimingModel(), override=tiny)
