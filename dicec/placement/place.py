"""Placing tasks: every task on the cheapest pool whose GPU memory fits its operator.

The estimate per task is a cold pod's work: the operator's model-load time plus one call's latency
on the pool's GPU class, priced at the pool's hourly rate (``mode="services"``: one call to a warm
model server, so latency only). A fan-out task's figures are per element. The final ``answer`` step
runs on the CPU pool, unless operator calls the analysis could not predict (residuals) must run there,
in which case it goes to the cheapest pool that fits all of them.

Keyword options deepen the default (cheapest hourly price that fits): ``objective="cost"`` picks, per
task, the pool with the fewest dollars for its seconds (a dearer, faster GPU can be the cheaper one);
``max_latency_s`` then moves tasks on the critical path to faster pools, cheapest second saved first,
until the estimated critical path fits; ``spot=True`` prices pools at their spot rate where listed.
Pod start-up and image pull are figures of the timing model (:mod:`dicec.timing.model`); in pods mode,
groups of tasks one pod runs are decided by :mod:`dicec.placement.fusion` (``fuse=False`` turns it off).
A pool fits an operator when its GPU memory holds the model and the operator has a latency for its class,
listed or derived from the pool's datasheet (:func:`dicec.timing.figures.fits`); ties in price go to the
larger memory, then the name, never to the catalogue's order. The placed graph also records what
``dicec cost`` says a query costs at the default load (:func:`priced_at_load`): the figure the compile
summary prints and the workflow's cost label carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from dicec.analysis.graph import TaskGraph, graph_from_json
from dicec.errors import DicecError
from dicec.placement.fusion import FusedGroup, check_groups, decide, fused_totals, group_from_json
from dicec.placement.pools import Pool, PoolCatalogue, parse_pools
from dicec.tools.registry import Registry
from dicec.timing.figures import fits, latency
from dicec.tools.spec import OperatorSpec

PLACED_VERSION = 2
#: Versions :func:`placed_from_json` reads (1: before fused groups).
PLACED_VERSIONS = (1, 2)
PLACED_KIND = "dicec/placed-graph"
ANSWER_STEP = "answer"


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where one task runs and what it is expected to cost.

    Attributes:
        pool: the pool's name.
        gpu_memory_gb: GPU memory requested (0 on CPU).
        seconds: estimated seconds (model load + one call; per element for a fan-out).
        usd: estimated dollars for those seconds (``None`` when the pool is unpriced).
        per_element: whether the figures are per fan-out element.
    """

    pool: str
    gpu_memory_gb: float
    seconds: float
    usd: float | None
    per_element: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"pool": self.pool, "gpu_memory_gb": self.gpu_memory_gb, "seconds": self.seconds,
                "usd": self.usd, "per_element": self.per_element}


