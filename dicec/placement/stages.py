"""The batch plan: which pods a pods-mode batch runs, each loading its models once for many images.

A batch in pods mode (``dicec compile --batch``) is run *operator-major*: the images are cut into
``shards`` contiguous slices (:func:`dicec.runtime.contract.shard_slice`), and every shard runs the same
**chain of stage pods** over its slice. A stage pod starts once, loads each model it needs once (lazily,
on its first call, so an empty slice loads none) and runs its graph tasks for every image of the slice
-- and for every element where a task fans out over a detection list -- before the next pod of the
chain starts. The last pod of each chain is the **answer pod**, which replays each image's serial
program over the records the stage pods wrote (so the answers are exactly the serial program's).

:func:`plan_batch` turns placed graphs (one per question: several questions over one batch of images
share the stages, so a model loads once per pod for all of them) into a :class:`BatchPlan`:

* tasks are taken in a dependency order that keeps runs on one pool together: a ready task on the
  pool (and container image) of the stage being formed joins it; when none is ready there, the next
  stage goes to the (pool, image) after which the rest of the plan, formed the same way (taking the
  longest run at each later choice), has the fewest stages -- then the longest run, then graph order;
* so a stage boundary exists only where the pool or container image changes, a dependency forces it
  (a task needs a task that runs on another pool in between), or the distinct models of the stage
  would no longer fit the pool's GPU memory together (a pod keeps every model it loaded);
* the answer pod runs on the pool placement chose for the answer step (CPU unless calls no task
  predicted need a GPU; with several questions, the one of them with the most GPU memory).

Fused groups of the placed graph (:mod:`dicec.placement.fusion`, one query's pods) play no part: a stage
pod already runs all its pool's work of a shard in one process.

The plan is data, with a JSON form (``version``, round-trips through :func:`plan_from_json`) that the
emitted workflow carries in its :data:`PLAN_ANNOTATION` annotation (:func:`plan_of_workflow` reads it
back), so ``dicec cost`` and ``dicec simulate`` can model the workflow's real shape: per stage its pool,
the models it loads with their load seconds and GPU memory, and per task its seconds per call on the
pool. Only hashes, operator names, pools and figures are in it -- no question or program text.

Shards default to the largest ``max_nodes`` of the GPU pools the plan uses (so each of those nodes can
work at once), else :data:`DEFAULT_SHARDS`; the batch size is only known at run time, and a shard
whose slice is empty exits at once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from dicec.errors import DicecError
from dicec.runtime.contract import shard_slice
from dicec.timing.figures import latency, model_key, model_memory

BATCH_PLAN_VERSION = 1
BATCH_PLAN_KIND = "dicec/batch-plan"
#: The Workflow annotation holding the plan's JSON (compact, sorted keys).
PLAN_ANNOTATION = "dicec.dev/batch-plan"
#: Shards when no GPU pool the plan uses states ``max_nodes``.
DEFAULT_SHARDS = 8
#: Most shards a plan may have (a workflow fans out over them; Argo's DAGs stay readable well below this).
MAX_SHARDS = 1024
ANSWER_POD = "answer"


@dataclass(frozen=True, kw_only=True)
class StageTask:
    """One graph task a stage pod runs, for every image of its shard.

    Attributes:
        query: the index of its question in :attr:`BatchPlan.queries`.
        task: the task's id in that question's graph.
        operator: the operator it calls.
        model: the model it needs (:func:`dicec.timing.figures.model_key`).
        fanout: the task whose detection list it fans out over (one call per element), or ``None``
            (one call per image).
        level: its depth in its graph: 1 needs only the image, ``n`` needs a task of level ``n - 1``.
        call_s: seconds of one call on the stage's pool (the operator's latency on its GPU class).
    """

    query: int
    task: str
    operator: str
    model: str
    fanout: str | None
    level: int
    call_s: float

    def __post_init__(self) -> None:
        if self.query < 0 or self.level < 1 or self.call_s < 0 or not self.task:
            raise ValueError(f"bad stage task {self.task!r} (query {self.query}, level {self.level})")

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "task": self.task, "operator": self.operator, "model": self.model,
                "fanout": self.fanout, "level": self.level, "call_s": self.call_s}


@dataclass(frozen=True, kw_only=True)
class ModelLoad:
    """A model one stage pod loads (once, on its first call).

    Attributes:
        key: the model (:func:`dicec.timing.figures.model_key`: its file, or ``operator:NAME``).
        operators: the operators of the stage that use it, sorted.
        load_s: seconds to load it into a fresh process (the operator's ``model_load_s``; the largest
            where operators sharing the file state different figures).
        gpu_memory_gb: the GPU memory it keeps (likewise the largest).
    """

    key: str
    operators: tuple[str, ...]
    load_s: float
    gpu_memory_gb: float

    def __post_init__(self) -> None:
        if not self.key or not self.operators or self.load_s < 0 or self.gpu_memory_gb < 0:
            raise ValueError(f"bad model load {self.key!r}")

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "operators": list(self.operators), "load_s": self.load_s,
                "gpu_memory_gb": self.gpu_memory_gb}


@dataclass(frozen=True, kw_only=True)
class StagePod:
    """One pod of a shard's chain: one start-up, each model loaded once, its tasks for the whole slice.

    Attributes:
        name: the step's name (unique in the plan; a DNS label).
        pool: the pool it runs on.
        gpu: whether the pool has a GPU (the pod requests one).
        image: its container image.
        models: the models it loads, in first-use order.
        tasks: the tasks it runs, in a dependency order (each task for every image, and every element
            of a fan-out, before the next task).
        reads: the earlier stage pods whose values its tasks use (it receives the records of every
            earlier pod of the chain through the one before it).
        levels: the graph levels its tasks cover, ascending.
    """

    name: str
    pool: str
    gpu: bool
    image: str
    models: tuple[ModelLoad, ...]
    tasks: tuple[StageTask, ...]
    reads: tuple[str, ...]
    levels: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError(f"stage {self.name!r} runs no task")
        if tuple(sorted(set(self.levels))) != self.levels or set(self.levels) != {t.level for t in self.tasks}:
            raise ValueError(f"stage {self.name!r}: levels {list(self.levels)} are not its tasks' levels")
        if {m.key for m in self.models} != {t.model for t in self.tasks}:
            raise ValueError(f"stage {self.name!r}: its models are not its tasks' models")

    @property
    def gpu_memory_gb(self) -> float:
        """The GPU memory its models keep together."""
        return round(sum(m.gpu_memory_gb for m in self.models), 6)

    @property
    def load_s(self) -> float:
        """Seconds of model loading the pod pays (each model once)."""
        return round(sum(m.load_s for m in self.models), 6)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pool": self.pool, "gpu": self.gpu, "image": self.image,
                "models": [m.to_json() for m in self.models], "tasks": [t.to_json() for t in self.tasks],
                "reads": list(self.reads), "levels": list(self.levels)}


@dataclass(frozen=True, kw_only=True)
class AnswerPod:
    """The last pod of a shard's chain: each image's program replayed over the stage pods' records.

    Attributes:
        name: the step's name.
        pool: the pool it runs on (CPU unless calls no task predicted need a GPU).
        gpu: whether that pool has a GPU.
        operators: operators only this pod calls (the calls the analysis could not predict), sorted;
            their models load on demand, once per pod.
    """

    name: str
    pool: str
    gpu: bool
    operators: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pool": self.pool, "gpu": self.gpu, "operators": list(self.operators)}


@dataclass(frozen=True, kw_only=True)
class Query:
    """One question of the batch (each image is answered for every question).

    Attributes:
        name: ``q1``, ``q2``, ... in the order the questions were given (what ``dicec run`` prints).
        program_sha256: the SHA-256 of its serial program's text.
        tasks: its graph's task count.
    """

    name: str
    program_sha256: str
    tasks: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "program_sha256": self.program_sha256, "tasks": self.tasks}


@dataclass(frozen=True, kw_only=True)
class BatchPlan:
    """The pods of a pods-mode batch workflow: every shard runs ``stages`` then ``answer`` over its slice.

    Attributes:
        shards: how many contiguous slices the images are cut into (shard ``i`` of ``n`` images gets
            :meth:`slice`); the shards run side by side, each its own chain.
        queries: the questions, in order.
        stages: the stage pods every shard runs, in chain order (empty when no question has a task).
        answer: the answer pod ending every chain.
        usd_per_query: what ``dicec cost`` says a query (an image's answer to one question) costs at the
            default load (:func:`dicec.timing.batch.bill_at_load`, the default timing model), worked out
            where the plan was made: the compile summary's figure and the workflow's cost label. Not part of
            the plan's JSON (``None`` for a plan read back).
    """

    shards: int
    queries: tuple[Query, ...]
    stages: tuple[StagePod, ...]
    answer: AnswerPod
    usd_per_query: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.shards, bool) or not isinstance(self.shards, int) or not 1 <= self.shards <= MAX_SHARDS:
            raise DicecError(f"--shards must be a whole number from 1 to {MAX_SHARDS}, not {self.shards!r}")
        if not self.queries:
            raise ValueError("a batch plan needs at least one question")
        names = [s.name for s in self.stages] + [self.answer.name]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names repeat: {names}")
        seen: set[tuple[int, str]] = set()
        for i, stage in enumerate(self.stages):
            earlier = {s.name for s in self.stages[:i]}
            if not set(stage.reads) <= earlier:
                raise ValueError(f"stage {stage.name!r} reads a stage that does not come before it")
            for t in stage.tasks:
                if t.query >= len(self.queries) or (t.query, t.task) in seen:
                    raise ValueError(f"task {t.task!r} of question {t.query} is unknown or planned twice")
                seen.add((t.query, t.task))
        counts = [sum(1 for q, _ in seen if q == i) for i in range(len(self.queries))]
        if counts != [q.tasks for q in self.queries]:
            raise ValueError(f"the stages run {counts} tasks per question, the questions have "
                             f"{[q.tasks for q in self.queries]}")

    @property
    def chain(self) -> tuple[str, ...]:
        """The names of one shard's pods, in order (the answer pod last)."""
        return (*(s.name for s in self.stages), self.answer.name)

    def slice(self, shard: int, images: int) -> range:
        """The image indices shard ``shard`` runs in a batch of ``images`` (contiguous, sizes differ by one at most)."""
        start, stop = shard_slice(shard, self.shards, images)
        return range(start, stop)

    def stage(self, name: str) -> StagePod:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"version": BATCH_PLAN_VERSION, "kind": BATCH_PLAN_KIND, "shards": self.shards,
                "queries": [q.to_json() for q in self.queries], "stages": [s.to_json() for s in self.stages],
                "answer": self.answer.to_json()}

    def dumps(self, *, compact: bool = False) -> str:
        """Deterministic JSON text (sorted keys; indented with a trailing newline, or ``compact``)."""
        if compact:
            return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- planning -------------------------------------------------------------------------------------------
