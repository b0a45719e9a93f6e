"""The simulator's arithmetic on small cases worked out by hand."""

from __future__ import annotations

import time

import pytest

from dicec.errors import DicecError
from dicec.placement.pools import Pool
from dicec.timing.job import Job, Unit
from dicec.timing.model import TimingModel
from dicec.timing.schedule import Cluster, Node, chain_seconds, deal, make_cluster, simulate, tick_after

POOL = Pool(name="g", gpu_class="A100", gpu_memory_gb=80, usd_per_hour=3.6, node_labels={})  # $0.001 per second
MODEL = TimingModel(image_pull_s=30.0)
#: The scheduling arithmetic alone: a finished pod's dependants start at once (no controller requeue).
STEPS = TimingModel(image_pull_s=30.0, controller_requeue_s=0.0)


def job(*units: Unit, serial_s: float, mode: str = "pods", services=None, loads=None) -> Job:
    return Job(name="j", mode=mode, units=units, serial_s=serial_s, serial_pool="g", pools={"g": POOL},
               services=services or {}, service_load_s=loads or {})


def unit(name: str, gpu_s: float, *, deps=(), cpu_s: float = 0.0, pull: bool = False, op: str = "op") -> Unit:
    return Unit(name=name, tasks=(name,), operators=(op,), pool="g", cpu_s=cpu_s, gpu_s=gpu_s, pull=pull,
                deps=tuple(deps), usd_per_s=0.001)


def answer(n: int) -> Unit:
    return Unit(name="answer", tasks=(), operators=(), pool=None, cpu_s=0.0, gpu_s=0.0, deps=tuple(range(n)))


def cluster(n: int, mode: str = "pods") -> Cluster:
    nodes = tuple(Node(name=f"g-{i}", pool="g", group="g", usd_per_s=0.001) for i in range(n))
    key = ("g", "") if mode == "pods" else ("g", "op")
    return Cluster(nodes=nodes, route={key: "g"}, mode=mode)


TWO_INDEPENDENT = job(unit("a", 10.0), unit("b", 10.0), answer(2), serial_s=20.0)


def test_two_independent_10s_tasks_on_one_and_two_nodes():
    one = simulate([TWO_INDEPENDENT], cluster(1), model=STEPS)
    two = simulate([TWO_INDEPENDENT], cluster(2), model=STEPS)
    assert one.makespan_s == 20.0 and two.makespan_s == 10.0
    assert one.speedup == 1.0 and two.speedup == 2.0
    assert one.efficiency == 1.0 and two.efficiency == 1.0
    # every node billed for the whole makespan: 1 x 20 s and 2 x 10 s at $0.001/s
    assert one.usd == pytest.approx(0.020) and two.usd == pytest.approx(0.020)
    assert two.gpu_busy_s == 20.0 and two.gpu_idle_s == 0.0


def test_a_chain_does_not_speed_up_and_idles_the_second_node():
    chain = job(unit("a", 10.0), unit("b", 10.0, deps=[0]), answer(2), serial_s=20.0)
    r = simulate([chain], cluster(2), model=STEPS)
    assert r.makespan_s == 20.0 and r.speedup == 1.0 and r.efficiency == 0.5
    assert r.gpu_idle_s == 20.0 and r.usd == pytest.approx(0.040)


def test_image_pull_is_paid_once_per_node():
    pulled = job(unit("a", 10.0, pull=True), unit("b", 10.0, deps=[0], pull=True), answer(2), serial_s=20.0)
    r = simulate([pulled], cluster(1), model=STEPS, record=True)
    assert r.makespan_s == 30.0 + 20.0
    assert [iv.pull for iv in r.intervals] == [30.0, 0.0]
    assert r.serial_s == 20.0  # the warm serial process pulled and loaded before the first query
    assert r.serial_cold_s == 30.0  # the cold figure (0 s here) pays the one pull


def test_a_batch_overlaps_queries_in_fifo_order():
    single = job(unit("a", 10.0), answer(1), serial_s=10.0)
    r = simulate([single], cluster(2), batch=3, model=STEPS)
    assert r.makespan_s == 20.0 and r.latency_s == (10.0, 10.0, 20.0)
    assert r.serial_s == 30.0 and r.speedup == 1.5 and r.efficiency == 0.75


