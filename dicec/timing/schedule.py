"""The discrete-event simulation: queries' units on a modelled cluster of one-GPU nodes, with heapq.

List scheduling of jobs on nodes, shared by the cost report's Gantt chart of one query
(:mod:`dicec.cost.report`) and the scaling runs of ``dicec simulate`` (:mod:`dicec.simulate.runs`),
so both schedule a query the same way.

A query is a :class:`dicec.timing.job.Job`; its units wait for their dependencies, then spend
``cpu_s`` holding no GPU (a services-mode step pod starting), then hold one node of their group for
``gpu_s`` (plus the image pull the first time a node runs a pod that needs it). A node runs one unit at
a time (one GPU, requested whole). Ready units are served in query order, then in graph order, so the
earliest query is finished first, as a FIFO work queue would. A batch's queries all arrive at time 0
and overlap.

Nodes are grouped: in pods mode by pool (any node of the pool runs any pod placed there); in
services mode by the set of models a node serves (a pool's operators are packed into as few sets as fit
its GPU memory, and the pool's nodes are dealt round-robin to the sets). The figures: makespan,
per-query latency, GPU busy and idle seconds, dollars (every node billed for the whole makespan), and
speed-up and efficiency over the serial program on one node. 10,000 queries take a few seconds.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from dicec.errors import DicecError
from dicec.timing.figures import price_per_s
from dicec.timing.job import Job
from dicec.timing.model import TimingModel

_CPU_DONE, _GPU_DONE = 0, 1


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
        warmup_s: services mode: the longest node start (pod start-up, image pull, loading its models),
            paid once before the first query and not part of the makespan.
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
        served = {}
        for job in jobs:
            served.update(job.services.get(name, {}))
        bins = _pack(served, pool.gpu_memory_gb, name)
        if len(bins) > count:
            raise DicecError(f"pool {name!r}: its services need {len(bins)} nodes to fit their models "
                             f"({pool.gpu_memory_gb:g} GB each), but the cluster has {count}")
        loads = {op: s for job in jobs for op, s in job.service_load_s.items()}
        for b, ops in enumerate(bins):
            group = f"{name}/{b}"
            for op in ops:
                route[(name, op)] = group
            warmup = max(warmup, model.step_start_s + model.image_pull_s + sum(loads.get(op, 0.0) for op in ops))
        nodes.extend(Node(name=f"{name}-{i}", pool=name, group=f"{name}/{i % len(bins)}", usd_per_s=rate,
                          serves=tuple(bins[i % len(bins)])) for i in range(count))
    return Cluster(nodes=tuple(nodes), route=route, mode=mode, warmup_s=warmup)


def _pack(served: dict[str, float], capacity: float, pool: str) -> list[list[str]]:
    """First-fit decreasing of the models a pool serves into nodes of ``capacity`` GB."""
    bins: list[list[str]] = []
    room: list[float] = []
    for op, gb in sorted(served.items(), key=lambda kv: (-kv[1], kv[0])):
        if gb > capacity:
            raise DicecError(f"pool {pool!r}: operator {op!r} needs {gb:g} GB, more than a node's {capacity:g} GB")
        for i, r in enumerate(room):
            if gb <= r:
                bins[i].append(op)
                room[i] -= gb
                break
        else:
            bins.append([op])
            room.append(capacity - gb)
    return bins or [[]]


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
        queries: how many queries.
        makespan_s: first arrival to last answer.
        serial_s: the serial program, the queries one after another on one node.
        latency_s: per-query answer time minus arrival, in query order.
        busy_s: per-node seconds holding a unit, by node name.
        usd: every node billed at its price for the whole makespan.
        busy_usd: only the seconds units held GPUs, priced (what a perfectly packed autoscaler would bill).
        warmup_s: services mode: the start of the warm services before the first query (not in makespan).
        intervals: the schedule, when recorded.
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
            "latency_s": {"mean": round(sum(lat) / len(lat), 6) if lat else 0.0,
                          "p50": round(_pct(lat, 0.50), 6), "p95": round(_pct(lat, 0.95), 6),
                          "max": round(lat[-1], 6) if lat else 0.0},
        }


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass(kw_only=True)
class _Compiled:
    """A job's units as flat lists, for speed."""

    cpu: list[float]
    gpu: list[float]
    group: list[int]
    pull: list[bool]
    ndeps: list[int]
    dependants: list[list[int]]
    names: list[str]
    roots: list[int] = field(default_factory=list)