def default_shards(placed: Sequence[Any]) -> int:
    """The largest ``max_nodes`` of the GPU pools the tasks of ``placed`` use, else :data:`DEFAULT_SHARDS`."""
    limits = [pool.max_nodes for g in placed for pool in (g.pools[p.pool] for p in g.placements.values())
              if pool.has_gpu and pool.max_nodes is not None]
    return min(max(limits), MAX_SHARDS) if limits else DEFAULT_SHARDS


def plan_batch(placed: Sequence[Any], registry: Any, *, shards: int | None = None,
               max_images: int | None = None) -> BatchPlan:
    """The :class:`BatchPlan` of ``placed`` (placed graphs, one per question, in order) in ``shards`` slices
    (default: :func:`default_shards`), priced at the default load with runs of at most ``max_images`` images
    (the workflow's ``--max-batch``); see the module docstring for the rule."""
    if not placed:
        raise DicecError("a batch plan needs at least one question")
    for g in placed:
        edge = sorted(name for name, pool in g.pools.items() if getattr(pool, "edge", False))
        if edge:
            raise DicecError(f"{g.graph.path}: pool {edge[0]!r} is an edge device; a batch of stage pods runs in "
                             "the cloud (compile without --batch, or without the edge pool)")
    shards = default_shards(placed) if shards is None else shards
    units = _units(placed, registry)
    stages = _chain(units)
    plan = BatchPlan(shards=shards, queries=tuple(
        Query(name=f"q{i + 1}", program_sha256=hashlib.sha256(g.graph.source.encode("utf-8")).hexdigest(),
              tasks=len(g.graph.tasks)) for i, g in enumerate(placed)),
        stages=stages, answer=_answer_pod(placed))
    return replace(plan, usd_per_query=priced(plan, placed, registry, max_images=max_images))