def test_services_step_start_up_holds_no_gpu():
    # two requests whose 5 s step pods start together, then share one GPU for 1 s each
    two = job(unit("a", 1.0, cpu_s=5.0), unit("b", 1.0, cpu_s=5.0), answer(2), serial_s=2.0, mode="services")
    r = simulate([two], cluster(1, "services"), model=STEPS)
    assert r.makespan_s == 7.0 and r.gpu_busy_s == 2.0


def test_mixed_batch_alternates_jobs():
    short = job(unit("a", 1.0), answer(1), serial_s=1.0)
    long = job(unit("a", 3.0), answer(1), serial_s=3.0)
    r = simulate([short, long], cluster(1), batch=4, model=STEPS)
    assert r.makespan_s == 8.0 and r.serial_s == 8.0 and r.latency_s == (1.0, 4.0, 5.0, 8.0)


def test_empty_cluster_and_bad_batch_are_errors():
    with pytest.raises(DicecError, match="the cluster is empty"):
        Cluster(nodes=(), route={}, mode="pods")
    with pytest.raises(DicecError, match="--batch must be at least 1"):
        simulate([TWO_INDEPENDENT], cluster(1), batch=0)


def test_make_cluster_refuses_more_nodes_than_the_pool_allows_and_missing_pools():
    limited = Pool(name="g", gpu_class="A100", gpu_memory_gb=80, usd_per_hour=3.6, node_labels={}, max_nodes=2)
    j = Job(name="j", mode="pods", units=TWO_INDEPENDENT.units, serial_s=20.0, serial_pool="g", pools={"g": limited})
    assert len(make_cluster([j], {"g": 2}, MODEL).nodes) == 2
    with pytest.raises(DicecError, match="limited to 2 nodes"):
        make_cluster([j], {"g": 3}, MODEL)
    with pytest.raises(DicecError, match="no node of pool 'g'"):
        make_cluster([j], {}, MODEL)


def services_job(units, *, memory, loads, busy=None, model_of=None, pool=None) -> Job:
    pool = pool or Pool(name="g", gpu_class="A100", gpu_memory_gb=40, usd_per_hour=3.6, node_labels={})
    model_of = model_of or {op: f"{op}.onnx" for op in memory}
    return Job(name="j", mode="services", units=units, serial_s=3.0, serial_pool="g", pools={"g": pool},
               services={"g": memory}, model_of=model_of, service_load_s=loads,
               service_busy_s={("g", op): s for op, s in (busy or {}).items()})


def test_services_pack_models_into_nodes_that_fit():
    units = (unit("a", 1.0, op="big"), unit("b", 1.0, op="mid"), unit("c", 1.0, op="tiny"), answer(3))
    j = services_job(units, memory={"big": 30.0, "mid": 20.0, "tiny": 5.0},
                     loads={"big.onnx": 20.0, "mid.onnx": 10.0, "tiny.onnx": 1.0})
    c = make_cluster([j], {"g": 2}, MODEL)
    assert [n.serves for n in c.nodes] == [("big", "tiny"), ("mid",)]
    assert c.warmup_s == MODEL.step_start_s + 30.0 + 21.0  # the slowest node: pull + its two loads
    with pytest.raises(DicecError, match="need 2 nodes to fit their models"):
        make_cluster([j], {"g": 1}, MODEL)
    assert simulate([j], c, model=STEPS).makespan_s == 2.0  # big and tiny share node 0


def test_services_deal_nodes_to_server_sets_by_the_work_asked_of_them():
    units = (unit("a", 1.0, op="big"), unit("b", 1.0, op="mid"), answer(2))
    j = services_job(units, memory={"big": 30.0, "mid": 20.0}, loads={}, busy={"big": 3.0, "mid": 1.0})
    c = make_cluster([j], {"g": 6}, MODEL)
    assert [n.serves for n in c.nodes] == [("big",)] * 4 + [("mid",)] * 2  # 1 each, then 4 shared 3:1 -> 3 + 1
    assert deal(6, [3.0, 1.0]) == [4, 2] and deal(3, [0.0, 0.0, 0.0]) == [1, 1, 1]
    with pytest.raises(DicecError, match="need at least 2 nodes"):
        deal(1, [1.0, 1.0])


