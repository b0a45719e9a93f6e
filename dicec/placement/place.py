"""Placing tasks: every task on the cheapest pool whose GPU memory fits its operator.

The estimate per task is a cold pod's work: the operator's model-load time plus one call's latency
on the pool's GPU class, priced at the pool's hourly rate. A fan-out task's figures are per element.
The final ``answer`` step runs on the CPU pool, unless operator calls the analysis could not predict
(residuals) must run there, in which case it goes to the cheapest pool that fits all of them.
Cost-driven placement with latency bounds, pod fusion and spot pools deepen this in the cost stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dicec.analysis.graph import TaskGraph, graph_from_json
from dicec.errors import DicecError
from dicec.placement.pools import Pool, PoolCatalogue, parse_pools
from dicec.tools.registry import Registry
from dicec.tools.spec import OperatorSpec

PLACED_VERSION = 1
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
    """

    graph: TaskGraph
    placements: dict[str, Placement]
    answer: Placement
    pools: dict[str, Pool]
    images: dict[str, str]

    @property
    def totals(self) -> dict[str, Any]:
        """Sum of dollars (fan-outs counted once) and the estimated critical-path seconds."""
        finish: dict[str, float] = {}
        for t in self.graph.tasks:
            finish[t.id] = self.placements[t.id].seconds + max((finish[d] for d in t.depends), default=0.0)
        priced = [p.usd for p in [*self.placements.values(), self.answer] if p.usd is not None]
        return {"usd_per_query": round(sum(priced), 8), "critical_path_seconds": round(max(finish.values(), default=0.0), 6)}

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PLACED_VERSION,
            "kind": PLACED_KIND,
            "graph": self.graph.to_json(),
            "placement": {tid: p.to_json() for tid, p in sorted(self.placements.items())},
            "answer": self.answer.to_json(),
            "pools": [p.to_json() for _, p in sorted(self.pools.items())],
            "images": dict(sorted(self.images.items())),
            "totals": self.totals,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def place(graph: TaskGraph, registry: Registry, catalogue: PoolCatalogue) -> PlacedGraph:
    """Put every task on the cheapest pool that fits its operator; raise if some operator fits none."""
    placements: dict[str, Placement] = {}
    used: dict[str, Pool] = {}
    images: dict[str, str] = {}
    for task in graph.tasks:
        spec = registry.get(task.operator)
        pool = _pool_for([spec], catalogue, what=f"task {task.id!r} (line {task.line})")
        placements[task.id] = _estimate(spec, pool, per_element=task.fanout is not None)
        used[pool.name] = pool
        images[spec.name] = spec.image
    residual_specs = sorted({r.operator for r in graph.residual})
    specs = [registry.get(n) for n in residual_specs]
    for s in specs:
        images[s.name] = s.image
    if any(s.uses_gpu for s in specs):
        pool = _pool_for(specs, catalogue, what="the answer step (it runs the calls the analysis could not predict)")
        answer = Placement(pool=pool.name, gpu_memory_gb=max(s.profile.gpu_memory_gb for s in specs),
                           seconds=sum(_seconds(s, pool) for s in specs), usd=None)
        answer = _priced(answer, pool)
    else:
        pool = catalogue.cpu_pool()
        if pool is None:
            raise DicecError(f"{catalogue.path}: the catalogue has no CPU pool (gpu_class: null) for the answer step")
        answer = Placement(pool=pool.name, gpu_memory_gb=0.0, seconds=0.0, usd=None if pool.usd_per_hour is None else 0.0)
    used[pool.name] = pool
    return PlacedGraph(graph=graph, placements=placements, answer=answer, pools=used, images=images)


def _pool_for(specs: list[OperatorSpec], catalogue: PoolCatalogue, *, what: str) -> Pool:
    need = max(s.profile.gpu_memory_gb for s in specs)
    if need == 0:
        pool = catalogue.cpu_pool()
        if pool is not None:
            return pool
    classes = set.intersection(*(set(s.profile.latency_s) for s in specs))
    pool = catalogue.cheapest_fitting(need, classes)
    if pool is None:
        biggest = max((p.gpu_memory_gb for p in catalogue.pools), default=0)
        names = ", ".join(s.name for s in specs)
        raise DicecError(f"{what}: operator {names} needs {need:g} GB of GPU memory on one of "
                         f"{', '.join(sorted(classes)) or 'no GPU class'}, but no pool in {catalogue.path} fits "
                         f"(largest GPU: {biggest:g} GB)")
    return pool


def _seconds(spec: OperatorSpec, pool: Pool) -> float:
    cls = pool.gpu_class or "CPU"
    return spec.profile.model_load_s + spec.profile.latency_s.get(cls, 0.0)


def _estimate(spec: OperatorSpec, pool: Pool, *, per_element: bool) -> Placement:
    p = Placement(pool=pool.name, gpu_memory_gb=spec.profile.gpu_memory_gb, seconds=_seconds(spec, pool),
                  usd=None, per_element=per_element)
    return _priced(p, pool)


def _priced(p: Placement, pool: Pool) -> Placement:
    # Rounded here, once, so a placed graph read back from JSON sums to the same totals.
    seconds = round(p.seconds, 6)
    usd = None if pool.usd_per_hour is None else round(seconds * pool.usd_per_hour / 3600.0, 8)
    return Placement(pool=p.pool, gpu_memory_gb=p.gpu_memory_gb, seconds=seconds, usd=usd, per_element=p.per_element)


def placed_from_json(data: Any, *, where: str = "placed graph") -> PlacedGraph:
    """Rebuild a :class:`PlacedGraph` from :meth:`PlacedGraph.to_json` output."""
    try:
        if data.get("kind") != PLACED_KIND or data.get("version") != PLACED_VERSION:
            raise ValueError(f"not a dicec placed graph of version {PLACED_VERSION}")
        graph = graph_from_json(data["graph"], where=where)
        fields = ("pool", "gpu_memory_gb", "seconds", "usd", "per_element")
        placements = {k: Placement(**{f: v[f] for f in fields}) for k, v in data["placement"].items()}
        answer = Placement(**{f: data["answer"][f] for f in fields})
        catalogue = parse_pools({"version": 1, "pools": data["pools"]}, path=where)
        missing = [t.id for t in graph.tasks if t.id not in placements]
        if missing:
            raise ValueError(f"task {missing[0]!r} has no placement")
        return PlacedGraph(graph=graph, placements=placements, answer=answer,
                           pools={p.name: p for p in catalogue.pools}, images=dict(data["images"]))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DicecError(f"{where}: malformed placed graph ({exc})") from None
