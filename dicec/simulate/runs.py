"""Simulating inputs on several cluster sizes: what ``dicec simulate`` and the benchmarks report.

:func:`scaling_runs` builds each input's job once per cluster kind and simulates the mixed batch on
each node count; several inputs also get their own figures. The cluster is N nodes of one pool
(default: the cheapest A100 pool that fits every operator, as DiCE's measurements used identical
nodes), or with ``pool="placed"`` N nodes of each pool the placement chose; on one pool, the fused
groups are chosen again there by placement's rule (:func:`dicec.placement.fusion.decide`), under the
same latency bound and prices (``--max-latency``, ``--spot``) the placement was given. Jobs are
:mod:`dicec.timing.job`'s and run on :mod:`dicec.timing.schedule`'s engine. Every run carries the
serial program in one warm process on one node (``serial_s``, what the speed-up is over), the old cold
per-query figure (``serial_cold_s``, labelled) and the lower bound ``bound_s``.

A pods-mode batch workflow (:func:`batch_runs`, :class:`dicec.plans.BatchWorkflow`) is one workflow of
shards of stage pods (:mod:`dicec.timing.batch`): a batch of ``N`` queries is ``ceil(N / K)`` images,
every image asked all ``K`` of its questions (so ``K x images`` queries, at least ``N``). On one pool
the plan is made again there (:func:`dicec.placement.stages.plan_batch`, the workflow's shards), as
compiling the questions on a catalogue of that pool would; with ``pool="placed"`` it runs as compiled,
on N nodes of each pool its stage pods use.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from dicec.errors import DicecError
from dicec.placement.fusion import decide
from dicec.timing.figures import fits
from dicec.timing.job import Job, build_job
from dicec.timing.model import TimingModel

PLACED = "placed"


def default_pool(placed_graphs: list, registry, catalogue):
    """The cheapest A100 pool (on-demand price) every GPU operator of the inputs fits."""
    specs = {t.operator: registry.get(t.operator) for p in placed_graphs for t in p.graph.tasks}
    a100 = sorted((p for p in catalogue.pools if p.gpu_class == "A100"), key=lambda p: p.usd_per_hour or 0.0)
    for pool in a100:
        if all(fits(s, pool) for s in specs.values()):
            return pool
    raise DicecError(f"{catalogue.path}: no A100 pool fits every operator of the input; name one with --pool "
                     "or use --pool placed")


def parse_nodes(text: str) -> list[int]:
    """``2,4,8`` -> [2, 4, 8]; one-line error for anything else."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise DicecError(f"--nodes expects whole numbers separated by commas, e.g. 2,4,8 (got {text!r})") from None
    if not counts:
        raise DicecError("--nodes is empty: give at least one node count, e.g. --nodes 2,4,8")
    bad = [c for c in counts if c < 1]
    if bad:
        raise DicecError(f"the cluster is empty: --nodes {bad[0]} (each node count must be at least 1)")
    return counts


def jobs_for(placed_graphs: list, names: list[str], registry, catalogue, model: TimingModel, *, pool: str | None,
             mode: str, spot: bool, fuse: bool, max_latency_s: float | None = None,
             http: bool = True) -> tuple[list[Job], Any]:
    """Each input's job on the cluster kind asked for, and the pool (``None`` for ``placed``); on one pool
    the fused groups are decided again there with the same ``max_latency_s`` and ``spot`` prices.
    ``http=False``: services mode's calls as container steps (see :func:`dicec.timing.job.build_job`)."""
    if pool == PLACED:
        chosen = None
    else:
        chosen = catalogue.get(pool) if pool else default_pool(placed_graphs, registry, catalogue)
        if not chosen.has_gpu:
            raise DicecError(f"pool {chosen.name!r} has no GPU; simulate needs GPU nodes")
    rule = partial(decide, max_latency_s=max_latency_s, spot=spot)
    jobs = [build_job(p, registry, model, mode=mode, override=chosen, fuse=fuse, decide=rule, spot=spot, name=n,
                      serial_pool=chosen or _serial_pool(placed_graphs, registry, catalogue), http=http)
            for p, n in zip(placed_graphs, names)]
    return jobs, chosen


def _serial_pool(placed_graphs: list, registry, catalogue):
    """The pool the serial figures are for: one A100 node (the cheapest that fits every operator), as
    the default cluster; a catalogue without one falls back to the plan's largest pool."""
    try:
        return default_pool(placed_graphs, registry, catalogue)
    except DicecError:
        return None


