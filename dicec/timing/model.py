"""The timing model's figures: every number not an operator's own, each with its source.

Model load and latency per GPU class are the operators' own (``operators/*/spec.yaml``, with their
sources). Every other figure a step's seconds are built from -- pod start-up, image pull, Argo's step
overhead, a request to a warm model server, the answer step's run, the assumed fan-out width, Argo's
agent (its start, its patch rate, its task workers), the controller's requeue after a patch, the answer
service's request, the latency target
replicas are sized to, a model server's batch cap, what CPU pods request, how a batch's stage pod takes
its images and calls, and how often a batch workflow runs at a stated load -- is a :class:`Constant`
here with its source, or labelled an assumption where no public figure was found.
:class:`TimingModel` carries the figures one cost, simulation or fusion decision uses (these defaults,
or a calibration file read by :func:`read_timing`, or the command line's overrides).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dicec.errors import DicecError


@dataclass(frozen=True, kw_only=True)
class Constant:
    """One figure of the timing model.

    Attributes:
        value: the figure.
        unit: its unit (``s``, ``count``).
        source: where it comes from, or ``assumption: ...`` with the reasoning.
    """

    value: float
    unit: str
    source: str

    def __post_init__(self) -> None:
        if self.value < 0:
            raise DicecError(f"timing model: a {self.unit} figure must not be negative (got {self.value})")
        if not self.source:
            raise DicecError("timing model: every constant needs a source")


POD_STARTUP = Constant(value=5.0, unit="s", source=(
    "Kubernetes SIG Scalability official SLO: startup latency of stateless, schedulable pods, excluding "
    "image pull and init containers, 99th percentile per cluster-day <= 5 s "
    "(kubernetes/community sig-scalability/slos/pod_startup_latency.md); the p99 bound is used as the "
    "figure, so it is pessimistic for a quiet cluster"))
IMAGE_PULL = Constant(value=30.0, unit="s", source=(
    "assumption: the vision image (nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 + onnxruntime-gpu, "
    "images/Dockerfile.vision) taken as about 3 GB compressed, pulled at an assumed 100 MB/s from the "
    "registry; paid once per node by the first pod that needs it (not measured: no cluster here)"))
STEP_OVERHEAD = Constant(value=1.0, unit="s", source=(
    "assumption: Argo's per-step work inside the pod outside the main container (the init container placing "
    "inputs, the wait sidecar saving the output parameters and artifacts before the pod exits); not measured. "
    "When the controller acts on the finished pod is controller_requeue_s"))
REQUEST_OVERHEAD = Constant(value=0.01, unit="s", source=(
    "assumption: one in-cluster HTTP request to a warm model server carrying an image crop "
    "(about 1 MB over a 10 Gb/s node network is under 1 ms, plus JSON and queueing), rounded up to 10 ms"))
ANSWER_RUN = Constant(value=0.2, unit="s", source=(
    "assumption: the final CPU step re-runs the serial program with every operator call answered from "
    "the records (Python only, no models); a fraction of a second"))
FANOUT_WIDTH = Constant(value=3.0, unit="count", source=(
    "assumption: a fan-out (loop over find()'s detections) has 3 elements; the real number is only "
    "known at run time, so every command takes --fanout N"))
AGENT_STARTUP = Constant(value=5.0, unit="s", source=(
    "the Argo agent is one pod per workflow (argoproj/argo-workflows v4.1.2 workflow/controller/agent.go, "
    "created when the workflow's first HTTP task is ready); its start-up is the same Kubernetes p99 pod "
    "start-up SLO as any pod (kubernetes/community sig-scalability/slos/pod_startup_latency.md), the "
    "argoexec image taken as cached on the node"))
AGENT_PATCH = Constant(value=10.0, unit="s", source=(
    "ARGO_AGENT_PATCH_RATE, default DEFAULT_REQUEUE_TIME = 10 s (argoproj/argo-workflows v4.1.2 "
    "cmd/argoexec/commands/agent.go, workflow/controller/agent.go, docs/environment-variables.md): the "
    "agent patches finished HTTP results into the WorkflowTaskSet on a ticker of this period, so a "
    "result reaches the controller, and the tasks that wait for it start, at the next tick"))
CONTROLLER_REQUEUE = Constant(value=10.0, unit="s", source=(
    "DEFAULT_REQUEUE_TIME, 10 s (argoproj/argo-workflows v4.1.2 workflow/controller/rate_limiters.go:13-30, "
    "GetRequeueTime and fixedItemIntervalRateLimiter.When): the controller's workflow queue is rate limited at a "
    "fixed interval (controller.go:275), and what changes a workflow enqueues it with AddRateLimited, this far "
    "ahead (client-go keeps the earlier time of an item already waiting): a WorkflowTaskSet update (services "
    "mode's agent patch, controller.go:1620), a step pod's significant change -- its phase turning Succeeded "
    "among them (pod/controller.go:93 and 250-253 call enqueueWfFromPodLabel, controller.go:1119-1128) -- and "
    "its WorkflowTaskResult (taskresult.go:63-68), and the controller's own update of the workflow "
    "(controller.go:1280). So the controller reconciles, and starts the dependants of a finished pod or HTTP "
    "task, this long after it finished, or at a reconcile already due before then"))
AGENT_WORKERS = Constant(value=16.0, unit="count", source=(
    "ARGO_AGENT_TASK_WORKERS, default 16 (argoproj/argo-workflows v4.1.2 cmd/argoexec/commands/agent.go): "
    "the agent's goroutines that send HTTP requests, each one request at a time, blocking until it answers"))
ANSWER_REQUEST = Constant(value=0.21, unit="s", source=(
    "services mode: one HTTP request to the dicec-answer service = the answer step's run (answer_run_s, "
    "0.2 s) + one in-cluster request (request_overhead_s, 0.01 s); the service is warm, so no pod start-up"))
SERVER_UTILISATION = Constant(value=0.7, unit="fraction", source=(
    "assumption, the latency target replicas are sized to: a server's busy share at the stated load stays "
    "at or below 70% (M/M/1 mean queueing wait 2.3 service times at 70%, and less with more replicas); "
    "the rule dicec compile's services mode sizes Deployments with (dicec/emit/services.py TARGET_UTILISATION)"))
MAX_BATCH = Constant(value=8.0, unit="count", source=(
    "the model server's batch cap (dicec op serve --max-batch, dicec/emit/services.py MAX_BATCH = 8): a free "
    "server takes up to this many queued requests of one operator and computes them as one batch"))
STAGE_CHUNK_IMAGES = Constant(value=16.0, unit="count", source=(
    "a pods-mode batch's stage pod takes its slice CHUNK_IMAGES = 16 images at a time (dicec/runtime/stage.py), "
    "each task's calls for those images (a fan-out's elements included) computed together"))
STAGE_BATCH_CALLS = Constant(value=16.0, unit="count", source=(
    "a stage pod hands the backend a task's calls BATCH_CALLS = 16 at a time (dicec/runtime/stage.py); a batch "
    "pays the part of a call that reads weights once (dicec.timing.figures.shared_seconds), as a model server's "
    "batch does"))
BATCH_WINDOW = Constant(value=3600.0, unit="s", source=(
    "assumption: at a stated load a batch workflow runs once per window over the queries that arrived in it "
    "(an hourly batch job), in runs of at most its --max-batch images; the GPU nodes come up for each run and go "
    "after it (cluster-autoscaler's default --scale-down-unneeded-time is 10 minutes), so each run's nodes pull "
    "the image"))
CPU_POD_VCPU = Constant(value=0.5, unit="vCPU", source=(
    "the CPU request of a CPU step pod and of an answer-service replica as dicec compile emits them "
    "(--cpu-step-cpu 500m, dicec/emit/argo.py); a pod is billed its requested share of a CPU node"))
CPU_POD_MEMORY = Constant(value=1.0, unit="GiB", source=(
    "the memory request of a CPU step pod (--cpu-step-memory 1Gi, dicec/emit/argo.py)"))
AGENT_VCPU = Constant(value=0.01, unit="vCPU", source=(
    "the Argo agent pod's CPU request, 10m (argoproj/argo-workflows v4.1.2 workflow/controller/agent.go)"))
AGENT_MEMORY = Constant(value=0.0596, unit="GiB", source=(
    "the Argo agent pod's memory request, 64M = 64e6 bytes = 0.0596 GiB (argoproj/argo-workflows v4.1.2 "
    "workflow/controller/agent.go)"))


#: TimingModel fields that are seconds or fractions (floats >= 0) and whole counts (ints >= 1).
_SECONDS = ("pod_startup_s", "image_pull_s", "step_overhead_s", "request_overhead_s", "answer_run_s",
            "agent_startup_s", "agent_patch_rate_s", "controller_requeue_s", "answer_request_s", "cpu_pod_vcpu",
            "cpu_pod_memory_gib", "agent_vcpu", "agent_memory_gib", "batch_window_s")
_COUNTS = ("agent_task_workers", "max_batch", "stage_chunk_images", "stage_batch_calls")


@dataclass(frozen=True, kw_only=True)
class TimingModel:
    """The figures one cost or simulation run uses (defaults: the constants above).

    Attributes:
        pod_startup_s: pod creation to containers started, excluding image pull.
        image_pull_s: pulling the vision image onto a node that does not have it.
        step_overhead_s: Argo's per-step work in the pod outside the main container (its init and wait
            containers).
        request_overhead_s: one call to a warm model server (services mode).
        answer_run_s: the final step's CPU work (the serial program's own Python, per query).
        fanout: elements assumed per fan-out.
        widths: elements of particular fan-out tasks, by task id (a run's real numbers, 0 for a fan-out
            over nothing), overriding ``fanout`` for them.
        agent_startup_s: services mode: the Argo agent pod's start, once per workflow.
        agent_patch_rate_s: services mode: the agent's patch period (``ARGO_AGENT_PATCH_RATE``); a
            finished HTTP task's result reaches the controller at the next tick (0: at once, as ``dicec run``).
        controller_requeue_s: how long after a step pod finishes (pods and container steps) or the agent's
            patch (services mode's HTTP steps) the controller reconciles the workflow and starts the
            dependants, unless a reconcile is due earlier (``DEFAULT_REQUEUE_TIME``; 0 for ``dicec run``).
        agent_task_workers: services mode: HTTP requests one agent has in flight at most
            (``ARGO_AGENT_TASK_WORKERS``).
        answer_request_s: services mode: one request to the ``dicec-answer`` service.
        server_utilisation: the busy share replicas (model servers, the answer service, a fleet of
            serial machines) are sized to at a stated load: the latency target, in (0, 1].
        max_batch: the requests of one operator a model server computes as one batch at most.
        cpu_pod_vcpu: the CPU a CPU pod (a CPU step, an answer-service replica) requests, in vCPU.
        cpu_pod_memory_gib: the memory it requests, in GiB.
        agent_vcpu: the Argo agent pod's CPU request, in vCPU.
        agent_memory_gib: its memory request, in GiB.
        stage_chunk_images: a batch's stage pod: images it takes at a time.
        stage_batch_calls: a batch's stage pod: calls of one task it hands the backend as one batch.
        batch_window_s: a batch workflow at a stated load runs once per this many seconds over the queries
            that arrived in it (:mod:`dicec.timing.batch`).
    """

    pod_startup_s: float = POD_STARTUP.value
    image_pull_s: float = IMAGE_PULL.value
    step_overhead_s: float = STEP_OVERHEAD.value
    request_overhead_s: float = REQUEST_OVERHEAD.value
    answer_run_s: float = ANSWER_RUN.value
    fanout: int = int(FANOUT_WIDTH.value)
    widths: dict[str, int] = field(default_factory=dict)
    agent_startup_s: float = AGENT_STARTUP.value
    agent_patch_rate_s: float = AGENT_PATCH.value
    controller_requeue_s: float = CONTROLLER_REQUEUE.value
    agent_task_workers: int = int(AGENT_WORKERS.value)
    answer_request_s: float = ANSWER_REQUEST.value
    server_utilisation: float = SERVER_UTILISATION.value
    max_batch: int = int(MAX_BATCH.value)
    cpu_pod_vcpu: float = CPU_POD_VCPU.value
    cpu_pod_memory_gib: float = CPU_POD_MEMORY.value
    agent_vcpu: float = AGENT_VCPU.value
    agent_memory_gib: float = AGENT_MEMORY.value
    stage_chunk_images: int = int(STAGE_CHUNK_IMAGES.value)
    stage_batch_calls: int = int(STAGE_BATCH_CALLS.value)
    batch_window_s: float = BATCH_WINDOW.value

    def __post_init__(self) -> None:
        for name in _SECONDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DicecError(f"timing model: {name} must be a number >= 0 (got {value!r})")
        for name in _COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DicecError(f"timing model: {name} must be a whole number >= 1 (got {value!r})")
        if not self.batch_window_s > 0:
            raise DicecError(f"timing model: batch_window_s must be a number of seconds > 0 (got {self.batch_window_s!r})")
        u = self.server_utilisation
        if isinstance(u, bool) or not isinstance(u, (int, float)) or not 0 < u <= 1:
            raise DicecError(f"timing model: server_utilisation must be a fraction in (0, 1] (got {u!r})")
        if isinstance(self.fanout, bool) or not isinstance(self.fanout, int) or self.fanout < 1:
            raise DicecError(f"--fanout must be a whole number >= 1 (got {self.fanout!r})")
        for task, n in self.widths.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise DicecError(f"timing model: the width of fan-out {task!r} must be a whole number >= 0 (got {n!r})")

    @property
    def step_start_s(self) -> float:
        """What every Argo step pays before its own work: pod start-up plus Argo's overhead."""
        return self.pod_startup_s + self.step_overhead_s

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in (
            "pod_startup_s", "image_pull_s", "step_overhead_s", "request_overhead_s", "answer_run_s", "fanout",
            "agent_startup_s", "agent_patch_rate_s", "controller_requeue_s", "agent_task_workers", "answer_request_s",
            "server_utilisation", "max_batch", "cpu_pod_vcpu", "cpu_pod_memory_gib", "agent_vcpu",
            "agent_memory_gib", "stage_chunk_images", "stage_batch_calls", "batch_window_s")}
        if self.widths:
            out["widths"] = dict(sorted(self.widths.items()))
        return out

    def width(self, task) -> int:
        """Calls one run makes of ``task``: 1, or a fan-out's elements."""
        return self.elements(task.id, task.fanout)

    def elements(self, task_id: str, fanout: str | None) -> int:
        """Calls one run makes of task ``task_id``: 1, or, where it fans out (``fanout`` names the task whose
        detections it runs over), its width in ``widths``, else the assumed ``fanout``."""
        return 1 if fanout is None else self.widths.get(task_id, self.fanout)


