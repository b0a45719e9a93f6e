"""The discrete-event simulation: queries' units on a modelled cluster of one-GPU nodes, with heapq.

List scheduling of jobs on nodes, shared by the cost report's Gantt chart of one query
(:mod:`dicec.cost.report`), the load bill (:mod:`dicec.timing.bill`) and the scaling runs of
``dicec simulate`` (:mod:`dicec.simulate.runs`), so all of them schedule a query the same way.

A query is a :class:`dicec.timing.job.Job`, and each query is its own workflow. Its units wait for
their dependencies, then spend ``cpu_s`` holding no GPU, then hold one node of their group for
``gpu_s`` (plus the image pull the first time a node runs a pod that needs it). A node runs one unit
(or one server batch) at a time. Ready units are served in query order, then in graph order, so the
earliest query is finished first, as a FIFO work queue would. A batch's queries all arrive at time 0
and overlap.

Argo's controller acts on what finishes only when it next reconciles the workflow (argoproj/argo-workflows
v4.1.2): its workflow queue is rate limited at a fixed interval (``controller_requeue_s``,
``DEFAULT_REQUEUE_TIME``, workflow/controller/rate_limiters.go), and a step pod's completion (its phase
change and its task result, controller.go ``enqueueWfFromPodLabel``, taskresult.go), services mode's
task-set patch, and every update the controller makes to the workflow enqueue it that far ahead
(``AddRateLimited``, the earliest time kept). So the first reconcile, which starts the roots, is followed
by another ``controller_requeue_s`` later; a pod that finishes is seen at the reconcile due next, or, if
none is, at its end plus the requeue; and a reconcile that sees new results starts their dependants,
updates the workflow and so is followed by another. A query is answered at the reconcile that sees its
answer step finish. In pods mode this is every pod's completion; in services mode, the container steps'.

Services mode adds Argo's agent (argoproj/argo-workflows v4.1.2, workflow/executor/agent.go): a
workflow's HTTP units (:attr:`dicec.timing.job.Unit.http`) are sent by its one agent pod, which is
ready ``agent_startup_s`` after the workflow starts; it has ``agent_task_workers`` goroutines, each
sending one request at a time and blocking until it answers (queueing at the server included), so at
most that many of the workflow's requests are in flight; and it patches finished results back on a
ticker of ``agent_patch_rate_s``: a result reaches the controller at the tick after it finished, and
is acted on at the reconcile due then or the requeue after it (a patch at the same instant as a due
reconcile is seen there: that reconcile was enqueued by the update of the one before, a moment after
its own tick). A model server that frees up takes the first queued request and up to ``max_batch - 1``
more queued requests of the same operator, and computes them as one batch: the part of a call that
reads weights (:attr:`~dicec.timing.job.Unit.shared_s`) is paid once.

Nodes are grouped: in pods mode by pool (any node of the pool runs any pod placed there); in
services mode by the set of models a node serves: a pool's operators, per container image, are
packed first fit, largest model file first, into sets that fit its GPU memory (a model file shared
by several operators counted once), and the pool's nodes are dealt to the sets in proportion to the
GPU seconds the simulated queries ask of each (at least one node each), as replicas sized to the
load would be. The figures: makespan, per-query latency, GPU busy and idle seconds, dollars (every
node billed for the whole makespan), the serial program in one warm process on one node (and the
cold one, labelled), speed-up and efficiency over the warm one, and the lower bound ``bound_s``.
10,000 queries take a few seconds.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

from dicec.errors import DicecError
from dicec.timing.figures import price_per_s
from dicec.timing.job import Job
from dicec.timing.model import TimingModel

_READY, _CPU_DONE, _GPU_DONE, _TICK, _AGENT, _RECONCILE = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True, kw_only=True)
class Node:
    """One GPU node of the modelled cluster.

    Attributes:
        name: ``pool-i``.
        pool: the pool it belongs to.
        group: the scheduling group (see the module docstring).
        usd_per_s: its price per second.
        serves: the operators it serves (services mode; empty in pods mode).
    """

    name: str
    pool: str
    group: str
    usd_per_s: float
    serves: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Cluster:
    """The nodes, and which group each (pool, operator) runs on.

    Attributes:
        nodes: all nodes.
        route: group of a unit, by (pool, first operator) in services mode, by (pool, "") in pods mode.
        mode: ``pods`` or ``services``.
        warmup_s: services mode: the longest node start (pod start-up, image pull, loading its models,
            each model file once), paid once before the first query and not part of the makespan.
    """

    nodes: tuple[Node, ...]
    route: dict[tuple[str, str], str]
    mode: str
    warmup_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.nodes:
            raise DicecError("the cluster is empty: give at least one node (--nodes N with N >= 1)")

    def group_of(self, unit) -> str:
        key = (unit.pool, unit.operators[0] if self.mode == "services" else "")
        try:
            return self.route[key]
        except KeyError:
            raise DicecError(f"no node of the cluster runs {unit.name!r} (pool {unit.pool!r}"
                             + (f", operator {key[1]!r})" if key[1] else ")")) from None


def make_cluster(jobs: list[Job], nodes_per_pool: dict[str, int], model: TimingModel, *, spot: bool = False) -> Cluster:
    """N nodes of each named pool; in services mode, each node loaded with a set of models that fits it."""
    if not jobs:
        raise DicecError("nothing to simulate: no input")
    mode = jobs[0].mode
    pools = {name: p for job in jobs for name, p in job.pools.items()}
    needed = sorted({u.pool for job in jobs for u in job.units if u.pool is not None})
    for name in needed:
        if nodes_per_pool.get(name, 0) < 1:
            raise DicecError(f"the cluster has no node of pool {name!r}, which the plan uses")
    nodes: list[Node] = []
    route: dict[tuple[str, str], str] = {}
    warmup = 0.0
    for name in sorted(nodes_per_pool):
        count = nodes_per_pool[name]
        pool = pools.get(name)
        if pool is None:
            continue  # a pool no unit uses: its nodes would only idle
        if count < 1:
            raise DicecError(f"pool {name!r}: the cluster needs at least one node (got {count})")
        if pool.max_nodes is not None and count > pool.max_nodes:
            raise DicecError(f"pool {name!r} is limited to {pool.max_nodes} nodes (max_nodes), but {count} were asked for")
        rate = price_per_s(pool, spot=spot)
        if mode == "pods":
            route[(name, "")] = name
            nodes.extend(Node(name=f"{name}-{i}", pool=name, group=name, usd_per_s=rate) for i in range(count))
            continue
        sets = server_sets(jobs, name, pool.gpu_memory_gb)
        if len(sets) > count:
            raise DicecError(f"pool {name!r}: its services need {len(sets)} nodes to fit their models "
                             f"({pool.gpu_memory_gb:g} GB each), but the cluster has {count}")
        loads = {k: s for job in jobs for k, s in job.service_load_s.items()}
        model_of = {op: k for job in jobs for op, k in job.model_of.items()}
        share = deal(count, [weight for _, weight in sets])
        i = 0
        for b, ((ops, _), replicas) in enumerate(zip(sets, share)):
            group = f"{name}/{b}"
            for op in ops:
                route[(name, op)] = group
            files = {model_of.get(op, f"operator:{op}") for op in ops}
            warmup = max(warmup, model.step_start_s + model.image_pull_s + sum(loads.get(f, 0.0) for f in files))
            for _ in range(replicas):
                nodes.append(Node(name=f"{name}-{i}", pool=name, group=group, usd_per_s=rate, serves=tuple(ops)))
                i += 1
    return Cluster(nodes=tuple(nodes), route=route, mode=mode, warmup_s=warmup)


def server_sets(jobs: list[Job], pool: str, capacity: float) -> list[tuple[list[str], float]]:
    """The sets of operators one node of ``pool`` serves together, with the GPU seconds a round of the
    jobs asks of each: per container image, first fit of the model files, largest first (ties by name)."""
    served: dict[str, float] = {}
    for job in jobs:
        served.update(job.services.get(pool, {}))
    model_of = {op: k for job in jobs for op, k in job.model_of.items()}
    image_of = {op: im for job in jobs for op, im in job.image_of.items()}
    busy: dict[str, float] = {}
    for job in jobs:
        for (p, op), s in job.service_busy_s.items():
            if p == pool:
                busy[op] = busy.get(op, 0.0) + s
    return [(ops, sum(busy.get(op, 0.0) for op in ops))
            for _, ops, _ in pack_servers(served, model_of, image_of, capacity, pool=pool)] or [([], 0.0)]


def pack_servers(served: dict[str, float], model_of: dict[str, str], image_of: dict[str, str], capacity: float, *,
                 pool: str) -> list[tuple[str, list[str], float]]:
    """The model servers of one pool, ``(image, operators, GPU memory)`` each: per container image, the model
    files its operators load (``model_of``; one counted once, at the most any of its operators asks,
    ``served``: operator -> GB) packed first fit, largest first (ties by file), into servers of ``capacity``
    GB. The one packing rule of services mode: the simulator's, the bill's and the emitted Deployments'."""
    files: dict[tuple[str, str], tuple[float, list[str]]] = {}
    for op, gb in served.items():
        key = (image_of.get(op, ""), model_of.get(op, f"operator:{op}"))
        old = files.get(key, (0.0, []))
        files[key] = (max(old[0], gb), old[1] + [op])
    out: list[tuple[str, list[str], float]] = []
    for image in sorted({im for im, _ in files}):
        bins: list[list[str]] = []
        used: list[float] = []
        mine = sorted(((gb, f, ops) for (im, f), (gb, ops) in files.items() if im == image), key=lambda x: (-x[0], x[1]))
        for gb, f, ops in mine:
            if gb > capacity:
                raise DicecError(f"pool {pool!r}: operator {sorted(ops)[0]!r} needs {gb:g} GB, more than a node's "
                                 f"{capacity:g} GB")
            for i, u in enumerate(used):
                if u + gb <= capacity + 1e-9:
                    bins[i].extend(sorted(ops))
                    used[i] += gb
                    break
            else:
                bins.append(sorted(ops))
                used.append(gb)
        out.extend((image, b, round(u, 6)) for b, u in zip(bins, used))
    return out


