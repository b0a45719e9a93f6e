"""Pricing a pods-mode batch workflow at a stated load, against the same baselines as a query's plan.

A batch workflow (``dicec compile --batch``, read back as :class:`dicec.plans.BatchWorkflow`) answers
every one of its ``K`` questions for every image, in shards of stage pods that load each model once
(:mod:`dicec.timing.batch`). At ``load_qph`` queries per hour it runs once per ``batch_window_s`` over
the queries of that window -- ``ceil(load x window / K)`` images, in runs of at most its ``--max-batch`` --
and a run is billed per pod-second (start-up, an image pull per node the run brings up, model loads,
calls; the answer pods as CPU pods), over the run's queries: ``chosen``, the figure the compile summary
and the workflow's cost label carry at the default load. Against it, as for one query's plan
(:mod:`dicec.cost.report`):

* ``serial_a100``: the questions' serial programs in warm processes on the cheapest A100 pool whose memory
  holds every model file of them together, as many machines as the load needs (a query: one image's
  answer to one question, the mean over the questions);
* ``a100_nodes``: the same questions planned again as a batch on identical A100 nodes (the catalogue's
  A100 pools; the workflow's shards), priced the same way;
* ``bound``: the questions' zero-idle bound, their mean, a call paying its share of the part a batch of
  ``stage_batch_calls`` calls pays once (a decoder's weight reads).

The report has the keys of :func:`dicec.cost.report.cost_report` (so the Markdown and HTML reports render
it), a ``batch`` section (questions, shards, the stage pods, images and queries per run), per-pod rows
instead of per-task ones, and the schedule of one run at the stated load.
"""

from __future__ import annotations

from typing import Any

from dicec.cost.report import (REPORT_KIND, REPORT_VERSION, WHAT, a100_catalogue, bill_fields, load_curve,
                               schedule_of, serial_pool_for, task_rows)
from dicec.timing.batch import bill_at_load, run_nodes
from dicec.timing.bill import DEFAULT_LOAD_QPH, bound_usd, check_load, serial_fleet_bill
from dicec.timing.job import serial_seconds
from dicec.timing.model import SOURCES, TimingModel


def batch_cost_report(workflow, registry, catalogue, *, model: TimingModel = TimingModel(),
                      load_qph: float = DEFAULT_LOAD_QPH, spot: bool = False, nodes_per_pool: int = 1, name: str = "",
                      curve: bool = True) -> dict[str, Any]:
    """The report of the batch workflow ``workflow`` (a :class:`dicec.plans.BatchWorkflow`) as a JSON-ready dict."""
    from dicec.placement import place
    from dicec.placement.stages import plan_batch

    load_qph = check_load(load_qph)
    plan, placed = workflow.plan, list(workflow.placed)
    questions = len(plan.queries)
    pools = {p.name: p for p in catalogue.pools}
    cpu = catalogue.cpu_pool()
    graphs = [p.graph for p in placed]
    a100 = a100_catalogue(catalogue)
    a100_placed = [place(g, registry, a100, mode="pods", spot=spot, fuse=False) for g in graphs]
    a100_plan = plan_batch(a100_placed, registry, shards=plan.shards, max_images=workflow.max_images)
    spool = serial_pool_for(graphs, registry, catalogue, spot=spot)
    warm = sum(serial_seconds(g, registry, spool, model) for g in graphs) / questions
    cold = sum(serial_seconds(g, registry, spool, model, cold=True) for g in graphs) / questions
    bound = sum(bound_usd(g, registry, catalogue.pools, model, cpu_pool=cpu, spot=spot,
                          batch_calls=model.stage_batch_calls) for g in graphs) / questions
    limits = {"cpu_pool": cpu, "spot": spot, "max_images": workflow.max_images, "parallelism": workflow.parallelism}

    def price(load: float) -> dict[str, float]:
        return {"chosen": bill_at_load(plan, placed, registry, pools, model, load, **limits)[0].per_query_usd,
                "serial_a100": serial_fleet_bill(warm, load, spool, model, spot=spot).per_query_usd,
                "a100_nodes": bill_at_load(a100_plan, a100_placed, registry, pools, model, load, **limits)[0]
                .per_query_usd,
                "bound": bound}

    bill, run = bill_at_load(plan, placed, registry, pools, model, load_qph, **limits)
    a100_bill, _ = bill_at_load(a100_plan, a100_placed, registry, pools, model, load_qph, **limits)
    fleet = serial_fleet_bill(warm, load_qph, spool, model, spot=spot)
    here = price(load_qph)
    report: dict[str, Any] = {
        "version": REPORT_VERSION, "kind": REPORT_KIND, "input": name or workflow.path,
        "question": graphs[0].question if questions == 1 else None,
        "mode": "pods", "load_qph": load_qph, "spot": spot, "fuse": False, "what": WHAT, "fused_groups": [],
        "timing_model": model.to_json(), "sources": dict(SOURCES),
        "batch": {"questions": questions, "shards": plan.shards, "parallelism": workflow.parallelism,
                  "max_images": workflow.max_images, "window_s": model.batch_window_s,
                  "images_per_run": run.queries // questions, "queries_per_run": run.queries,
                  "nodes_per_run": run_nodes(plan, pools, parallelism=workflow.parallelism),
                  "pods": [{"name": s.name, "pool": s.pool, "tasks": len(s.tasks),
                            "models": [m.key for m in s.models], "load_s": s.load_s} for s in plan.stages]
                  + [{"name": plan.answer.name, "pool": plan.answer.pool, "tasks": 0,
                      "models": list(plan.answer.operators), "load_s": 0.0}]},
        "tasks": task_rows(run),
        **bill_fields(bill, here, fleet=fleet, a100_bill=a100_bill, serial_pool=spool,
                      a100_pools={s.pool for s in a100_plan.stages}, chosen_pools={s.pool for s in plan.stages},
                      bound=bound, warm=warm, cold=cold, spot=spot),
        "schedule": schedule_of(run, model, nodes_per_pool, spot, spool.name, run.queries * warm),
    }
    if curve:
        report["curve"] = load_curve(price, load_qph)
    return report