def nodes_per_pool(jobs: list[Job], chosen, count: int) -> dict[str, int]:
    if chosen is not None:
        return {chosen.name: count}
    return {name: count for job in jobs for name, p in job.pools.items() if p.has_gpu}


def run_once(jobs: list[Job], chosen, count: int, model: TimingModel, *, batch: int, spot: bool, record: bool = False):
    from dicec.timing.schedule import make_cluster, simulate

    cluster = make_cluster(jobs, nodes_per_pool(jobs, chosen, count), model, spot=spot)
    return simulate(jobs, cluster, batch=batch, model=model, record=record)


def scaling_runs(placed_graphs: list, names: list[str], registry, catalogue, model: TimingModel, *,
                 nodes: list[int], pool: str | None = None, batch: int = 1, mode: str = "pods",
                 spot: bool = False, fuse: bool = True, max_latency_s: float | None = None) -> dict[str, Any]:
    """The ``dicec simulate --format json`` body (``runs``: one object per node count)."""
    jobs, chosen = jobs_for(placed_graphs, names, registry, catalogue, model, pool=pool, mode=mode, spot=spot,
                            fuse=fuse, max_latency_s=max_latency_s)
    runs = [_row(count, run_once(jobs, chosen, count, model, batch=batch, spot=spot)) for count in nodes]
    body: dict[str, Any] = {
        "version": 1, "kind": "dicec/simulation", "inputs": names, "mode": mode, "batch": batch,
        "pool": chosen.name if chosen else PLACED, "spot": spot, "fuse": fuse, "timing_model": model.to_json(),
        "runs": runs,
    }
    if len(jobs) > 1:
        body["each"] = {job.name: [_row(count, run_once([job], chosen, count, model, batch=batch, spot=spot))
                                   for count in nodes] for job in jobs}
    return body


def _row(count: int, result) -> dict[str, Any]:
    row = result.to_json()
    row["cluster_nodes"] = row.pop("nodes")
    row["nodes"] = count
    return row


def batch_runs(workflow, registry, catalogue, model: TimingModel, *, nodes: list[int], pool: str | None = None,
               batch: int = 1, spot: bool = False) -> dict[str, Any]:
    """The ``dicec simulate --format json`` body for a pods-mode batch workflow (see the module docstring)."""
    from dicec.placement import place
    from dicec.placement.pools import PoolCatalogue
    from dicec.placement.stages import plan_batch
    from dicec.timing.batch import build_batch_job, images_for

    plan, placed = workflow.plan, list(workflow.placed)
    if pool == PLACED:
        chosen = None
    else:
        chosen = catalogue.get(pool) if pool else default_pool(placed, registry, catalogue)
        if not chosen.has_gpu:
            raise DicecError(f"pool {chosen.name!r} has no GPU; simulate needs GPU nodes")
        one = PoolCatalogue(pools=(chosen, *(p for p in catalogue.pools if not p.has_gpu and not p.edge)),
                            path=f"{catalogue.path} ({chosen.name} only)")
        placed = [place(p.graph, registry, one, mode="pods", spot=spot, fuse=False) for p in placed]
        plan = plan_batch(placed, registry, shards=plan.shards, max_images=workflow.max_images)
    images = images_for(batch, len(plan.queries))
    pools = {p.name: p for p in catalogue.pools}
    job = build_batch_job(plan, placed, registry, pools, model, images=images, spot=spot,
                          serial_pool=chosen or _serial_pool(placed, registry, catalogue),
                          parallelism=workflow.parallelism, name=workflow.path)
    runs = [_row(count, run_once([job], chosen, count, model, batch=1, spot=spot)) for count in nodes]
    return {"version": 1, "kind": "dicec/simulation", "inputs": [workflow.path], "mode": "pods", "batch": batch,
            "pool": chosen.name if chosen else PLACED, "spot": spot, "fuse": False, "timing_model": model.to_json(),
            "stages": {"questions": len(plan.queries), "images": images, "queries": job.queries, "shards": plan.shards,
                       "parallelism": workflow.parallelism, "pods": [s.name for s in plan.stages] + [plan.answer.name],
                       "pools": [s.pool for s in plan.stages] + [plan.answer.pool]},
            "runs": runs}