def test_operators_sharing_a_model_file_share_its_memory():
    """Packing counts a model file once, however many operators use it."""
    units = (unit("a", 1.0, op="find"), unit("b", 1.0, op="exists"), answer(2))
    shared = services_job(units, memory={"find": 30.0, "exists": 30.0}, loads={"glip.onnx": 10.0},
                          model_of={"find": "glip.onnx", "exists": "glip.onnx"})
    c = make_cluster([shared], {"g": 1}, MODEL)
    assert [n.serves for n in c.nodes] == [("exists", "find")]
    assert c.warmup_s == MODEL.step_start_s + 30.0 + 10.0


def http(name: str, gpu_s: float, *, deps=(), op: str = "op", shared_s: float = 0.0) -> Unit:
    return Unit(name=name, tasks=(name,), operators=(op,), pool="g", cpu_s=0.0, gpu_s=gpu_s, deps=tuple(deps),
                usd_per_s=0.001, http=True, shared_s=shared_s, batch_key=f"g/{op}")


def http_answer(n: int) -> Unit:
    return Unit(name="answer", tasks=(), operators=(), pool=None, cpu_s=0.21, gpu_s=0.0, deps=tuple(range(n)), http=True)


def test_the_agent_starts_once_and_each_level_waits_for_its_patch_tick_and_the_requeue():
    chain = job(http("a", 1.0), http("b", 1.0, deps=[0]), http_answer(2), serial_s=2.2, mode="services")
    # the controller reconciles at 0 (the task set, the agent) and is due again at 10; the agent is ready at 5;
    # a 5-6, patched at the tick of 15 (the reconcile at 10 saw nothing), acted on at 25; b 25-26, patched at the
    # tick of 35, seen by the reconcile due then (enqueued by the update at 25); the answer 35-35.21 likewise at 45
    r = simulate([chain], cluster(2, "services"), model=MODEL, record=True)
    assert r.makespan_s == pytest.approx(45.0) and [iv.start for iv in r.intervals] == [5.0, 25.0]
    assert chain_seconds(chain, MODEL) == pytest.approx(45.0) and r.bound_s == pytest.approx(45.0)
    # ARGO_AGENT_PATCH_RATE=1s alone: a patched at 6, seen at the reconcile due at 10; b 10-11, patched at 11,
    # seen at 20; the answer 20-20.21, patched at 21, seen at 30: a level every requeue
    patch = TimingModel(image_pull_s=30.0, agent_patch_rate_s=1.0)
    assert simulate([chain], cluster(2, "services"), model=patch).makespan_s == pytest.approx(30.0)
    # DEFAULT_REQUEUE_TIME=1s (both 1 s): a seen at 7, b 7-8 seen at 8, the answer 8-8.21 seen at 9
    both = TimingModel(image_pull_s=30.0, agent_patch_rate_s=1.0, controller_requeue_s=1.0)
    assert simulate([chain], cluster(2, "services"), model=both).makespan_s == pytest.approx(9.0)
    none = TimingModel(image_pull_s=30.0, agent_patch_rate_s=0.0, controller_requeue_s=0.0)
    assert simulate([chain], cluster(2, "services"), model=none).makespan_s == pytest.approx(7.21)
    assert tick_after(5.0, 5.0, 10.0) == 15.0 and tick_after(15.0, 5.0, 10.0) == 15.0 and tick_after(7, 5, 0) == 7


