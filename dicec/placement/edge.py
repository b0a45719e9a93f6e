"""Edge-cloud placement: light operators on an edge device, the rest offloaded to the cloud.

An *edge pool* (``edge: true`` in the catalogue, e.g. a Jetson on a surface vessel) has no hourly
price, a small GPU memory and an uplink to the cloud in Mbit/s. It is one device holding its models
resident, so it is never chosen as a "cheapest fit": :func:`place_on_edge` moves tasks there after
the cloud placement, in graph order, when

* the operator gives a latency for the edge pool's GPU class (an operator nobody measured or derived
  for the device does not run there) and its memory fits;
* the distinct models already placed on the edge plus this one fit its GPU memory together;
* every task it depends on is on the edge too: the frame is on the device, and a task that needs a
  cloud result would only add a round trip.

Everything else stays on the cloud pools the normal placement chose. The final ``answer`` step runs
on the vessel when the catalogue has an edge CPU pool (``edge: true, gpu_class: null``, the same
device's CPU), since that is where the answer is needed; otherwise on the cloud CPU pool.

*Offloading*: a cloud task whose receiver is an element of an edge task's patch list (a fan-out over
an edge detection, or ``patches[i]``) needs only that crop and only when the edge found something.
:func:`offload_guards` names these tasks and their edge producer; emission guards each with an Argo
``when`` that the producer's value is not the empty list (:mod:`dicec.emit.offload`). Skipping such a
task cannot change the answer: with an empty patch list the serial program cannot make that call (a
fan-out iterates nothing; ``patches[i]`` raises before any call), and the final step answers any
call without a record on demand anyway. Tasks that read the whole frame, or only take an edge
value as an argument, are not guarded: the program may need them whatever the edge found.

*Crops, not frames* (:func:`crop_feeds`): an offloaded task whose operator needs only its patch
(the spec's ``reads: patch``) and whose arguments hold no patch of another detection is sent the
crops of its edge detection instead of the frame: the edge step writes them (``--crops-out``), Argo
passes them as an artifact, the cloud step reads them (``--crops``; :mod:`dicec.runtime.crops`).
In pods mode a fused cloud group is fed crops only when all its tasks are fed from the same detection
(one step has one input). A guarded task that needs the frame (``reads: frame``) still gets its guard
and reads the frame.
"""

from __future__ import annotations

from dicec.errors import DicecError


def edge_pools(catalogue):
    """The catalogue's edge GPU pool and edge CPU pool (each ``None`` when absent); at most one of each."""
    gpu = [p for p in catalogue.pools if p.edge and p.has_gpu]
    cpu = [p for p in catalogue.pools if p.edge and not p.has_gpu]
    if len(gpu) > 1 or len(cpu) > 1:
        raise DicecError(f"{catalogue.path}: at most one edge GPU pool and one edge CPU pool are supported "
                         f"(edge pools: {', '.join(p.name for p in gpu + cpu)})")
    return (gpu[0] if gpu else None), (cpu[0] if cpu else None)


def runs_on_edge(spec, pool) -> bool:
    """Whether ``spec`` can run on the edge GPU pool at all (a latency for its class, memory that fits)."""
    return (spec.uses_gpu and pool.gpu_class in spec.profile.latency_s
            and spec.profile.gpu_memory_gb <= pool.gpu_memory_gb)


def place_on_edge(graph, registry, catalogue, placements: dict, answer, answer_pool, *, mode: str,
                  max_latency_s: float | None = None):
    """``(placements, answer, answer_pool)`` with the edge's share moved there (see the module docstring)."""
    from dicec.placement.place import Placement, _seconds

    edge, edge_cpu = edge_pools(catalogue)
    if edge is None and edge_cpu is None:
        return placements, answer, answer_pool
    if max_latency_s is not None:
        raise DicecError("--max-latency is not supported with an edge pool: the edge's share is fixed by the "
                         "device, not chosen for speed")
    placements = dict(placements)
    on_edge: set[str] = set()
    resident: dict[str, float] = {}
    for task in graph.tasks if edge is not None else ():
        spec = registry.get(task.operator)
        if not runs_on_edge(spec, edge) or any(d not in on_edge for d in task.depends):
            continue
        memory = dict(resident, **{spec.name: spec.profile.gpu_memory_gb})
        if sum(memory.values()) > edge.gpu_memory_gb + 1e-9:
            continue
        resident = memory
        on_edge.add(task.id)
        placements[task.id] = Placement(pool=edge.name, gpu_memory_gb=spec.profile.gpu_memory_gb,
                                        seconds=round(_seconds(spec, edge, mode), 6), usd=None,
                                        per_element=task.fanout is not None)
    if edge_cpu is not None and answer.gpu_memory_gb == 0:
        answer = Placement(pool=edge_cpu.name, gpu_memory_gb=0.0, seconds=0.0, usd=None)
        answer_pool = edge_cpu
    return placements, answer, answer_pool


