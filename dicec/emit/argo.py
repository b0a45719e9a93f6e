"""Building the Argo Workflow for a placed graph, with hera.

Shape of what is emitted:

* one DAG template ``main``: a task per graph task (fan-outs with ``withParam`` over the producing
  task's ``value`` output), then the ``answer`` task, which depends on all of them;
* one container template per (operator, pool): the vision image running ``dicec op NAME`` (see
  :mod:`dicec.emit.steps`), with ``nvidia.com/gpu`` requests, a ``nodeSelector`` for the pool and
  tolerations for its taints;
* the ``answer`` container template on the pool placement chose for it (CPU unless residual calls
  need a GPU), whose ``answer`` output becomes the workflow's output.

Only hashes of the question and program reach labels and annotations; the program itself travels
base64url-encoded, so nothing a user or an LLM wrote can be read by Argo or YAML as structure.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from hera.workflows import DAG, Container, Parameter, Resources, Task, Workflow
from hera.workflows.models import Toleration, ValueFrom

from dicec import __version__
from dicec.analysis.graph import Format, Ref
from dicec.emit import steps
from dicec.errors import DicecError
from dicec.placement.place import ANSWER_STEP, PlacedGraph, Placement
from dicec.placement.pools import Pool

ENTRY_TEMPLATE = "main"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class EmitOptions:
    """Choices that do not come from the graph.

    Attributes:
        name: a fixed ``metadata.name``; by default ``generateName`` is used, as ``argo submit`` expects.
        namespace: ``metadata.namespace``, or ``None`` to leave it to the submitter.
        gpu_cpu_request: CPU request of a GPU step.
        gpu_memory_request: memory request of a GPU step.
        cpu_step_cpu_request: CPU request of a CPU step.
        cpu_step_memory_request: memory request of a CPU step.
    """

    name: str | None = None
    namespace: str | None = None
    gpu_cpu_request: str = "2"
    gpu_memory_request: str = "8Gi"
    cpu_step_cpu_request: str = "500m"
    cpu_step_memory_request: str = "1Gi"

    def __post_init__(self) -> None:
        for what, value in (("name", self.name), ("namespace", self.namespace)):
            if value is not None and (not _DNS_SUBDOMAIN.match(value) or (what == "namespace" and len(value) > 63)):
                raise DicecError(f"--{what} {value!r} is not a valid Kubernetes name "
                                 "(lower-case letters, digits, '-' and '.', starting and ending alphanumeric)")


def emit_workflow(placed: PlacedGraph, options: EmitOptions = EmitOptions()) -> dict[str, Any]:
    """Return the Argo Workflow for ``placed`` as a plain dict (keys in a stable order)."""
    graph = placed.graph
    templates: dict[str, Container] = {}
    tasks: list[Task] = []
    for task in graph.tasks:
        placement = placed.placements[task.id]
        template = _operator_template(task.operator, placement, placed, templates, options)
        params: dict[str, str] = {"call": steps.call_payload(task)}
        with_param = None
        if task.patch is None:
            params["patch"] = "null"
        elif task.patch.kind == "image":
            params["patch"] = '"image"'
        elif task.patch.kind == "each":
            with_param = _value_of(task.patch.task)
            params["patch"] = "{{item}}"
        else:
            params["patch"] = _value_of(task.patch.task)
            params["index"] = "none" if task.patch.index is None else str(task.patch.index)
        refs = sorted({r for a in task.args for r in _refs(a)})
        if refs:
            params["refs"] = "{" + ", ".join(f'"{r}": {_value_of(r)}' for r in refs) + "}"
        tasks.append(Task(name=task.id, template=template, arguments=params,
                          dependencies=list(task.depends) or None, with_param=with_param))

    answer_template = _answer_template(placed, options)
    records = "[" + ", ".join("{{tasks.%s.outputs.parameters.record}}" % t.id for t in graph.tasks) + "]"
    tasks.append(Task(name=ANSWER_STEP, template=answer_template,
                      arguments={"program": steps.b64(graph.source), "records": records},
                      dependencies=[t.id for t in graph.tasks] or None))
    dag = DAG(name=ENTRY_TEMPLATE, tasks=tasks, outputs=[Parameter(
        name="answer", value_from=ValueFrom(parameter="{{tasks.%s.outputs.parameters.answer}}" % ANSWER_STEP))])

    workflow = Workflow(
        name=options.name,
        generate_name=None if options.name else f"dicec-{_slug(graph.question or graph.path)}-",
        namespace=options.namespace,
        labels=_labels(placed),
        annotations=_annotations(placed),
        entrypoint=ENTRY_TEMPLATE,
        arguments=[Parameter(name=steps.IMAGE_PARAMETER, description=(
            "the image to analyse: a path or URI the step containers can read"))],
        templates=[dag, *[templates[k] for k in sorted(templates)], answer_template],
    )
    body = workflow.to_dict()
    ordered = {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in body}
    ordered.update({k: v for k, v in body.items() if k not in ordered})
    return ordered


def _value_of(task_id: str) -> str:
    return "{{tasks.%s.outputs.parameters.value}}" % task_id


def _refs(arg: Any) -> list[str]:
    if isinstance(arg, Ref):
        return [arg.task]
    if isinstance(arg, Format):
        return [p.task for p in arg.parts if isinstance(p, Ref)]
    return []


def _operator_template(operator: str, placement: Placement, placed: PlacedGraph,
                       cache: dict[str, Container], options: EmitOptions) -> Container:
    pool = placed.pools[placement.pool]
    name = f"{operator.replace('_', '-')}-{pool.name}"
    if name in cache:
        return cache[name]
    command, args = steps.op_command(operator)
    cache[name] = Container(
        name=name,
        image=placed.images[operator],
        command=command,
        args=args,
        inputs=[Parameter(name="call"), Parameter(name="patch", default='"image"'),
                Parameter(name="index", default="none"), Parameter(name="refs", default="{}")],
        outputs=[Parameter(name="value", value_from=ValueFrom(path=steps.VALUE_PATH)),
                 Parameter(name="record", value_from=ValueFrom(path=steps.RECORD_PATH))],
        **_placement_fields(pool, options),
    )
    return cache[name]


def _answer_template(placed: PlacedGraph, options: EmitOptions) -> Container:
    pool = placed.pools[placed.answer.pool]
    command, args = steps.answer_command()
    image = sorted(set(placed.images.values()))[0] if placed.images else _default_image()
    return Container(
        name=ANSWER_STEP,
        image=image,
        command=command,
        args=args,
        inputs=[Parameter(name="program"), Parameter(name="records", default="[]")],
        outputs=[Parameter(name="answer", value_from=ValueFrom(path=steps.ANSWER_PATH))],
        **_placement_fields(pool, options),
    )


def _default_image() -> str:
    return f"ghcr.io/dicec/vision:{__version__}"


def _placement_fields(pool: Pool, options: EmitOptions) -> dict[str, Any]:
    if pool.has_gpu:
        resources = Resources(gpus=1, cpu_request=options.gpu_cpu_request, memory_request=options.gpu_memory_request)
    else:
        resources = Resources(cpu_request=options.cpu_step_cpu_request, memory_request=options.cpu_step_memory_request)
    tolerations = [Toleration(key=t["key"], operator=t.get("operator", "Equal"), value=t.get("value"),
                              effect=t["effect"]) for t in pool.taints] or None
    return {"resources": resources, "node_selector": dict(sorted(pool.node_labels.items())) or None,
            "tolerations": tolerations}


def _labels(placed: PlacedGraph) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "dicec",
        "dicec.dev/program": hashlib.sha256(placed.graph.source.encode("utf-8")).hexdigest()[:16],
    }


def _annotations(placed: PlacedGraph) -> dict[str, str]:
    g = placed.graph
    out = {
        "dicec.dev/version": __version__,
        "dicec.dev/program-sha256": hashlib.sha256(g.source.encode("utf-8")).hexdigest(),
        "dicec.dev/estimated-usd-per-query": f"{placed.totals['usd_per_query']:.6f}",
        "dicec.dev/tasks": str(len(g.tasks)),
    }
    if g.question is not None:
        out["dicec.dev/question-sha256"] = hashlib.sha256(g.question.encode("utf-8")).hexdigest()
    return out


def _slug(text: str) -> str:
    base = text.rsplit("/", 1)[-1]
    base = base[:-3] if base.endswith(".py") else base[:-4] if base.endswith(".txt") else base
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:30].strip("-")
    return slug or "query"
