"""Where a workflow's image comes from: a parameter, an Argo input artifact, or a list of images.

Three independent choices shape how the steps see their input image:

* **by path** (the default): the ``image`` workflow parameter is a path or URI the step containers can
  read, passed to ``dicec op --image`` as it is;
* **as an input artifact** (``--input-artifact s3|gcs|http``): every step template declares an input
  artifact ``image`` that Argo's init container downloads to :data:`ARTIFACT_PATH` before the step
  starts, and the step reads that file. For ``s3`` and ``gcs`` the parameter is a *key* and nothing else
  is written (a key-only artifact): the bucket, endpoint and credentials come from the artifact
  repository configured in the cluster (``artifactRepositoryRef`` or the namespace's default), so the
  workflow does not carry them. For ``http`` the parameter is the URL. The path lies outside the
  ``/tmp`` ``emptyDir`` (see :mod:`dicec.emit.hardening`), so Argo mounts the artifact there with its
  own volume and never has to write into a user volume;
* **batch** (``--batch``): the workflow parameter ``images`` is a JSON list; the entry DAG fans out over
  it (``withParam``) to the per-query DAG template :data:`QUERY_TEMPLATE`, which takes one ``image``
  input and runs the same tasks as a single-image workflow, and the entry template's ``answers``
  output is Argo's aggregation of the per-image ``answer-json`` outputs, one per image in the order of
  ``images``. Argo parses aggregated values only when every one is a JSON list or object
  (``aggregatedJSONValueList``, :mod:`dicec.runner.aggregate`), so ``answers`` is either the list of the
  answers themselves (every answer a list or an object) or the list of their JSON texts as strings (any
  other answer among them): an element that is a string is always an answer's JSON text, never the
  answer, so it reads back unambiguously (:func:`dicec.runner.batch.decode_answers`). A parallelism cap on
  the entry DAG bounds how many images run at once.
  (A pods-mode batch whose pods read the images themselves -- not ``--input-artifact`` -- runs as shards
  of stage pods instead, each loading its models once for many images: :mod:`dicec.emit.batch`.)

Every value here is an Argo reference (``{{workflow.parameters.image}}``, ``{{inputs.parameters.image}}``
or ``{{item}}``) or a constant; no user text reaches the workflow through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dicec.errors import DicecError

ARTIFACT_KINDS = ("s3", "gcs", "http")
#: Where a step finds the image when it arrives as an input artifact.
ARTIFACT_PATH = "/dicec/inputs/image"
IMAGE_ARTIFACT = "image"
IMAGE_PARAMETER = "image"
BATCH_PARAMETER = "images"
QUERY_TEMPLATE = "query"
EACH_IMAGE_TASK = "each-image"
ANSWERS_OUTPUT = "answers"

_DESCRIPTIONS = {
    None: "the image to analyse: a path or URI the step containers can read",
    "s3": "the image's key in the cluster's default S3 artifact repository (bucket and credentials come from it)",
    "gcs": "the image's key in the cluster's default GCS artifact repository (bucket and credentials come from it)",
    "http": "the image's http(s) URL, downloaded by Argo before each step starts",
}


@dataclass(frozen=True, kw_only=True)
class ImageSource:
    """How the image reaches the steps.

    Attributes:
        artifact: ``s3``, ``gcs`` or ``http`` to pass the image as an Argo input artifact, or ``None``
            to pass a path or URI.
        batch: the workflow takes a JSON list of images and answers each.
    """

    artifact: str | None = None
    batch: bool = False

    def __post_init__(self) -> None:
        if self.artifact is not None and self.artifact not in ARTIFACT_KINDS:
            raise DicecError(f"--input-artifact {self.artifact!r}: expected one of {', '.join(ARTIFACT_KINDS)}")

    @property
    def reference(self) -> str:
        """The Argo reference to the image's parameter, as seen inside a step template."""
        return "{{inputs.parameters.%s}}" % IMAGE_PARAMETER if self.batch else \
            "{{workflow.parameters.%s}}" % IMAGE_PARAMETER

    @property
    def step_image(self) -> str:
        """What a step passes to ``--image``: the artifact's path, or the parameter's reference."""
        return ARTIFACT_PATH if self.artifact else self.reference

    def step_inputs(self) -> list[Any]:
        """Extra inputs of every step template (hera objects): the image parameter and/or artifact."""
        from hera.workflows import GCSArtifact, HTTPArtifact, Parameter, S3Artifact

        out: list[Any] = []
        if self.batch:
            out.append(Parameter(name=IMAGE_PARAMETER))
        if self.artifact == "s3":
            out.append(S3Artifact(name=IMAGE_ARTIFACT, path=ARTIFACT_PATH, key=self.reference))
        elif self.artifact == "gcs":
            out.append(GCSArtifact(name=IMAGE_ARTIFACT, path=ARTIFACT_PATH, key=self.reference))
        elif self.artifact == "http":
            out.append(HTTPArtifact(name=IMAGE_ARTIFACT, path=ARTIFACT_PATH, url=self.reference))
        return out

    def query_inputs(self) -> list[Any]:
        """Inputs of the per-query DAG template in batch mode: the one image it answers."""
        from hera.workflows import Parameter

        return [Parameter(name=IMAGE_PARAMETER)] if self.batch else []

    def task_arguments(self) -> dict[str, str]:
        """Extra arguments of every task of the per-query DAG."""
        return {IMAGE_PARAMETER: "{{inputs.parameters.%s}}" % IMAGE_PARAMETER} if self.batch else {}

    def workflow_parameters(self) -> list[Any]:
        """``spec.arguments.parameters`` (hera objects)."""
        from hera.workflows import Parameter

        what = _DESCRIPTIONS[self.artifact]
        if self.batch:
            return [Parameter(name=BATCH_PARAMETER,
                              description=f"a JSON list, one entry per image; each entry is {what}")]
        return [Parameter(name=IMAGE_PARAMETER, description=what)]
