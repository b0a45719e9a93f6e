"""Plans read back: what ``dicec cost``, ``dicec simulate`` and ``dicec edge`` are given, as placed graphs.

A compiled workflow (``.yaml``/``.yml``) carries only the serial program (base64url in the ``answer``
task's ``program`` parameter) and hashes; it does not carry the task graph or the placement. So the
graph is recovered by analysing that program again and placing it on the ``--pools`` catalogue with
the ``--operators`` given -- the same stages ``dicec compile`` ran, so with the same catalogue and
operators the plan is the one the workflow was emitted from (fused only if the workflow has a fused
group's step, so a workflow compiled with ``--no-fuse`` is priced as a pod per task). A placed graph (``dicec place`` JSON) is
used as placed, unless a placement option (objective, mode, spot, latency bound) asks to place it
again; a task graph (``dicec plan`` JSON), a program (``.py``) and a question (``.txt``, offline code
generation) are placed. :func:`from_options` turns the options the cost and simulate verbs share
(:func:`dicec.output.placed_input_options`) into the registry, catalogue, placement options and
timing model they read inputs with.

A pods-mode **batch workflow** (``dicec compile --batch``: shards of stage pods) carries its plan, the
``dicec.dev/batch-plan`` annotation, and each question's program (the ``--program`` values of its
``answer`` container); :func:`read_batch_workflow` reads both back (:class:`BatchWorkflow`), each program checked
against the plan's hash, so cost and simulate model the shape the workflow really has.

A top-level module, not part of :mod:`dicec.cost` or :mod:`dicec.simulate`, because both verbs read
their inputs the same way and neither may import the other. It imports the stages up to placement
(:mod:`dicec.analysis`, :mod:`dicec.placement`, :mod:`dicec.tools`, :mod:`dicec.pipeline` for a
question's code generation) and :mod:`dicec.timing`, each inside the function that needs it so the
verbs' ``--help`` stays fast; none of them imports this module back (:mod:`dicec.pipeline` in
particular must not, or the two would form a circle).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dicec.errors import DicecError, Location
from dicec.files import read_text

#: The DAG task whose ``program`` parameter holds the serial program (dicec.emit.argo's ANSWER_STEP).
ANSWER_TASK = "answer"


@dataclass(frozen=True, kw_only=True)
class PlaceOptions:
    """How to place a graph that is not already placed (or to place one again).

    Attributes:
        objective: ``price`` (cheapest hourly price that fits) or ``cost`` (fewest dollars for the seconds).
        mode: ``pods`` or ``services`` (what the seconds of a task include).
        max_latency_s: bound on the estimated critical path, or ``None``.
        spot: price pools at their spot rate where listed.
        fuse: pods mode: run groups of tasks in one pod where that pays (:mod:`dicec.placement.fusion`).
    """

    objective: str = "price"
    mode: str = "pods"
    max_latency_s: float | None = None
    spot: bool = False
    fuse: bool = True

    @property
    def replaces(self) -> bool:
        """Whether a placed graph must be placed again to honour these options."""
        return self.objective != "price" or self.max_latency_s is not None or self.spot or not self.fuse


def from_options(opts: dict[str, Any], inputs: tuple[str, ...] = ()):
    """(registry, catalogue, PlaceOptions, TimingModel) from the options of
    :func:`dicec.output.placed_input_options`.

    Without ``--mode``, the mode is the one the workflow ``inputs`` were compiled in (else pods), and
    ``opts["mode"]`` is set to it.
    """
    if opts.get("mode") is None:
        found = sorted({m for m in (workflow_mode(p) for p in inputs) if m is not None})
        if len(found) > 1:
            raise DicecError("the inputs were compiled in different modes (pods and services); pass --mode")
        opts["mode"] = found[0] if found else "pods"
    from dicec.placement import load_pools
    from dicec.timing.model import TimingModel, read_timing, with_model_overrides
    from dicec.tools import discover

    registry = discover(opts["operator_dirs"])
    catalogue = load_pools(opts["pools_file"], cloud=opts["cloud"])
    place_options = PlaceOptions(objective=opts["objective"], mode=opts["mode"], max_latency_s=opts["max_latency"],
                                 spot=opts["spot"], fuse=opts["fuse"])
    base = TimingModel()
    if opts.get("timing_file"):
        base = with_model_overrides(base, **read_timing(opts["timing_file"]))
    model = with_model_overrides(base, fanout=opts["fanout"], pod_startup_s=opts["pod_startup"],
                                 image_pull_s=opts["image_pull"])
    return registry, catalogue, place_options, model


def load_placed(path: str, *, registry, catalogue, options: PlaceOptions = PlaceOptions()):
    """The placed graph for ``path`` (see the module docstring)."""
    from dicec.placement import place, placed_from_json

    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        graph = _analyse(program_of_workflow(path), registry, path=path)
        if options.fuse and not workflow_fuses(path):  # compiled with --no-fuse (or in services mode)
            options = dataclasses.replace(options, fuse=False)
    elif suffix == ".json":
        data = _json(path)
        if isinstance(data, dict) and data.get("kind") == "dicec/placed-graph":
            placed = placed_from_json(data, where=path)
            if not options.replaces:
                return placed
            graph = placed.graph
        else:
            from dicec.analysis import graph_from_json

            graph = graph_from_json(data, where=path)
    elif suffix == ".py":
        graph = _analyse(read_text(path, what="program"), registry, path=path)
    elif suffix == ".txt":
        from dicec.pipeline import generate, read_question

        question = read_question(path)
        graph = _analyse(generate(question, registry).code, registry, path=path, question=question)
    else:
        raise DicecError("expected a workflow (.yaml), a task or placed graph (.json), a program (.py) or a "
                         "question (.txt)", location=Location(path=path))
    return place(graph, registry, catalogue, objective=options.objective, mode=options.mode,
                 max_latency_s=options.max_latency_s, spot=options.spot, fuse=options.fuse)


def _analyse(program: str, registry, *, path: str, question: str | None = None):
    from dicec.analysis import analyse

    return analyse(program, registry, path=path, question=question)


def _json(path: str) -> Any:
    text = read_text(path, what="task graph")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"not valid JSON: {exc.msg}", location=Location(path=path, line=exc.lineno)) from None


def _documents(path: str) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(read_text(path, what="workflow")) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DicecError(f"workflow is not valid YAML: {getattr(exc, 'problem', exc)}",
                         location=Location(path=path, line=mark.line + 1 if mark else None)) from None


def _templates(docs: list[Any]) -> list[dict]:
    return [t for doc in docs if isinstance(doc, dict) for t in ((doc.get("spec") or {}).get("templates") or [])
            if isinstance(t, dict)]


def programs_of_workflow(path: str, docs: list[Any] | None = None) -> list[str]:
    """The serial programs a dicec workflow carries, in order: its ``answer`` task's ``program`` argument, or,
    in a pods-mode batch, the ``--program`` literals of its ``answer`` container (one per question)."""
    where = Location(path=path)
    templates = _templates(_documents(path) if docs is None else docs)
    for template in templates:
        for task in ((template.get("dag") or {}).get("tasks") or []):
            if task.get("name") != ANSWER_TASK:
                continue
            found = {str(p.get("name")): p.get("value") for p in ((task.get("arguments") or {}).get("parameters") or [])
                     if isinstance(p, dict) and isinstance(p.get("value"), str)}
            if "program" in found:
                return [_unb64(found["program"], where)]
    for template in templates:
        if template.get("name") != ANSWER_TASK:
            continue
        args = (template.get("container") or {}).get("args") or []
        literals = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--program"]
        if literals and all(isinstance(v, str) and "{{" not in v for v in literals):
            return [_unb64(v, where) for v in literals]
    raise DicecError("not a dicec workflow: no DAG task 'answer' with a 'program' parameter, nor an 'answer' "
                     "container with --program values (compile it with dicec compile, or give the task graph "
                     "JSON)", location=where)


def program_of_workflow(path: str) -> str:
    """The serial program a dicec workflow of one question carries (its ``answer`` task's ``program`` argument)."""
    programs = programs_of_workflow(path)
    if len(programs) > 1:
        raise DicecError(f"a batch workflow of {len(programs)} questions: this command takes one question "
                         "(compile it alone)", location=Location(path=path))
    return programs[0]


@dataclass(frozen=True, kw_only=True)
class BatchWorkflow:
    """A pods-mode batch workflow read back: shards of stage pods answering every question for every image.

    Attributes:
        path: the file.
        plan: its :class:`~dicec.placement.stages.BatchPlan` (the ``dicec.dev/batch-plan`` annotation).
        placed: each question's program analysed and placed again on the catalogue given, in the plan's order
            (the unpredicted calls of the answer pods, the serial baseline, the bound).
        max_images: the most images one run takes (its pods' ``--max-images``), or ``None``.
        parallelism: the most shards at once (its shard fan-out's ``parallelism``), or ``None``.
    """

    path: str
    plan: Any
    placed: tuple[Any, ...]
    max_images: int | None = None
    parallelism: int | None = None


def read_batch_workflow(path: str, *, registry, catalogue, options: PlaceOptions = PlaceOptions()) -> BatchWorkflow | None:
    """The batch workflow ``path`` (see :class:`BatchWorkflow`), or ``None`` when it is not one (another input,
    a workflow of one image, or a batch that fans out one query per image)."""
    if Path(path).suffix.lower() not in (".yaml", ".yml"):
        return None
    from dicec.placement import place
    from dicec.placement.stages import plan_of_workflow

    docs = _documents(path)
    plan = next((found for doc in docs if isinstance(doc, dict) and doc.get("kind") in ("Workflow", "WorkflowTemplate")
                 for found in [plan_of_workflow(doc, where=path)] if found is not None), None)
    if plan is None:
        return None
    programs = programs_of_workflow(path, docs)
    import hashlib

    hashes = [hashlib.sha256(p.encode("utf-8")).hexdigest() for p in programs]
    if hashes != [q.program_sha256 for q in plan.queries]:
        raise DicecError(f"the workflow's {len(programs)} program(s) do not match the {len(plan.queries)} question(s) "
                         "of its batch plan (edited by hand?); compile it again", location=Location(path=path))
    placed = tuple(place(_analyse(program, registry, path=f"{path} {q.name}"), registry, catalogue,
                         objective=options.objective, mode="pods", max_latency_s=options.max_latency_s,
                         spot=options.spot, fuse=False) for program, q in zip(programs, plan.queries))
    max_images = parallelism = None
    for template in _templates(docs):
        args = (template.get("container") or {}).get("args") or []
        if "--max-images" in args[:-1]:
            max_images = _whole(args[args.index("--max-images") + 1], "--max-images", path)
        for task in ((template.get("dag") or {}).get("tasks") or []):
            if "withSequence" in task and template.get("parallelism") is not None:
                parallelism = _whole(template["parallelism"], "parallelism", path)
    return BatchWorkflow(path=path, plan=plan, placed=placed, max_images=max_images, parallelism=parallelism)


def _whole(value: Any, what: str, path: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise DicecError(f"the batch workflow's {what} is not a whole number >= 1 ({value!r})",
                         location=Location(path=path))
    return number


def workflow_fuses(path: str) -> bool:
    """Whether a dicec workflow has a fused group's step (a container running ``dicec op --group``)."""
    docs = yaml.safe_load_all(read_text(path, what="workflow"))
    for doc in docs:
        for template in ((doc.get("spec") or {}).get("templates") or []) if isinstance(doc, dict) else []:
            container = (template or {}).get("container") or {}
            if (container.get("command") or [])[:2] == ["dicec", "op"] and "--group" in (container.get("args") or []):
                return True
    return False


def workflow_mode(path: str) -> str | None:
    """The mode a dicec workflow file was compiled in (``pods`` or ``services``); ``None`` for other inputs.

    Read from the Workflow's ``dicec.dev/mode`` annotation; a file written before that annotation existed
    is services mode when it carries dicec's model-server Deployments.
    """
    if not path.endswith((".yaml", ".yml")):
        return None
    deployments = False
    for doc in yaml.safe_load_all(read_text(path, what="workflow")):
        if not isinstance(doc, dict):
            continue
        meta = doc.get("metadata") or {}
        if doc.get("kind") in ("Workflow", "WorkflowTemplate"):
            mode = (meta.get("annotations") or {}).get("dicec.dev/mode")
            if mode in ("pods", "services"):
                return mode
        elif doc.get("kind") == "Deployment" and (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == "dicec":
            deployments = True
    return "services" if deployments else "pods"


def _unb64(data: str, where: Location) -> str:
    """base64url without padding, as dicec.emit.steps.b64 writes it (not imported: that loads hera)."""
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise DicecError("the answer step's program is not base64url UTF-8", location=where) from None
