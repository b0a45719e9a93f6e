"""Pricing a plan at a stated load, against the baselines a user would run and the zero-idle bound.

The load is queries per hour (:data:`dicec.timing.bill.DEFAULT_LOAD_QPH` unless stated). Every figure
is a day's bill at that load divided by the day's queries (:mod:`dicec.timing.bill`): what a cloud
bill would show, CPU pods included.

* ``chosen``: the plan as placed (the pools the catalogue gives). Services mode: always-on model
  servers with replicas sized to the load and the latency target, billed busy or idle; the answer
  service and Argo's agent. Pods mode: every pod's seconds (start-up, model loads, calls), a daily
  image pull per node, the answer step's CPU pod.
* ``serial_a100``: the serial program as a ViperGPT user runs it -- one warm process per machine with
  every model loaded once, on the cheapest A100 pool whose memory holds the program's model files
  together, as many machines as the load needs (idle hours included).
* ``a100_nodes``: the same plan (same mode) placed on identical A100 nodes, priced the same way.
* ``bound``: every call's warm seconds at the cheapest fitting price and the program's own CPU work,
  with no idle, no start-up and no load: no plan can cost less.

Savings are of ``chosen`` against the first two; ``plan_over_bound`` says how far the plan is from the
bound. ``curve`` prices the four over a range of loads, with the loads where the plan starts or stops
saving against the warm serial fleet (``crossovers_qph``). The report also pictures one query's
schedule (:mod:`dicec.timing.schedule`, the simulator's engine) and lists the old cold serial figure
(a pod per query that loads every model), labelled.
"""

from __future__ import annotations

import math
from typing import Any

from dicec.errors import DicecError
from dicec.timing.bill import DEFAULT_LOAD_QPH, bound_usd, check_load, job_bill, serial_fleet_bill
from dicec.timing.figures import model_memory
from dicec.timing.job import Job, build_job, calls, fused_groups, serial_seconds
from dicec.timing.model import SOURCES, TimingModel

REPORT_VERSION = 2
REPORT_KIND = "dicec/cost-report"
DICE_C = {"vs_serial_a100": 0.72, "a100_nodes_vs_serial": 0.32}
#: The loads (queries per hour) the curve prices, besides the stated one: 10 to 100,000, 8 per decade.
CURVE_LOADS = tuple(round(10 ** (1 + i / 8), 2) for i in range(33))
#: What the headline figure counts, in one line (the compile summary says the same).
WHAT = ("a day's bill at the stated load divided by its queries: every pod and always-on server at its pool's "
        "price, busy or idle, CPU pods, the answer service and Argo's agent included")


def a100_catalogue(catalogue):
    """The catalogue's A100 pools (and CPU pools), for the baselines."""
    from dicec.placement.pools import PoolCatalogue

    pools = tuple(p for p in catalogue.pools if p.gpu_class in (None, "A100"))
    if not any(p.has_gpu for p in pools):
        raise DicecError(f"{catalogue.path}: the catalogue has no A100 pool, which the baselines need")
    return PoolCatalogue(pools=pools, path=f"{catalogue.path} (A100 pools)")


def serial_pool(graph, registry, catalogue, *, spot: bool = False):
    """The cheapest A100 pool whose memory holds all the program's model files at once (a model file
    shared by several operators counted once), else the largest A100."""
    return serial_pool_for([graph], registry, catalogue, spot=spot)


def serial_pool_for(graphs, registry, catalogue, *, spot: bool = False):
    """:func:`serial_pool` of one warm process answering every program of ``graphs`` (a batch's questions)."""
    specs = [registry.get(op) for op in sorted({op for graph in graphs for op, _ in calls(graph, 1)})]
    need = model_memory(specs)
    a100 = [p for p in a100_catalogue(catalogue).pools if p.has_gpu]
    fitting = [p for p in a100 if p.gpu_memory_gb >= need - 1e-9]
    if fitting:
        return min(fitting, key=lambda p: (p.hourly(spot=spot) or 0.0, -p.gpu_memory_gb, p.name))
    biggest = max(a100, key=lambda p: (p.gpu_memory_gb, p.name))
    for s in specs:
        if s.profile.gpu_memory_gb > biggest.gpu_memory_gb:
            raise DicecError(f"operator {s.name!r} needs {s.profile.gpu_memory_gb:g} GB, more than any A100 pool "
                             f"({biggest.gpu_memory_gb:g} GB) for the serial baseline")
    return biggest


