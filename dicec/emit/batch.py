"""Emitting a pods-mode batch: shards of stage pods that load each model once for many images.

``dicec compile --batch`` in pods mode (:func:`dicec.pipeline.compile_text`) emits, for a
:class:`~dicec.placement.stages.BatchPlan`, a Workflow of this shape:

* ``main`` (the entry DAG): one task ``shard`` fanned out with ``withSequence: {count: N}`` (N the plan's
  shards; Argo's items are ``"0"`` ... ``"N-1"``), under ``--parallelism`` (at most that many shards at
  once); its output parameter ``answers`` is Argo's aggregation of the shards' ``answers``: a JSON list
  of per-shard lists, in shard order, so in image order (the shards are contiguous slices);
* ``shard`` (a DAG, input ``shard``): the plan's stage pods in a chain, then ``answer``. Each stage pod
  gets the records of the one before it as an input artifact (``from:
  {{tasks.PREV.outputs.artifacts.records}}``) and passes on its own output artifact ``records``; the
  ``answer`` task's output parameter ``answers`` is the shard's;
* one container template per stage pod (named after it) on its pool -- ``nvidia.com/gpu`` requests, the
  pool's ``nodeSelector`` and tolerations -- running ``dicec op stage --stage B64 ...`` (the contract
  is :mod:`dicec.runtime.stage`); the ``answer`` template on the answer pod's pool running ``dicec op
  stage --program B64 ...`` (each question's program, base64url, in the plan's order: literals of the
  template, like the stage pods' calls, so that no node's status repeats them), with the output parameter
  ``answers`` (this shard's answers, one JSON object per image: ``{"index": i, "answers": [{"answer": A} | {"error": MESSAGE}, ...]}``, one entry per
  question) and the output artifact ``answers`` (the same, one JSON line per image, with its ``image``).

The image list never travels through argv or the environment (Linux refuses one argument over 128 KiB,
and ten thousand URIs are more): every pod template declares the input artifact ``images`` with ``raw:
{data: "{{workflow.parameters.images}}"}``, which Argo writes to :data:`IMAGES_PATH` before the container
starts, and the pod picks its own slice (``--shard {{inputs.parameters.shard}} --shards N``). Argo keeps a
template larger than a container's environment allows in a ConfigMap (one MiB at most), so the list is
bounded by that and by the Workflow object's own size (it is a parameter): about ten thousand URIs.

The records and answers travel as Argo artifacts, so the cluster needs an artifact repository (the
namespace's default or ``artifactRepositoryRef``); they are stored unarchived (plain JSON Lines). Every
pod is locked down as every other step (:mod:`dicec.emit.hardening`), with retries; a pod's
``activeDeadlineSeconds`` is ``--step-deadline`` (start-up and model loads) plus ``--image-deadline``
seconds for each image of the largest shard of a ``--max-batch`` batch (a pod refuses a larger batch), and
the workflow's deadline is at least the chain's pods one after another, in as many waves as
``--parallelism`` makes of the shards. The plan itself is the annotation
:data:`~dicec.placement.stages.PLAN_ANNOTATION` (``dicec cost``/``dicec simulate`` read it back).
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

from hera.workflows import DAG, Artifact, Container, NoneArchiveStrategy, Parameter, RawArtifact, Task
from hera.workflows import models as m
from hera.workflows.models import ValueFrom

from dicec.emit import steps
from dicec.emit.argo import ENTRY_TEMPLATE, EmitOptions, step_fields, workflow_document
from dicec.emit.images import answer_image, for_arch
from dicec.emit.inputs import ANSWERS_OUTPUT, BATCH_PARAMETER, ImageSource
from dicec.errors import DicecError
from dicec.placement.place import ANSWER_STEP
from dicec.placement.stages import PLAN_ANNOTATION, BatchPlan
from dicec.runtime.contract import RESULT_DIR, b64

SHARD_TEMPLATE = "shard"
SHARD_TASK = "shard"
SHARD_PARAMETER = "shard"
IMAGES_ARTIFACT = "images"
RECORDS_ARTIFACT = "records"
#: Where a pod finds the image list (an input artifact; outside the /tmp emptyDir, as every input artifact).
IMAGES_PATH = "/dicec/inputs/images.json"
#: Where a pod finds the records of the pod before it.
RECORDS_IN_PATH = "/dicec/inputs/records.jsonl"
RECORDS_OUT_PATH = f"{RESULT_DIR}/records.jsonl"
ANSWERS_PATH = f"{RESULT_DIR}/answers.jsonl"
ANSWERS_LIST_PATH = f"{RESULT_DIR}/answers.json"
#: Linux refuses one argument longer than this (MAX_ARG_STRLEN, 32 pages of 4 KiB) when a pod starts.
MAX_ARGUMENT_BYTES = 128 * 1024
#: Kubernetes refuses an object whose annotations together exceed 256 KiB; the plan may have most of it.
MAX_PLAN_BYTES = 192 * 1024


def uses_stages(placed: Sequence[Any], options: EmitOptions) -> bool:
    """Whether a batch of ``placed`` runs as shards of stage pods: pods mode, images read by the pods themselves
    (not ``--input-artifact``: Argo downloads an artifact per pod, not per image), no edge device."""
    return (options.batch and options.mode == "pods" and options.input_artifact is None
            and not any(getattr(pool, "edge", False) for g in placed for pool in g.pools.values()))


def program_arguments(placed: Sequence[Any]) -> list[str]:
    """The answer template's ``--program B64`` arguments, one per question in the plan's order.

    Literals of the template, not task parameters: Argo copies a task's input parameters into its node's
    status (and its retry node's), so K programs passed as parameters would weigh K programs x shards x 2 in
    the Workflow object, most of the 1 MiB a Workflow may hold for a corpus of a hundred questions."""
    out: list[str] = []
    for i, g in enumerate(placed, 1):
        out += ["--program", one_argument(b64(g.graph.source), f"question {i}: its program is", "")]
    return out


def one_argument(text: str, what: str, advice: str) -> str:
    """``text``, checked to fit one command-line argument (:data:`MAX_ARGUMENT_BYTES`); else one line: ``what``
    (ending in its verb) the size, the limit, then ``advice``."""
    if len(text) >= MAX_ARGUMENT_BYTES:
        raise DicecError(f"{what} {len(text)} bytes of one argument, over Linux's {MAX_ARGUMENT_BYTES}-byte "
                         f"limit{advice}")
    return text


def stage_payload(plan: BatchPlan, name: str, placed: Sequence[Any]) -> str:
    """The ``--stage`` value of stage pod ``name``: its calls per question, in the plan's order."""
    stage = plan.stage(name)
    calls: list[list[dict]] = [[] for _ in plan.queries]
    for t in stage.tasks:
        calls[t.query].append(steps.call_body(placed[t.query].graph.task(t.task)))
    body = {"stage": name, "calls": calls}
    return one_argument(b64(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)),
                        f"stage {name}: its calls for {len(plan.queries)} question(s) are",
                        "; compile fewer questions together")


