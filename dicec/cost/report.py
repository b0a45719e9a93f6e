"""Pricing a plan per task, per query and per N queries, against two baselines.

* ``serial_a100``: the serial program on one A100 machine -- the cheapest A100 pool whose memory holds
  every model the program uses at once (as a ViperGPT process does), one call after another.
* ``a100_nodes``: the same parallel plan with every GPU task on identical A100 nodes (the cheapest A100
  pool that fits each operator).
* ``chosen``: the plan as placed (the A4000/A6000/A100 mix the catalogue gives).

Dollars are busy-time dollars: the seconds each unit holds a GPU, at its pool's price (what an
autoscaled, well-packed pool bills; ``dicec simulate`` gives the whole-cluster figure with idle time).
In services mode the models' load time is paid once per served operator and spread over the N
queries. Image pull is paid once per node, not per query, and is left out here.

The units and their seconds are :func:`dicec.timing.job.build_job`'s, and the pictured schedule of one
query is :mod:`dicec.timing.schedule`'s, the same the simulator runs.
"""

from __future__ import annotations

from typing import Any

from dicec.errors import DicecError
from dicec.timing.figures import price_per_s
from dicec.timing.job import Job, build_job, calls, fused_groups, serial_seconds
from dicec.timing.model import SOURCES, TimingModel

REPORT_VERSION = 1
REPORT_KIND = "dicec/cost-report"
DICE_C = {"vs_serial_a100": 0.72, "a100_nodes_vs_serial": 0.32}


def a100_catalogue(catalogue):
    """The catalogue's A100 pools (and CPU pools), for the baselines."""
    from dicec.placement.pools import PoolCatalogue

    pools = tuple(p for p in catalogue.pools if p.gpu_class in (None, "A100"))
    if not any(p.has_gpu for p in pools):
        raise DicecError(f"{catalogue.path}: the catalogue has no A100 pool, which the baselines need")
    return PoolCatalogue(pools=pools, path=f"{catalogue.path} (A100 pools)")


def serial_pool(graph, registry, catalogue, *, spot: bool = False):
    """The cheapest A100 pool that holds all the program's models at once (else the largest A100)."""
    ops = {op for op, _ in calls(graph, 1)}
    specs = [registry.get(op) for op in ops]
    need = sum(s.profile.gpu_memory_gb for s in specs)
    a100 = [p for p in a100_catalogue(catalogue).pools if p.has_gpu]
    fitting = [p for p in a100 if p.gpu_memory_gb >= need]
    if fitting:
        return min(fitting, key=lambda p: p.hourly(spot=spot) or 0.0)
    biggest = max(a100, key=lambda p: p.gpu_memory_gb)
    for s in specs:
        if s.profile.gpu_memory_gb > biggest.gpu_memory_gb:
            raise DicecError(f"operator {s.name!r} needs {s.profile.gpu_memory_gb:g} GB, more than any A100 pool "
                             f"({biggest.gpu_memory_gb:g} GB) for the serial baseline")
    return biggest


def per_query_usd(job: Job, queries: int, *, spot: bool = False) -> float:
    """Busy-time dollars of one query, with services' model loads spread over ``queries``."""
    usd = job.busy_usd
    for pool_name, ops in job.services.items():
        rate = price_per_s(job.pools[pool_name], spot=spot)
        usd += sum(job.service_load_s[op] for op in ops) * rate / queries
    return usd


def serial_usd(graph, registry, pool, model: TimingModel, mode: str, queries: int, *, spot: bool = False) -> float:
    """The serial baseline's dollars per query on ``pool``."""
    seconds = serial_seconds(graph, registry, pool, model, mode)
    rate = price_per_s(pool, spot=spot)
    if mode == "pods":
        return seconds * rate
    loads = sum(registry.get(op).profile.model_load_s for op in {op for op, _ in calls(graph, 1)}
                if registry.get(op).uses_gpu)
    return seconds * rate + loads * rate / queries


