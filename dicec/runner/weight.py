"""A workflow's weight in Argo: the nodes and the status bytes it creates per image, and so the most images
one Workflow can take before it passes the size Argo keeps in one etcd object.

Argo holds a Workflow -- metadata, spec and the status of every node with its inputs and outputs -- in one
Kubernetes object; past ``MAX_WORKFLOW_SIZE`` (1 MiB) of JSON the controller compresses the node statuses,
and past that again the workflow fails unless a database takes them (:mod:`dicec.runner.argostatus`). A
batch grows by every image's nodes, so it has a most-images figure; a single query either fits or not.

**How it is estimated.** :func:`estimate` runs the workflow file itself with modelled steps
(:mod:`dicec.runner.modelled`: every value and record shaped as a real step writes it, the operators'
answers of an assumed size: :class:`~dicec.runner.modelled.Assumptions`), on one machine, in milliseconds,
through the same :class:`~dicec.runner.workflow.Runner` that ``dicec run`` uses, so the nodes are built by the
same code (:class:`~dicec.runner.argostatus.NodeTree`) as a measured run's. A batch is run with k and 2k
images (k: the shards of a pods-mode batch, else 1) and with two URI lengths, which gives the workflow's
bytes as ``fixed + images x (per image + per URI character x URI length)`` (every term of Argo's status is
linear in them: each image adds the same nodes, whose names and inputs repeat its URI); a fractional
``detections`` is weighed between the runs at the whole numbers around it. The Workflow's bytes are its
metadata and spec (the ``images`` parameter is in the spec), ``status.nodes``, and
:data:`STATUS_ALLOWANCE` for what the API server and the controller add (uid, resourceVersion, timestamps,
labels, the status's phase, progress, conditions and artifact repository).

**What a run measures.** :func:`measured` reads a finished ``dicec run`` (its node statuses, built as Argo
builds them): nodes, status bytes, their gzip size as ``compressedNodes`` would hold them, the workflow's
bytes, and the detections and image size its records show, at which it estimates the same workflow, so the
two can be held against each other (``dicec run --format json``'s ``argo`` object).

**Splitting.** :func:`plan_parts` cuts a list of images into contiguous parts, each a Workflow of its own
under the bound (``dicec submit``): every part has the same fixed bytes, and its images their own URIs'.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from dicec.errors import DicecError
from dicec.runner.argostatus import MAX_WORKFLOW_SIZE, NodeTree, compressed_size, go_json, workflow_name
from dicec.runner.modelled import Assumptions

#: Bytes the API server and the controller add to a Workflow besides the node statuses: metadata.uid,
#: resourceVersion, generation, creationTimestamp, the phase and completed labels, and status.phase,
#: startedAt, finishedAt, progress, conditions, resourcesDuration and artifactRepositoryRef (about 900 bytes
#: for a finished Workflow; rounded up).
STATUS_ALLOWANCE = 1024
IMAGE_PARAMETER, BATCH_PARAMETER = "image", "images"


@dataclass(frozen=True, kw_only=True)
class Weight:
    """A workflow's estimated weight as a function of its images and their URIs' length.

    With n images of URIs L characters long, ``status.nodes`` holds ``status_fixed + n x (status_per_image +
    status_per_char x L)`` bytes, and the whole Workflow that plus ``other_fixed + n x (other_per_image +
    other_per_char x L)`` (metadata, spec, :data:`STATUS_ALLOWANCE`); nodes likewise. A single-query workflow
    takes one image (n = 1).

    Attributes:
        batch: the workflow takes a list of images (parameter ``images``); else one (``image``).
        nodes_fixed: nodes whatever the images (the root, a batch's shards).
        nodes_per_image: nodes each image adds.
        status_fixed: ``status.nodes`` bytes whatever the images.
        status_per_image: bytes each image adds, besides its URI.
        status_per_char: bytes each character of an image's URI adds (its node names and inputs repeat it).
        other_fixed: the Workflow's other bytes (metadata, spec, the allowance).
        other_per_image: other bytes each image adds (its entry in the ``images`` parameter), besides its URI.
        other_per_char: other bytes per URI character.
        gzip_ratio: ``compressedNodes`` bytes (base64 of the gzip) per byte of ``status.nodes``, as modelled.
        bound: the most bytes one Workflow may have (Argo's ``MAX_WORKFLOW_SIZE``, 1 MiB by default).
        assumptions: what the modelled steps assumed (:class:`~dicec.runner.modelled.Assumptions`).
    """

    batch: bool
    nodes_fixed: float
    nodes_per_image: float
    status_fixed: float
    status_per_image: float
    status_per_char: float
    other_fixed: float
    other_per_image: float
    other_per_char: float
    gzip_ratio: float
    bound: int = MAX_WORKFLOW_SIZE
    assumptions: Assumptions = field(default_factory=Assumptions)

    def __post_init__(self) -> None:
        if isinstance(self.bound, bool) or not isinstance(self.bound, int) or self.bound < 1:
            raise DicecError(f"the bound must be a whole number of bytes, at least 1, not {self.bound!r}")

    def _chars(self, uri_chars: float | None) -> float:
        return self.assumptions.uri_chars if uri_chars is None else uri_chars

    def nodes(self, images: int = 1) -> int:
        """Nodes of a run with ``images`` images."""
        return round(self.nodes_fixed + images * self.nodes_per_image)

    def status_bytes(self, images: int = 1, uri_chars: float | None = None) -> int:
        """``status.nodes`` JSON bytes of a run with ``images`` images of ``uri_chars``-character URIs."""
        return round(self.status_fixed + images * (self.status_per_image + self.status_per_char * self._chars(uri_chars)))

    def image_bytes(self, uri_chars: float | None = None) -> float:
        """The Workflow bytes one image adds (nodes and parameter entry)."""
        chars = self._chars(uri_chars)
        return self.status_per_image + self.status_per_char * chars + self.other_per_image + self.other_per_char * chars

    def fixed_bytes(self) -> float:
        """The Workflow bytes whatever its images."""
        return self.status_fixed + self.other_fixed

    def workflow_bytes(self, images: int = 1, uri_chars: float | None = None) -> int:
        """The whole Workflow object's JSON bytes, finished, with ``images`` images."""
        return round(self.fixed_bytes() + images * self.image_bytes(uri_chars))

    def compressed_workflow_bytes(self, images: int = 1, uri_chars: float | None = None) -> int:
        """The same with ``status.nodes`` compressed, as Argo v4.1 stores it past the bound."""
        status = self.status_bytes(images, uri_chars)
        return round(self.workflow_bytes(images, uri_chars) - status + status * self.gzip_ratio)

    @property
    def max_images(self) -> int:
        """The most images one Workflow can take without its JSON passing :attr:`bound` (a single-query
        workflow: 1 if it fits, else 0)."""
        return self._most(self.bound, compressed=False)

    @property
    def max_images_compressed(self) -> int:
        """The same, were the bound applied to the Workflow with its node statuses compressed (what Argo
        v4.1 does before it gives up): beyond :attr:`max_images`, every update recompresses the status."""
        return self._most(self.bound, compressed=True)

    def _most(self, bound: int, *, compressed: bool) -> int:
        ratio = self.gzip_ratio if compressed else 1.0
        fixed = self.other_fixed + self.status_fixed * ratio
        per = (self.other_per_image + self.other_per_char * self.assumptions.uri_chars
               + (self.status_per_image + self.status_per_char * self.assumptions.uri_chars) * ratio)
        if fixed + per > bound:
            return 0
        if not self.batch:
            return 1
        return max(0, math.floor((bound - fixed) / per)) if per > 0 else 10 ** 9

    def to_json(self) -> dict[str, Any]:
        """The figures for one query (one image), the most images, and what was assumed."""
        a = self.assumptions
        return {"nodes_per_image": round(self.nodes_per_image, 2), "nodes_fixed": round(self.nodes_fixed, 2),
                "status_bytes_per_image": round(self.status_per_image + self.status_per_char * a.uri_chars),
                "status_bytes_fixed": round(self.status_fixed), "workflow_bytes": self.workflow_bytes(1),
                "gzip_ratio": round(self.gzip_ratio, 4), "bound": self.bound, "max_images_per_workflow": self.max_images,
                "max_images_compressed": self.max_images_compressed,
                "assumptions": {"detections": a.detections, "image_width": a.image_width,
                                "image_height": a.image_height, "uri_chars": a.uri_chars,
                                "text_chars": a.text_chars, "answer_chars": a.answer_chars}}

    def summary(self) -> str:
        """One line: nodes and status bytes per query (image), and what fits under the bound."""
        a = self.assumptions
        per = self.status_per_image + self.status_per_char * a.uri_chars
        at = f"at {a.detections:g} detections per find"
        if not self.batch:
            size = self.workflow_bytes(1)
            fits = "fits" if size <= self.bound else "does NOT fit"
            return (f"Argo: {self.nodes(1)} nodes, {_kb(per)} of node status per query ({at}); the Workflow is "
                    f"{_kb(size)}, {fits} under {_kb(self.bound)} (gzip: {_kb(self.compressed_workflow_bytes(1))})")
        return (f"Argo: {self.nodes_per_image:.4g} nodes and {_kb(per)} of node status per image ({at}, "
                f"{a.uri_chars}-character URIs), {self.nodes_fixed:.4g} nodes and {_kb(self.fixed_bytes())} fixed; "
                f"at most {self.max_images} images per workflow under {_kb(self.bound)} "
                f"({self.max_images_compressed} with the node statuses gzip-compressed)")


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def takes_images(doc: dict) -> bool:
    """Whether the workflow takes a list of images (a batch) rather than one image."""
    declared = {p.get("name") for p in ((doc.get("spec") or {}).get("arguments") or {}).get("parameters") or []}
    return BATCH_PARAMETER in declared


def _base_images(doc: dict) -> int:
    """k: the images of the smaller modelled batch run (a pods-mode batch's shard count, so every shard has one)."""
    from dicec.placement.stages import plan_of_workflow

    plan = plan_of_workflow(doc)
    return plan.shards if plan is not None else 1


@dataclass(frozen=True, kw_only=True)
class _Sample:
    nodes: int
    status: int
    gzip: int
    other: int


def _sample(doc: dict, images: int, assumptions: Assumptions, operator_dirs: tuple[str, ...]) -> _Sample:
    """One modelled run with ``images`` images (modelled URIs): its node count and bytes."""
    from dicec.runner.modelled import StepModel
    from dicec.runner.workflow import RunOptions, Runner

    uris = [assumptions.uri(i) for i in range(images)]
    parameters = {BATCH_PARAMETER: json.dumps(uris)} if takes_images(doc) else {IMAGE_PARAMETER: uris[0]}
    options = RunOptions(parameters=parameters, parallelism=4,
                         model=StepModel(assumptions, operator_dirs=operator_dirs))
    result = Runner(doc, options, where="modelled run").run()
    text = result.nodes.status_json()
    return _Sample(nodes=len(result.nodes.nodes()), status=len(text.encode("utf-8")), gzip=compressed_size(text),
                   other=object_bytes(doc, parameters))


def object_bytes(doc: dict, parameters: dict[str, str]) -> int:
    """The Workflow's JSON bytes besides ``status.nodes``: as submitted (``generateName`` given its suffix,
    the parameters' values set) plus :data:`STATUS_ALLOWANCE`."""
    metadata = dict(doc.get("metadata") or {})
    metadata["name"] = workflow_name(metadata)
    metadata.pop("generateName", None)
    spec = json.loads(json.dumps(doc.get("spec") or {}))
    for p in (spec.get("arguments") or {}).get("parameters") or []:
        if p.get("name") in parameters:
            p["value"] = parameters[p["name"]]
    body = {"apiVersion": doc.get("apiVersion"), "kind": "Workflow", "metadata": metadata, "spec": spec}
    return len(go_json(body).encode("utf-8")) + STATUS_ALLOWANCE


def estimate(doc: dict, *, assumptions: Assumptions = Assumptions(), bound: int = MAX_WORKFLOW_SIZE,
             operator_dirs: tuple[str, ...] = ()) -> Weight:
    """The weight of the Workflow ``doc`` (a dict, as read from its YAML) under ``assumptions`` (see the
    module docstring). A workflow that cannot be modelled (not a dicec workflow) is one :class:`DicecError`."""
    if not isinstance(doc.get("spec"), dict):
        raise DicecError("not a Workflow: it has no spec")
    low, high = math.floor(assumptions.detections), math.ceil(assumptions.detections)
    share = assumptions.detections - low
    at_low = _fit(doc, replace(assumptions, detections=low), operator_dirs)
    if high == low:
        fitted = at_low
    else:
        at_high = _fit(doc, replace(assumptions, detections=high), operator_dirs)
        fitted = {k: (1 - share) * at_low[k] + share * at_high[k] for k in at_low}
    return Weight(batch=takes_images(doc), bound=bound, assumptions=assumptions, **fitted)


def _fit(doc: dict, assumptions: Assumptions, operator_dirs: tuple[str, ...]) -> dict[str, float]:
    """The linear terms from modelled runs at whole-number detections."""
    try:
        if not takes_images(doc):
            one = _sample(doc, 1, assumptions, operator_dirs)
            longer = _sample(doc, 1, replace(assumptions, uri_chars=assumptions.uri_chars + 16), operator_dirs)
            per_char, other_char = (longer.status - one.status) / 16, (longer.other - one.other) / 16
            chars = assumptions.uri_chars
            return {"nodes_fixed": 0.0, "nodes_per_image": float(one.nodes), "status_fixed": 0.0,
                    "status_per_image": one.status - per_char * chars, "status_per_char": per_char,
                    "other_fixed": one.other - other_char * chars, "other_per_image": 0.0,
                    "other_per_char": other_char, "gzip_ratio": one.gzip / one.status}
        k = _base_images(doc)
        small = _sample(doc, k, assumptions, operator_dirs)
        large = _sample(doc, 2 * k, assumptions, operator_dirs)
        longer = _sample(doc, 2 * k, replace(assumptions, uri_chars=assumptions.uri_chars + 16), operator_dirs)
    except DicecError as exc:
        raise DicecError(f"cannot weigh this workflow: {exc}") from None
    chars = assumptions.uri_chars
    status_char = (longer.status - large.status) / (16 * 2 * k)
    other_char = (longer.other - large.other) / (16 * 2 * k)
    status_image = (large.status - small.status) / k - status_char * chars
    other_image = (large.other - small.other) / k - other_char * chars
    return {"nodes_fixed": float(2 * small.nodes - large.nodes), "nodes_per_image": (large.nodes - small.nodes) / k,
            "status_fixed": small.status - k * (status_image + status_char * chars), "status_per_image": status_image,
            "status_per_char": status_char, "other_fixed": small.other - k * (other_image + other_char * chars),
            "other_per_image": other_image, "other_per_char": other_char, "gzip_ratio": large.gzip / large.status}


# -- a run, measured --------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Measured:
    """What a finished run created, in Argo's terms.

    Attributes:
        nodes: how many nodes ``status.nodes`` holds.
        status_bytes: the JSON bytes of ``status.nodes``.
        status_bytes_gzip: the bytes of ``status.compressedNodes`` for them (base64 of the gzip, level 6).
        workflow_bytes: the whole Workflow's JSON bytes (:func:`object_bytes` plus ``status.nodes``).
        images: the images the run answered.
        detections: the mean boxes per call of an operator returning patches in the run's records
            (``None`` when it made none).
        image_width: the largest image width its records show (``None`` when they show none).
        image_height: likewise the height.
        uri_chars: the mean length of its images' paths or URIs.
    """

    nodes: int
    status_bytes: int
    status_bytes_gzip: int
    workflow_bytes: int
    images: int
    detections: float | None
    image_width: int | None
    image_height: int | None
    uri_chars: float


def measured(tree: NodeTree, doc: dict, parameters: dict[str, str], *, operator_dirs: tuple[str, ...] = ()) -> Measured:
    """The Argo figures of a finished run (``tree``: its nodes; ``parameters``: the values it ran with)."""
    from dicec.runtime.backend import registry_for

    text = tree.status_json()
    status = len(text.encode("utf-8"))
    uris = _images_of(doc, parameters)
    detections, width, height = _observe(tree, registry_for(operator_dirs))
    return Measured(nodes=len(tree.nodes()), status_bytes=status, status_bytes_gzip=compressed_size(text),
                    workflow_bytes=object_bytes(doc, parameters) + status, images=len(uris),
                    detections=detections, image_width=width, image_height=height,
                    uri_chars=sum(len(u) for u in uris) / len(uris) if uris else 0.0)


def _images_of(doc: dict, parameters: dict[str, str]) -> list[str]:
    if takes_images(doc):
        try:
            images = json.loads(parameters.get(BATCH_PARAMETER, "[]"))
        except json.JSONDecodeError:
            return []
        return [str(i) for i in images] if isinstance(images, list) else []
    return [parameters[IMAGE_PARAMETER]] if IMAGE_PARAMETER in parameters else []


def _observe(tree: NodeTree, registry: Any) -> tuple[float | None, int | None, int | None]:
    """(mean boxes per patches call, image width, image height) from the records a run's steps wrote: each
    step's outputs once, and a batch stage's records files (each image's task once)."""
    counts: dict[Any, int] = {}
    size = [0, 0]

    def visit(data: Any, key: Any) -> None:
        stack = [(data, key)]
        while stack:
            item, k = stack.pop()
            if isinstance(item, list):
                stack.extend((x, (k, i)) for i, x in enumerate(item))
            elif isinstance(item, dict):
                if {"operator", "form", "args", "value"} <= item.keys():
                    _record(item, k, registry, counts, size)
                else:
                    stack.extend((v, (k, n)) for n, v in item.items())

    for name, text in tree.step_outputs():
        if text[:1] in ("[", "{"):
            try:
                visit(json.loads(text), name)
            except json.JSONDecodeError:
                continue
    for path in tree.artifact_files():
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break
            if isinstance(row, dict) and isinstance(row.get("records"), list):
                for q, tasks in enumerate(row["records"]):  # a stage's line: each image's tasks once
                    for task, rec in (tasks.items() if isinstance(tasks, dict) else ()):
                        visit(rec, ("stage", row.get("index"), q, task))
    mean = sum(counts.values()) / len(counts) if counts else None
    return mean, size[0] or None, size[1] or None


def _record(record: dict, key: Any, registry: Any, counts: dict[Any, int], size: list[int]) -> None:
    patch = record.get("patch")
    if isinstance(patch, dict) and isinstance(patch.get("right"), int) and isinstance(patch.get("upper"), int):
        size[0], size[1] = max(size[0], patch["right"]), max(size[1], patch["upper"])
    try:
        form = registry.get(str(record["operator"])).form(str(record["form"]))
    except DicecError:
        return
    if form is not None and form.result == "patches" and isinstance(record["value"], list):
        counts[key] = len(record["value"])


def at_run(run: Measured, base: Assumptions = Assumptions()) -> Assumptions:
    """``base`` with what a run showed: its detections, image size and URI length."""
    return replace(base, detections=run.detections if run.detections is not None else base.detections,
                   image_width=run.image_width or base.image_width, image_height=run.image_height or base.image_height,
                   uri_chars=max(1, round(run.uri_chars)) if run.uri_chars else base.uri_chars)


# -- splitting a batch ------------------------------------------------------------------------------------
def plan_parts(weight: Weight, images: Sequence[Any], *, max_images: int | None = None) -> list[tuple[int, int]]:
    """Contiguous parts ``(start, stop)`` of ``images``, each a Workflow under ``weight.bound`` (and of at most
    ``max_images`` images), as even as that allows: the fewest parts greedy filling needs, the images then
    spread evenly over them. One image too heavy for a Workflow of its own is one :class:`DicecError`."""
    if not weight.batch:
        raise DicecError("only a batch workflow (one that takes a list of images) can be split")
    if max_images is not None and max_images < 1:
        raise DicecError(f"--max-images must be at least 1, not {max_images}")
    costs = [weight.image_bytes(len(str(i))) for i in images]
    room = weight.bound - weight.fixed_bytes()
    for n, cost in enumerate(costs):
        if cost > room:
            raise DicecError(f"image {n} alone makes a Workflow of {round(weight.fixed_bytes() + cost)} bytes, over "
                             f"the {weight.bound}-byte bound")
    if not images:
        return []
    parts = _greedy(costs, room, max_images)
    for count in range(len(parts), len(images) + 1):  # spread evenly over as few parts as fit
        bounds = [round(i * len(images) / count) for i in range(count + 1)]
        even = list(zip(bounds, bounds[1:]))
        if all(sum(costs[a:b]) <= room and (max_images is None or b - a <= max_images) for a, b in even):
            return even
    return parts


def _greedy(costs: list[float], room: float, max_images: int | None) -> list[tuple[int, int]]:
    parts, start, used = [], 0, 0.0
    for n, cost in enumerate(costs):
        if n > start and (used + cost > room or (max_images is not None and n - start >= max_images)):
            parts.append((start, n))
            start, used = n, 0.0
        used += cost
    parts.append((start, len(costs)))
    return parts


def run_report(run: Measured, doc: dict, *, bound: int = MAX_WORKFLOW_SIZE,
               operator_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """``dicec run --format json``'s ``argo`` object: what the run created (:class:`Measured`), and the estimate
    of the same workflow at what the run showed (:func:`at_run`), with the most images one Workflow takes."""
    weight = estimate(doc, assumptions=at_run(run), bound=bound, operator_dirs=operator_dirs)
    a = weight.assumptions
    return {"nodes": run.nodes, "status_bytes": run.status_bytes, "status_bytes_gzip": run.status_bytes_gzip,
            "workflow_bytes": run.workflow_bytes, "max_images_per_workflow": weight.max_images,
            "max_images_compressed": weight.max_images_compressed, "bound": bound,
            "estimate": {"nodes": weight.nodes(run.images or 1),
                         "status_bytes": weight.status_bytes(run.images or 1, run.uri_chars),
                         "workflow_bytes": weight.workflow_bytes(run.images or 1, run.uri_chars),
                         "detections": round(a.detections, 4), "image_width": a.image_width,
                         "image_height": a.image_height, "uri_chars": a.uri_chars}}
