"""A query as a cluster runs it: the units of one placed graph, and the serial program it replaces.

:func:`build_job` turns a placed graph into :class:`Unit` objects -- the pods, the HTTP requests and
the answer step one query runs -- that the cost report (:mod:`dicec.cost.report`), the load bill
(:mod:`dicec.timing.bill`) and the simulator (:mod:`dicec.timing.schedule`, driven by
:mod:`dicec.simulate`) all use, so they can never disagree about what a step costs. The seconds come
from the figures of :mod:`dicec.timing.model` and the per-call figures of :mod:`dicec.timing.figures`.

Two execution modes, as ``dicec compile`` can emit them:

* ``pods``: every step is a pod on a GPU node that starts, loads its model, makes its call(s) and exits.
  The GPU is held from binding to exit: ``pod start-up + image pull (first pod on a node) + model load
  + latency``; a fan-out is a pod per element unless fused. The answer step is a CPU pod.
* ``services``: every operator is a warm model server on its pool, and an operator task is ONE HTTP
  request that Argo's agent sends to it (no pod per call): the server is busy for ``request overhead
  + latency``, and a fan-out is one request carrying all its elements, computed as one batch (``n``
  calls, the part of a call that reads model weights paid once: :func:`dicec.timing.figures.shared_seconds`).
  The answer step is one request to the ``dicec-answer`` service on the CPU pool (``answer_request_s``).
  Tasks that need an artifact -- those on an edge device, and cloud tasks sent an edge detection's
  crops -- stay container steps (a pod that starts, then calls the server), as does an answer step on
  an edge CPU pool. HTTP units are marked ``http``: Argo's agent sends them, with at most
  ``agent_task_workers`` in flight, and a finished one's result reaches the controller (and its
  dependants start) at the agent's next patch tick (:mod:`dicec.timing.schedule`).
  Loading the servers' models is paid once per model file and amortised over the queries served.

The serial baseline is the program as written, in one warm process on one node (a ViperGPT user's
setup): every model loaded once beforehand, so a query costs its calls' latencies one after another
plus the program's own CPU work (``answer_run_s``) -- :func:`serial_seconds`, in every mode. The old
*cold* figure -- a pod per query that starts, loads every distinct model file once and makes the calls
-- is kept as ``serial_cold_s``, labelled as such.

The placed graph, its pools, the registry and the operators' specs are passed in and used by their
attributes only; which tasks share a pod is placement's decision (:mod:`dicec.placement.fusion`):
the placed graph's own groups, or, when every GPU task is moved onto one pool, the groups the
``decide`` function given to :func:`build_job` chooses there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dicec.errors import DicecError
from dicec.timing.figures import fits, latency, model_files, model_key, model_loads, price_per_s, shared_seconds
from dicec.timing.model import TimingModel

MODES = ("pods", "services")


@dataclass(frozen=True, kw_only=True)
class Unit:
    """One schedulable piece of a query: a pod, or an HTTP request Argo's agent sends.

    Attributes:
        name: the task id (``id[i]`` for fan-out element i, ``first +N fused`` for a fused group, ``answer``).
        tasks: the graph tasks it runs.
        operators: the operators it calls, in order.
        pool: the GPU pool it needs a node of, or ``None`` for CPU-only work (no GPU node held).
        cpu_s: seconds before it needs the GPU, holding none (a container step's pod start-up; an HTTP
            request to the answer service).
        gpu_s: seconds it holds one GPU node (a pod; a model server computing a request).
        pull: whether it pays the image pull on a node that has not pulled the image yet.
        deps: indices (in the job) of the units it waits for.
        usd_per_s: the price of its GPU per second (0 for CPU work or an unpriced pool).
        extra_usd: busy-time dollars not tied to a GPU node of the simulated cluster (the answer step's
            residual calls, an answer pod on a GPU pool).
        http: sent by Argo's agent (services mode): holds a task worker while in flight; its result
            reaches the controller at the agent's next patch tick.
        shared_s: the part of ``gpu_s`` a server batch of several requests with the same ``batch_key``
            pays once (a decoder's weight reads).
        batch_key: which requests one server batch may hold (``pool/operator``); empty for pods.
        calls: the operator calls it makes (a fan-out request's elements).
        cpu_pod_s: seconds of a pod on the CPU pool it runs (priced at a CPU pod's share of a node);
            0 for HTTP requests, GPU pods and pods on an edge device.
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
    http: bool = False
    shared_s: float = 0.0
    batch_key: str = ""
    calls: int = 1
    cpu_pod_s: float = 0.0

    def __post_init__(self) -> None:
        if self.cpu_s < 0 or self.gpu_s < 0 or self.shared_s < 0 or self.cpu_pod_s < 0:
            raise ValueError(f"unit {self.name!r}: negative seconds")
        if self.pool is None and self.gpu_s:
            raise ValueError(f"unit {self.name!r}: GPU seconds without a pool")
        if self.shared_s > self.gpu_s + 1e-12:
            raise ValueError(f"unit {self.name!r}: the shared part exceeds its GPU seconds")

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
        serial_s: the serial program in one warm process on one node of ``serial_pool`` (every model
            loaded once beforehand): its calls one after another plus ``answer_run_s``.
        serial_pool: the pool the serial figures are for.
        serial_cold_s: the same program as one cold pod per query (start-up, each model file loaded,
            the calls, the answer): the old figure, kept labelled.
        services: services mode: the operators each pool serves and their GPU memory
            (``{pool: {operator: gb}}``), residual (answer-step) operators included.
        model_of: services mode: each served operator's model file (:func:`dicec.timing.figures.model_key`),
            so that operators sharing a file share one load and one share of memory.
        image_of: services mode: each served operator's container image (a server runs one image).
        service_load_s: services mode: model-load seconds per model file.
        service_busy_s: services mode: GPU seconds one query keeps each ``(pool, operator)`` server busy.
        pools: the catalogue pools the units use, by name.
        model_work_s: the warm GPU seconds of one run's calls on the cluster's nodes, by (pool, model file)
            (each call's latency on its pool, at the batching the plan gets; no start-up, load or request
            overhead): what no plan can avoid.
        model_load_s: seconds of loading each model file those calls need, once (:func:`model_files`).
        queries: the answers one run gives: 1 for a query's workflow, images x questions for a batch
            workflow (:mod:`dicec.timing.batch`).
        answers: where they are given, as (unit index, answers): a batch workflow's answer pods, one per
            shard; empty when the last unit gives them all.
    """

    name: str
    mode: str
    units: tuple[Unit, ...]
    serial_s: float
    serial_pool: str
    serial_cold_s: float = 0.0
    services: dict[str, dict[str, float]] = field(default_factory=dict)
    model_of: dict[str, str] = field(default_factory=dict)
    image_of: dict[str, str] = field(default_factory=dict)
    service_load_s: dict[str, float] = field(default_factory=dict)
    service_busy_s: dict[tuple[str, str], float] = field(default_factory=dict)
    pools: dict[str, Any] = field(default_factory=dict)
    model_work_s: dict[tuple[str, str], float] = field(default_factory=dict)
    model_load_s: dict[str, float] = field(default_factory=dict)
    queries: int = 1
    answers: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        for i, u in enumerate(self.units):
            if any(d >= i or d < 0 for d in u.deps):
                raise ValueError(f"unit {u.name!r} depends on a unit that does not come before it")
        if self.queries < 1 or any(not 0 <= i < len(self.units) or n < 0 for i, n in self.answers):
            raise ValueError(f"job {self.name!r}: bad answers")
        if self.answers and sum(n for _, n in self.answers) != self.queries:
            raise ValueError(f"job {self.name!r}: its answer units give {sum(n for _, n in self.answers)} answers, "
                             f"not {self.queries}")

    @property
    def work_s(self) -> float:
        """The warm GPU seconds of one run's calls on the nodes, every pool and model together."""
        return sum(self.model_work_s.values())

    @property
    def loads_s(self) -> float:
        """Seconds of loading each model file the calls need, once."""
        return sum(self.model_load_s.values())

    @property
    def gpu_seconds(self) -> float:
        return sum(u.gpu_s for u in self.units)

    @property
    def busy_usd(self) -> float:
        return sum(u.usd for u in self.units)

    @property
    def cpu_pod_seconds(self) -> float:
        return sum(u.cpu_pod_s for u in self.units)

    @property
    def http(self) -> bool:
        """Whether Argo's agent runs part of it (services mode's HTTP requests)."""
        return any(u.http for u in self.units)


def calls(graph, fanout) -> list[tuple[str, int]]:
    """Every operator call of one run of the serial program: ``(operator, count)``."""
    width = fanout.width if isinstance(fanout, TimingModel) else (lambda t: fanout if t.fanout is not None else 1)
    out = [(t.operator, width(t)) for t in graph.tasks]
    return out + [(r.operator, 1) for r in graph.residual]


def serial_seconds(graph, registry, pool, model: TimingModel, *, cold: bool = False) -> float:
    """The serial program on one node of ``pool``: warm (every model loaded beforehand: the calls one after
    another plus the program's own CPU work), or ``cold`` (a pod per query: start-up, each distinct model
    file loaded once, the calls, the program's CPU work). See the module docstring."""
    specs = {op: registry.get(op) for op, _ in calls(graph, model)}
    for spec in specs.values():
        if not fits(spec, pool):
            raise DicecError(f"the serial baseline needs {spec.name!r} ({spec.profile.gpu_memory_gb:g} GB) "
                             f"on pool {pool.name!r} ({pool.gpu_memory_gb:g} GB), which is too small")
    work = sum(n * latency(specs[op], pool) for op, n in calls(graph, model))
    if cold:
        return model.step_start_s + model_loads(specs.values()) + work + model.answer_run_s
    return work + model.answer_run_s


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise DicecError(f"unknown mode {mode!r} (modes: {', '.join(MODES)})")


def task_pools(placed, *, override=None) -> dict[str, Any]:
    """The pool of every task: as placed, or ``override`` for every GPU task (:func:`build_job` checks it fits)."""
    out = {}
    for task in placed.graph.tasks:
        pool = placed.pools[placed.placements[task.id].pool]
        out[task.id] = override if override is not None and pool.has_gpu and not pool.edge else pool
    return out


def build_job(placed, registry, model: TimingModel, *, mode: str = "pods", override=None, fuse: bool = True,
              decide: Callable | None = None, spot: bool = False, serial_pool=None, name: str = "",
              serial: bool = True, http: bool = True) -> Job:
    """The units of one query of ``placed`` (see :class:`Unit`).

    ``override`` puts every cloud GPU task on that pool instead of the placed one (an operator too big for
    it is a :class:`DicecError`); ``fuse`` runs each fused group as one pod -- the placed graph's
    groups, or with ``override`` the groups ``decide`` (:func:`dicec.placement.fusion.decide`, called
    as ``decide(graph, registry, pools, model=model)``) chooses on that pool (pods mode only);
    ``serial_pool`` is the pool the serial figures are computed on (default: ``override``, else the
    largest-memory pool the plan uses); ``serial=False`` leaves the serial figures at 0 (pricing the
    plan alone needs none). ``http=False`` (services mode) makes every call and the answer a container
    step that calls the servers, as edge tasks are, with no Argo agent: what ``dicec run --isolation
    thread`` does with a workflow's steps (:mod:`dicec.simulate.calibrate`).
    """
    _check_mode(mode)
    graph = placed.graph
    pools = task_pools(placed, override=override)
    specs = {t.id: registry.get(t.operator) for t in graph.tasks}
    for t in graph.tasks:
        if specs[t.id].uses_gpu and not fits(specs[t.id], pools[t.id]):
            p = pools[t.id]
            raise DicecError(f"task {t.id!r}: operator {t.operator!r} needs {specs[t.id].profile.gpu_memory_gb:g} GB "
                             f"of GPU memory and a latency for its class ({', '.join(sorted(specs[t.id].profile.latency_s))} "
                             f"listed), but pool {p.name!r} has {p.gpu_memory_gb:g} GB ({p.gpu_class or 'no GPU'})")
    units: list[Unit] = []
    index: dict[str, list[int]] = {}
    cpu = _cpu_pool(placed)
    if mode == "pods":
        groups = fused_groups(placed, registry, model, pools, mode=mode, fuse=fuse, override=override, decide=decide)
        for chain in _pods_in_order(graph, groups):
            deps = sorted({i for tid in chain for d in graph.task(tid).depends if d not in chain for i in index[d]})
            new = _pod_units(chain, graph, specs, pools, model, spot, deps, fused=chain in groups)
            first = len(units)
            units.extend(new)
            for tid in chain:
                index[tid] = list(range(first, len(units)))
    else:
        crop_fed = set(getattr(placed, "crops", {}) or {})
        for t in graph.tasks:
            deps = sorted({i for d in t.depends for i in index[d]})
            new = _service_units(t, specs[t.id], pools[t.id], model, spot, deps,
                                 container=not http or pools[t.id].edge or t.id in crop_fed, cpu=cpu)
            first = len(units)
            units.extend(new)
            index[t.id] = list(range(first, len(units)))
    units.append(_answer_unit(placed, registry, model, mode, spot, len(units), cpu, http=http))
    used = {p.name: p for p in pools.values()}
    if serial_pool is None:
        serial_pool = override or max((p for p in used.values() if p.has_gpu and not p.edge),
                                      key=lambda p: p.gpu_memory_gb, default=placed.pools[placed.answer.pool])
    cloud_gpu = [t for t in graph.tasks if specs[t.id].uses_gpu and pools[t.id].has_gpu and not pools[t.id].edge]
    work: dict[tuple[str, str], float] = {}
    for t in cloud_gpu:
        key = (pools[t.id].name, model_key(specs[t.id]))
        work[key] = work.get(key, 0.0) + model.width(t) * latency(specs[t.id], pools[t.id])
    answer_pool = placed.pools[placed.answer.pool]
    gpu_tasks = [t for t in graph.tasks if specs[t.id].uses_gpu and pools[t.id].has_gpu]
    extras = _services(placed, registry, specs, pools, model, gpu_tasks) if mode == "services" else {}
    if mode == "services" and answer_pool.name in extras["services"]:
        used[answer_pool.name] = answer_pool  # the residual calls' servers
    return Job(name=name or graph.path, mode=mode, units=tuple(units),
               serial_s=serial_seconds(graph, registry, serial_pool, model) if serial else 0.0,
               serial_cold_s=serial_seconds(graph, registry, serial_pool, model, cold=True) if serial else 0.0,
               serial_pool=serial_pool.name, pools=used, model_work_s=work,
               model_load_s={k: load for k, (load, _) in model_files([specs[t.id] for t in cloud_gpu]).items()},
               **extras)


def _cpu_pool(placed):
    """The cloud CPU pool of the placed graph's catalogue, if it carries one (for pricing CPU pods)."""
    cpus = [p for p in placed.pools.values() if not p.has_gpu and not p.edge]
    return cpus[0] if cpus else None


def _services(placed, registry, specs, pools, model, gpu_tasks) -> dict[str, Any]:
    """What services mode's servers serve, load and are busy with per query (see :class:`Job`)."""
    services: dict[str, dict[str, float]] = {}
    model_of: dict[str, str] = {}
    image_of: dict[str, str] = {}
    loads: dict[str, float] = {}
    busy: dict[tuple[str, str], float] = {}

    def serve(pool, spec, seconds: float) -> None:
        services.setdefault(pool.name, {})[spec.name] = spec.profile.gpu_memory_gb
        model_of[spec.name] = model_key(spec)
        image_of[spec.name] = spec.image
        loads[model_key(spec)] = max(loads.get(model_key(spec), 0.0), spec.profile.model_load_s)
        busy[(pool.name, spec.name)] = busy.get((pool.name, spec.name), 0.0) + seconds

    for t in gpu_tasks:
        spec, pool = specs[t.id], pools[t.id]
        n = model.width(t)
        serve(pool, spec, _batched(n, latency(spec, pool), shared_seconds(spec, pool)) + model.request_overhead_s)
    answer_pool = placed.pools[placed.answer.pool]
    if answer_pool.has_gpu and not answer_pool.edge:
        for r in placed.graph.residual:
            spec = registry.get(r.operator)
            if spec.uses_gpu:
                serve(answer_pool, spec, latency(spec, answer_pool) + model.request_overhead_s)
    return {"services": services, "model_of": model_of, "image_of": image_of, "service_load_s": loads,
            "service_busy_s": busy}


def _batched(n: int, each: float, shared: float) -> float:
    """Seconds of ``n`` calls computed as one batch: each call's own part, the shared part (weights) once."""
    return n * each - max(n - 1, 0) * shared if n else 0.0


def _pod_units(chain, graph, specs, pools, model, spot, deps, *, fused: bool = False) -> list[Unit]:
    """Pods mode, one unit per pod: a fan-out task alone gives a unit per element; a fused group gives one."""
    head = graph.task(chain[0])
    pool = pools[head.id]
    gpu = specs[head.id].uses_gpu and pool.has_gpu
    fanout = head.fanout is not None and not fused
    count = model.width(head) if fanout else 1
    work, ops = 0.0, []
    for tid in chain:
        t, spec = graph.task(tid), specs[tid]
        n = model.width(t) if fused else 1
        work += n * latency(spec, pools[tid])
        ops.append(spec.name)
    loads = model_loads([specs[tid] for tid in chain])
    rate = price_per_s(pool, spot=spot) if gpu else 0.0
    if not gpu:
        cpu_s, gpu_s = model.step_start_s + work, 0.0
    else:
        cpu_s, gpu_s = 0.0, model.step_start_s + loads + work
    cpu_pod = cpu_s if not gpu and not pool.edge else 0.0
    name = (f"{chain[0]} +{len(chain) - 1} fused" if len(chain) > 1 else f"{chain[0]} (one pod)") if fused else chain[0]
    return [Unit(name=f"{name}[{i}]" if fanout else name, tasks=tuple(chain), operators=tuple(ops),
                 pool=pool.name if gpu else None, cpu_s=cpu_s, gpu_s=gpu_s, pull=gpu, deps=tuple(deps),
                 usd_per_s=rate, cpu_pod_s=cpu_pod) for i in range(count)]


def _service_units(task, spec, pool, model, spot, deps, *, container: bool, cpu) -> list[Unit]:
    """Services mode: an HTTP request (a fan-out's elements in one), or a container step that calls the
    server (an edge task, a crop-fed task: a pod per element)."""
    gpu = spec.uses_gpu and pool.has_gpu
    each = latency(spec, pool)
    rate = price_per_s(pool, spot=spot) if gpu else 0.0
    n = model.width(task)
    if container:
        count = n if task.fanout is not None else 1
        gpu_s = each + model.request_overhead_s if gpu else 0.0
        cpu_s = model.step_start_s + (0.0 if gpu else each)
        cpu_pod = 0.0 if pool.edge else cpu_s + gpu_s
        return [Unit(name=f"{task.id}[{i}]" if task.fanout is not None else task.id, tasks=(task.id,),
                     operators=(spec.name,), pool=pool.name if gpu else None, cpu_s=cpu_s, gpu_s=gpu_s,
                     deps=tuple(deps), usd_per_s=rate, calls=1, cpu_pod_s=cpu_pod) for i in range(count)]
    shared = shared_seconds(spec, pool) if gpu else 0.0
    busy = _batched(n, each, shared) + model.request_overhead_s if gpu and n else 0.0
    return [Unit(name=task.id, tasks=(task.id,), operators=(spec.name,), pool=pool.name if busy else None,
                 cpu_s=0.0 if busy else model.request_overhead_s + n * each, gpu_s=busy, deps=tuple(deps),
                 usd_per_s=rate, http=True, shared_s=shared if busy else 0.0,
                 batch_key=f"{pool.name}/{spec.name}" if busy else "", calls=n)]


def _answer_unit(placed, registry, model, mode, spot, n_units: int, cpu, *, http: bool = True) -> Unit:
    """The final step: the program answered from the records, plus any residual calls (priced on the
    answer pool, not simulated on the GPU nodes). Pods mode: a pod (on the CPU pool, or on a GPU pool
    when residual calls need one). Services mode: one request to the answer service, which sends the
    residual calls to the model servers; on an edge CPU pool a container step, as in pods mode."""
    pool = placed.pools[placed.answer.pool]
    residual = [registry.get(r.operator) for r in placed.graph.residual]
    work = sum(latency(s, pool) for s in residual)
    deps = tuple(range(n_units))
    ops = tuple(s.name for s in residual)
    if mode == "pods":
        work += model_loads(residual) if pool.has_gpu else 0.0
        cpu_s = model.step_start_s + model.answer_run_s + work
        on_gpu = pool.has_gpu and not pool.edge
        return Unit(name="answer", tasks=(), operators=ops, pool=None, cpu_s=cpu_s, gpu_s=0.0, deps=deps,
                    extra_usd=cpu_s * price_per_s(pool, spot=spot) if on_gpu else 0.0,
                    cpu_pod_s=cpu_s if not pool.has_gpu and not pool.edge else 0.0)
    requests = sum(model.request_overhead_s for s in residual if s.uses_gpu)
    extra = (work + requests) * price_per_s(pool, spot=spot) if pool.has_gpu and not pool.edge else 0.0
    if pool.edge or not http:
        cpu_s = model.step_start_s + model.answer_run_s + work + requests
        return Unit(name="answer", tasks=(), operators=ops, pool=None, cpu_s=cpu_s, gpu_s=0.0, deps=deps,
                    extra_usd=extra, cpu_pod_s=cpu_s if not pool.has_gpu and not pool.edge else 0.0)
    return Unit(name="answer", tasks=(), operators=ops, pool=None, cpu_s=model.answer_request_s + work + requests,
                gpu_s=0.0, deps=deps, extra_usd=extra, http=True)


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