def deal(count: int, weights: list[float]) -> list[int]:
    """``count`` nodes shared among sets in proportion to ``weights``, at least one each (largest remainder)."""
    n = len(weights)
    if count < n:
        raise DicecError(f"{n} server sets need at least {n} nodes (got {count})")
    total = sum(weights)
    if total <= 0:
        share = [count // n + (1 if i < count % n else 0) for i in range(n)]
        return share
    spare = count - n
    exact = [spare * w / total for w in weights]
    share = [1 + int(math.floor(e)) for e in exact]
    left = count - sum(share)
    order = sorted(range(n), key=lambda i: (-(exact[i] - math.floor(exact[i])), -weights[i], i))
    for i in order[:left]:
        share[i] += 1
    return share


@dataclass(frozen=True, kw_only=True)
class Interval:
    """One unit's stay on a node, for Gantt charts.

    Attributes:
        node: the node's name.
        start: when it got the node.
        end: when it left it.
        unit: the unit's name.
        query: which query of the batch.
        pull: seconds of it spent pulling the image.
    """

    node: str
    start: float
    end: float
    unit: str
    query: int
    pull: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SimResult:
    """What one simulation gives.

    Attributes:
        nodes: how many GPU nodes.
        queries: how many queries (answers: a batch workflow gives images x questions of them).
        makespan_s: first arrival to last answer.
        serial_s: the serial program in one warm process on one node (every model loaded once
            beforehand), the queries one after another.
        latency_s: per-query answer time minus arrival, in query order (a batch workflow's in the order its
            shards answer).
        busy_s: per-node seconds holding a unit, by node name.
        usd: every node billed at its price for the whole makespan.
        busy_usd: only the seconds units held GPUs, priced (what a perfectly packed autoscaler would bill).
        warmup_s: services mode: the start of the warm services before the first query (not in makespan).
        intervals: the schedule, when recorded.
        serial_cold_s: the old figure: a cold pod per query (start-up, model loads), one image pull.
        bound_s: no schedule can be shorter: the larger of the GPU work (at the best batching, with
            each model file loaded once in pods mode) spread over every node, and the longest query alone.
    """

    nodes: int
    queries: int
    makespan_s: float
    serial_s: float
    latency_s: tuple[float, ...]
    busy_s: dict[str, float]
    usd: float
    busy_usd: float
    warmup_s: float = 0.0
    intervals: tuple[Interval, ...] = ()
    serial_cold_s: float = 0.0
    bound_s: float = 0.0

    @property
    def speedup(self) -> float:
        return self.serial_s / self.makespan_s if self.makespan_s > 0 else 0.0

    @property
    def efficiency(self) -> float:
        return self.speedup / self.nodes if self.nodes else 0.0

    @property
    def gpu_busy_s(self) -> float:
        return sum(self.busy_s.values())

    @property
    def gpu_idle_s(self) -> float:
        return self.nodes * self.makespan_s - self.gpu_busy_s

    def to_json(self) -> dict[str, Any]:
        lat = sorted(self.latency_s)
        return {
            "nodes": self.nodes, "queries": self.queries, "makespan_s": round(self.makespan_s, 6),
            "serial_s": round(self.serial_s, 6), "speedup": round(self.speedup, 6),
            "efficiency": round(self.efficiency, 6), "usd": round(self.usd, 8),
            "usd_per_query": round(self.usd / self.queries, 8) if self.queries else 0.0,
            "busy_usd": round(self.busy_usd, 8), "gpu_busy_s": round(self.gpu_busy_s, 6),
            "gpu_idle_s": round(self.gpu_idle_s, 6), "warmup_s": round(self.warmup_s, 6),
            "serial_cold_s": round(self.serial_cold_s, 6),
            "speedup_over_cold": round(self.serial_cold_s / self.makespan_s, 6) if self.makespan_s > 0 else 0.0,
            "bound_s": round(self.bound_s, 6),
            "makespan_over_bound": round(self.makespan_s / self.bound_s, 6) if self.bound_s > 0 else 0.0,
            "latency_s": {"mean": round(sum(lat) / len(lat), 6) if lat else 0.0,
                          "p50": round(_pct(lat, 0.50), 6), "p95": round(_pct(lat, 0.95), 6),
                          "max": round(lat[-1], 6) if lat else 0.0},
        }


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def tick_after(t: float, agent_ready: float, period: float) -> float:
    """When a result finished at ``t`` is patched: the agent's next patch tick (ticks at
    ``agent_ready + k * period``, k >= 1), or ``t`` itself with no ticker (``period`` 0)."""
    if period <= 0:
        return t
    k = max(1, math.ceil((t - agent_ready) / period - 1e-9))
    return agent_ready + k * period


def chain_seconds(job: Job, model: TimingModel) -> float:
    """One query alone, with a free node for every unit: its time from start to answer, the agent's start,
    patch ticks and the controller's requeues included (image pulls left out)."""
    from dataclasses import replace

    route: dict[tuple[str, str], str] = {}
    nodes: list[Node] = []
    for i, u in enumerate(job.units):
        if u.pool is None:
            continue
        key = (u.pool, u.operators[0] if job.mode == "services" else "")
        group = route.setdefault(key, f"free-{len(route)}")
        nodes.append(Node(name=f"free-{i}", pool=u.pool, group=group, usd_per_s=0.0))
    if not nodes:
        nodes.append(Node(name="free", pool="", group="free", usd_per_s=0.0))
    cluster = Cluster(nodes=tuple(nodes), route=route, mode=job.mode)
    return simulate([job], cluster, model=replace(model, image_pull_s=0.0), bound=False).makespan_s


def work_bound_s(jobs: list[Job], batch: int, model: TimingModel, cluster: Cluster) -> float:
    """Seconds no schedule of the batch on ``cluster`` can beat for the GPU work alone.

    Services mode: every request at the best batching (a batch of ``max_batch`` pays a request's shared
    part once), spread over every node. Pods mode, per pool of ``n`` nodes, with ``W_m`` the warm GPU
    seconds of model file ``m``'s calls there and ``L_m`` its load (every pod loads its models): a node
    doing ``m``'s work has loaded ``m``, so no schedule is shorter than ``L_m + W_m / n`` for any ``m``, than
    ``(W + sum of L_m) / n`` (each model loaded somewhere), or than ``W / n + min L_m`` (every node that
    works has loaded something)."""
    counts = [batch // len(jobs) + (1 if i < batch % len(jobs) else 0) for i in range(len(jobs))]
    if jobs[0].mode == "pods":
        nodes: dict[str, int] = {}
        for n in cluster.nodes:
            nodes[n.pool] = nodes.get(n.pool, 0) + 1
        work: dict[tuple[str, str], float] = {}
        loads: dict[str, float] = {}
        for c, job in zip(counts, jobs):
            for key, seconds in job.model_work_s.items():
                work[key] = work.get(key, 0.0) + c * seconds
            for key, seconds in job.model_load_s.items():
                loads[key] = max(loads.get(key, 0.0), seconds)
        bound = 0.0
        for pool, n in nodes.items():
            mine = {m: w for (p, m), w in work.items() if p == pool and w > 0}
            if not mine:
                continue
            total = sum(mine.values())
            bound = max(bound, (total + sum(loads.get(m, 0.0) for m in mine)) / n,
                        total / n + min(loads.get(m, 0.0) for m in mine),
                        max(loads.get(m, 0.0) + w / n for m, w in mine.items()))
        return bound
    total = 0.0
    per_key: dict[str, tuple[int, float]] = {}
    for c, job in zip(counts, jobs):
        for u in job.units:
            if not u.gpu_s:
                continue
            total += c * (u.gpu_s - u.shared_s)
            if u.shared_s:
                n, shared = per_key.get(u.batch_key, (0, 0.0))
                per_key[u.batch_key] = (n + c, max(shared, u.shared_s))
            else:
                total += c * u.shared_s
    total += sum(math.ceil(n / model.max_batch) * shared for n, shared in per_key.values())
    return total / len(cluster.nodes)


@dataclass(kw_only=True)
class _Compiled:
    """A job's units as flat lists, for speed."""

    cpu: list[float]
    gpu: list[float]
    shared: list[float]
    key: list[str]
    group: list[int]
    pull: list[bool]
    http: list[bool]
    ndeps: list[int]
    dependants: list[list[int]]
    names: list[str]
    roots: list[int] = field(default_factory=list)
    answers: dict[int, int] = field(default_factory=dict)


def simulate(jobs: list[Job], cluster: Cluster, *, batch: int = 1, model: TimingModel | None = None,
             record: bool = False, bound: bool = True) -> SimResult:
    """Run ``batch`` queries (query i is ``jobs[i % len(jobs)]``), all arriving at 0, on ``cluster``
    (``bound=False``: leave ``bound_s`` at 0)."""
    if batch < 1:
        raise DicecError(f"--batch must be at least 1 (got {batch})")
    if not jobs:
        raise DicecError("nothing to simulate: no input")
    model = model or TimingModel()
    groups = sorted({n.group for n in cluster.nodes})
    gidx = {g: i for i, g in enumerate(groups)}
    compiled = [_compile(job, cluster, gidx) for job in jobs]
    free: list[list[int]] = [[] for _ in groups]
    for i in reversed(range(len(cluster.nodes))):
        free[gidx[cluster.nodes[i].group]].append(i)
    ready: list[list[tuple[int, int]]] = [[] for _ in groups]
    by_key: dict[tuple[int, str], list[tuple[int, int]]] = {}
    dispatched: set[tuple[int, int]] = set()  # units already on a node (both queues are cleaned lazily)
    pulled = [cluster.mode != "pods"] * len(cluster.nodes)
    busy = [0.0] * len(cluster.nodes)
    events: list[tuple[float, int, int, int, int, int, Any]] = []
    seq = 0
    remaining: list[list[int]] = []
    left: list[int] = []
    finish = [0.0] * batch
    intervals: list[Interval] = []
    pull_s = model.image_pull_s
    agent = model.agent_startup_s
    workers = [model.agent_task_workers] * batch
    waiting: list[list[int]] = [[] for _ in range(batch)]  # HTTP units waiting for a task worker

    requeue = model.controller_requeue_s
    unpatched: list[list[int]] = [[] for _ in range(batch)]  # HTTP results the agent holds until its tick
    patched: list[list[int]] = [[] for _ in range(batch)]  # finished pods and patched results, not yet reconciled
    ticking = [-1.0] * batch  # the tick a query's agent will patch at, or -1
    pending: list[float | None] = [None] * batch  # the controller's next reconcile of the query's workflow

    def push(t: float, kind: int, q: int, u: int, extra: Any = None) -> None:
        nonlocal seq
        seq += 1
        # at one instant the agent's patch goes first: the reconcile due then was enqueued by the controller's
        # own update after the reconcile before, which itself followed a patch, so it runs a moment after the tick
        heapq.heappush(events, (t, 1 if kind == _RECONCILE else 0, seq, kind, q, u, extra))

    def reconcile_at(q: int, t: float) -> None:
        """The workflow is enqueued rate-limited: reconciled at ``t`` unless already due earlier."""
        if pending[q] is None or t < pending[q] - 1e-12:
            pending[q] = t
            push(t, _RECONCILE, q, -1)

    for q in range(batch):
        c = compiled[q % len(jobs)]
        remaining.append(list(c.ndeps))
        left.append(len(c.cpu))
        for u in c.roots:
            push(0.0, _READY, q, u)
        if any(c.http):
            push(agent, _AGENT, q, -1)
        if requeue > 0 or any(c.http):
            reconcile_at(q, requeue)  # the first reconcile started the roots and updated the workflow

    def send(q: int, t: float) -> None:
        """Start the query's waiting HTTP requests, as many as it has free task workers."""
        if t < agent - 1e-12:
            return
        w = waiting[q]
        while w and workers[q] > 0:
            u = heapq.heappop(w)
            workers[q] -= 1
            push(t + compiled[q % len(jobs)].cpu[u], _CPU_DONE, q, u)

    def dispatch(g: int, t: float) -> None:
        fr, rd = free[g], ready[g]
        while fr and rd:
            q, u = heapq.heappop(rd)
            if (q, u) in dispatched:
                continue
            dispatched.add((q, u))
            c = compiled[q % len(jobs)]
            members = [(q, u)]
            key = c.key[u]
            dur = c.gpu[u]
            if key and model.max_batch > 1:
                heap = by_key.get((g, key), [])
                while heap and len(members) < model.max_batch:
                    other = heapq.heappop(heap)
                    if other in dispatched:
                        continue
                    oq, ou = other
                    oc = compiled[oq % len(jobs)]
                    dur += oc.gpu[ou] - min(oc.shared[ou], c.shared[u])
                    members.append(other)
                    dispatched.add(other)
            node = fr.pop()
            extra = 0.0
            if c.pull[u] and not pulled[node]:
                extra = pull_s
                pulled[node] = True
            dur += extra
            busy[node] += dur
            if record:
                for mq, mu in members:
                    intervals.append(Interval(node=cluster.nodes[node].name, start=t, end=t + dur,
                                              unit=compiled[mq % len(jobs)].names[mu], query=mq, pull=extra))
            push(t + dur, _GPU_DONE, q, u, (node, members))

    def finished(q: int, u: int, t: float) -> None:
        c = compiled[q % len(jobs)]
        if not c.http[u]:  # a pod: the controller sees it finish at its next reconcile
            if requeue <= 0:
                visible(q, u, t)
            else:
                patched[q].append(u)
                reconcile_at(q, t + requeue)
            return
        workers[q] += 1
        send(q, t)
        unpatched[q].append(u)
        tick = tick_after(t, agent, model.agent_patch_rate_s)
        if ticking[q] < 0:
            ticking[q] = tick
            push(tick, _TICK, q, -1)

    answered: list[list[float]] = [[] for _ in range(batch)]  # a batch workflow's answers, as its shards give them

    def visible(q: int, u: int, t: float) -> None:
        c = compiled[q % len(jobs)]
        answers = c.answers.get(u, 0)
        if answers:
            answered[q].extend([t] * answers)
        rem = remaining[q]
        for v in c.dependants[u]:
            rem[v] -= 1
            if rem[v] == 0:
                push(t, _READY, q, v)
        left[q] -= 1
        if left[q] == 0:
            finish[q] = t

    while events:
        t, _, _, kind, q, u, extra = heapq.heappop(events)
        if kind == _AGENT:
            send(q, t)
            continue
        if kind == _TICK:  # the agent patches what finished since its last tick
            ticking[q] = -1.0
            patched[q].extend(unpatched[q])
            unpatched[q].clear()
            reconcile_at(q, t + requeue)
            continue
        if kind == _RECONCILE:
            if pending[q] is None or abs(pending[q] - t) > 1e-12:
                continue  # superseded by an earlier reconcile
            pending[q] = None
            if patched[q]:  # new results: dependants start, the workflow is updated and enqueued again
                done, patched[q] = patched[q], []
                for v in done:
                    visible(q, v, t)
                if left[q]:
                    reconcile_at(q, t + requeue)
            continue
        if kind == _GPU_DONE:
            node, members = extra
            g = gidx[cluster.nodes[node].group]
            free[g].append(node)
            for mq, mu in members:
                finished(mq, mu, t)
            dispatch(g, t)
            continue
        c = compiled[q % len(jobs)]
        if kind == _READY:
            if c.http[u]:
                heapq.heappush(waiting[q], u)
                send(q, t)
            else:
                push(t + c.cpu[u], _CPU_DONE, q, u)
            continue
        g = c.group[u]  # _CPU_DONE
        if g < 0:
            finished(q, u, t)
        else:
            heapq.heappush(ready[g], (q, u))
            if c.key[u]:
                heapq.heappush(by_key.setdefault((g, c.key[u]), []), (q, u))
            dispatch(g, t)

    makespan = max(finish)
    counts = [jobs[q % len(jobs)] for q in range(batch)]
    latency = [t for q in range(batch) for t in (sorted(answered[q]) if counts[q].answers else [finish[q]])]
    serial = sum(job.serial_s for job in counts)
    cold = sum(job.serial_cold_s for job in counts)
    if any(u.pull for job in jobs for u in job.units):
        cold += pull_s  # the one cold serial node pulls the image once, as the first pod on each node does
    usd = sum(n.usd_per_s for n in cluster.nodes) * makespan
    busy_usd = sum(job.busy_usd for job in counts)
    busy_usd += sum(cluster.nodes[i].usd_per_s * pull_s for i in range(len(cluster.nodes))
                    if pulled[i] and cluster.mode == "pods" and busy[i] > 0)
    work = work_bound_s(jobs, batch, model, cluster)
    bound_s = max(max(chain_seconds(job, model) for job in jobs), work) if bound else 0.0
    return SimResult(nodes=len(cluster.nodes), queries=sum(job.queries for job in counts), makespan_s=makespan,
                     serial_s=serial, latency_s=tuple(latency), busy_s={cluster.nodes[i].name: busy[i] for i in range(len(busy))},
                     usd=usd, busy_usd=busy_usd, warmup_s=cluster.warmup_s, serial_cold_s=cold, bound_s=bound_s,
                     intervals=tuple(sorted(intervals, key=lambda iv: (iv.node, iv.start, iv.query, iv.unit))))


def _compile(job: Job, cluster: Cluster, gidx: dict[str, int]) -> _Compiled:
    n = len(job.units)
    dependants: list[list[int]] = [[] for _ in range(n)]
    for i, u in enumerate(job.units):
        for d in set(u.deps):
            dependants[d].append(i)
    group = [gidx[cluster.group_of(u)] if u.pool is not None else -1 for u in job.units]
    c = _Compiled(cpu=[u.cpu_s for u in job.units], gpu=[u.gpu_s for u in job.units],
                  shared=[u.shared_s for u in job.units], key=[u.batch_key for u in job.units], group=group,
                  pull=[u.pull for u in job.units], http=[u.http for u in job.units],
                  ndeps=[len(set(u.deps)) for u in job.units], dependants=dependants, names=[u.name for u in job.units])
    c.roots = [i for i in range(n) if c.ndeps[i] == 0]
    c.answers = dict(job.answers)
    return c