def test_the_agent_has_at_most_task_workers_requests_in_flight():
    wide = job(*[http(f"r{i}", 1.0) for i in range(20)], http_answer(20), serial_s=20.2, mode="services")
    model = TimingModel(agent_patch_rate_s=0.0, agent_startup_s=0.0, controller_requeue_s=0.0)
    # 16 workers: 16 requests at 0-1, the other 4 at 1-2 (20 nodes free), then the answer
    assert simulate([wide], cluster(20, "services"), model=model).makespan_s == pytest.approx(2.21)
    more = TimingModel(agent_patch_rate_s=0.0, agent_startup_s=0.0, controller_requeue_s=0.0, agent_task_workers=32)
    assert simulate([wide], cluster(20, "services"), model=more).makespan_s == pytest.approx(1.21)
    # a worker waits for its request, queueing at the server included: 1 node serves one at a time
    assert simulate([wide], cluster(1, "services"), model=model).makespan_s == pytest.approx(20.21)


def test_a_free_server_batches_queued_requests_of_one_operator():
    one = job(http("q", 1.0, shared_s=0.8), http_answer(1), serial_s=1.21, mode="services")
    model = TimingModel(agent_patch_rate_s=0.0, agent_startup_s=0.0, controller_requeue_s=0.0)
    r = simulate([one], cluster(1, "services"), batch=3, model=model, record=True)
    # query 0 finds the server free; queries 1 and 2 queue and go as one batch: 1 + 1 - 0.8 = 1.2 s
    assert [(iv.query, iv.start, iv.end) for iv in r.intervals] == [(0, 0.0, 1.0), (1, 1.0, 2.2), (2, 1.0, 2.2)]
    assert r.gpu_busy_s == pytest.approx(2.2)
    single = TimingModel(agent_patch_rate_s=0.0, agent_startup_s=0.0, controller_requeue_s=0.0, max_batch=1)
    assert simulate([one], cluster(1, "services"), batch=3, model=single).makespan_s == pytest.approx(3.21)
    # the bound: 3 requests at the best batching (one batch: 3 x 0.2 + 0.8) on one node, or one query alone
    assert r.bound_s == pytest.approx(1.4)


def test_ten_thousand_queries_simulate_in_seconds():
    fan = job(unit("find", 0.1), *[unit(f"v{i}", 0.05, deps=[0]) for i in range(3)], unit("q", 0.2, deps=[1, 2, 3]),
              answer(5), serial_s=0.45)
    started = time.perf_counter()
    r = simulate([fan], cluster(8), batch=10_000, model=STEPS)
    assert time.perf_counter() - started < 15.0
    assert r.queries == 10_000 and r.makespan_s == pytest.approx(10_000 * 0.45 / 8, rel=0.01)


def test_a_finished_pod_waits_for_the_controllers_next_reconcile():
    """Pods mode per Argo v4.1.2: a pod's completion enqueues the workflow DEFAULT_REQUEUE_TIME ahead (the earlier
    of that and a reconcile already due); a reconcile that starts dependants updates the workflow, due again then."""
    chain = job(unit("a", 7.0), unit("b", 7.0, deps=[0]), answer(2), serial_s=14.0)
    # reconciles at 0 (a starts) and 10 (after that update): a ends 7, seen at 10; b 10-17, seen at the reconcile
    # of 20 (after the update at 10); the answer pod (0 s) ends at 20, seen at 30
    r = simulate([chain], cluster(1), model=MODEL, record=True)
    assert [iv.start for iv in r.intervals] == [0.0, 10.0] and r.makespan_s == pytest.approx(30.0)
    assert chain_seconds(chain, MODEL) == pytest.approx(30.0) and r.bound_s == pytest.approx(30.0)
    # a pod ending after the due reconcile passed waits the whole requeue: a 0-12 seen at 22, b 22-34 seen at 44
    slow = job(unit("a", 12.0), unit("b", 12.0, deps=[0]), answer(2), serial_s=24.0)
    assert simulate([slow], cluster(1), model=MODEL).makespan_s == pytest.approx(54.0)
    # DEFAULT_REQUEUE_TIME=1s: the reconcile due at 1 sees nothing; a ends 7, seen at 8; b 8-15, seen at 16;
    # the answer pod ends at 16, seen at 17
    fast = TimingModel(image_pull_s=30.0, controller_requeue_s=1.0)
    assert simulate([chain], cluster(1), model=fast).makespan_s == pytest.approx(17.0)
    assert simulate([chain], cluster(1), model=STEPS).makespan_s == pytest.approx(14.0)
