"""Splitting a large batch into several Workflows, each under the size Argo keeps in one etcd object.

A batch workflow's status grows with its images (:mod:`dicec.runner.weight`); past ``MAX_WORKFLOW_SIZE``
(1 MiB) Argo compresses the node statuses, and past that again the workflow fails unless a database
takes them. :func:`split` turns a plan whose Workflow takes a list of images into one Workflow per part of
the list (:func:`dicec.runner.weight.plan_parts`: contiguous, as even as the bound allows), each a copy of
the compiled Workflow with its own slice as the ``images`` parameter, and these labels and annotations so
that ``argo list -l dicec.dev/batch=ID`` shows them together and each can be retried on its own:

* label ``dicec.dev/batch``: the first 16 hex digits of the SHA-256 of the Workflow's spec and the whole
  image list (the same batch gets the same id);
* labels ``dicec.dev/part`` (1, 2, ...) and ``dicec.dev/parts``;
* annotation ``dicec.dev/images``: ``START-STOP``, the part's images as indices into the whole list
  (``STOP`` exclusive), so the answers of the parts concatenate, in part order, to the batch's.

Why several Workflows and not a parent Workflow of child Workflows (Argo's workflow-of-workflows): a parent
holds every child's manifest in its own spec -- ten thousand 47-character URIs are 500 KB of it -- and every child's
outputs in its node statuses, so it meets the same bound; its ``resource`` steps need a service account
allowed to create Workflows, which dicec's pods are deliberately not given; and one child's failure is the
parent's, where separate parts are retried, resubmitted or deleted one at a time. A GitOps repository
keeps the compiled Workflow (or WorkflowTemplate) as one file either way: the parts are runs, not
configuration.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

from dicec.errors import DicecError

BATCH_LABEL = "dicec.dev/batch"
PART_LABEL = "dicec.dev/part"
PARTS_LABEL = "dicec.dev/parts"
IMAGES_ANNOTATION = "dicec.dev/images"
BATCH_PARAMETER = "images"


@dataclass(frozen=True, kw_only=True)
class Part:
    """One Workflow of a split batch.

    Attributes:
        number: 1, 2, ... in image order.
        start: the index of its first image in the whole list.
        stop: one past its last image's index.
        workflow_bytes: its estimated JSON bytes once finished (``None`` when the workflow could not be weighed).
    """

    number: int
    start: int
    stop: int
    workflow_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"part": self.number, "start": self.start, "stop": self.stop, "images": self.stop - self.start,
                "workflow_bytes": self.workflow_bytes}


def read_images(text: str, *, where: str) -> list[Any]:
    """An images list: a JSON list, or (anything else) one image per non-empty line."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            images = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DicecError(f"{where}: not a JSON list of images ({exc.msg} at character {exc.pos})") from None
        if not isinstance(images, list):
            raise DicecError(f"{where}: the images must be a JSON list")
        return images
    return [line.strip() for line in text.splitlines() if line.strip()]


def batch_workflow(documents: Sequence[dict]) -> dict | None:
    """The one Workflow of ``documents`` that takes a list of images, or ``None``."""
    found = [d for d in documents if d.get("kind") == "Workflow" and BATCH_PARAMETER in
             {p.get("name") for p in ((d.get("spec") or {}).get("arguments") or {}).get("parameters") or []}]
    return found[0] if len(found) == 1 else None


def parts_of(images: Sequence[Any], *, weight: Any | None, max_images: int | None) -> list[Part]:
    """The parts ``images`` run in: under the weight's bound (and ``max_images`` each), or, when the workflow
    could not be weighed (``weight`` ``None``), ``max_images`` at a time, else all in one."""
    from dicec.runner.weight import plan_parts

    if not images:
        return [Part(number=1, start=0, stop=0)]
    if weight is not None:
        ranges = plan_parts(weight, images, max_images=max_images)
        return [Part(number=n, start=a, stop=b,
                     workflow_bytes=round(weight.fixed_bytes() + sum(weight.image_bytes(len(str(i)))
                                                                      for i in images[a:b])))
                for n, (a, b) in enumerate(ranges, start=1)]
    size = max_images or max(1, len(images))
    return [Part(number=n, start=a, stop=min(a + size, len(images)))
            for n, a in enumerate(range(0, len(images), size), start=1)]


def batch_id(workflow: dict, images: Sequence[Any]) -> str:
    """The ``dicec.dev/batch`` label: 16 hex digits of the SHA-256 of the spec and the whole image list."""
    text = json.dumps([workflow.get("spec"), list(images)], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split(documents: Sequence[dict], images: Sequence[Any], parts: Sequence[Part]) -> list[dict]:
    """``documents`` with the batch Workflow replaced by one copy per part (its slice of ``images`` as the
    ``images`` parameter, the labels and annotation of the module docstring); one part: the Workflow with
    the whole list. Every other document stays as it is, once."""
    workflow = batch_workflow(documents)
    if workflow is None:
        raise DicecError("only a file with one batch Workflow (a list of images, parameter 'images') can be split")
    ident = batch_id(workflow, images)
    out = []
    for doc in documents:
        if doc is not workflow:
            out.append(doc)
            continue
        for part in parts:
            copied = copy.deepcopy(doc)
            for p in copied["spec"]["arguments"]["parameters"]:
                if p.get("name") == BATCH_PARAMETER:
                    p["value"] = json.dumps(list(images[part.start:part.stop]), separators=(",", ":"),
                                            ensure_ascii=False)
            if len(parts) > 1:
                meta = copied["metadata"]
                meta["labels"] = {**(meta.get("labels") or {}), BATCH_LABEL: ident, PART_LABEL: str(part.number),
                                  PARTS_LABEL: str(len(parts))}
                meta["annotations"] = {**(meta.get("annotations") or {}),
                                       IMAGES_ANNOTATION: f"{part.start}-{part.stop}"}
                if meta.get("name"):  # a fixed name: one per part
                    meta["name"] = f"{meta['name']}-part-{part.number}"
            out.append(copied)
    return out


def describe(parts: Sequence[Part], total: int, weight: Any | None) -> list[str]:
    """Lines saying how the images run: one per part, then what the bound was."""
    lines = [f"part {p.number} of {len(parts)}: images {p.start}..{p.stop - 1} ({p.stop - p.start})"
             + (f", about {p.workflow_bytes} bytes" if p.workflow_bytes is not None else "") for p in parts]
    if weight is not None:
        lines.append(f"{total} images in {len(parts)} Workflow(s), each under {weight.bound} bytes at "
                     f"{weight.assumptions.detections:g} detections per find")
    return lines