def cost_report(placed, registry, catalogue, *, model: TimingModel = TimingModel(), mode: str = "pods",
                load_qph: float = DEFAULT_LOAD_QPH, spot: bool = False, fuse: bool = True, nodes_per_pool: int = 1,
                name: str = "", curve: bool = True) -> dict[str, Any]:
    """The full report as a JSON-ready dict (see the module docstring)."""
    from dicec.placement import place

    load_qph = check_load(load_qph)
    graph = placed.graph
    cpu = catalogue.cpu_pool()
    chosen = build_job(placed, registry, model, mode=mode, fuse=fuse, spot=spot, name=name, serial=False)
    a100_placed = place(graph, registry, a100_catalogue(catalogue), mode=mode, spot=spot, fuse=fuse)
    a100 = build_job(a100_placed, registry, model, mode=mode, fuse=fuse, spot=spot, name=name, serial=False)
    spool = serial_pool(graph, registry, catalogue, spot=spot)
    warm = serial_seconds(graph, registry, spool, model)
    cold = serial_seconds(graph, registry, spool, model, cold=True)
    bound = bound_usd(graph, registry, catalogue.pools, model, cpu_pool=cpu, spot=spot)

    def price(load: float) -> dict[str, float]:
        return {"chosen": job_bill(chosen, load, model, cpu_pool=cpu, spot=spot).per_query_usd,
                "serial_a100": serial_fleet_bill(warm, load, spool, model, spot=spot).per_query_usd,
                "a100_nodes": job_bill(a100, load, model, cpu_pool=cpu, spot=spot).per_query_usd,
                "bound": bound}

    bill = job_bill(chosen, load_qph, model, cpu_pool=cpu, spot=spot)
    fleet = serial_fleet_bill(warm, load_qph, spool, model, spot=spot)
    a100_bill = job_bill(a100, load_qph, model, cpu_pool=cpu, spot=spot)
    here = price(load_qph)
    report: dict[str, Any] = {
        "version": REPORT_VERSION, "kind": REPORT_KIND, "input": name or graph.path, "question": graph.question,
        "mode": mode, "load_qph": load_qph, "spot": spot, "fuse": fuse, "what": WHAT,
        "fused_groups": [list(g) for g in fused_groups(placed, registry, model, None, mode=mode, fuse=fuse)],
        "timing_model": model.to_json(), "sources": dict(SOURCES),
        "tasks": task_rows(chosen),
        **bill_fields(bill, here, fleet=fleet, a100_bill=a100_bill, serial_pool=spool,
                      a100_pools={p.pool for p in a100_placed.placements.values()},
                      chosen_pools={p.pool for p in placed.placements.values()}, bound=bound, warm=warm, cold=cold,
                      spot=spot),
        "schedule": schedule_of(chosen, model, nodes_per_pool, spot, spool.name, warm),
    }
    if curve:
        report["curve"] = load_curve(price, load_qph)
    return report


def bill_fields(bill, here: dict[str, float], *, fleet, a100_bill, serial_pool, a100_pools: set[str],
                chosen_pools: set[str], bound: float, warm: float, cold: float, spot: bool) -> dict[str, Any]:
    """The report's keys about the bill at the load, its baselines (the warm serial fleet, A100 nodes, the
    bound) and the savings against them: the same for a query's graph and a batch workflow
    (:mod:`dicec.cost.batch_report`)."""
    return {
        "per_query_usd": round(bill.per_query_usd, 10),
        "gpu_usd_per_query": round(bill.gpu_usd_per_query, 10),
        "cpu_usd_per_query": round(bill.cpu_usd_per_query, 10),
        "usd_per_day": round(bill.usd_per_day, 6),
        "bill": [line.to_json() for line in bill.lines],
        "baselines": {k: round(here[k], 10) for k in ("serial_a100", "a100_nodes", "bound", "chosen")},
        "baseline_bills": {"serial_a100": [line.to_json() for line in fleet.lines],
                           "a100_nodes": [line.to_json() for line in a100_bill.lines]},
        "baseline_pools": {"serial_a100": serial_pool.name, "a100_nodes": sorted(a100_pools),
                           "chosen": sorted(chosen_pools)},
        "savings": {k: round(v, 6) for k, v in savings_of(here).items()},
        "plan_over_bound": round(here["chosen"] / bound, 6) if bound > 0 else None,
        "serial": {"pool": serial_pool.name, "warm_s": round(warm, 6), "cold_s": round(cold, 6),
                   "machines": fleet.lines[0].replicas,
                   "cold_usd_per_query": round(cold * (serial_pool.hourly(spot=spot) or 0.0) / 3600.0, 10)},
        "dice_c": dict(DICE_C),
    }