def priced(plan: BatchPlan, placed: Sequence[Any], registry: Any, *, max_images: int | None = None) -> float:
    """``dicec cost``'s figure for ``plan`` at the default load (see :attr:`BatchPlan.usd_per_query`), on the
    placed graphs' pools (their CPU pool prices the CPU pods)."""
    from dicec.timing.batch import bill_at_load
    from dicec.timing.bill import DEFAULT_LOAD_QPH
    from dicec.timing.model import TimingModel

    pools = {name: pool for g in placed for name, pool in g.pools.items()}
    cpu = next((p for p in pools.values() if not p.has_gpu and not p.edge), None)
    bill, _ = bill_at_load(plan, placed, registry, pools, TimingModel(), DEFAULT_LOAD_QPH, cpu_pool=cpu,
                           max_images=max_images)
    return bill.per_query_usd


@dataclass(frozen=True, kw_only=True)
class _Unit:
    """A task of one question, with what the chain needs to know about it.

    Attributes:
        order: its position over all questions' tasks (question by question, graph order within).
        query: its question's index.
        task: the graph task.
        pool: the pool placement put it on.
        image: its container image.
        spec: its operator's spec.
        level: its depth in its graph.
        depends: the (question, task id) pairs it needs.
    """

    order: int
    query: int
    task: Any
    pool: Any
    image: str
    spec: Any
    level: int
    depends: tuple[tuple[int, str], ...]

    @property
    def key(self) -> tuple[int, str]:
        return (self.query, self.task.id)

    @property
    def where(self) -> tuple[str, str]:
        return (self.pool.name, self.image)