def pod_deadline(plan: BatchPlan, options: EmitOptions) -> int:
    """A pod's ``activeDeadlineSeconds``: the step deadline plus the per-image allowance for the largest shard."""
    return options.step_deadline_seconds + options.image_deadline_seconds * math.ceil(options.max_batch / plan.shards)


def emit_batch_workflow(placed: Sequence[Any], plan: BatchPlan, options: EmitOptions) -> dict[str, Any]:
    """The batch Workflow of ``placed`` (placed graphs, one per question, in the plan's order) run as ``plan``
    says, as a plain dict (keys in a stable order; see the module docstring)."""
    pools = {name: pool for g in placed for name, pool in g.pools.items()}
    deadline = pod_deadline(plan, options)
    images_input = RawArtifact(name=IMAGES_ARTIFACT, path=IMAGES_PATH,
                               data="{{workflow.parameters.%s}}" % BATCH_PARAMETER)
    common = ["--images", IMAGES_PATH, "--shard", "{{inputs.parameters.%s}}" % SHARD_PARAMETER,
              "--shards", str(plan.shards), "--max-images", str(options.max_batch)]
    templates: list[Container] = []
    tasks: list[Task] = []
    previous: str | None = None
    for stage in plan.stages:
        args = ["--stage", stage_payload(plan, stage.name, placed), *common, *_records_in(previous),
                "--records-out", RECORDS_OUT_PATH]
        templates.append(Container(
            name=stage.name, image=for_arch(stage.image, pools[stage.pool], options), command=["dicec", "op", "stage"],
            args=args, inputs=_inputs(images_input, previous),
            outputs=[Artifact(name=RECORDS_ARTIFACT, path=RECORDS_OUT_PATH, archive=NoneArchiveStrategy())],
            **step_fields(pools[stage.pool], options, deadline_seconds=deadline, model_gb=stage_model_gb(stage, placed))))
        tasks.append(Task(name=stage.name, template=templates[-1], arguments=_arguments(previous),
                          dependencies=[previous] if previous else None))
        previous = stage.name
    templates.append(Container(
        name=ANSWER_STEP, image=for_arch(answer_image({k: v for g in placed for k, v in g.images.items()}, options),
                                         pools[plan.answer.pool], options),
        command=["dicec", "op", "stage"],
        args=[*program_arguments(placed), *common, *_records_in(previous), "--answers-out", ANSWERS_PATH,
              "--answers-list-out", ANSWERS_LIST_PATH],
        inputs=_inputs(images_input, previous),
        outputs=[Parameter(name=ANSWERS_OUTPUT, value_from=ValueFrom(path=ANSWERS_LIST_PATH)),
                 Artifact(name=ANSWERS_OUTPUT, path=ANSWERS_PATH, archive=NoneArchiveStrategy())],
        **step_fields(pools[plan.answer.pool], options, deadline_seconds=deadline,
                      model_gb=max((g.answer.gpu_memory_gb for g in placed), default=0.0))))
    tasks.append(Task(name=ANSWER_STEP, template=templates[-1],
                      arguments=_arguments(previous),
                      dependencies=[previous] if previous else None))
    shard = DAG(name=SHARD_TEMPLATE, inputs=[Parameter(name=SHARD_PARAMETER)], tasks=tasks, outputs=[Parameter(
        name=ANSWERS_OUTPUT, value_from=ValueFrom(parameter="{{tasks.%s.outputs.parameters.%s}}" % (ANSWER_STEP,
                                                                                                 ANSWERS_OUTPUT)))])
    main = DAG(name=ENTRY_TEMPLATE, parallelism=options.parallelism, tasks=[Task(
        name=SHARD_TASK, template=shard, arguments={SHARD_PARAMETER: "{{item}}"},
        with_sequence=m.Sequence(count=m.IntOrString(str(plan.shards))))],
        outputs=[Parameter(name=ANSWERS_OUTPUT, value_from=ValueFrom(
            parameter="{{tasks.%s.outputs.parameters.%s}}" % (SHARD_TASK, ANSWERS_OUTPUT)))])
    annotation = plan.dumps(compact=True)
    if len(annotation) > MAX_PLAN_BYTES:
        raise DicecError(f"the batch plan of {len(plan.queries)} question(s) is {len(annotation)} bytes, over the "
                         f"{MAX_PLAN_BYTES} bytes a Workflow annotation may hold; compile fewer questions together")
    waves = math.ceil(plan.shards / options.parallelism) if options.parallelism else 1
    graphs = [g.graph for g in placed]
    one = len(graphs) == 1
    questions = [g.question for g in graphs]
    return workflow_document(
        options, source=graphs[0].question or graphs[0].path,
        program=graphs[0].source if one else json.dumps([g.source for g in graphs]),
        question=questions[0] if one else (None if None in questions else json.dumps(questions)),
        usd_per_query=round(plan.usd_per_query, 8),
        tasks=sum(len(g.tasks) for g in graphs), templates=[main, shard, *templates],
        arguments=ImageSource(batch=True).workflow_parameters(), parallelism=None,
        annotations={PLAN_ANNOTATION: annotation},
        deadline_seconds=max(options.workflow_deadline_seconds, waves * len(plan.chain) * deadline))


