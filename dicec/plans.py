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


def program_of_workflow(path: str) -> str:
    """The serial program a dicec workflow carries (its ``answer`` task's ``program`` argument)."""
    where = Location(path=path)
    try:
        docs = [d for d in yaml.safe_load_all(read_text(path, what="workflow")) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DicecError(f"workflow is not valid YAML: {getattr(exc, 'problem', exc)}",
                         location=Location(path=path, line=mark.line + 1 if mark else None)) from None
    for doc in docs:
        for template in ((doc.get("spec") or {}).get("templates") or []) if isinstance(doc, dict) else []:
            for task in ((template or {}).get("dag") or {}).get("tasks") or []:
                if task.get("name") != ANSWER_TASK:
                    continue
                for param in ((task.get("arguments") or {}).get("parameters") or []):
                    if param.get("name") == "program" and isinstance(param.get("value"), str):
                        return _unb64(param["value"], where)
    raise DicecError("not a dicec workflow: no DAG task 'answer' with a 'program' parameter "
                     "(compile it with dicec compile, or give the task graph JSON)", location=where)


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
        raise DicecError("the answer task's program parameter is not base64url UTF-8", location=where) from None
