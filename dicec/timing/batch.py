"""A pods-mode batch workflow as units: shards of stage pods, each loading its models once for many images.

``dicec compile --batch`` in pods mode emits a batch as a plan (:class:`dicec.placement.stages.BatchPlan`,
passed in and used by its attributes): the images are cut into ``shards`` contiguous slices, and every
shard runs the same chain of **stage pods**, then an **answer pod**. :func:`build_batch_job` turns a
plan and a batch size into one :class:`~dicec.timing.job.Job` -- one workflow, so one queue of the
controller's reconciles -- that the simulator (:mod:`dicec.timing.schedule`) runs on N nodes and the
bill (:func:`batch_bill`) prices, so both model the shape the workflow really has:

* a stage pod of a shard with ``n`` images holds a node of its pool for ``step_start_s`` (pod start-up and
  Argo's work in the pod), the image pull if it is the first pod on that node, one load of each model its
  calls use (models load lazily: a pod whose slice is empty, or whose fan-outs are all empty, loads
  nothing), and every call of its tasks for those images -- ``n`` per task, ``n x width`` for a fan-out
  (:meth:`~dicec.timing.model.TimingModel.elements`). It takes its slice ``stage_chunk_images`` at a
  time and hands the backend a task's calls of a chunk ``stage_batch_calls`` at a time; a batch pays
  the part of a call that reads model weights once (:func:`~dicec.timing.figures.shared_seconds`,
  a decoder's), as :mod:`dicec.runtime.stage` computes them;
* the stage pods of a shard run one after another (each waits for the records of the one before it),
  each after the controller's reconcile that sees the one before finish (:mod:`dicec.timing.schedule`);
  the shards run side by side on the nodes (``parallelism``: at most that many shards at once, as the
  workflow's ``--parallelism`` caps its shard fan-out; modelled as shard ``i`` waiting for shard
  ``i - parallelism``, which finishes first when the shards are alike);
* the answer pod of a shard runs on the answer's pool -- CPU unless calls no task predicted need a
  GPU -- for ``step_start_s``, the program's own run (``answer_run_s``) for each image and question, and
  the unpredicted calls (each model loaded once per pod); its queries are answered when the controller
  sees it finish.

The serial baseline is each question's program in one warm process for each image
(:func:`~dicec.timing.job.serial_seconds`). **Queries** are (image, question) answers: a batch of ``N``
images over ``K`` questions gives ``N x K``.

**At a stated load** (:func:`bill_at_load`): the workflow runs once per ``batch_window_s`` (an hourly
batch job) over the queries that arrived in it -- ``ceil(load x window / K)`` images, at least one, in
runs of at most ``max_images`` (the workflow's ``--max-batch``: its pods refuse more) -- and a run is
billed per pod-second (:func:`batch_bill`): every stage pod's start-up, loads and calls at its pool's
price, an image pull for each node the run brings up (one per shard a pool runs at once, at most the
pool's ``max_nodes`` and the workflow's parallelism), the answer pods as CPU pods; over the run's
queries. This is the figure ``dicec cost`` prints for a batch workflow, and the one the compile summary
and the workflow's cost label carry (:func:`dicec.placement.stages.plan_batch` records it).

Everything is passed in and used by its attributes (plans, placed graphs, pools, specs, a registry);
this room imports no placement code.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from dicec.errors import DicecError
from dicec.timing.bill import Bill, BillLine, check_load, cpu_and_extra_lines
from dicec.timing.figures import cpu_price_per_s, latency, model_loads, price_per_s, shared_seconds
from dicec.timing.job import Job, Unit, serial_seconds
from dicec.timing.model import TimingModel


def images_for(queries: int, questions: int) -> int:
    """Images a batch of ``queries`` needs when every image is asked all ``questions``: ``ceil(queries / K)``."""
    if queries < 1 or questions < 1:
        raise DicecError(f"a batch needs at least one query and one question (got {queries} and {questions})")
    return math.ceil(queries / questions)


def images_per_run(load_qph: float, questions: int, model: TimingModel, *, max_images: int | None = None) -> int:
    """Images one run takes at ``load_qph`` (see the module docstring): the window's queries over the
    questions, at least one image, at most ``max_images``."""
    load_qph = check_load(load_qph)
    images = max(1, math.ceil(round(load_qph * model.batch_window_s / 3600.0 / questions, 9)))
    return min(images, max_images) if max_images else images


def chunk_seconds(calls: int, each: float, shared: float, per_batch: int) -> float:
    """Seconds of ``calls`` calls of one task computed ``per_batch`` at a time, each batch paying the shared
    part (``shared``, at most ``each``) once."""
    if calls <= 0:
        return 0.0
    shared = min(shared, each)
    batches = math.ceil(calls / per_batch)
    return calls * each - (calls - batches) * shared


def stage_work(stage, images: int, model: TimingModel, shared: Mapping[str, float]) -> dict[str, float]:
    """Warm seconds of ``stage``'s calls for a slice of ``images`` images, by model file (a model with no
    call is absent: it is not loaded). ``shared``: the shared part of one call, by operator."""
    chunks = [model.stage_chunk_images] * (images // model.stage_chunk_images)
    if images % model.stage_chunk_images:
        chunks.append(images % model.stage_chunk_images)
    out: dict[str, float] = {}
    for t in stage.tasks:
        width = model.elements(t.task, t.fanout)
        calls = [chunk * width for chunk in chunks]
        if not sum(calls):
            continue
        seconds = sum(chunk_seconds(c, t.call_s, shared.get(t.operator, 0.0), model.stage_batch_calls) for c in calls)
        out[t.model] = out.get(t.model, 0.0) + seconds
    return out


def build_batch_job(plan, placed: Sequence[Any], registry, pools: Mapping[str, Any], model: TimingModel, *,
                    images: int, spot: bool = False, serial_pool=None, parallelism: int | None = None,
                    name: str = "") -> Job:
    """One run of the batch workflow ``plan`` over ``images`` images (see the module docstring).

    ``placed``: each question's placed graph, in the plan's order (its unpredicted calls, its serial
    program); ``pools``: the pools the plan names, by name (a catalogue's); ``serial_pool``: the pool the
    serial figures are for (``None``: leave them at 0)."""
    if images < 1:
        raise DicecError(f"a batch run needs at least one image (got {images})")
    if len(placed) != len(plan.queries):
        raise ValueError(f"the plan has {len(plan.queries)} questions, {len(placed)} placed graphs were given")
    if parallelism is not None and parallelism < 1:
        raise DicecError(f"--parallelism must be at least 1 (got {parallelism})")
    used = {}
    for pool_name in [*(s.pool for s in plan.stages), plan.answer.pool]:
        if pool_name not in pools:
            raise DicecError(f"the batch plan runs a pod on pool {pool_name!r}, which the pool catalogue does not "
                             "have (give the catalogue the workflow was compiled with, --pools)")
        used[pool_name] = pools[pool_name]
    shared = {s.name: {t.operator: shared_seconds(registry.get(t.operator), used[s.pool])
                       for t in s.tasks if used[s.pool].has_gpu} for s in plan.stages}
    answer_pool = used[plan.answer.pool]
    residual = [registry.get(r.operator) for g in placed for r in g.graph.residual]
    answer_each = len(plan.queries) * model.answer_run_s + sum(latency(s, answer_pool) for s in residual)
    answer_loads = model_loads(residual) if answer_pool.has_gpu else 0.0
    units: list[Unit] = []
    answers: list[tuple[int, int]] = []
    work: dict[tuple[str, str], float] = {}
    loads: dict[str, float] = {}
    ends: list[int] = []
    for shard in range(plan.shards):
        n = len(plan.slice(shard, images))
        previous = ends[shard - parallelism] if parallelism and shard >= parallelism else None
        for stage in plan.stages:
            pool = used[stage.pool]
            gpu = stage.gpu and pool.has_gpu
            by_model = stage_work(stage, n, model, shared[stage.name])
            loading = sum(m.load_s for m in stage.models if m.key in by_model) if gpu else 0.0
            seconds = model.step_start_s + loading + sum(by_model.values())
            if gpu:
                for m in stage.models:
                    if m.key in by_model:
                        work[(pool.name, m.key)] = work.get((pool.name, m.key), 0.0) + by_model[m.key]
                        loads[m.key] = max(loads.get(m.key, 0.0), m.load_s)
            units.append(Unit(
                name=f"{stage.name}[{shard}]", tasks=tuple(f"{plan.queries[t.query].name}/{t.task}" for t in stage.tasks),
                operators=tuple(dict.fromkeys(t.operator for t in stage.tasks)), pool=pool.name if gpu else None,
                cpu_s=0.0 if gpu else seconds, gpu_s=seconds if gpu else 0.0, pull=gpu,
                deps=() if previous is None else (previous,), usd_per_s=price_per_s(pool, spot=spot) if gpu else 0.0,
                cpu_pod_s=0.0 if gpu or pool.edge else seconds))
            previous = len(units) - 1
        cpu_s = model.step_start_s + n * answer_each + (answer_loads if n else 0.0)
        on_gpu = answer_pool.has_gpu and not answer_pool.edge
        units.append(Unit(name=f"{plan.answer.name}[{shard}]", tasks=(), operators=tuple(plan.answer.operators),
                          pool=None, cpu_s=cpu_s, gpu_s=0.0, deps=() if previous is None else (previous,),
                          extra_usd=cpu_s * price_per_s(answer_pool, spot=spot) if on_gpu else 0.0,
                          cpu_pod_s=cpu_s if not answer_pool.has_gpu and not answer_pool.edge else 0.0))
        answers.append((len(units) - 1, n * len(plan.queries)))
        ends.append(len(units) - 1)
    serial = cold = 0.0
    if serial_pool is not None:
        serial = images * sum(serial_seconds(g.graph, registry, serial_pool, model) for g in placed)
        cold = images * sum(serial_seconds(g.graph, registry, serial_pool, model, cold=True) for g in placed)
    return Job(name=name, mode="pods", units=tuple(units), serial_s=serial, serial_cold_s=cold,
               serial_pool=serial_pool.name if serial_pool is not None else "", pools=used, model_work_s=work,
               model_load_s=loads, queries=images * len(plan.queries), answers=tuple(answers))


def run_nodes(plan, pools: Mapping[str, Any], *, parallelism: int | None = None) -> dict[str, int]:
    """The GPU nodes one run brings up on each pool its stage pods use: one per shard running at once, at
    most the pool's ``max_nodes`` and ``parallelism``."""
    out = {}
    for stage in plan.stages:
        pool = pools[stage.pool]
        if stage.gpu and pool.has_gpu and not pool.edge:
            limits = [plan.shards] + [x for x in (pool.max_nodes, parallelism) if x]
            out[pool.name] = min(limits)
    return out


def batch_bill(job: Job, load_qph: float, model: TimingModel, *, nodes: Mapping[str, int], cpu_pool=None,
               spot: bool = False) -> Bill:
    """One run of a batch workflow (``job``, :func:`build_batch_job`) billed per pod-second, over its queries
    (``load_qph`` is the load the run was sized for; ``nodes``: :func:`run_nodes`)."""
    load_qph = check_load(load_qph)
    lines: list[BillLine] = []
    for name in sorted({u.pool for u in job.units if u.pool is not None}):
        pool = job.pools[name]
        if pool.edge:
            continue
        seconds = sum(u.gpu_s for u in job.units if u.pool == name) + nodes.get(name, 1) * model.image_pull_s
        lines.append(BillLine(what="stage pods (start-up, model loads, calls) and an image pull per node per run",
                              pool=name, kind="gpu", replicas=None, busy_s=seconds / job.queries, utilisation=None,
                              usd_per_query=seconds * price_per_s(pool, spot=spot) / job.queries))
    pod = cpu_price_per_s(cpu_pool, model.cpu_pod_vcpu, model.cpu_pod_memory_gib, spot=spot)
    return Bill(load_qph=load_qph, lines=tuple(lines + cpu_and_extra_lines([(job, 1.0 / job.queries)], pod, cpu_pool,
                                                                       http=False)))


def bill_at_load(plan, placed: Sequence[Any], registry, pools: Mapping[str, Any], model: TimingModel,
                 load_qph: float, *, cpu_pool=None, spot: bool = False, max_images: int | None = None,
                 parallelism: int | None = None) -> tuple[Bill, Job]:
    """The bill per query of the batch workflow ``plan`` at ``load_qph`` (see the module docstring), and the
    run it prices."""
    images = images_per_run(load_qph, len(plan.queries), model, max_images=max_images)
    job = build_batch_job(plan, placed, registry, pools, model, images=images, spot=spot, parallelism=parallelism)
    bill = batch_bill(job, load_qph, model, nodes=run_nodes(plan, pools, parallelism=parallelism), cpu_pool=cpu_pool,
                      spot=spot)
    return bill, job
