"""The Argo ``when`` of an offloaded cloud step: run it only if the edge detection it needs found something.

:func:`dicec.placement.edge.offload_guards` names the cloud tasks whose receiver is an element of an
edge task's patch list. Each gets the condition

    '{{tasks.EDGE.outputs.parameters.value}}' != '[]'

Argo substitutes the edge step's ``value`` output (the canonical JSON the step wrote, with the one
trailing newline Argo trims from a file output) and evaluates the text with govaluate, where a
single-quoted string is a string literal; an empty detection list is exactly ``[]`` (a detection run
inside a fused step is that step's per-task value output, :mod:`dicec.emit.fused`). The value is a
list of boxes (numbers under fixed keys) written by ``dicec op``, never text a user or an LLM wrote,
so it cannot close the quoted string; the only other part of the condition is a task id (a DNS label).
A false condition marks the step Skipped, its record stays unresolved in the ``answer`` step's
records, which skips it (see :mod:`dicec.emit.steps`), and ``dicec run`` does the same
(:mod:`dicec.runner.when`).

*Crops, not frames.* The tasks :func:`dicec.placement.edge.crop_feeds` chose (``placed.crops``) are
sent the crops of their edge detection instead of reading the frame (:mod:`dicec.runtime.crops`):

* through Argo (pods mode, or a services-mode step that runs in the cloud): the edge detection's step
  also runs with ``--crops-out`` :data:`CROPS_OUT_PATH` ``--crops-indices I`` and declares the output
  artifact :data:`CROPS_ARTIFACT` (optional: nothing found, no file, nothing uploaded; not archived:
  the bundle is a stored ZIP already); the cloud step takes it as an input artifact ``from`` that
  output, at :data:`CROPS_IN_PATH`, and runs with ``--crops`` instead of ``--image``, so it never
  downloads the frame. ``I`` is ``all`` when some consumer fans out over the detection, else the
  indices ``patches[i]`` the consumers use (Python indices, comma-separated);
* from the step itself (services mode, where the calling step runs on the edge's CPU beside the frame):
  the step keeps ``--image`` and adds ``--send-crops``: each request carries the crop of its boxes,
  not the frame (:mod:`dicec.runtime.client`).
"""

from __future__ import annotations

from typing import Any, Callable

from dicec.placement.edge import crop_selection, offload_guards

EMPTY = "[]"
CROPS_ARTIFACT = "crops"
#: Where an edge step writes its crop bundle (inside the step's writable /tmp).
CROPS_OUT_PATH = "/tmp/dicec/crops.zip"
#: Where Argo puts the bundle for the cloud step (outside /tmp, as the image artifact: dicec.emit.inputs).
CROPS_IN_PATH = "/dicec/inputs/crops.zip"
CROP_INDICES_PARAMETER = "crop-indices"


def value_of(task_id: str) -> str:
    """The Argo reference to a (not fused) task's ``value`` output."""
    return "{{tasks.%s.outputs.parameters.value}}" % task_id


def condition(value_ref: str) -> str:
    """The ``when`` text for a step offloaded from the detections whose value ``value_ref`` refers to."""
    return "'%s' != '%s'" % (value_ref, EMPTY)


def offload_when(placed, value_ref: Callable[[str], str] = value_of) -> dict[str, str]:
    """Task id -> its ``when``, for every offloaded cloud task of ``placed`` (empty without an edge pool).

    ``value_ref`` gives the reference to a task's value (a fused group's step names its outputs per task).
    """
    return {tid: condition(value_ref(source)) for tid, source in offload_guards(placed).items()}


def crop_feeds(placed, fused) -> dict[str, str]:
    """``placed.crops`` as emitted: an edge detection run inside a fused step (a hand-made placement;
    placement never fuses edge tasks) writes no bundle, so its consumers read the frame."""
    return {t: s for t, s in sorted(placed.crops.items()) if not fused.skip(s)}


def crop_indices(graph, feeds: dict[str, str]) -> dict[str, str]:
    """Edge task -> its ``--crops-indices`` (``all``, or the ``patches[i]`` indices its consumers use;
    :func:`dicec.placement.edge.crop_selection`)."""
    return {s: "all" if w is None else ",".join(map(str, w)) for s, w in crop_selection(graph, feeds).items()}


def crops_out_args(args: list[str]) -> list[str]:
    """An edge detection step's args, also writing its crop bundle."""
    return [*args, "--crops-out", CROPS_OUT_PATH, "--crops-indices", "{{inputs.parameters.%s}}" % CROP_INDICES_PARAMETER]


def crops_in_args(args: list[str]) -> list[str]:
    """A step's args reading the crop bundle artifact instead of the image (``--image X`` -> ``--crops P``)."""
    i = args.index("--image")
    return [*args[:i], "--crops", CROPS_IN_PATH, *args[i + 2:]]


def crops_output() -> Any:
    """The edge step's output artifact (hera)."""
    from hera.workflows import Artifact, NoneArchiveStrategy

    return Artifact(name=CROPS_ARTIFACT, path=CROPS_OUT_PATH, optional=True, archive=NoneArchiveStrategy())


def crops_input() -> Any:
    """The cloud step's input artifact (hera); the DAG task supplies it (:func:`crops_argument`)."""
    from hera.workflows import Artifact

    return Artifact(name=CROPS_ARTIFACT, path=CROPS_IN_PATH)


def crops_argument(source: str) -> Any:
    """The DAG task's argument passing edge task ``source``'s bundle (hera)."""
    from hera.workflows import Artifact

    return Artifact(name=CROPS_ARTIFACT, from_="{{tasks.%s.outputs.artifacts.%s}}" % (source, CROPS_ARTIFACT))