def _units(placed: Sequence[Any], registry: Any) -> list[_Unit]:
    out: list[_Unit] = []
    for q, g in enumerate(placed):
        level: dict[str, int] = {}
        for t in g.graph.tasks:
            level[t.id] = 1 + max((level[d] for d in t.depends), default=0)
            spec = registry.get(t.operator)
            out.append(_Unit(order=len(out), query=q, task=t, pool=g.pools[g.placements[t.id].pool],
                             image=g.images.get(t.operator, spec.image), spec=spec, level=level[t.id],
                             depends=tuple((q, d) for d in t.depends)))
    return out


def _fits(specs: list[Any], unit: _Unit) -> bool:
    """Whether ``unit``'s model joins the models of ``specs`` within its pool's GPU memory (each model file once)."""
    if not unit.pool.has_gpu:
        return True
    return model_memory([*specs, unit.spec]) <= unit.pool.gpu_memory_gb + 1e-9


def _run(left: list[_Unit], done: set, where: tuple[str, str], group: list[_Unit] | None) -> list[_Unit]:
    """The tasks of ``left`` a stage under ``where`` takes in a row once ``done`` ran: continuing ``group``
    (its models stay loaded) or, with ``None``, a fresh stage (which always takes its first task)."""
    taken: list[_Unit] = []
    specs = [u.spec for u in group or []]
    finished = set(done)
    pending = list(left)
    while True:
        nxt = next((u for u in pending if u.where == where and all(d in finished for d in u.depends)
                    and (_fits(specs, u) or (group is None and not taken))), None)
        if nxt is None:
            return taken
        taken.append(nxt)
        pending.remove(nxt)
        finished.add(nxt.key)
        specs.append(nxt.spec)


def _order(left: list[_Unit], groups: list[list[_Unit]], done: set, *, lookahead: bool) -> list[list[_Unit]]:
    """The stages that run ``left`` after ``groups`` (see the module docstring). Where several pools could
    start the next stage, ``lookahead`` finishes the plan greedily from each and takes the one giving the
    fewest stages (then the longest run, then graph order); without it, the longest run."""
    left, groups, done = list(left), [list(g) for g in groups], set(done)

    def apply(units: list[_Unit]) -> None:
        for u in units:
            left.remove(u)
            done.add(u.key)

    while left:
        joined = _run(left, done, groups[-1][0].where, groups[-1]) if groups else []
        if joined:
            groups[-1].extend(joined)
            apply(joined)
            continue
        ready = [u for u in left if all(d in done for d in u.depends)]
        runs = {w: _run(left, done, w, None) for w in dict.fromkeys(u.where for u in ready)}
        first = {w: min(u.order for u in ready if u.where == w) for w in runs}

        def total(w: tuple[str, str]) -> int:
            rest = [u for u in left if u not in runs[w]]
            return len(_order(rest, [*groups, runs[w]], done | {u.key for u in runs[w]}, lookahead=False))

        best = min(runs, key=lambda w: ((total(w) if lookahead and len(runs) > 1 else 0), -len(runs[w]), first[w]))
        groups.append(runs[best])
        apply(runs[best])
    return groups


