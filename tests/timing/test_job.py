"""The units of a job and the serial baseline, checked against figures worked out by hand.

Synthetic operators (tests/support.py): model load 10 s, latency A4000 0.5 s, A100 0.2 s. Default timing
model: pod start-up 5 s + Argo overhead 1 s, answer step 0.2 s, request 0.01 s, 3 elements per fan-out,
the answer service's request 0.21 s.
"""

from __future__ import annotations

import pytest

from dicec.analysis import analyse
from dicec.errors import DicecError
from dicec.timing.job import build_job, serial_seconds
from dicec.timing.model import TimingModel
from support import CAR_CHECK_PROGRAM as PROGRAM
from support import placed_on, write_operator


def test_pods_units_pay_start_up_and_model_load(registry, small_big):
    job = build_job(placed_on(registry, small_big), registry, TimingModel(), mode="pods")
    names = [u.name for u in job.units]
    assert names == ["find-car", *[f"{job.units[1].tasks[0]}[{i}]" for i in range(3)], "answer"]
    assert [u.gpu_s for u in job.units[:4]] == [pytest.approx(16.5)] * 4  # 5 + 1 + 10 + 0.5 on the A4000
    assert all(u.pull and u.pool == "small" and not u.http for u in job.units[:4])
    assert job.units[4].cpu_s == pytest.approx(6.2) and job.units[4].gpu_s == 0
    assert job.units[4].cpu_pod_s == pytest.approx(6.2)  # the answer step is a pod on the CPU pool
    assert job.units[1].deps == (0,) and job.units[4].deps == (0, 1, 2, 3)
    assert job.busy_usd == pytest.approx(4 * 16.5 * 0.0001)
    assert job.work_s == pytest.approx(4 * 0.5) and job.loads_s == pytest.approx(20.0)


def test_services_operator_calls_are_http_requests_and_a_fan_out_is_one(registry, small_big):
    job = build_job(placed_on(registry, small_big, mode="services"), registry, TimingModel(), mode="services")
    find, verify, answer = job.units
    # no pod per call: the server is busy for the request; the fan-out's 3 elements travel in ONE request
    assert (find.http, find.cpu_s, find.gpu_s, find.calls) == (True, 0.0, pytest.approx(0.51), 1)
    assert (verify.http, verify.gpu_s, verify.calls, verify.deps) == (True, pytest.approx(1.51), 3, (0,))
    assert verify.batch_key == "small/verify_property" and verify.shared_s == 0.0
    # the answer step is one request to the answer service on the CPU pool
    assert (answer.http, answer.pool, answer.cpu_s, answer.deps) == (True, None, pytest.approx(0.21), (0, 1))
    assert job.cpu_pod_seconds == 0.0 and job.http
    assert job.services == {"small": {"find": 6, "verify_property": 4}}
    assert job.service_busy_s == {("small", "find"): pytest.approx(0.51), ("small", "verify_property"): pytest.approx(1.51)}


def test_services_load_a_model_file_once_however_many_operators_share_it(tmp_path, small_big):
    """Known fault: services mode counted a model load per operator (pods mode: once per model file)."""
    from dicec.tools import discover

    for name, form in (("find", "find(object_name: str) -> list[ImagePatch]"),
                       ("verify_property", "verify_property(object_name: str, property: str) -> bool")):
        write_operator(tmp_path, name, [("method", form)], 4, model_file="/models/shared.onnx")
    reg = discover([tmp_path], builtin=False, entry_points=False)
    placed = placed_on(reg, small_big, mode="services")
    job = build_job(placed, reg, TimingModel(), mode="services")
    assert job.service_load_s == {"/models/shared.onnx": 10.0}
    assert job.model_of == {"find": "/models/shared.onnx", "verify_property": "/models/shared.onnx"}
    from dicec.timing.schedule import make_cluster

    # one node holds the one model (4 GB, not 8) and its warm-up loads it once: start 6 + pull 30 + 10
    cluster = make_cluster([job], {"small": 1}, TimingModel())
    assert cluster.warmup_s == pytest.approx(6 + 30 + 10)


def test_a_fan_out_request_reads_a_decoders_weights_once(tmp_path, small_big):
    """An operator whose work is a decoder reading its weights: a request of 3 elements pays that part once."""
    from dicec.tools import discover

    write_operator(tmp_path, "find", [("method", "find(object_name: str) -> list[ImagePatch]")], 4)
    work = {"tflop": 0.0, "memory_gb": 36.0, "bandwidth_utilisation": 1.0, "memory_shared": True, "overhead_s": 0.1}
    write_operator(tmp_path, "verify_property",
                   [("method", "verify_property(object_name: str, property: str) -> bool")], 4,
                   latency={"A4000": 0.5}, work=work)
    reg = discover([tmp_path], builtin=False, entry_points=False)
    small = small_big.get("small")
    import dataclasses

    from dicec.placement.pools import PoolCatalogue

    # the A4000 pool with a datasheet bandwidth of 90 GB/s: the weights take 36 / 90 = 0.4 s of the 0.5 s
    pools = tuple(dataclasses.replace(p, memory_bandwidth_gbps=90.0, datasheet="test") if p is small else p
                  for p in small_big.pools)
    cat = PoolCatalogue(pools=pools, path="t")
    job = build_job(placed_on(reg, cat, mode="services"), reg, TimingModel(), mode="services")
    verify = job.units[1]
    assert verify.shared_s == pytest.approx(0.4)
    assert verify.gpu_s == pytest.approx(3 * 0.5 - 2 * 0.4 + 0.01)


def test_crop_fed_and_edge_tasks_stay_container_steps(registry, small_big):
    placed = placed_on(registry, small_big, mode="services")
    import dataclasses

    fed = dataclasses.replace(placed, crops={placed.graph.tasks[1].id: "find-car"})
    job = build_job(fed, registry, TimingModel(), mode="services")
    find, *verify, answer = job.units
    assert find.http and not any(u.http for u in verify) and len(verify) == 3
    # a pod per element: it starts (6 s), then calls the server (0.5 + 0.01 s); its whole life is a CPU pod
    assert [(u.cpu_s, u.gpu_s, u.cpu_pod_s) for u in verify] == [(6.0, pytest.approx(0.51), pytest.approx(6.51))] * 3


def test_serial_baseline_seconds_warm_and_cold(registry, small_big):
    graph = analyse(PROGRAM, registry, path="prog.py")
    big = small_big.get("big")
    # warm: one process with every model loaded: calls 0.2 + 3 x 0.2 + answer 0.2
    assert serial_seconds(graph, registry, big, TimingModel()) == pytest.approx(1.0)
    # cold (the old pods figure, kept labelled): start 6 + loads 10 + 10 + calls 0.8 + answer 0.2
    assert serial_seconds(graph, registry, big, TimingModel(), cold=True) == pytest.approx(27.0)
    job = build_job(placed_on(registry, small_big), registry, TimingModel(), mode="pods", serial_pool=big)
    assert (job.serial_s, job.serial_cold_s) == (pytest.approx(1.0), pytest.approx(27.0))


def test_an_override_pool_too_small_is_a_clear_error(registry, small_big):
    placed = placed_on(registry, small_big)
    tiny = small_big.get("small")
    import dataclasses

    tiny = dataclasses.replace(tiny, gpu_memory_gb=2)
    with pytest.raises(DicecError, match=r"needs 6 GB of GPU memory .* pool 'small' has 2 GB"):
        build_job(placed, registry, TimingModel(), override=tiny)