#: The source of each TimingModel field's default, for reports.
SOURCES = {"pod_startup_s": POD_STARTUP.source, "image_pull_s": IMAGE_PULL.source,
           "step_overhead_s": STEP_OVERHEAD.source, "request_overhead_s": REQUEST_OVERHEAD.source,
           "answer_run_s": ANSWER_RUN.source, "fanout": FANOUT_WIDTH.source,
           "agent_startup_s": AGENT_STARTUP.source, "agent_patch_rate_s": AGENT_PATCH.source,
           "controller_requeue_s": CONTROLLER_REQUEUE.source,
           "agent_task_workers": AGENT_WORKERS.source, "answer_request_s": ANSWER_REQUEST.source,
           "server_utilisation": SERVER_UTILISATION.source, "max_batch": MAX_BATCH.source,
           "cpu_pod_vcpu": CPU_POD_VCPU.source, "cpu_pod_memory_gib": CPU_POD_MEMORY.source,
           "agent_vcpu": AGENT_VCPU.source, "agent_memory_gib": AGENT_MEMORY.source,
           "stage_chunk_images": STAGE_CHUNK_IMAGES.source, "stage_batch_calls": STAGE_BATCH_CALLS.source,
           "batch_window_s": BATCH_WINDOW.source}


def with_model_overrides(model: TimingModel, **changes) -> TimingModel:
    """``model`` with the given fields replaced (``None`` values ignored)."""
    return replace(model, **{k: v for k, v in changes.items() if v is not None})


def read_timing(path: str) -> dict[str, float]:
    """A ``--timing FILE``: JSON or YAML mapping of :class:`TimingModel` fields."""
    import yaml

    from dicec.files import read_text

    try:
        data = yaml.safe_load(read_text(path, what="timing model"))
    except yaml.YAMLError as exc:
        raise DicecError(f"{path}: not valid JSON or YAML ({getattr(exc, 'problem', exc)})") from None
    fields = set(TimingModel().to_json()) | {"widths"}
    if not isinstance(data, dict):
        raise DicecError(f"{path}: a timing model must be a mapping of {', '.join(sorted(fields))}")
    unknown = sorted(set(data) - fields)
    if unknown:
        raise DicecError(f"{path}: unknown timing figure {unknown[0]!r} (known: {', '.join(sorted(fields))})")
    return data