@dataclass(frozen=True, kw_only=True)
class PlacedGraph:
    """A task graph with a placement for every task and for the final answer step.

    Attributes:
        graph: the task graph.
        placements: by task id.
        answer: the final step's placement.
        pools: the pools used, as they were in the catalogue (emission needs their labels and taints).
        images: the container image of each operator used, by operator name.
        fusion: groups of tasks one pod runs (:mod:`dicec.placement.fusion`); empty when none.
        crops: offloaded cloud task -> the edge task whose crops it is sent instead of the frame
            (:func:`dicec.placement.edge.crop_feeds`); empty without an edge pool.
        residual_gpu_memory_gb: the GPU memory of each operator only the answer step calls (unpredicted
            calls), from its spec: services mode sizes their model servers with it.
        usd_per_query: what ``dicec cost`` says one query costs at ``load_qph`` (a day's bill over its
            queries: :mod:`dicec.timing.bill`), worked out where the graph was placed, with the default
            timing model; ``None`` for a placed graph read from a file written before it was recorded.
        load_qph: the load that figure is for (:data:`dicec.timing.bill.DEFAULT_LOAD_QPH`).
        services: placed in services mode, what its servers are sized by
            (:class:`dicec.timing.bill.ServiceFigures`: each server's seconds a query, the model files), so
            the emitted Deployments' replicas are the ones ``dicec cost`` bills; ``None`` in pods mode.
    """

    graph: TaskGraph
    placements: dict[str, Placement]
    answer: Placement
    pools: dict[str, Pool]
    images: dict[str, str]
    fusion: tuple[FusedGroup, ...] = ()
    crops: dict[str, str] = field(default_factory=dict)
    residual_gpu_memory_gb: dict[str, float] = field(default_factory=dict)
    usd_per_query: float | None = None
    load_qph: float | None = None
    services: Any = None

    @property
    def totals(self) -> dict[str, Any]:
        """``usd_per_query``: ``dicec cost``'s figure at ``load_qph`` (the placement's own estimate where
        none was recorded); ``placement_usd``: the sum of the tasks' estimated dollars (fan-outs counted
        once), the figure placement chooses by; ``critical_path_seconds``: the estimated critical path."""
        if self.fusion:
            own = fused_totals(self)
        else:
            finish: dict[str, float] = {}
            for t in self.graph.tasks:
                finish[t.id] = self.placements[t.id].seconds + max((finish[d] for d in t.depends), default=0.0)
            priced = [p.usd for p in [*self.placements.values(), self.answer] if p.usd is not None]
            own = {"usd_per_query": round(sum(priced), 8),
                   "critical_path_seconds": round(max(finish.values(), default=0.0), 6)}
        out = {"usd_per_query": own["usd_per_query"], "placement_usd": own["usd_per_query"],
               "critical_path_seconds": own["critical_path_seconds"]}
        if self.usd_per_query is not None:
            out.update(usd_per_query=round(self.usd_per_query, 8), load_qph=self.load_qph)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PLACED_VERSION,
            "kind": PLACED_KIND,
            "graph": self.graph.to_json(),
            "placement": {tid: p.to_json() for tid, p in sorted(self.placements.items())},
            "answer": self.answer.to_json(),
            "pools": [p.to_json() for _, p in sorted(self.pools.items())],
            "images": dict(sorted(self.images.items())),
            "fusion": [g.to_json() for g in self.fusion],
            "crops": dict(sorted(self.crops.items())),
            "residual_gpu_memory_gb": dict(sorted(self.residual_gpu_memory_gb.items())),
            "totals": self.totals,
            **({"services": self.services.to_json()} if self.services is not None else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


OBJECTIVES = ("price", "cost")
MODES = ("pods", "services")


def place(graph: TaskGraph, registry: Registry, catalogue: PoolCatalogue, *, objective: str = "price",
          mode: str = "pods", max_latency_s: float | None = None, spot: bool = False,
          fuse: bool = True) -> PlacedGraph:
    """Put every task on the cheapest pool that fits its operator; raise if some operator fits none.

    ``objective``: ``price`` (lowest hourly price that fits) or ``cost`` (fewest dollars for the
    task's seconds); ``mode``: ``pods`` (seconds include model load) or ``services`` (warm models);
    ``max_latency_s``: a bound on the estimated critical path; ``spot``: use spot prices where listed;
    ``fuse``: in pods mode, run groups of tasks in one pod where that pays (:mod:`dicec.placement.fusion`).
    """
    if objective not in OBJECTIVES:
        raise DicecError(f"unknown placement objective {objective!r} (choose {', '.join(OBJECTIVES)})")
    if mode not in MODES:
        raise DicecError(f"unknown execution mode {mode!r} (choose {', '.join(MODES)})")
    if max_latency_s is not None and (isinstance(max_latency_s, bool) or not max_latency_s > 0):
        raise DicecError(f"--max-latency must be a number of seconds > 0 (got {max_latency_s!r})")
    placements: dict[str, Placement] = {}
    used: dict[str, Pool] = {}
    images: dict[str, str] = {}
    for task in graph.tasks:
        spec = registry.get(task.operator)
        what = f"task {task.id!r} (line {task.line})"
        if objective == "cost":
            pool = min(_candidates(spec, catalogue, what=what, spot=spot),
                       key=lambda p: _seconds(spec, p, mode) * _hourly(p, spot))
        else:
            pool = _pool_for([spec], catalogue, what=what, spot=spot)
        placements[task.id] = _estimate(spec, pool, per_element=task.fanout is not None, mode=mode, spot=spot)
        images[spec.name] = spec.image
    if max_latency_s is not None:
        placements = _meet_latency(graph, registry, catalogue, placements, max_latency_s, mode=mode, spot=spot)
    for p in placements.values():
        used[p.pool] = catalogue.get(p.pool)
    residual_specs = sorted({r.operator for r in graph.residual})
    specs = [registry.get(n) for n in residual_specs]
    for s in specs:
        images[s.name] = s.image
    if any(s.uses_gpu for s in specs):
        pool = _pool_for(specs, catalogue, what="the answer step (it runs the calls the analysis could not predict)",
                         spot=spot)
        answer = Placement(pool=pool.name, gpu_memory_gb=max(s.profile.gpu_memory_gb for s in specs),
                           seconds=sum(_seconds(s, pool, mode) for s in specs), usd=None)
        answer = _priced(answer, pool, spot=spot)
    else:
        pool = catalogue.cpu_pool()
        if pool is None:
            raise DicecError(f"{catalogue.path}: the catalogue has no CPU pool (gpu_class: null) for the answer step")
        answer = Placement(pool=pool.name, gpu_memory_gb=0.0, seconds=0.0, usd=None if pool.usd_per_hour is None else 0.0)
    if any(p.edge for p in catalogue.pools):  # edge-cloud: the edge's share moves there (dicec.placement.edge)
        from dicec.placement.edge import place_on_edge

        placements, answer, pool = place_on_edge(graph, registry, catalogue, placements, answer, pool, mode=mode,
                                                 max_latency_s=max_latency_s)
        used = {p.pool: catalogue.get(p.pool) for p in placements.values()}
    used[pool.name] = pool
    fusion = decide(graph, registry, {t.id: used[placements[t.id].pool] for t in graph.tasks},
                    max_latency_s=max_latency_s, spot=spot) if fuse and mode == "pods" else ()
    placed = PlacedGraph(graph=graph, placements=placements, answer=answer, pools=used, images=images, fusion=fusion,
                         residual_gpu_memory_gb={s.name: s.profile.gpu_memory_gb for s in specs})
    if any(p.edge for p in used.values()):
        from dicec.placement.edge import crop_feeds

        placed = replace(placed, crops=crop_feeds(placed, registry))
    return priced_at_load(placed, registry, catalogue, mode=mode, spot=spot, fuse=fuse)


def priced_at_load(placed: PlacedGraph, registry: Registry, catalogue: PoolCatalogue, *, mode: str, spot: bool,
                   fuse: bool) -> PlacedGraph:
    """``placed`` with ``dicec cost``'s figure at the default load recorded (:mod:`dicec.timing.bill`,
    the default timing model): what the compile summary prints and the workflow's cost label carries."""
    from dicec.timing.bill import DEFAULT_LOAD_QPH, job_bill, service_figures
    from dicec.timing.figures import model_key
    from dicec.timing.job import build_job
    from dicec.timing.model import TimingModel

    model = TimingModel()
    job = build_job(placed, registry, model, mode=mode, fuse=fuse, spot=spot, serial=False)
    bill = job_bill(job, DEFAULT_LOAD_QPH, model, cpu_pool=catalogue.cpu_pool(), spot=spot)
    services = None
    if mode == "services":
        operators = {t.operator for t in placed.graph.tasks} | {r.operator for r in placed.graph.residual}
        services = service_figures(job, {op: model_key(registry.get(op)) for op in sorted(operators)})
    return replace(placed, usd_per_query=bill.per_query_usd, load_qph=DEFAULT_LOAD_QPH, services=services)


def _pool_for(specs: list[OperatorSpec], catalogue: PoolCatalogue, *, what: str, spot: bool = False) -> Pool:
    need = max(s.profile.gpu_memory_gb for s in specs)
    if need == 0:
        pool = catalogue.cpu_pool()
        if pool is not None:
            return pool
    pool = catalogue.cheapest_fitting(need, lambda p: all(fits(s, p) for s in specs), spot=spot)
    if pool is None:
        raise _fits_nowhere(specs, catalogue, what=what)
    return pool


def _fits_nowhere(specs: list[OperatorSpec], catalogue: PoolCatalogue, *, what: str) -> DicecError:
    """The one-line error for operators no choosable pool runs: memory, or no latency for any big-enough class."""
    need = max(s.profile.gpu_memory_gb for s in specs)
    names = ", ".join(s.name for s in specs)
    priced = [p for p in catalogue.pools if p.choosable]
    biggest = max((p.gpu_memory_gb for p in priced), default=0)
    big_enough = [p for p in priced if p.gpu_memory_gb >= need]
    if big_enough:
        classes = sorted({p.gpu_class for p in big_enough})
        return DicecError(f"{what}: operator {names} needs {need:g} GB of GPU memory; the pools of {catalogue.path} "
                          f"that have it ({', '.join(classes)}) have no latency for it (its spec lists "
                          f"{', '.join(sorted(set().union(*(s.profile.latency_s for s in specs)))) or 'none'}"
                          f"{'' if all(s.profile.work for s in specs) else ' and no work figures to derive one'})")
    return DicecError(f"{what}: operator {names} needs {need:g} GB of GPU memory for its model, but no pool in {catalogue.path} "
                      f"fits (largest GPU: {biggest:g} GB)")


def _candidates(spec: OperatorSpec, catalogue: PoolCatalogue, *, what: str, spot: bool) -> list[Pool]:
    """Every pool the operator fits (the CPU pool alone for a CPU operator), cheapest first."""
    if not spec.uses_gpu and catalogue.cpu_pool() is not None:
        return [catalogue.cpu_pool()]
    found = catalogue.fitting(spec.profile.gpu_memory_gb, lambda p: fits(spec, p))
    if not found:
        raise _fits_nowhere([spec], catalogue, what=what)
    return sorted(found, key=lambda p: (_hourly(p, spot), -p.gpu_memory_gb, p.name))


def _hourly(pool: Pool, spot: bool) -> float:
    return pool.hourly(spot=spot) or 0.0


def _seconds(spec: OperatorSpec, pool: Pool, mode: str = "pods") -> float:
    load = spec.profile.model_load_s if mode == "pods" else 0.0
    if not pool.has_gpu:
        return load + spec.profile.latency_s.get("CPU", 0.0)
    return load + latency(spec, pool)


def _estimate(spec: OperatorSpec, pool: Pool, *, per_element: bool, mode: str = "pods", spot: bool = False) -> Placement:
    p = Placement(pool=pool.name, gpu_memory_gb=spec.profile.gpu_memory_gb, seconds=_seconds(spec, pool, mode),
                  usd=None, per_element=per_element)
    return _priced(p, pool, spot=spot)


def _priced(p: Placement, pool: Pool, *, spot: bool = False) -> Placement:
    # Rounded here, once, so a placed graph read back from JSON sums to the same totals.
    seconds = round(p.seconds, 6)
    return Placement(pool=p.pool, gpu_memory_gb=p.gpu_memory_gb, seconds=seconds, usd=pool.usd_for(seconds, spot=spot),
                     per_element=p.per_element)


def _critical_path(graph: TaskGraph, placements: dict[str, Placement]) -> tuple[float, list[str]]:
    """Estimated critical-path seconds (fan-out elements in parallel) and the tasks on it."""
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for t in graph.tasks:
        before = max(t.depends, key=lambda d: finish[d], default=None)
        finish[t.id] = placements[t.id].seconds + (finish[before] if before else 0.0)
        via[t.id] = before
    if not finish:
        return 0.0, []
    last: str | None = max(finish, key=lambda k: finish[k])
    total, path = finish[last], []
    while last is not None:
        path.append(last)
        last = via[last]
    return total, path


def _meet_latency(graph: TaskGraph, registry: Registry, catalogue: PoolCatalogue, placements: dict[str, Placement],
                  bound: float, *, mode: str, spot: bool) -> dict[str, Placement]:
    """Move critical-path tasks to faster pools, fewest extra dollars per second saved first, until it fits."""
    placements = dict(placements)
    while True:
        total, path = _critical_path(graph, placements)
        if total <= bound + 1e-9:
            return placements
        best = None
        for tid in path:
            spec = registry.get(graph.task(tid).operator)
            now = placements[tid]
            for pool in _candidates(spec, catalogue, what=f"task {tid!r}", spot=spot):
                cand = _estimate(spec, pool, per_element=now.per_element, mode=mode, spot=spot)
                saved = now.seconds - cand.seconds
                if saved <= 1e-9:
                    continue
                extra = ((cand.usd or 0.0) - (now.usd or 0.0)) / saved
                if best is None or extra < best[0]:
                    best = (extra, tid, cand)
        if best is None:
            from dicec.placement.latency import infeasible

            raise infeasible(graph, registry, catalogue, bound, mode=mode, spot=spot)
        placements[best[1]] = best[2]


def placed_from_json(data: Any, *, where: str = "placed graph") -> PlacedGraph:
    """Rebuild a :class:`PlacedGraph` from :meth:`PlacedGraph.to_json` output."""
    try:
        if data.get("kind") != PLACED_KIND or data.get("version") not in PLACED_VERSIONS:
            raise ValueError(f"not a dicec placed graph of version {' or '.join(map(str, PLACED_VERSIONS))}")
        graph = graph_from_json(data["graph"], where=where)
        fields = ("pool", "gpu_memory_gb", "seconds", "usd", "per_element")
        placements = {k: Placement(**{f: v[f] for f in fields}) for k, v in data["placement"].items()}
        answer = Placement(**{f: data["answer"][f] for f in fields})
        catalogue = parse_pools({"version": 1, "pools": data["pools"]}, path=where)
        missing = [t.id for t in graph.tasks if t.id not in placements]
        if missing:
            raise ValueError(f"task {missing[0]!r} has no placement")
        fusion = tuple(group_from_json(g) for g in data.get("fusion", []))
        check_groups(graph, fusion, {k: p.pool for k, p in placements.items()})
        placed = PlacedGraph(graph=graph, placements=placements, answer=answer,
                             pools={p.name: p for p in catalogue.pools}, images=dict(data["images"]), fusion=fusion,
                             residual_gpu_memory_gb={str(k): float(v) for k, v in
                                                     data.get("residual_gpu_memory_gb", {}).items()})
        crops = dict(data.get("crops", {}))
        if crops:
            from dicec.placement.edge import check_crop_feeds

            check_crop_feeds(placed, crops)
        totals = data.get("totals") or {}
        at_load = totals.get("usd_per_query") if totals.get("load_qph") is not None else None
        services = None
        if data.get("services") is not None:
            from dicec.timing.bill import service_figures_from_json

            services = service_figures_from_json(data["services"])
        return replace(placed, crops=crops, usd_per_query=None if at_load is None else float(at_load),
                       load_qph=None if at_load is None else float(totals["load_qph"]), services=services)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DicecError(f"{where}: malformed placed graph ({exc})") from None