def simulate(jobs: list[Job], cluster: Cluster, *, batch: int = 1, model: TimingModel | None = None,
             record: bool = False) -> SimResult:
    """Run ``batch`` queries (query i is ``jobs[i % len(jobs)]``), all arriving at 0, on ``cluster``."""
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
    pulled = [cluster.mode != "pods"] * len(cluster.nodes)
    busy = [0.0] * len(cluster.nodes)
    events: list[tuple[float, int, int, int, int, int]] = []
    seq = 0
    remaining: list[list[int]] = []
    left: list[int] = []
    finish = [0.0] * batch
    intervals: list[Interval] = []
    pull_s = model.image_pull_s

    def start(q: int, u: int, t: float) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t + compiled[q % len(jobs)].cpu[u], seq, _CPU_DONE, q, u, -1))

    for q in range(batch):
        c = compiled[q % len(jobs)]
        remaining.append(list(c.ndeps))
        left.append(len(c.cpu))
        for u in c.roots:
            start(q, u, 0.0)

    def dispatch(g: int, t: float) -> None:
        nonlocal seq
        fr, rd = free[g], ready[g]
        while fr and rd:
            q, u = heapq.heappop(rd)
            node = fr.pop()
            c = compiled[q % len(jobs)]
            extra = 0.0
            if c.pull[u] and not pulled[node]:
                extra = pull_s
                pulled[node] = True
            dur = c.gpu[u] + extra
            busy[node] += dur
            if record:
                intervals.append(Interval(node=cluster.nodes[node].name, start=t, end=t + dur,
                                          unit=c.names[u], query=q, pull=extra))
            seq += 1
            heapq.heappush(events, (t + dur, seq, _GPU_DONE, q, u, node))

    def complete(q: int, u: int, t: float) -> None:
        c = compiled[q % len(jobs)]
        rem = remaining[q]
        for v in c.dependants[u]:
            rem[v] -= 1
            if rem[v] == 0:
                start(q, v, t)
        left[q] -= 1
        if left[q] == 0:
            finish[q] = t

    while events:
        t, _, kind, q, u, node = heapq.heappop(events)
        if kind == _GPU_DONE:
            g = gidx[cluster.nodes[node].group]
            free[g].append(node)
            complete(q, u, t)
            dispatch(g, t)
            continue
        c = compiled[q % len(jobs)]
        g = c.group[u]
        if g < 0:
            complete(q, u, t)
        else:
            heapq.heappush(ready[g], (q, u))
            dispatch(g, t)

    makespan = max(finish)
    serial = sum(jobs[q % len(jobs)].serial_s for q in range(batch))
    if any(u.pull for job in jobs for u in job.units):
        serial += pull_s  # the one serial node pulls the image once, as the first pod on each node does
    usd = sum(n.usd_per_s for n in cluster.nodes) * makespan
    busy_usd = sum(jobs[q % len(jobs)].busy_usd for q in range(batch))
    busy_usd += sum(cluster.nodes[i].usd_per_s * pull_s for i in range(len(cluster.nodes))
                    if pulled[i] and cluster.mode == "pods" and busy[i] > 0)
    return SimResult(nodes=len(cluster.nodes), queries=batch, makespan_s=makespan, serial_s=serial,
                     latency_s=tuple(finish), busy_s={cluster.nodes[i].name: busy[i] for i in range(len(busy))},
                     usd=usd, busy_usd=busy_usd, warmup_s=cluster.warmup_s,
                     intervals=tuple(sorted(intervals, key=lambda iv: (iv.node, iv.start))))


def _compile(job: Job, cluster: Cluster, gidx: dict[str, int]) -> _Compiled:
    n = len(job.units)
    dependants: list[list[int]] = [[] for _ in range(n)]
    for i, u in enumerate(job.units):
        for d in u.deps:
            dependants[d].append(i)
    group = [gidx[cluster.group_of(u)] if u.pool is not None else -1 for u in job.units]
    c = _Compiled(cpu=[u.cpu_s for u in job.units], gpu=[u.gpu_s for u in job.units], group=group,
                  pull=[u.pull for u in job.units], ndeps=[len(set(u.deps)) for u in job.units],
                  dependants=dependants, names=[u.name for u in job.units])
    c.roots = [i for i in range(n) if c.ndeps[i] == 0]
    return c