def _saving(cost: float, baseline: float) -> float:
    return 1.0 - cost / baseline if baseline > 0 else 0.0


def savings_of(here: dict[str, float]) -> dict[str, float]:
    """The plan's saving against the warm serial fleet and identical A100 nodes, and theirs against each other."""
    return {"vs_serial_a100": _saving(here["chosen"], here["serial_a100"]),
            "vs_a100_nodes": _saving(here["chosen"], here["a100_nodes"]),
            "a100_nodes_vs_serial": _saving(here["a100_nodes"], here["serial_a100"])}


def load_curve(price, load_qph: float) -> dict[str, Any]:
    """Dollars per query of the plan and the baselines over :data:`CURVE_LOADS` (and the stated load),
    with the loads where the plan's saving against the warm serial fleet changes sign."""
    loads = sorted(set(CURVE_LOADS) | {load_qph})
    rows = [price(load) for load in loads]
    crossings = []
    for (a, pa), (b, pb) in zip(zip(loads, rows), zip(loads[1:], rows[1:])):
        before, after = pa["chosen"] < pa["serial_a100"], pb["chosen"] < pb["serial_a100"]
        if before != after:
            crossings.append({"load_qph": round(_bisect(price, a, b, before), 2),
                              "plan_saves": "above" if after else "below"})
    return {"loads_qph": loads,
            **{k: [round(r[k], 10) for r in rows] for k in ("chosen", "serial_a100", "a100_nodes", "bound")},
            "crossovers_qph": crossings}


def _bisect(price, low: float, high: float, saves_low: bool) -> float:
    """The load between ``low`` and ``high`` (log scale) where the plan's saving changes sign, to 0.5%."""
    for _ in range(40):
        if high / low < 1.005:
            break
        mid = math.sqrt(low * high)
        p = price(mid)
        if (p["chosen"] < p["serial_a100"]) == saves_low:
            low = mid
        else:
            high = mid
    return high


def schedule_of(job: Job, model: TimingModel, nodes_per_pool: int, spot: bool, serial_pool: str,
                warm_s: float) -> dict[str, Any]:
    """One run's schedule (a query's, or a batch workflow's) on ``nodes_per_pool`` nodes of each pool it uses
    (at least one per server set)."""
    from dicec.timing.schedule import make_cluster, server_sets, simulate

    counts = {}
    for name, pool in job.pools.items():
        if pool.has_gpu:
            sets = len(server_sets([job], name, pool.gpu_memory_gb)) if job.mode == "services" else 1
            counts[name] = max(nodes_per_pool, sets)
    cluster = make_cluster([job], counts, model, spot=spot)
    sim = simulate([job], cluster, batch=1, model=model, record=True)
    pull = model.image_pull_s if job.mode == "pods" else 0.0
    return {"nodes": [n.name for n in cluster.nodes], "makespan_s": round(sim.makespan_s, 6),
            "serial_s": round(warm_s, 6), "serial_pool": serial_pool, "pull_s": round(pull, 6),
            "agent": job.http, "patch_rate_s": model.agent_patch_rate_s if job.http else None,
            "intervals": [{"node": iv.node, "start": round(iv.start, 6), "end": round(iv.end, 6),
                           "unit": iv.unit, "pull_s": round(iv.pull, 6)} for iv in sim.intervals]}


def task_rows(job: Job) -> list[dict[str, Any]]:
    """One row per pod kind or request: a task (fan-out elements summed) or a fused group, in graph order (a
    batch workflow: a stage pod, its shards summed)."""
    rows: dict[str, dict[str, Any]] = {}
    for u in job.units:
        base = u.name.split("[", 1)[0]
        row = rows.setdefault(base, {"task": base, "tasks": list(u.tasks), "operators": list(dict.fromkeys(u.operators)),
                                     "pool": u.pool or "cpu", "kind": "request" if u.http else "pod", "elements": 0,
                                     "seconds_each": round(u.cpu_s + u.gpu_s, 6), "gpu_seconds": 0.0, "usd": 0.0})
        row["elements"] += u.calls if u.http else 1
        row["gpu_seconds"] = round(row["gpu_seconds"] + u.gpu_s, 6)
        row["usd"] = round(row["usd"] + u.usd, 10)
    return list(rows.values())