def offload_guards(placed) -> dict[str, str]:
    """Cloud task id -> the edge task whose (non-empty) patch list it needs (see the module docstring)."""
    graph = placed.graph
    out: dict[str, str] = {}
    for task in graph.tasks:
        if _on_edge(placed, task.id) or task.patch is None or task.patch.task is None:
            continue
        source = task.patch.task
        if not _on_edge(placed, source) or graph.task(source).fanout is not None:
            continue  # an edge fan-out's value is a list of lists; an unrun one leaves no value to test
        if task.patch.kind == "each" or (task.patch.kind == "item" and task.patch.index is not None):
            out[task.id] = source
    return out


def _on_edge(placed, task_id: str) -> bool:
    return placed.pools[placed.placements[task_id].pool].edge


def crop_feeds(placed, registry) -> dict[str, str]:
    """Offloaded cloud task -> the edge task whose crops it is sent instead of the frame (module docstring)."""
    graph = placed.graph
    out: dict[str, str] = {}
    for tid, source in offload_guards(placed).items():
        task = graph.task(tid)
        if registry.get(task.operator).reads != "patch":
            continue
        if any(ref != source and _patch_result(graph, registry, ref) for ref in _arg_refs(task.args)):
            continue  # a patch of another detection as an argument: its pixels are not in these crops
        out[tid] = source
    for group in placed.fusion:
        if len({out.get(t) for t in group.tasks}) != 1:  # one step, one input: all fed from one detection or none
            for t in group.tasks:
                out.pop(t, None)
    return out


def crop_selection(graph, feeds: dict[str, str]) -> dict[str, tuple[int, ...] | None]:
    """Edge task -> which of its boxes its crop-fed consumers (``feeds``) need: ``None`` for all of them (a
    consumer fans out over the detection), else the ``patches[i]`` indices they use, sorted. What the
    edge step sends (``--crops-indices``, :mod:`dicec.emit.offload`) and what the cost model counts
    (:mod:`dicec.cost.edge`)."""
    wanted: dict[str, set | None] = {}
    for tid, source in sorted(feeds.items()):
        patch = graph.task(tid).patch
        if patch.kind == "each" or wanted.get(source, set()) is None:
            wanted[source] = None
        else:
            wanted.setdefault(source, set()).add(patch.index)
    return {s: None if w is None else tuple(sorted(w)) for s, w in sorted(wanted.items())}


def check_crop_feeds(placed, crops: dict) -> None:
    """Refuse a ``crops`` map (a hand-edited placed graph) that emission could not honour: every fed task
    must be offloaded from that edge task (so its ``when`` skips it when the edge sent nothing), and a
    fused group is fed all from one detection or not at all. Raises ValueError (the caller's message)."""
    guards = offload_guards(placed)
    for task, source in sorted(crops.items()):
        if guards.get(task) != source:
            raise ValueError(f"crops: task {task!r} is not offloaded from edge task {source!r}")
    for group in placed.fusion:
        if len({crops.get(t) for t in group.tasks}) != 1:
            raise ValueError(f"crops: fused group {group.name!r} mixes tasks fed crops with others")


def _arg_refs(args) -> set[str]:
    from dicec.analysis.graph import Format, Ref

    refs = set()
    for a in args:
        if isinstance(a, Ref):
            refs.add(a.task)
        elif isinstance(a, Format):
            refs.update(p.task for p in a.parts if isinstance(p, Ref))
    return refs


def _patch_result(graph, registry, task_id: str) -> bool:
    task = graph.task(task_id)
    form = registry.get(task.operator).form(task.form)
    return form is not None and form.result in ("patches", "patch")
