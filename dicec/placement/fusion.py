"""Fusing tasks into one pod: where a pod's start-up would cost more than the parallelism it buys.

In pods mode every step is a pod that pays ``S`` (pod start-up plus Argo's step overhead, the figures
of :mod:`dicec.timing.model`), loads its operator's model (``L``, from the operator's spec) and makes its
call (a fan-out: one such pod per element, all at once). A *fused group* is several tasks run by one
pod, in graph order: it pays ``S`` once and loads each distinct model file once (operators that name
the same file share it, :func:`dicec.timing.figures.model_key`), and gives up running its
tasks (and a fan-out's elements) at the same time. A fan-out alone can be a group too: its elements
run one after another in one pod instead of a pod each.

The rule (:func:`decide`). Tasks are taken in graph order; a GPU task joins a task or group already
formed when

* the group runs on the same pool, in the same container image, and the distinct models of the group
  and the task fit the pool's GPU memory together (the pod keeps them all loaded);
* the task continues a chain (it depends on a task of the group) or is an independent sibling (it
  has exactly the dependencies of a task of the group);
* the pods still form an acyclic graph (no path leaves the group and comes back into it);
* the seconds saved exceed the parallelism lost. *Saved*: the GPU seconds of pod start-ups and
  model loads the merge avoids -- a task of ``n`` calls on its own pays ``n * (S + L)`` (``n`` = the
  timing model's fan-out width for a fan-out, else 1), a pod ``S`` once plus ``L`` once per distinct
  model -- time that is billed but does no work. *Lost*: how much longer one query's estimated time
  becomes, the longest path through the pods with as many nodes as it wants, where a separate
  fan-out's elements run side by side but a fused one's run one after another, and every pod is
  followed by the controller's requeue (``controller_requeue_s``: Argo acts on a finished pod at its
  next rate-limited reconcile, :mod:`dicec.timing.schedule`), so a chain of pods waits once per pod
  and a chain fused into one pod once. A merge that shortens that path loses nothing;
* and, with a latency bound (``--max-latency``), the placed graph's estimated critical path (its
  ``totals``, which count one call per task) still meets it.

A fan-out that joins nothing becomes a group of its own by the same test. Where several groups
qualify, the one giving the shortest estimate wins, then the largest saving,
then the earliest. Tasks on an edge device (:mod:`dicec.placement.edge`), which keeps its models
resident, are not fused. Services mode is never fused: its steps are CPU pods calling warm model servers,
so there is no start-up on a GPU or model load to save. Image pull is left out (once per node, not per
pod).

A group's figures in the placed graph follow the rest of the placed graph: ``seconds`` is the model
loads plus one call of each task (a fan-out's per element, as its own placement counts it), and
``usd`` those seconds at the pool's price; :func:`fused_totals` sums a placed graph with groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dicec.errors import DicecError
from dicec.timing.figures import latency, model_loads, model_memory
from dicec.timing.model import TimingModel


@dataclass(frozen=True, kw_only=True)
class FusedGroup:
    """Tasks that one pod runs, in order.

    Attributes:
        tasks: the task ids, in graph order; the first names the step. One task is a fan-out whose
            elements run in the one pod.
        pool: the pool the pod runs on (every task's own placement).
        seconds: model loads (each distinct model once) plus one call of each task.
        usd: those seconds at the pool's price (``None`` when the pool is unpriced).
        saved_s: the GPU seconds of start-up and model load that fusing saves per query (fan-outs at
            the timing model's assumed width).
    """

    tasks: tuple[str, ...]
    pool: str
    seconds: float
    usd: float | None
    saved_s: float

    def __post_init__(self) -> None:
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"a fused group needs one or more distinct tasks (got {list(self.tasks)})")
        if self.seconds < 0 or self.saved_s < 0 or (self.usd is not None and self.usd < 0):
            raise ValueError(f"fused group {self.name!r}: negative figures")

    @property
    def name(self) -> str:
        """The step's name: its first task's id."""
        return self.tasks[0]

    def to_json(self) -> dict[str, Any]:
        return {"tasks": list(self.tasks), "pool": self.pool, "seconds": self.seconds, "usd": self.usd,
                "saved_s": self.saved_s}


def group_from_json(data: Any) -> FusedGroup:
    """Inverse of :meth:`FusedGroup.to_json` (``ValueError``/``KeyError``/``TypeError`` if malformed)."""
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise ValueError("a fusion entry must be an object with a 'tasks' list")
    return FusedGroup(tasks=tuple(str(t) for t in data["tasks"]), pool=str(data["pool"]),
                      seconds=float(data["seconds"]), usd=None if data["usd"] is None else float(data["usd"]),
                      saved_s=float(data["saved_s"]))


def check_groups(graph, groups, pool_of: dict[str, str]) -> None:
    """Raise ``ValueError`` unless ``groups`` are disjoint, name tasks of ``graph`` on their own pool, and
    leave the graph of pods acyclic (what a placed graph read from a file must satisfy)."""
    ids = {t.id for t in graph.tasks}
    seen: set[str] = set()
    for g in groups:
        if len(g.tasks) == 1 and g.tasks[0] in ids and graph.task(g.tasks[0]).fanout is None:
            raise ValueError(f"fused group {g.name!r} has one task and it is not a fan-out")
        for tid in g.tasks:
            if tid not in ids:
                raise ValueError(f"fused group {g.name!r} names task {tid!r}, which is not in the graph")
            if tid in seen:
                raise ValueError(f"task {tid!r} is in two fused groups")
            if pool_of[tid] != g.pool:
                raise ValueError(f"task {tid!r} is placed on {pool_of[tid]!r} but its fused group on {g.pool!r}")
            seen.add(tid)
    if _longest(graph, _partition(graph, [list(g.tasks) for g in groups]), {t.id: 0.0 for t in graph.tasks},
                {}) is None:
        raise ValueError("the fused groups make the graph cyclic")


# -- the decision ------------------------------------------------------------------------------------------
def decide(graph, registry, pool_of: dict[str, Any], *, model=None, max_latency_s: float | None = None,
           spot: bool = False) -> tuple[FusedGroup, ...]:
    """The fused groups of ``graph`` with each task on ``pool_of[task id]`` (see the module docstring)."""
    model = model or TimingModel()
    start = model.step_start_s
    wait = model.controller_requeue_s  # until the controller acts on a finished pod: on the path, not on a GPU
    specs = {t.id: registry.get(t.operator) for t in graph.tasks}
    calls = {t.id: model.width(t) for t in graph.tasks}
    lat = {t.id: latency(specs[t.id], pool_of[t.id]) for t in graph.tasks}
    alone = {tid: (start + specs[tid].profile.model_load_s + lat[tid] + wait) if calls[tid] else 0.0 for tid in specs}
    placed_s = {tid: specs[tid].profile.model_load_s + lat[tid] for tid in specs}

    def estimate(parts: list[list[str]], pods: set[int]) -> float | None:
        return _longest(graph, _partition(graph, parts), alone,
                        {i: _pod_seconds(parts[i], specs, lat, calls, start) + wait for i in pods})

    def placed_estimate(parts: list[list[str]], pods: set[int]) -> float:  # the placed graph's critical path
        return _longest(graph, _partition(graph, parts), placed_s,
                        {i: _group_seconds(parts[i], specs, lat) for i in pods}) or 0.0

    def overhead(parts: list[list[str]], pods: set[int]) -> float:  # GPU seconds of start-ups and loads
        total = 0.0
        for i, p in enumerate(parts):
            if i in pods:
                total += start + model_loads([specs[m] for m in p])
            else:
                total += sum(calls[m] * (start + specs[m].profile.model_load_s) for m in p)
        return total

    def pays(before, after) -> tuple | None:
        """(estimate, -saved) when ``after`` saves more than it loses and meets the bound, else None."""
        total = estimate(*after)
        if total is None:  # a cycle through the group
            return None
        saved = overhead(*before) - overhead(*after)
        if saved <= total - estimate(*before) + 1e-9:
            return None
        if max_latency_s is not None and placed_estimate(*after) > max_latency_s + 1e-9:
            return None
        return (round(total, 9), -round(saved, 9))

    parts: list[list[str]] = []
    pods: set[int] = set()  # indices of the parts that run as one pod
    for task in graph.tasks:
        spec = specs[task.id]
        before = (parts + [[task.id]], set(pods))
        best = None
        if spec.uses_gpu and pool_of[task.id].has_gpu:
            for i, g in enumerate(parts):
                if not _may_join(task, g, graph, specs, pool_of):
                    continue
                key = pays(before, ([*parts[:i], [*g, task.id], *parts[i + 1:]], pods | {i}))
                if key is not None and (best is None or (*key, i) < best[0]):
                    best = ((*key, i), i)
        if best is not None:
            parts[best[1]].append(task.id)
            pods.add(best[1])
            continue
        parts.append([task.id])
        alone_fanout = task.fanout is not None and calls[task.id] > 1 and spec.uses_gpu and pool_of[task.id].has_gpu
        if alone_fanout and not getattr(pool_of[task.id], "edge", False) and pays(
                before, (parts, pods | {len(parts) - 1})) is not None:
            pods.add(len(parts) - 1)  # a fan-out's elements in one pod
    parts, pods = _coalesce(parts, pods, graph, specs, pool_of, pays)
    out = []
    for i in sorted(pods):
        g = parts[i]
        pool = pool_of[g[0]]
        seconds = round(_group_seconds(g, specs, lat), 6)
        apart = sum(calls[m] * (start + specs[m].profile.model_load_s) for m in g)
        together = start + model_loads([specs[m] for m in g])
        out.append(FusedGroup(tasks=tuple(g), pool=pool.name, seconds=seconds,
                              usd=pool.usd_for(seconds, spot=spot),
                              saved_s=round(max(apart - together, 0.0), 6)))
    return tuple(out)


def _coalesce(parts: list[list[str]], pods: set[int], graph, specs, pool_of, pays) -> tuple[list[list[str]], set[int]]:
    """Whole parts merged into one pod where that pays, the best merge first, until none does: each other
    part into a part, or every part that may join a part at once.

    Taking tasks one at a time in graph order can stop short of a merge of whole parts: with the
    controller's requeue on every pod, a chain ``find -> [verify, verify]`` pays as one pod, but the first
    ``verify`` alone cannot join ``find`` (the second would wait for both), and the two ``verify`` then
    share a pod of their own; merging that pod into ``find``'s afterwards is shorter and cheaper. Two
    ``compute_depth`` calls on two detections of one pod pay only together (either alone would make the
    other wait for it)."""
    order = {t.id: i for i, t in enumerate(graph.tasks)}
    while True:
        best = None
        for i, into in enumerate(parts):
            others = [j for j in range(len(parts)) if j != i and _may_merge(into, parts[j], graph, specs, pool_of)]
            together: list[int] = []
            for j in others:
                if _may_merge([*into, *(t for k in together for t in parts[k])], parts[j], graph, specs, pool_of):
                    together.append(j)
            for moved in dict.fromkeys([*((j,) for j in others), tuple(together)]):
                if not moved:
                    continue
                merged = sorted([*into, *(t for j in moved for t in parts[j])], key=order.__getitem__)
                kept = [k for k in range(len(parts)) if k not in moved]
                after = ([merged if k == i else parts[k] for k in kept],
                         {n for n, k in enumerate(kept) if k in pods or k == i})
                key = pays((parts, pods), after)
                if key is not None and (best is None or (*key, i, moved) < best[0]):
                    best = ((*key, i, moved), after)
        if best is None:
            return parts, pods
        parts, pods = best[1]


def _may_merge(into: list[str], moved: list[str], graph, specs, pool_of) -> bool:
    """Whether every task of ``moved`` may join ``into`` (:func:`_may_join`, in graph order)."""
    group = list(into)
    for tid in sorted(moved, key=[t.id for t in graph.tasks].index):
        if not _may_join(graph.task(tid), group, graph, specs, pool_of):
            return False
        group.append(tid)
    return True


def _may_join(task, group: list[str], graph, specs, pool_of) -> bool:
    head = group[0]
    pool = pool_of[head]
    if pool_of[task.id].name != pool.name or not pool.has_gpu or not specs[head].uses_gpu:
        return False
    if getattr(pool, "edge", False):
        return False  # an edge device keeps its models resident (dicec.placement.edge): nothing to save
    if specs[task.id].image != specs[head].image:
        return False
    if model_memory([specs[m] for m in [*group, task.id]]) > pool.gpu_memory_gb + 1e-9:
        return False
    deps = set(task.depends)
    if deps & set(group):
        return True  # a chain
    return any(set(graph.task(m).depends) == deps for m in group)  # an independent sibling


def _group_seconds(members: list[str], specs, lat) -> float:
    """A group's seconds as the placed graph counts them: each model loaded once, one call per task."""
    return model_loads([specs[m] for m in members]) + sum(lat[m] for m in members)


def _pod_seconds(members: list[str], specs, lat, calls, start: float) -> float:
    return start + model_loads([specs[m] for m in members]) + sum(calls[m] * lat[m] for m in members)


def _partition(graph, parts: list[list[str]]) -> dict[str, int]:
    """Task id -> the index of its part (tasks in no part get their own index)."""
    out: dict[str, int] = {}
    for i, p in enumerate(parts):
        for tid in p:
            out[tid] = i
    n = len(parts)
    for t in graph.tasks:
        if t.id not in out:
            out[t.id], n = n, n + 1
    return out


def _longest(graph, part_of: dict[str, int], alone: dict[str, float], fused: dict[int, float]) -> float | None:
    """Longest path through the pods (parts), or ``None`` when the parts form a cycle."""
    preds: dict[int, set[int]] = {}
    members: dict[int, list[str]] = {}
    for t in graph.tasks:
        p = part_of[t.id]
        members.setdefault(p, []).append(t.id)
        preds.setdefault(p, set()).update(part_of[d] for d in t.depends if part_of[d] != p)
    finish: dict[int, float] = {}
    state: dict[int, int] = {}
    for root in preds:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                state[node] = 2
                own = fused[node] if node in fused else alone[members[node][0]]
                finish[node] = own + max((finish[q] for q in preds[node]), default=0.0)
                continue
            if state.get(node) == 2:
                continue
            if state.get(node) == 1:
                return None
            state[node] = 1
            stack.append((node, True))
            for q in preds[node]:
                if state.get(q) == 1:
                    return None
                if state.get(q) != 2:
                    stack.append((q, False))
    return max(finish.values(), default=0.0)


# -- figures of a placed graph with groups ---------------------------------------------------------------
def fused_totals(placed) -> dict[str, Any]:
    """``PlacedGraph.totals`` when it has groups: each group counted once, with its own seconds."""
    graph = placed.graph
    groups = [list(g.tasks) for g in placed.fusion]
    part_of = _partition(graph, groups)
    alone = {t.id: placed.placements[t.id].seconds for t in graph.tasks}
    fused = {i: g.seconds for i, g in enumerate(placed.fusion)}
    critical = _longest(graph, part_of, alone, fused)
    if critical is None:
        raise DicecError(f"{graph.path}: the fused groups of this placed graph make it cyclic")
    in_group = {tid for g in placed.fusion for tid in g.tasks}
    priced = [p.usd for tid, p in placed.placements.items() if tid not in in_group and p.usd is not None]
    priced += [g.usd for g in placed.fusion if g.usd is not None]
    if placed.answer.usd is not None:
        priced.append(placed.answer.usd)
    return {"usd_per_query": round(sum(priced), 8), "critical_path_seconds": round(critical, 6)}


def group_of(placed) -> dict[str, FusedGroup]:
    """Task id -> its fused group, for the tasks that are in one."""
    return {tid: g for g in getattr(placed, "fusion", ()) for tid in g.tasks}
