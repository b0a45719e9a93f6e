"""A query as a cluster runs it: the units of one placed graph, and the serial program it replaces.

:func:`build_job` turns a placed graph into :class:`Unit` objects -- one per Argo pod, fan-out
elements expanded, fused groups merged -- that both the cost report (:mod:`dicec.cost.report`) and
the simulator (:mod:`dicec.timing.schedule`, driven by :mod:`dicec.simulate`) use, so the two can
never disagree about what a step costs. The seconds come from the figures of
:mod:`dicec.timing.model` and the per-call figures of :mod:`dicec.timing.figures`.

Two execution modes, as ``dicec compile`` can emit them:

* ``pods``: every step is a pod on a GPU node that starts, loads its model, makes its call(s) and exits.
  The GPU is held from binding to exit: ``pod start-up + image pull (first pod on a node) + model load
  + latency``.
* ``services``: every operator is a warm model server on its pool; a step is a light CPU pod that calls
  it over HTTP. The step's start-up holds no GPU; the GPU is busy for ``request overhead + latency``.
  Loading the servers' models is paid once and amortised over the queries served.

The serial baseline (:func:`serial_seconds`) is the program as written, in one process on one node,
one call after another: in ``pods`` mode a pod per query that starts, loads every distinct model once
and makes the calls; in ``services`` mode a warm, long-running process (a ViperGPT server) with every
model loaded, so a query costs only its calls' latency and the program's own CPU work (the same
``answer_run_s`` figure).

The placed graph, its pools, the registry and the operators' specs are passed in and used by their
attributes only; which tasks share a pod is placement's decision (:mod:`dicec.placement.fusion`):
the placed graph's own groups, or, when every GPU task is moved onto one pool, the groups the
``decide`` function given to :func:`build_job` chooses there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dicec.errors import DicecError
from dicec.timing.figures import fits, latency, model_key, price_per_s
from dicec.timing.model import TimingModel

MODES = ("pods", "services")


@dataclass(frozen=True, kw_only=True)
class Unit:
    """One schedulable piece of a query: a pod (pods mode) or a step and its request (services mode).

    Attributes:
        name: the task id (``id[i]`` for fan-out element i, ``first +N fused`` for a fused group, ``answer``).
        tasks: the graph tasks it runs.
        operators: the operators it calls, in order.
        pool: the GPU pool it needs a node of, or ``None`` for CPU-only work (no GPU node held).
        cpu_s: seconds before it needs the GPU, holding none (services: the step pod's start-up).
        gpu_s: seconds it holds one GPU node.
        pull: whether it pays the image pull on a node that has not pulled the image yet.
        deps: indices (in the job) of the units it waits for.
        usd_per_s: the price of its GPU per second (0 for CPU work or an unpriced pool).
        extra_usd: dollars not tied to a GPU node of the simulated cluster (the answer step's residual calls).
    """

    name: str
    tasks: tuple[str, ...]
    operators: tuple[str, ...]
    pool: str | None
    cpu_s: float
    gpu_s: float
    pull: bool = False
    deps: tuple[int, ...] = ()
    usd_per_s: float = 0.0
    extra_usd: float = 0.0

    def __post_init__(self) -> None:
        if self.cpu_s < 0 or self.gpu_s < 0:
            raise ValueError(f"unit {self.name!r}: negative seconds")
        if self.pool is None and self.gpu_s:
            raise ValueError(f"unit {self.name!r}: GPU seconds without a pool")

    @property
    def usd(self) -> float:
        """Busy-time dollars: the GPU seconds at the pool's price (image pull left out), plus extras."""
        return self.gpu_s * self.usd_per_s + self.extra_usd


@dataclass(frozen=True, kw_only=True)
class Job:
    """One query's units, ready to price or simulate.

    Attributes:
        name: what it was built from (a file name).
        mode: ``pods`` or ``services``.
        units: in dependency order (every dep index is smaller than the unit's own).
        serial_s: the serial program on one node of ``serial_pool`` (see the module docstring).
        serial_pool: the pool the serial figure is for.
        services: for services mode, the operators each pool serves and their GPU memory
            (``{pool: {operator: gb}}``), with ``service_load_s`` the model-load seconds of each.
        service_load_s: model-load seconds per operator, for services mode.
        pools: the catalogue pools the units use, by name.
    """

    name: str
    mode: str
    units: tuple[Unit, ...]
    serial_s: float
    serial_pool: str
    services: dict[str, dict[str, float]] = field(default_factory=dict)
    service_load_s: dict[str, float] = field(default_factory=dict)
    pools: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, u in enumerate(self.units):
            if any(d >= i or d < 0 for d in u.deps):
                raise ValueError(f"unit {u.name!r} depends on a unit that does not come before it")

    @property
    def gpu_seconds(self) -> float:
        return sum(u.gpu_s for u in self.units)

    @property
    def busy_usd(self) -> float:
        return sum(u.usd for u in self.units)


def calls(graph, fanout) -> list[tuple[str, int]]:
    """Every operator call of one run of the serial program: ``(operator, count)``."""
    width = fanout.width if isinstance(fanout, TimingModel) else (lambda t: fanout if t.fanout is not None else 1)
    out = [(t.operator, width(t)) for t in graph.tasks]
    return out + [(r.operator, 1) for r in graph.residual]


def serial_seconds(graph, registry, pool, model: TimingModel, mode: str) -> float:
    """The serial program, in one pod on one node of ``pool`` (see the module docstring)."""
    _check_mode(mode)
    specs = {op: registry.get(op) for op, _ in calls(graph, model)}
    for spec in specs.values():
        if not fits(spec, pool):
            raise DicecError(f"the serial baseline needs {spec.name!r} ({spec.profile.gpu_memory_gb:g} GB) "
                             f"on pool {pool.name!r} ({pool.gpu_memory_gb:g} GB), which is too small")
    work = sum(n * latency(specs[op], pool) for op, n in calls(graph, model))
    if mode == "pods":
        loads = sum({model_key(s): s.profile.model_load_s for s in specs.values() if s.uses_gpu}.values())
        return model.step_start_s + loads + work + model.answer_run_s
    return work + model.answer_run_s


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise DicecError(f"unknown mode {mode!r} (modes: {', '.join(MODES)})")


def task_pools(placed, *, override=None) -> dict[str, Any]:
    """The pool of every task: as placed, or ``override`` for every GPU task (:func:`build_job` checks it fits)."""
    out = {}
    for task in placed.graph.tasks:
        pool = placed.pools[placed.placements[task.id].pool]
        out[task.id] = override if override is not None and pool.has_gpu else pool
    return out


def build_job(placed, registry, model: TimingModel, *, mode: str = "pods", override=None, fuse: bool = True,
              decide: Callable | None = None, spot: bool = False, serial_pool=None, name: str = "") -> Job:
    """The units of one query of ``placed`` (see :class:`Unit`).

    ``override`` puts every GPU task on that pool instead of the placed one (an operator too big for
    it is a :class:`DicecError`); ``fuse`` runs each fused group as one pod -- the placed graph's
    groups, or with ``override`` the groups ``decide`` (:func:`dicec.placement.fusion.decide`) chooses
    on that pool (pods mode only); ``serial_pool`` is the pool the serial figure is computed on
    (default: ``override``, else the largest-memory pool the plan uses).
    """
    _check_mode(mode)
    graph = placed.graph
    pools = task_pools(placed, override=override)
    specs = {t.id: registry.get(t.operator) for t in graph.tasks}
    for t in graph.tasks:
        if specs[t.id].uses_gpu and not fits(specs[t.id], pools[t.id]):
            p = pools[t.id]
            raise DicecError(f"task {t.id!r}: operator {t.operator!r} needs {specs[t.id].profile.gpu_memory_gb:g} GB "
                             f"of GPU memory on one of {', '.join(sorted(specs[t.id].profile.latency_s))}, "
                             f"but pool {p.name!r} has {p.gpu_memory_gb:g} GB ({p.gpu_class or 'no GPU'})")
    units: list[Unit] = []
    index: dict[str, list[int]] = {}
    groups = fused_groups(placed, registry, model, pools, mode=mode, fuse=fuse, override=override, decide=decide)
    for chain in _pods_in_order(graph, groups):
        deps = sorted({i for tid in chain for d in graph.task(tid).depends if d not in chain for i in index[d]})
        new = _units_for(chain, graph, specs, pools, model, mode, spot, deps, fused=chain in groups)
        first = len(units)
        units.extend(new)
        for tid in chain:
            index[tid] = list(range(first, len(units)))
    units.append(_answer_unit(placed, registry, model, mode, spot, len(units)))
    used = {p.name: p for p in pools.values()}
    if serial_pool is None:
        serial_pool = override or max((p for p in used.values() if p.has_gpu), key=lambda p: p.gpu_memory_gb,
                                      default=placed.pools[placed.answer.pool])
    services, loads = {}, {}
    if mode == "services":
        for t in graph.tasks:
            if specs[t.id].uses_gpu:
                services.setdefault(pools[t.id].name, {})[t.operator] = specs[t.id].profile.gpu_memory_gb
                loads[t.operator] = specs[t.id].profile.model_load_s
    return Job(name=name or graph.path, mode=mode, units=tuple(units),
               serial_s=serial_seconds(graph, registry, serial_pool, model, mode), serial_pool=serial_pool.name,
               services=services, service_load_s=loads, pools=used)


def _units_for(chain, graph, specs, pools, model, mode, spot, deps, *, fused: bool = False) -> list[Unit]:
    """One unit per pod: a fan-out task alone gives ``model.fanout`` units; a fused group gives one."""
    head = graph.task(chain[0])
    pool = pools[head.id]
    gpu = specs[head.id].uses_gpu and pool.has_gpu
    fanout = head.fanout is not None and not fused
    count = model.width(head) if fanout else 1
    work, loads, ops = 0.0, {}, []
    for tid in chain:
        t, spec = graph.task(tid), specs[tid]
        n = model.width(t) if fused else 1
        work += n * latency(spec, pools[tid])
        loads[model_key(spec)] = spec.profile.model_load_s if spec.uses_gpu else 0.0
        ops.append(spec.name)
    calls_each = sum(model.width(graph.task(tid)) if fused else 1 for tid in chain)
    rate = price_per_s(pool, spot=spot) if gpu else 0.0
    if not gpu:
        cpu_s, gpu_s = model.step_start_s + work, 0.0
    elif mode == "pods":
        cpu_s, gpu_s = 0.0, model.step_start_s + sum(loads.values()) + work
    else:
        cpu_s, gpu_s = model.step_start_s, work + calls_each * model.request_overhead_s
    name = (f"{chain[0]} +{len(chain) - 1} fused" if len(chain) > 1 else f"{chain[0]} (one pod)") if fused else chain[0]
    return [Unit(name=f"{name}[{i}]" if fanout else name, tasks=tuple(chain), operators=tuple(ops),
                 pool=pool.name if gpu else None, cpu_s=cpu_s, gpu_s=gpu_s, pull=gpu and mode == "pods",
                 deps=tuple(deps), usd_per_s=rate) for i in range(count)]


def _answer_unit(placed, registry, model, mode, spot, n_units: int) -> Unit:
    """The final step: CPU work, plus any residual calls (priced on the answer pool, not simulated on it)."""
    pool = placed.pools[placed.answer.pool]
    residual = [registry.get(r.operator) for r in placed.graph.residual]
    work = sum(latency(s, pool) for s in residual)
    if mode == "pods":
        work += sum(s.profile.model_load_s for s in {model_key(s): s for s in residual}.values() if s.uses_gpu)
    else:
        work += model.request_overhead_s * sum(1 for s in residual if s.uses_gpu)
    extra = work * price_per_s(pool, spot=spot) if pool.has_gpu else 0.0
    return Unit(name="answer", tasks=(), operators=tuple(s.name for s in residual), pool=None,
                cpu_s=model.step_start_s + model.answer_run_s + work, gpu_s=0.0,
                deps=tuple(range(n_units)), extra_usd=extra)


def fused_groups(placed, registry, model: TimingModel, pools, *, mode: str, fuse: bool,
                 override=None, decide: Callable | None = None) -> list[tuple[str, ...]]:
    """The task groups that run as one pod: none unless ``fuse`` in pods mode; the placed graph's own
    groups, or with ``override`` (every GPU task on one pool) the groups ``decide`` chooses there
    (:func:`dicec.placement.fusion.decide`, called as ``decide(graph, registry, pools, model=model)``)."""
    if not fuse or mode != "pods":
        return []
    if override is None:
        return [tuple(g.tasks) for g in getattr(placed, "fusion", ())]
    if decide is None:
        raise ValueError("moving every GPU task onto one pool with fusion needs the fusion rule "
                         "(decide=dicec.placement.fusion.decide)")
    return [tuple(g.tasks) for g in decide(placed.graph, registry, pools, model=model)]


def _pods_in_order(graph, groups: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Every task alone or in its group, ordered so each comes after everything it waits for."""
    group_of = {tid: g for g in groups for tid in g}
    pods = list(dict.fromkeys(group_of.get(t.id, (t.id,)) for t in graph.tasks))
    waits = {p: {group_of.get(d, (d,)) for tid in p for d in graph.task(tid).depends} - {p} for p in pods}
    done: set = set()
    out: list[tuple[str, ...]] = []
    while len(out) < len(pods):
        ready = [p for p in pods if p not in done and waits[p] <= done]
        if not ready:
            raise DicecError(f"{graph.path}: the fused groups make the graph cyclic")
        out.append(ready[0])
        done.add(ready[0])
    return out