def _chain(units: list[_Unit]) -> tuple[StagePod, ...]:
    groups = _order(units, [], set(), lookahead=True)
    stage_of = {u.key: i for i, g in enumerate(groups) for u in g}
    names = [f"stage-{i + 1}-{g[0].pool.name}"[:63].rstrip("-") for i, g in enumerate(groups)]
    stages = []
    for i, g in enumerate(groups):
        pool = g[0].pool
        loads: dict[str, list[_Unit]] = {}
        for u in g:
            loads.setdefault(model_key(u.spec), []).append(u)
        models = tuple(ModelLoad(key=k, operators=tuple(sorted({u.spec.name for u in us})),
                                 load_s=max(u.spec.profile.model_load_s for u in us),
                                 gpu_memory_gb=max(u.spec.profile.gpu_memory_gb for u in us) if pool.has_gpu else 0.0)
                       for k, us in loads.items())
        reads = sorted({stage_of[d] for u in g for d in u.depends if stage_of[d] != i})
        stages.append(StagePod(
            name=names[i], pool=pool.name, gpu=pool.has_gpu, image=g[0].image, models=models,
            tasks=tuple(StageTask(query=u.query, task=u.task.id, operator=u.spec.name, model=model_key(u.spec),
                                  fanout=u.task.fanout, level=u.level, call_s=latency(u.spec, pool)) for u in g),
            reads=tuple(names[r] for r in reads), levels=tuple(sorted({u.level for u in g}))))
    return tuple(stages)


def _answer_pod(placed: Sequence[Any]) -> AnswerPod:
    best = max(placed, key=lambda g: (g.answer.gpu_memory_gb, -placed.index(g)))
    pool = best.pools[best.answer.pool]
    operators = sorted({r.operator for g in placed for r in g.graph.residual})
    return AnswerPod(name=ANSWER_POD, pool=pool.name, gpu=pool.has_gpu, operators=tuple(operators))


# -- reading back ---------------------------------------------------------------------------------------
def plan_from_json(data: Any, *, where: str = "batch plan") -> BatchPlan:
    """Rebuild a :class:`BatchPlan` from :meth:`BatchPlan.to_json` output; one-line error if malformed."""
    try:
        if data.get("kind") != BATCH_PLAN_KIND or data.get("version") != BATCH_PLAN_VERSION:
            raise ValueError(f"not a dicec batch plan of version {BATCH_PLAN_VERSION}")
        stages = tuple(StagePod(
            name=str(s["name"]), pool=str(s["pool"]), gpu=bool(s["gpu"]), image=str(s["image"]),
            models=tuple(ModelLoad(key=str(m["key"]), operators=tuple(map(str, m["operators"])),
                                   load_s=float(m["load_s"]), gpu_memory_gb=float(m["gpu_memory_gb"]))
                         for m in s["models"]),
            tasks=tuple(StageTask(query=int(t["query"]), task=str(t["task"]), operator=str(t["operator"]),
                                  model=str(t["model"]), fanout=None if t["fanout"] is None else str(t["fanout"]),
                                  level=int(t["level"]), call_s=float(t["call_s"])) for t in s["tasks"]),
            reads=tuple(map(str, s["reads"])), levels=tuple(int(v) for v in s["levels"])) for s in data["stages"])
        a = data["answer"]
        return BatchPlan(shards=data["shards"], queries=tuple(
            Query(name=str(q["name"]), program_sha256=str(q["program_sha256"]), tasks=int(q["tasks"]))
            for q in data["queries"]), stages=stages,
            answer=AnswerPod(name=str(a["name"]), pool=str(a["pool"]), gpu=bool(a["gpu"]),
                             operators=tuple(map(str, a.get("operators", [])))))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DicecError(f"{where}: malformed batch plan ({exc})") from None


def plan_of_workflow(doc: Any, *, where: str = "workflow") -> BatchPlan | None:
    """The plan a batch workflow (a parsed Workflow or WorkflowTemplate) carries, or ``None`` when it has none
    (a workflow of one image, or a batch that fans out one query per image)."""
    annotations = ((doc.get("metadata") or {}).get("annotations") or {}) if isinstance(doc, dict) else {}
    text = annotations.get(PLAN_ANNOTATION)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise DicecError(f"{where}: the {PLAN_ANNOTATION} annotation is not JSON ({exc})") from None
    return plan_from_json(data, where=f"{where}: {PLAN_ANNOTATION}")