def cost_report(placed, registry, catalogue, *, model: TimingModel = TimingModel(), mode: str = "pods",
                queries: int = 1000, spot: bool = False, fuse: bool = True, nodes_per_pool: int = 1,
                name: str = "") -> dict[str, Any]:
    """The full report as a JSON-ready dict (see the module docstring)."""
    from dicec.placement import place
    from dicec.timing.schedule import make_cluster, simulate

    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
        raise DicecError(f"--queries must be a whole number >= 1 (got {queries!r})")
    graph = placed.graph
    chosen = build_job(placed, registry, model, mode=mode, fuse=fuse, spot=spot, name=name)
    a100_placed = place(graph, registry, a100_catalogue(catalogue), mode=mode, spot=spot, fuse=fuse)
    a100 = build_job(a100_placed, registry, model, mode=mode, fuse=fuse, spot=spot, name=name)
    spool = serial_pool(graph, registry, catalogue, spot=spot)
    baselines = {
        "serial_a100": serial_usd(graph, registry, spool, model, mode, queries, spot=spot),
        "a100_nodes": per_query_usd(a100, queries, spot=spot),
        "chosen": per_query_usd(chosen, queries, spot=spot),
    }
    savings = {
        "vs_serial_a100": _saving(baselines["chosen"], baselines["serial_a100"]),
        "vs_a100_nodes": _saving(baselines["chosen"], baselines["a100_nodes"]),
        "a100_nodes_vs_serial": _saving(baselines["a100_nodes"], baselines["serial_a100"]),
    }
    cluster = make_cluster([chosen], {p: nodes_per_pool for p in chosen.pools if chosen.pools[p].has_gpu},
                           model, spot=spot)
    sim = simulate([chosen], cluster, batch=1, model=model, record=True)
    return {
        "version": REPORT_VERSION, "kind": REPORT_KIND, "input": name or graph.path, "question": graph.question,
        "mode": mode, "queries": queries, "spot": spot, "fuse": fuse,
        "fused_groups": [list(g) for g in fused_groups(placed, registry, model, None, mode=mode, fuse=fuse)],
        "timing_model": model.to_json(), "sources": dict(SOURCES),
        "tasks": _task_rows(chosen, spot),
        "per_query_usd": round(baselines["chosen"], 8),
        "per_n_queries_usd": round(baselines["chosen"] * queries, 6),
        "baselines": {k: round(v, 8) for k, v in baselines.items()},
        "baseline_pools": {"serial_a100": spool.name,
                           "a100_nodes": sorted({p.pool for p in a100_placed.placements.values()}),
                           "chosen": sorted({p.pool for p in placed.placements.values()})},
        "savings": {k: round(v, 6) for k, v in savings.items()},
        "dice_c": dict(DICE_C),
        "schedule": {"nodes": [n.name for n in cluster.nodes], "makespan_s": round(sim.makespan_s, 6),
                     "serial_s": round(serial_seconds(graph, registry, spool, model, mode)
                                       + (model.image_pull_s if mode == "pods" else 0.0), 6),
                     "pull_s": round(model.image_pull_s if mode == "pods" else 0.0, 6),
                     "serial_pool": spool.name,
                     "intervals": [{"node": iv.node, "start": round(iv.start, 6), "end": round(iv.end, 6),
                                    "unit": iv.unit, "pull_s": round(iv.pull, 6)} for iv in sim.intervals]},
    }


def _saving(cost: float, baseline: float) -> float:
    return 1.0 - cost / baseline if baseline > 0 else 0.0


def _task_rows(job: Job, spot: bool) -> list[dict[str, Any]]:
    """One row per pod kind: a task (fan-out elements summed) or a fused group, in graph order."""
    rows: dict[str, dict[str, Any]] = {}
    for u in job.units:
        base = u.name.split("[", 1)[0]
        row = rows.setdefault(base, {"task": base, "tasks": list(u.tasks), "operators": list(dict.fromkeys(u.operators)),
                                     "pool": u.pool or "cpu", "elements": 0, "seconds_each": round(u.cpu_s + u.gpu_s, 6),
                                     "gpu_seconds": 0.0, "usd": 0.0})
        row["elements"] += 1
        row["gpu_seconds"] = round(row["gpu_seconds"] + u.gpu_s, 6)
        row["usd"] = round(row["usd"] + u.usd, 10)
    return list(rows.values())
