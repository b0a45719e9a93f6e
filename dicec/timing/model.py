"""The timing model's figures: every number not an operator's own, each with its source.

Model load and latency per GPU class are the operators' own (``operators/*/spec.yaml``, with their
sources). Every other figure a step's seconds are built from -- pod start-up, image pull, Argo's step
overhead, a request to a warm model server, the answer step's run, the assumed fan-out width -- is a
:class:`Constant` here with its source, or labelled an assumption where no public figure was found.
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
    "assumption: Argo's per-step work outside the main container (the wait sidecar saving the output "
    "parameters, the controller noticing the pod finished and starting dependants); not measured"))
REQUEST_OVERHEAD = Constant(value=0.01, unit="s", source=(
    "assumption: one in-cluster HTTP request to a warm model server carrying an image crop "
    "(about 1 MB over a 10 Gb/s node network is under 1 ms, plus JSON and queueing), rounded up to 10 ms"))
ANSWER_RUN = Constant(value=0.2, unit="s", source=(
    "assumption: the final CPU step re-runs the serial program with every operator call answered from "
    "the records (Python only, no models); a fraction of a second"))
FANOUT_WIDTH = Constant(value=3.0, unit="count", source=(
    "assumption: a fan-out (loop over find()'s detections) has 3 elements; the real number is only "
    "known at run time, so every command takes --fanout N"))


@dataclass(frozen=True, kw_only=True)
class TimingModel:
    """The figures one cost or simulation run uses (defaults: the constants above).

    Attributes:
        pod_startup_s: pod creation to containers started, excluding image pull.
        image_pull_s: pulling the vision image onto a node that does not have it.
        step_overhead_s: Argo's per-step overhead outside the container.
        request_overhead_s: one call to a warm model server (services mode).
        answer_run_s: the final step's CPU work.
        fanout: elements assumed per fan-out.
        widths: elements of particular fan-out tasks, by task id (a run's real numbers, 0 for a fan-out
            over nothing), overriding ``fanout`` for them.
    """

    pod_startup_s: float = POD_STARTUP.value
    image_pull_s: float = IMAGE_PULL.value
    step_overhead_s: float = STEP_OVERHEAD.value
    request_overhead_s: float = REQUEST_OVERHEAD.value
    answer_run_s: float = ANSWER_RUN.value
    fanout: int = int(FANOUT_WIDTH.value)
    widths: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("pod_startup_s", "image_pull_s", "step_overhead_s", "request_overhead_s", "answer_run_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DicecError(f"timing model: {name} must be a number >= 0 (got {value!r})")
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
        return {"pod_startup_s": self.pod_startup_s, "image_pull_s": self.image_pull_s,
                "step_overhead_s": self.step_overhead_s, "request_overhead_s": self.request_overhead_s,
                "answer_run_s": self.answer_run_s, "fanout": self.fanout,
                **({"widths": dict(sorted(self.widths.items()))} if self.widths else {})}

    def width(self, task) -> int:
        """Calls one run makes of ``task``: 1, or a fan-out's elements."""
        if task.fanout is None:
            return 1
        return self.widths.get(task.id, self.fanout)


#: The source of each TimingModel field's default, for reports.
SOURCES = {"pod_startup_s": POD_STARTUP.source, "image_pull_s": IMAGE_PULL.source,
           "step_overhead_s": STEP_OVERHEAD.source, "request_overhead_s": REQUEST_OVERHEAD.source,
           "answer_run_s": ANSWER_RUN.source, "fanout": FANOUT_WIDTH.source}


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
