"""A pods-mode batch workflow as units, its schedule, its bound and its bill, worked out by hand.

Synthetic operators (tests/support.py): model load 10 s, latency 0.5 s on the small A4000 pool ($0.0001/s) and
0.2 s on the big A100 ($0.001/s); find 6 GB, verify_property 4 GB, each its own model. The car check (find, then
verify_property on each of 3 detections) is one stage pod on small, then the answer pod on the CPU pool ($0.000025/s
a CPU pod). Timing model: a pod starts in 5 + 1 s, a node pulls the image in 30 s.
"""

from __future__ import annotations

import pytest

from dicec.analysis import analyse
from dicec.placement import place
from dicec.placement.stages import plan_batch
from dicec.timing.batch import (batch_bill, bill_at_load, build_batch_job, chunk_seconds, images_for, images_per_run,
                                run_nodes)
from dicec.timing.model import TimingModel
from dicec.timing.schedule import make_cluster, simulate
from support import CAR_CHECK_PROGRAM, CPU_POD_USD_S

#: The scheduling arithmetic without Argo's controller requeue (tested on its own in test_schedule.py).
STEPS = TimingModel(image_pull_s=30.0, controller_requeue_s=0.0)


@pytest.fixture()
def batch(registry, small_big):
    placed = [place(analyse(CAR_CHECK_PROGRAM, registry, path="car.py"), registry, small_big)]
    plan = plan_batch(placed, registry, shards=2)
    return plan, placed, {p.name: p for p in small_big.pools}


def test_each_shard_runs_its_stage_pod_then_its_answer_pod(batch, registry, small_big):
    plan, placed, pools = batch
    assert [(s.pool, [t.operator for t in s.tasks]) for s in plan.stages] == [("small", ["find", "verify_property"])]
    # 3 images in 2 shards: 1 and 2. A stage pod: start 6 + both loads 20 + find per image + 3 checks per image
    job = build_batch_job(plan, placed, registry, pools, STEPS, images=3, serial_pool=small_big.get("big"))
    assert [(u.name, u.pool, u.gpu_s, u.cpu_s, u.deps) for u in job.units] == [
        ("stage-1-small[0]", "small", 6 + 20 + 0.5 + 1.5, 0.0, ()), ("answer[0]", None, 0.0, 6.2, (0,)),
        ("stage-1-small[1]", "small", 6 + 20 + 2 * (0.5 + 1.5), 0.0, ()), ("answer[1]", None, 0.0, 6.4, (2,))]
    assert job.queries == 3 and job.answers == ((1, 1), (3, 2))
    assert job.serial_s == pytest.approx(3 * 1.0)  # find 0.2 + 3 checks 0.6 + the answer's 0.2 on the A100, warm
    assert job.model_work_s == {("small", "operator:find"): 1.5, ("small", "operator:verify_property"): 4.5}
    # one image: the first shard's slice is empty, its pod starts and exits, loading nothing
    lone = build_batch_job(plan, placed, registry, pools, STEPS, images=1)
    assert [u.gpu_s for u in lone.units if u.pool] == [6.0, 28.0] and lone.answers == ((1, 0), (3, 1))


def test_shards_run_side_by_side_and_the_bound_is_the_longest_chain(batch, registry, small_big):
    plan, placed, pools = batch
    job = build_batch_job(plan, placed, registry, pools, STEPS, images=3, serial_pool=small_big.get("big"))
    r = simulate([job], make_cluster([job], {"small": 2}, STEPS), model=STEPS)
    # each node pulls (30 s): shard 0's pod 0-58, its answer 58-64.2; shard 1's 0-60, answer 60-66.4
    assert r.makespan_s == pytest.approx(66.4) and r.queries == 3
    assert r.latency_s == pytest.approx((64.2, 66.4, 66.4))
    # the longest chain with no pull (30 + 6.4) beats the work: 6 GPU s of calls over 2 nodes + a load (13 s)
    assert r.bound_s == pytest.approx(36.4) and r.speedup == pytest.approx(3.0 / 66.4)
    one = simulate([job], make_cluster([job], {"small": 1}, STEPS), model=STEPS)
    assert one.makespan_s == pytest.approx(30 + 28 + 30 + 6.4)  # one node: the shards one after the other
    # --parallelism 1: shard 1 waits for shard 0's answer pod (64.2), then runs on the node that pulled already
    capped = build_batch_job(plan, placed, registry, pools, STEPS, images=3, parallelism=1)
    assert capped.units[2].deps == (1,)
    assert simulate([capped], make_cluster([capped], {"small": 2}, STEPS), model=STEPS).makespan_s == \
        pytest.approx(64.2 + 30 + 6.4)


def test_a_batch_pays_the_shared_part_of_a_call_once():
    assert chunk_seconds(20, 1.0, 0.8, 16) == pytest.approx(20 - 18 * 0.8)  # two batches: 16 and 4 calls
    assert chunk_seconds(20, 1.0, 0.8, 1) == pytest.approx(20.0) and chunk_seconds(0, 1.0, 0.8, 16) == 0.0
    assert chunk_seconds(4, 0.5, 0.9, 16) == pytest.approx(0.5)  # the shared part is at most the call


def test_a_run_is_billed_per_pod_second_with_a_pull_per_node(batch, registry, small_big):
    plan, placed, pools = batch
    job = build_batch_job(plan, placed, registry, pools, STEPS, images=3)
    assert run_nodes(plan, pools) == {"small": 2}
    bill = batch_bill(job, 36, STEPS, nodes={"small": 2}, cpu_pool=small_big.cpu_pool())
    gpu = (28 + 30 + 2 * 30) * 0.0001 / 3
    assert [line.pool for line in bill.lines] == ["small", "cpu"]
    assert bill.per_query_usd == pytest.approx(gpu + (6.2 + 6.4) * CPU_POD_USD_S / 3)
    # at a stated load the workflow runs once an hour over that hour's queries, at most --max-batch images
    assert images_per_run(36, 1, STEPS) == 36 and images_per_run(36, 5, STEPS) == 8
    assert images_per_run(1, 4, STEPS) == 1 and images_per_run(36_000, 1, STEPS, max_images=10_000) == 10_000
    assert images_for(1000, 118) == 9
    at_load, run = bill_at_load(plan, placed, registry, pools, STEPS, 36, cpu_pool=small_big.cpu_pool())
    assert run.queries == 36 and at_load.per_query_usd == pytest.approx(
        (2 * (6 + 20 + 18 * 2) + 2 * 30) * 0.0001 / 36 + 2 * (6 + 18 * 0.2) * CPU_POD_USD_S / 36)
