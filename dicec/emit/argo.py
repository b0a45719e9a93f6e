"""Building the Argo Workflow for a placed graph, with hera.

Shape of what is emitted:

* one DAG template ``main``: a task per graph task (fan-outs with ``withParam`` over the producing
  task's ``value`` output), then the ``answer`` task, which depends on all of them;
* one container template per (operator, pool): the vision image running ``dicec op NAME`` (see
  :mod:`dicec.emit.steps`), with ``nvidia.com/gpu`` requests, a ``nodeSelector`` for the pool and
  tolerations for its taints;
* the ``answer`` container template on the pool placement chose for it (CPU unless residual calls
  need a GPU), whose outputs ``answer`` (the answer as text: a string without JSON quotes) and
  ``answer-json`` (its canonical JSON) become the workflow's outputs (:func:`answer_outputs`); it gets
  the steps' records as a ``raw`` input artifact (a file, never an argument: :mod:`dicec.emit.steps`);
* in services mode (:mod:`dicec.emit.services`) the operator calls and the answer are instead Argo
  ``http`` templates that Argo's agent sends to the model servers and the answer server
  (:mod:`dicec.emit.http`), and the Workflow runs as the agent's ServiceAccount (:mod:`dicec.emit.agent`);
  only steps that must stay containers (edge steps) are container templates;
* with ``batch``, that DAG becomes the template ``query`` (one ``image`` input), and ``main`` fans it
  out over the ``images`` list under a parallelism cap, gathering ``answers`` (``dicec compile`` emits a
  pods-mode batch whose pods read the images as shards of stage pods instead, :mod:`dicec.emit.batch`); with
  ``input_artifact`` every step receives the image as an Argo input artifact
  (:mod:`dicec.emit.inputs`); with ``kind="WorkflowTemplate"`` the same spec under a fixed name.

Every pod template gets the same lock-down and bounds (:func:`_pod_fields`, built from
:mod:`dicec.emit.hardening`): pod and container security contexts, a writable ``/tmp`` emptyDir,
requests and limits, ``retryStrategy`` with backoff, ``activeDeadlineSeconds``, no service-account
token unless asked; the spec gets ``podGC``, ``ttlStrategy`` and a workflow deadline.

Only hashes of the question and program reach labels and annotations; the program itself travels
base64url-encoded, so nothing a user or an LLM wrote can be read by Argo or YAML as structure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from hera.workflows import DAG, Artifact, Container, Parameter, RawArtifact, Task, Workflow, WorkflowTemplate
from hera.workflows import models as m
from hera.workflows.models import Toleration, ValueFrom

from dicec.emit import credentials, http, images, metadata, nodes, offload, services, steps
from dicec.emit.agent import agent_account, agent_manifests
from dicec.emit.hardening import DEFAULT as DEFAULT_HARDENING
from dicec.emit.hardening import Hardening, ResourceSpec, container_security_context, host_memory, pod_security_context
from dicec.emit.fused import FusedSteps
from dicec.emit.hardening import tmp_volume, tmp_volume_mount
from dicec.emit.inputs import ANSWERS_OUTPUT, BATCH_PARAMETER, EACH_IMAGE_TASK, QUERY_TEMPLATE, ImageSource
from dicec.emit.offload import offload_when
from dicec.emit.services import check_mode
from dicec.errors import DicecError
from dicec.placement.place import ANSWER_STEP, PlacedGraph, Placement
from dicec.placement.pools import Pool
from dicec.runtime.contract import b64

ENTRY_TEMPLATE = "main"
KINDS = ("Workflow", "WorkflowTemplate")
RETRY_POLICIES = ("Always", "OnFailure", "OnError", "OnTransientError")
POD_GC_STRATEGIES = ("OnPodSuccess", "OnPodCompletion", "OnWorkflowSuccess", "OnWorkflowCompletion")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class EmitOptions:
    """Choices that do not come from the graph.

    Attributes:
        name: a fixed ``metadata.name``; by default ``generateName`` is used, as ``argo submit`` expects.
        namespace: ``metadata.namespace``, or ``None`` to leave it to the submitter.
        gpu_cpu_request: CPU request of a GPU step.
        gpu_memory_request: host memory (RAM) request of a GPU step, or ``None`` to derive it from the step's
            models (:func:`dicec.emit.hardening.host_memory`).
        cpu_step_cpu_request: CPU request of a CPU step.
        cpu_step_memory_request: memory request of a CPU step.
        gpu_cpu_limit: CPU limit of a GPU step (its ``nvidia.com/gpu`` limit always equals the request).
        gpu_memory_limit: host memory limit of a GPU step, or ``None`` to derive it from the step's models.
        cpu_step_cpu_limit: CPU limit of a CPU step.
        cpu_step_memory_limit: memory limit of a CPU step.
        kind: ``Workflow``, or ``WorkflowTemplate`` for GitOps (then with a fixed name, derived from the
            input and the program when ``name`` is not given).
        batch: take a JSON list of images (parameter ``images``) and answer each (see :mod:`dicec.emit.inputs`;
            in pods mode ``dicec compile`` runs it as shards of stage pods, :mod:`dicec.emit.batch`).
        shards: a pods-mode batch: how many shards of stage pods (``None``: from the pools' ``max_nodes``,
            :func:`dicec.placement.stages.default_shards`).
        max_batch: a pods-mode batch: the most images it takes (its pods' deadlines are sized for it).
        image_deadline_seconds: a pods-mode batch: seconds each image adds to a pod's deadline.
        input_artifact: ``s3``, ``gcs`` or ``http`` to pass the image as an Argo input artifact.
        parallelism: at most this many images (a pods-mode batch: shards) at once, or pods at once (one image);
            ``None``: no cap.
        hardening: the pods' security settings (:mod:`dicec.emit.hardening`).
        service_account: ``spec.serviceAccountName`` of the step pods, or ``None`` for the namespace default; in
            services mode the account Argo's agent runs as (default :data:`dicec.emit.agent.AGENT_ACCOUNT`),
            emitted with its Role (:mod:`dicec.emit.agent`).
        executor_service_account: service account of Argo's executor containers when the step pods get
            no token (default: ``service_account``, else ``default``).
        image_secret: a Secret in the workflow's namespace whose keys every step gets as environment
            variables and files, to read an ``s3://`` or ``gs://`` image (:mod:`dicec.emit.credentials`),
            or ``None``.
        retry_limit: retries of a failed step.
        retry_policy: which failures are retried (Argo's ``Always``, ``OnFailure``, ``OnError``,
            ``OnTransientError``).
        retry_backoff: seconds before the first retry, doubled (``retry_backoff_factor``) each time.
        retry_backoff_factor: multiplier of the backoff.
        retry_max_duration: seconds after the first failure past which no retry starts.
        step_deadline_seconds: ``activeDeadlineSeconds`` of every step pod (of a batch's stage pod, plus
            ``image_deadline_seconds`` per image of its largest shard).
        workflow_deadline_seconds: ``activeDeadlineSeconds`` of the whole workflow.
        pod_gc: ``podGC.strategy`` (``OnPodSuccess``, ``OnPodCompletion``, ``OnWorkflowSuccess``,
            ``OnWorkflowCompletion``), or ``None`` to keep every pod.
        ttl_after_success: seconds a succeeded workflow is kept.
        ttl_after_failure: seconds a failed workflow is kept (longer, to debug it).
        mode: ``pods`` (each step loads its model) or ``services`` (model-server Deployments and
            Services beside the Workflow, steps call them; see :mod:`dicec.emit.services`).
        qps: services mode: the expected queries per second the servers' replicas are sized for.
        image: the container image of every step and server instead of the operators' own (``--image``), or
            ``None`` (:mod:`dicec.emit.images`).
        operator_images: ``(operator, image)`` pairs: that operator's steps and servers run that image.
        arch_images: ``(arch, image)`` pairs: the image of steps on pools of that CPU architecture.
        spot: the placement priced spot rates (``--spot``): steps on pools with a spot price select and
            tolerate the pool's spot nodes (``spot:`` in the catalogue).
    """

    name: str | None = None
    namespace: str | None = None
    gpu_cpu_request: str = "2"
    gpu_memory_request: str | None = None
    cpu_step_cpu_request: str = "500m"
    cpu_step_memory_request: str = "1Gi"
    gpu_cpu_limit: str = "4"
    gpu_memory_limit: str | None = None
    cpu_step_cpu_limit: str = "1"
    cpu_step_memory_limit: str = "2Gi"
    kind: str = "Workflow"
    batch: bool = False
    shards: int | None = None
    max_batch: int = 10000
    image_deadline_seconds: int = 30
    input_artifact: str | None = None
    parallelism: int | None = None
    hardening: Hardening = DEFAULT_HARDENING
    service_account: str | None = None
    executor_service_account: str | None = None
    image_secret: str | None = None
    retry_limit: int = 2
    retry_policy: str = "Always"
    retry_backoff: int = 15
    retry_backoff_factor: int = 2
    retry_max_duration: int = 600
    step_deadline_seconds: int = 1800
    workflow_deadline_seconds: int = 14400
    pod_gc: str | None = "OnPodSuccess"
    ttl_after_success: int = 3600
    ttl_after_failure: int = 86400
    mode: str = "pods"
    qps: float = 1.0
    image: str | None = None
    operator_images: tuple[tuple[str, str], ...] = ()
    arch_images: tuple[tuple[str, str], ...] = ()
    spot: bool = False

    def __post_init__(self) -> None:
        for what, value in (("name", self.name), ("namespace", self.namespace),
                            ("service-account", self.service_account),
                            ("executor-service-account", self.executor_service_account),
                            ("image-secret", self.image_secret)):
            if value is not None and (not _DNS_SUBDOMAIN.match(value) or (what == "namespace" and len(value) > 63)):
                raise DicecError(f"--{what} {value!r} is not a valid Kubernetes name "
                                 "(lower-case letters, digits, '-' and '.', starting and ending alphanumeric)")
        if self.name is not None and len(self.name) > metadata.MAX_NAME:
            raise DicecError(f"--name {self.name!r} is longer than Argo's {metadata.MAX_NAME} characters")
        if self.kind not in KINDS:
            raise DicecError(f"--kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if self.retry_policy not in RETRY_POLICIES:
            raise DicecError(f"--retry-policy {self.retry_policy!r}: expected one of {', '.join(RETRY_POLICIES)}")
        if self.pod_gc is not None and self.pod_gc not in POD_GC_STRATEGIES:
            raise DicecError(f"--pod-gc {self.pod_gc!r}: expected one of {', '.join(POD_GC_STRATEGIES)}")
        for what in ("retry_limit", "retry_backoff", "retry_backoff_factor", "retry_max_duration",
                     "step_deadline_seconds", "workflow_deadline_seconds", "ttl_after_success",
                     "ttl_after_failure", "parallelism", "shards", "max_batch", "image_deadline_seconds"):
            value = getattr(self, what)
            low = 0 if what == "retry_limit" else 1
            if value is None and what in ("parallelism", "shards"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise DicecError(f"--{what.replace('_', '-')} must be a whole number of at least {low}, not {value!r}")
        ImageSource(artifact=self.input_artifact, batch=self.batch)  # validates the artifact kind
        if self.mode == "services" and self.input_artifact is not None:
            raise DicecError("--input-artifact is for pods mode: in services mode the servers read the image "
                             "by its URI (give -p image=URI), so no step downloads it")
        if self.shards is not None and not self.batch:
            raise DicecError("--shards goes with --batch (the shards of a batch's stage pods)")
        if self.shards is not None and (self.mode != "pods" or self.input_artifact is not None):
            raise DicecError("--shards needs a pods-mode batch whose pods read the images themselves "
                             "(not --mode services, not --input-artifact)")
        check_mode(self.mode, self.qps)
        images.check_options(image=self.image, operator_images=self.operator_images, arch_images=self.arch_images)
        if (self.gpu_memory_request is None) != (self.gpu_memory_limit is None):
            raise DicecError("a GPU step's host memory request and limit are given together, or both derived")
        self.resources(gpu=True)  # validates the quantities
        self.resources(gpu=False)

    def resources(self, *, gpu: bool, model_gb: float = 0.0) -> ResourceSpec:
        """Requests and limits of a GPU step (one GPU; host memory from ``model_gb``, the GPU memory of the models
        the step loads, unless set: :func:`dicec.emit.hardening.host_memory`) or a CPU step."""
        if gpu:
            request, limit = ((self.gpu_memory_request, self.gpu_memory_limit) if self.gpu_memory_request is not None
                              else host_memory(model_gb))
            return ResourceSpec(cpu_request=self.gpu_cpu_request, memory_request=request,
                                cpu_limit=self.gpu_cpu_limit, memory_limit=limit, gpus=1)
        return ResourceSpec(cpu_request=self.cpu_step_cpu_request, memory_request=self.cpu_step_memory_request,
                            cpu_limit=self.cpu_step_cpu_limit, memory_limit=self.cpu_step_memory_limit)


def emit_workflow(placed: PlacedGraph, options: EmitOptions = EmitOptions(), *,
                  servers: tuple | None = None) -> dict[str, Any]:
    """Return the Argo Workflow for ``placed`` as a plain dict (keys in a stable order).

    ``servers``: in services mode, the model servers the steps call (:func:`dicec.emit.services.plan_servers`,
    planned here when not given)."""
    placed = images.with_images(placed, options)
    graph = placed.graph
    if options.mode == "services" and servers is None:
        servers = services.plan_servers(placed, qps=options.qps)
    source = ImageSource(artifact=options.input_artifact, batch=options.batch)
    templates: dict[str, Any] = {}
    tasks: list[Task] = []
    fused = FusedSteps.of(placed, mode=options.mode)  # fused groups: one step each (dicec.emit.fused)
    offloaded = offload_when(placed, fused.value_of)  # edge-cloud: steps needing an edge detection (dicec.emit.offload)
    # Crops, not frames (dicec.emit.offload): through an artifact, or cut by a services-mode step on the edge.
    send_from_edge = options.mode == "services" and services.step_pool(placed).edge  # calling steps beside the frame
    feeds = offload.crop_feeds(placed, fused)
    crop_indices = {} if send_from_edge else offload.crop_indices(graph, feeds)
    roles = {task.id: ("send" if send_from_edge else "in") if task.id in feeds else
             "out" if task.id in crop_indices else None for task in graph.tasks}
    http_tasks = _http_tasks(placed, options, roles)
    for task in graph.tasks:
        if fused.skip(task.id):
            if task.id in fused.groups:
                fed = {feeds.get(t) for t in fused.groups[task.id]}
                tasks.append(fused.step(task.id, graph, placed, templates, image=source.step_image,
                                        arguments=source.task_arguments(), inputs=source.step_inputs(),
                                        fields=lambda pool, model_gb: step_fields(pool, options, model_gb=model_gb),
                                        container_image=lambda image, pool: images.for_arch(image, pool, options),
                                        crops_from=fed.pop() if len(fed) == 1 else None))
                guards = {offloaded.get(t) for t in fused.groups[task.id]}
                if len(guards) == 1 and None not in guards:  # every task of the group offloaded from one detection
                    tasks[-1].when = guards.pop()
            continue
        placement = placed.placements[task.id]
        if task.id in http_tasks:  # services mode: the agent sends the call to the model server (dicec.emit.http)
            template = _http_operator_template(task, placement, placed, templates, options, source, servers)
            params = {**source.task_arguments(), "call": steps.call_payload(task),
                      **http.task_arguments(task, http_tasks, fused.value_of)}
            tasks.append(Task(name=task.id, template=template, arguments=params, dependencies=fused.depends(task)))
            continue
        role = roles[task.id]
        template = _operator_template(task.operator, placement, placed, templates, options, source, crops=role,
                                      servers=servers)
        params: dict[str, Any] = {**source.task_arguments(), "call": steps.call_payload(task)}
        if role == "out":
            params[offload.CROP_INDICES_PARAMETER] = crop_indices[task.id]
        elif role == "in":
            params[offload.CROPS_ARTIFACT] = offload.crops_argument(feeds[task.id])
        with_param = None
        if task.patch is None:
            params["patch"] = "null"
        elif task.patch.kind == "image":
            params["patch"] = '"image"'
        elif task.patch.kind == "each":
            with_param = fused.value_of(task.patch.task)
            params["patch"] = "{{item}}"
        else:
            params["patch"] = fused.value_of(task.patch.task)
            params["index"] = "none" if task.patch.index is None else str(task.patch.index)
        refs = sorted({r for a in task.args for r in http.arg_refs(a)})
        if refs:
            params["refs"] = "{" + ", ".join(f'"{r}": {fused.value_of(r)}' for r in refs) + "}"
        tasks.append(Task(name=task.id, template=template, arguments=params,
                          dependencies=fused.depends(task), with_param=with_param,
                          when=offloaded.get(task.id)))

    answer_http = options.mode == "services" and not services.step_pool(placed).edge
    if answer_http:  # the namespace's answer server replays the program (dicec.emit.http)
        answer_template = _http_answer_template(placed, options, source, servers)
    else:
        answer_template = _answer_template(placed, options, source, servers)
    records = "[" + ", ".join(http.record_argument(t.id, http_tasks, fused.record_of) for t in graph.tasks) + "]"
    # a container answer gets the records as a raw artifact (a file: a crowded image's records are over the
    # 128 KiB one argument may hold, dicec.emit.steps); the HTTP answer sends them in its body
    records_argument = records if answer_http else RawArtifact(name=steps.RECORDS_ARTIFACT, data=records)
    tasks.append(Task(name=ANSWER_STEP, template=answer_template,
                      arguments={**source.task_arguments(), "program": b64(graph.source), "records": records_argument},
                      dependencies=fused.step_names(t.id for t in graph.tasks) or None))
    if options.batch:  # answers: Argo's aggregation of every image's answer-json (dicec.emit.inputs)
        query = DAG(name=QUERY_TEMPLATE, inputs=source.query_inputs(), tasks=tasks,
                    outputs=answer_outputs(http_answer=answer_http))
        each = Task(name=EACH_IMAGE_TASK, template=query, arguments={"image": "{{item}}"},
                    with_param="{{workflow.parameters.%s}}" % BATCH_PARAMETER)
        dags = [DAG(name=ENTRY_TEMPLATE, tasks=[each], parallelism=options.parallelism, outputs=[Parameter(
            name=ANSWERS_OUTPUT, value_from=ValueFrom(
                parameter="{{tasks.%s.outputs.parameters.%s}}" % (EACH_IMAGE_TASK, steps.ANSWER_JSON_OUTPUT)))]),
                query]
    else:
        dags = [DAG(name=ENTRY_TEMPLATE, tasks=tasks, outputs=answer_outputs(http_answer=answer_http))]

    return workflow_document(options, source=graph.question or graph.path, program=graph.source,
                             question=graph.question, usd_per_query=placed.totals["usd_per_query"],
                             tasks=len(graph.tasks), templates=[*dags, *[templates[k] for k in sorted(templates)],
                                                                answer_template],
                             arguments=source.workflow_parameters(),
                             parallelism=None if options.batch else options.parallelism,
                             agent=answer_http or bool(http_tasks))  # runs as the agent's account (dicec.emit.agent)


def workflow_document(options: EmitOptions, *, source: str, program: str, question: str | None, usd_per_query: float,
                      tasks: int, templates: list, arguments: list, parallelism: int | None,
                      annotations: dict[str, str] | None = None, deadline_seconds: int | None = None,
                      agent: bool = False) -> dict[str, Any]:
    """The Workflow (or WorkflowTemplate) around ``templates`` as a plain dict, keys in a stable order: its name
    (from ``source``, the input's name, and the ``program`` text's hash), labels and annotations
    (:mod:`dicec.emit.metadata`, plus ``annotations``), the pods' service account, garbage collection, TTLs
    and the workflow deadline (``deadline_seconds``, else the options'); with ``agent`` (HTTP steps) the
    Workflow runs as the agent's account (:func:`dicec.emit.agent.agent_account`)."""
    name = options.name
    if name is None and options.kind == "WorkflowTemplate":
        name = metadata.derived_name(source=source, program=program, batch=options.batch)
    labels = metadata.labels(program=program, question=question, usd_per_query=usd_per_query)
    automount = options.hardening.automount_service_account_token
    workflow = (WorkflowTemplate if options.kind == "WorkflowTemplate" else Workflow)(
        name=name,
        generate_name=None if name else f"dicec-{metadata.slug(source)}-",
        namespace=options.namespace,
        labels=labels,
        annotations={**metadata.annotations(program=program, question=question, usd_per_query=usd_per_query,
                                            tasks=tasks, mode=options.mode), **(annotations or {})},
        entrypoint=ENTRY_TEMPLATE,
        arguments=arguments,
        templates=templates,
        parallelism=parallelism,
        service_account_name=agent_account(options) if agent else options.service_account,
        automount_service_account_token=automount,
        executor=None if automount else m.ExecutorConfig(
            service_account_name=options.executor_service_account or options.service_account or "default"),
        active_deadline_seconds=deadline_seconds or options.workflow_deadline_seconds,
        pod_gc=m.PodGC(strategy=options.pod_gc) if options.pod_gc else None,
        ttl_strategy=m.TTLStrategy(seconds_after_success=options.ttl_after_success,
                                   seconds_after_failure=options.ttl_after_failure),
        pod_metadata=m.Metadata(labels=labels),
    )
    body = workflow.to_dict()
    ordered = {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in body}
    ordered.update({k: v for k, v in body.items() if k not in ordered})
    return ordered


def answer_outputs(*, http_answer: bool) -> list[Parameter]:
    """A query DAG's outputs: ``answer`` (the answer as text, no JSON quotes on a string) and ``answer-json`` (its
    canonical JSON), from the answer step's two outputs, or taken out of the answer server's reply
    (:func:`dicec.emit.http.answer_expression`) when the answer step is an HTTP task."""
    keys = {steps.ANSWER_OUTPUT: http.ANSWER_TEXT_KEY, steps.ANSWER_JSON_OUTPUT: http.ANSWER_JSON_KEY}
    if http_answer:
        return [Parameter(name=name, value_from=ValueFrom(expression=http.answer_expression(ANSWER_STEP, key)))
                for name, key in keys.items()]
    return [Parameter(name=name, value_from=ValueFrom(parameter="{{tasks.%s.outputs.parameters.%s}}" % (ANSWER_STEP, name)))
            for name in keys]


def emit_documents(placed: PlacedGraph, options: EmitOptions = EmitOptions()) -> list[dict[str, Any]]:
    """The YAML stream's documents: in services mode what Argo's agent needs when the Workflow has HTTP steps
    (:func:`dicec.emit.agent.agent_manifests`), the model servers' and the answer server's Deployments and
    Services (:func:`dicec.emit.services.server_manifests`), then the Workflow; in pods mode the Workflow alone."""
    placed = images.with_images(placed, options)
    if options.mode != "services":
        return [emit_workflow(placed, options)]
    servers = services.plan_servers(placed, qps=options.qps)
    workflow = emit_workflow(placed, options, servers=servers)
    templates = workflow["spec"]["templates"]
    answer = None
    if any(t.get("name") == ANSWER_STEP and "http" in t for t in templates):
        answer = services.plan_answer_server(placed, options, images.answer_image(placed.images, options))
    agent = agent_manifests(options) if any("http" in t for t in templates) else []
    return [*agent, *services.server_manifests(servers, options, answer), workflow]


def _http_tasks(placed: PlacedGraph, options: EmitOptions, roles: dict[str, str | None]) -> frozenset[str]:
    """The tasks emitted as HTTP templates: in services mode all but :func:`dicec.emit.http.container_tasks`."""
    if options.mode != "services":
        return frozenset()
    keep = http.container_tasks(placed, roles)
    return frozenset(t.id for t in placed.graph.tasks if t.id not in keep)


def _http_operator_template(task, placement: Placement, placed: PlacedGraph, cache: dict[str, Any],
                            options: EmitOptions, source: ImageSource, servers: tuple) -> Any:
    """The HTTP template of ``task``'s operator on its pool (one per operator and pool; its timeout covers a
    fan-out when any of its tasks sends a list of patches)."""
    pool = placed.pools[placement.pool]
    name = f"{task.operator.replace('_', '-')}-{pool.name}"
    if name in cache:
        return cache[name]
    same = [t for t in placed.graph.tasks if t.operator == task.operator and placed.placements[t.id].pool == pool.name]
    server = services.server_for(servers, task.operator, pool.name)
    cache[name] = http.http_template(
        name=name, url=server.url(options.namespace) + http.STEP_PATH, body=http.step_body(source.reference),
        timeout_s=http.operator_timeout(max(placed.placements[t.id].seconds for t in same),
                                        fanout=any(t.fanout is not None for t in same)),
        inputs=[*source.step_inputs(), Parameter(name="call"), Parameter(name="patch", default='"image"'),
                Parameter(name="index", default="none"), Parameter(name="refs", default="{}")],
        retry_strategy=_retry_strategy(options))
    return cache[name]


def _http_answer_template(placed: PlacedGraph, options: EmitOptions, source: ImageSource, servers: tuple) -> Any:
    answer = services.plan_answer_server(placed, options, images.answer_image(placed.images, options))
    urls = json.loads(services.answer_services(placed, options, servers))
    return http.http_template(
        name=ANSWER_STEP, url=answer.url(options.namespace) + http.ANSWER_PATH,
        body=http.answer_body(source.reference, urls), timeout_s=http.answer_timeout(services.ANSWER_MAX_SECONDS),
        inputs=[*source.step_inputs(), Parameter(name="program"), Parameter(name="records", default="[]")],
        retry_strategy=_retry_strategy(options))


def _operator_template(operator: str, placement: Placement, placed: PlacedGraph,
                       cache: dict[str, Container], options: EmitOptions, source: ImageSource,
                       crops: str | None = None, servers: tuple | None = None) -> Container:
    """The template of ``operator`` on its pool; ``crops``: ``out`` (an edge detection that writes its crops),
    ``in`` (reads them from an artifact), ``send`` (cuts them itself), or ``None`` (:mod:`dicec.emit.offload`)."""
    pool = placed.pools[placement.pool]
    suffix = f"-crops-{crops}" if crops else "-call" if options.mode == "services" else ""  # beside HTTP templates
    name = f"{operator.replace('_', '-')}-{pool.name}{suffix}"
    if name in cache:
        return cache[name]
    command, args = steps.op_command(operator, image=source.step_image)
    inputs = [*source.step_inputs(), Parameter(name="call"), Parameter(name="patch", default='"image"'),
              Parameter(name="index", default="none"), Parameter(name="refs", default="{}")]
    outputs = [Parameter(name="value", value_from=ValueFrom(path=steps.VALUE_PATH, default=steps.VALUE_DEFAULT)),
               Parameter(name="record", value_from=ValueFrom(path=steps.RECORD_PATH, default=steps.RECORD_DEFAULT))]
    if crops == "out":
        args = offload.crops_out_args(args)
        inputs.append(Parameter(name=offload.CROP_INDICES_PARAMETER, default="all"))
        outputs.append(offload.crops_output())
    elif crops == "in":  # the frame is not downloaded: only parameters of the image source stay
        args = offload.crops_in_args(args)
        inputs = [*(i for i in inputs if isinstance(i, Parameter)), offload.crops_input()]
    elif crops == "send":
        args = [*args, "--send-crops"]
    model_gb = placement.gpu_memory_gb
    if options.mode == "services":  # a light CPU step that calls the operator's model server
        command, args, pool = services.call_step(operator, pool, placed, options, command, args, servers)
        model_gb = 0.0
    cache[name] = Container(
        name=name,
        image=images.for_arch(placed.images[operator], pool, options),
        command=command,
        args=args,
        inputs=inputs,
        outputs=outputs,
        **step_fields(pool, options, model_gb=model_gb),
    )
    return cache[name]


def _answer_template(placed: PlacedGraph, options: EmitOptions, source: ImageSource,
                     servers: tuple | None = None) -> Container:
    pool = placed.pools[placed.answer.pool]
    command, args = steps.answer_command(image=source.step_image)
    model_gb = placed.answer.gpu_memory_gb  # residual calls the answer step runs on demand (pods mode)
    if options.mode == "services":  # calls without a record go to the model servers too, from a CPU pod
        args = [*args, "--services", services.answer_services(placed, options, servers)]
        pool = services.step_pool(placed)
        model_gb = 0.0
    return Container(
        name=ANSWER_STEP,
        image=images.for_arch(images.answer_image(placed.images, options), pool, options),
        command=command,
        args=args,
        inputs=[*source.step_inputs(), Parameter(name="program"),
                Artifact(name=steps.RECORDS_ARTIFACT, path=steps.RECORDS_PATH)],
        outputs=[Parameter(name=steps.ANSWER_OUTPUT, value_from=ValueFrom(path=steps.ANSWER_TEXT_PATH)),
                 Parameter(name=steps.ANSWER_JSON_OUTPUT, value_from=ValueFrom(path=steps.ANSWER_PATH))],
        **step_fields(pool, options, model_gb=model_gb),
    )


def _placement_fields(pool: Pool, options: EmitOptions, *, model_gb: float = 0.0) -> dict[str, Any]:
    resources = m.ResourceRequirements.model_validate(options.resources(gpu=pool.has_gpu, model_gb=model_gb).to_json())
    tolerations = [Toleration(key=t["key"], operator=t["operator"], value=t.get("value"), effect=t["effect"])
                   for t in nodes.tolerations(pool, options)] or None
    return {"resources": resources, "node_selector": nodes.node_selector(pool, options), "tolerations": tolerations}


def step_fields(pool: Pool, options: EmitOptions, *, deadline_seconds: int | None = None,
                model_gb: float = 0.0) -> dict[str, Any]:
    """A step template's pool and pod fields (:func:`_placement_fields`, :func:`_pod_fields`): host memory for
    models of ``model_gb`` GB on a GPU pool, its own ``activeDeadlineSeconds`` where given (a batch's stage
    pods, :mod:`dicec.emit.batch`)."""
    return {**_placement_fields(pool, options, model_gb=model_gb),
            **_pod_fields(options, deadline_seconds=deadline_seconds)}


def _pod_fields(options: EmitOptions, *, deadline_seconds: int | None = None) -> dict[str, Any]:
    """What every step pod gets, whatever its pool: the lock-down, a writable /tmp, retries and a deadline."""
    h = options.hardening
    secret = credentials.secret_fields(options.image_secret) if options.image_secret else {}
    return {
        "pod_security_context": m.PodSecurityContext.model_validate(pod_security_context(h)),
        "security_context": m.SecurityContext.model_validate(container_security_context(h)),
        "volumes": [m.Volume.model_validate(v) for v in (tmp_volume(h), *secret.get("volumes", ()))],
        "volume_mounts": [m.VolumeMount.model_validate(v)
                          for v in (tmp_volume_mount(), *secret.get("volume_mounts", ()))],
        "env_from": [m.EnvFromSource.model_validate(e) for e in secret["env_from"]] if secret else None,
        "env": [m.EnvVar.model_validate(e) for e in secret["env"]] if secret else None,
        "automount_service_account_token": h.automount_service_account_token,
        "active_deadline_seconds": deadline_seconds or options.step_deadline_seconds,
        "retry_strategy": _retry_strategy(options),
    }


def _retry_strategy(options: EmitOptions) -> Any:
    """Every step's ``retryStrategy`` (a pod step's and an HTTP step's alike)."""
    return m.RetryStrategy(
        limit=options.retry_limit, retry_policy=options.retry_policy,
        backoff=m.Backoff(duration=f"{options.retry_backoff}s", factor=options.retry_backoff_factor,
                          max_duration=f"{options.retry_max_duration}s"))