def stage_model_gb(stage: Any, placed: Sequence[Any]) -> float:
    """The GPU memory of the models a stage pod loads (each distinct operator of its tasks once): what its host
    memory is sized for (:func:`dicec.emit.hardening.host_memory`)."""
    memory: dict[str, float] = {}
    for t in stage.tasks:
        task = placed[t.query].graph.task(t.task)
        memory[task.operator] = max(memory.get(task.operator, 0.0), placed[t.query].placements[t.task].gpu_memory_gb)
    return sum(memory.values())


def _records_in(previous: str | None) -> list[str]:
    return ["--records-in", RECORDS_IN_PATH] if previous else []


def _inputs(images_input: RawArtifact, previous: str | None) -> list[Any]:
    out: list[Any] = [Parameter(name=SHARD_PARAMETER), images_input]
    if previous:
        out.append(Artifact(name=RECORDS_ARTIFACT, path=RECORDS_IN_PATH))
    return out


def _arguments(previous: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {SHARD_PARAMETER: "{{inputs.parameters.%s}}" % SHARD_PARAMETER}
    if previous:
        out[RECORDS_ARTIFACT] = Artifact(name=RECORDS_ARTIFACT,
                                         from_="{{tasks.%s.outputs.artifacts.%s}}" % (previous, RECORDS_ARTIFACT))
    return out
