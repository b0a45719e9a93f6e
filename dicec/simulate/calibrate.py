"""Calibrating a ``local`` pool: this machine's own figures, so the simulator can be checked against ``dicec run``.

``dicec run`` runs a workflow's steps on this machine the way a cluster runs pods, so the simulator's
prediction for a pool made of this machine should match its measured time. :func:`measure` times,
with the built-in models on a scene image (``examples/scenes/generate.py``), medians over interleaved
repeats:

* a **step process** that makes no model call (``dicec op`` with the seeded backend, as
  ``dicec run --isolation process`` launches it): process start, imports, reading the image,
  writing the outputs -- the pod start-up of this machine;
* each **built-in operator** as a step process of its own (the same, plus setting up its models and
  one call) and, in this process once warm, one call on a fresh patch: the call's latency; the
  difference is its model load;
* the **answer step** as a process (a program answered from its records), less the step start-up;
* the same step and answer **in-process** (``--isolation thread``: no process, models stay loaded),
  and what a fresh process pays once before its in-process steps are warm (lazy imports, finding
  the operators, setting up the models, the program checker's imports).

:func:`write` turns the figures into what the stages already read: a catalogue (``pools.yaml``,
``dicec pools``-compatible) with a CPU pool and the pool ``local`` (GPU class ``LOCAL``, this machine's
memory, priced at 0); an operators overlay (``operators/NAME/spec.yaml``, for ``--operators``) giving every
timed built-in operator its ``LOCAL`` latency, measured model load and memory, and the model it
really loads here (the scene models, shared by all of them: :func:`dicec.timing.figures.model_key` then
charges one load per process, not one per operator); and two timing models for
``dicec simulate --timing FILE``: ``timing-process.json`` (pods mode: pod start-up = the step process,
no image pull, no Argo overhead) and ``timing-thread.json`` (services mode: warm models in one process,
a step costs the in-process step work, and no Argo agent: no start, no patch ticks).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dicec.errors import DicecError

POOL = "local"
#: What the built-in backend loads for every timed operator: the scene models, one set per process.
SCENE_MODEL = {"name": "dicec scene models (scene_detect + scene_colour)",
               "file": "builtin:scene_detect.onnx+scene_colour.onnx",
               "reference": "built by dicec.runtime.scene.graphs with onnx.helper; shared by every operator the "
                            "builtin backend answers, so a process loads them once"}
GPU_CLASS = "LOCAL"

#: A call of each built-in operator the scene models answer: (form, args). Others are not timed.
SAMPLE_CALLS: dict[str, tuple[str, list]] = {
    "find": ("method", [{"literal": "circle"}]),
    "exists": ("method", [{"literal": "red shape"}]),
    "verify_property": ("method", [{"literal": "shape"}, {"literal": "red"}]),
    "simple_query": ("method", [{"literal": "What color is the shape?"}]),
    "best_text_match": ("method", [{"literal": ["red", "green", "blue"]}, {"literal": None}]),
    "compute_depth": ("method", []),
}


@dataclass(frozen=True, kw_only=True)
class Measured:
    """This machine's figures (seconds, medians).

    Attributes:
        step_start_s: a step process with no model work (process isolation's pod start-up).
        thread_step_s: the same step run in-process (thread isolation).
        answer_run_s: the answer step's own work in a process (its process start-up excluded).
        thread_answer_s: the answer step in-process.
        thread_cold_s: what a fresh process pays once before its in-process steps run warm: the lazy
            imports and operator discovery of the first step, setting up the models, and the first
            answer step's imports (the program checker).
        load_s: per operator, setting up its models in a fresh step process.
        memory_gb: per operator, the peak memory its step process has beyond a step without models.
        latency_s: per operator, one call with its models loaded.
        repeats: how many times each figure was measured.
        host: the machine (platform node name, CPU count).
        as_of: when (UTC date).
    """

    step_start_s: float
    thread_step_s: float
    answer_run_s: float
    thread_answer_s: float
    thread_cold_s: float
    load_s: dict[str, float]
    latency_s: dict[str, float]
    memory_gb: dict[str, float]
    repeats: int
    host: str
    as_of: str
    samples: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"step_start_s": self.step_start_s, "thread_step_s": self.thread_step_s,
                "answer_run_s": self.answer_run_s, "thread_answer_s": self.thread_answer_s,
                "thread_cold_s": self.thread_cold_s,
                "load_s": dict(sorted(self.load_s.items())), "latency_s": dict(sorted(self.latency_s.items())),
                "memory_gb": dict(sorted(self.memory_gb.items())),
                "repeats": self.repeats, "host": self.host, "as_of": self.as_of,
                "samples": {k: v for k, v in sorted(self.samples.items())}}

    def timing(self, isolation: str) -> dict[str, float]:
        """The :class:`dicec.timing.model.TimingModel` fields for ``dicec run --isolation ISOLATION``."""
        if isolation == "process":
            return {"pod_startup_s": self.step_start_s, "step_overhead_s": 0.0, "image_pull_s": 0.0,
                    "request_overhead_s": 0.0, "answer_run_s": self.answer_run_s,
                    "controller_requeue_s": 0.0}  # dicec run starts a step's dependants as it exits
        if isolation == "thread":  # dicec run has no Argo agent: requests start at once, results are seen at once
            return {"pod_startup_s": 0.0, "step_overhead_s": 0.0, "image_pull_s": 0.0,
                    "request_overhead_s": self.thread_step_s, "answer_run_s": self.thread_answer_s,
                    "answer_request_s": self.thread_answer_s, "agent_startup_s": 0.0, "agent_patch_rate_s": 0.0,
                    "controller_requeue_s": 0.0}
        raise DicecError(f"unknown isolation {isolation!r} (process or thread)")


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 6)


def _payload(operator: str, form: str, args: list) -> str:
    from dicec.runtime.contract import b64

    return b64(json.dumps({"task": "t", "operator": operator, "form": form, "args": args}, sort_keys=True))


def _op_argv(operator: str, image: str, folder: Path, models: str) -> list[str]:
    form, args = SAMPLE_CALLS[operator]
    return ["op", operator, "--image", image, "--call", _payload(operator, form, args),
            "--value-out", str(folder / "value.json"), "--record-out", str(folder / "record.json"),
            "--models", models]


ANSWER_PROGRAM = ("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
                  "    shapes = image_patch.find(\"circle\")\n    return len(shapes)\n")


def _answer_argv(image: str, folder: Path, records: str) -> list[str]:
    from dicec.runtime.contract import b64

    return ["answer", "--image", image, "--program", b64(ANSWER_PROGRAM), "--records", records,
            "--out", str(folder / "answer.json"), "--models", "builtin"]


def _subprocess(argv: list[str], rss: dict[str, list[float]] | None = None, key: str = "") -> float:
    """Wall seconds of one step process, launched as ``dicec run --isolation process`` launches it
    (its peak resident memory, in GB, is appended to ``rss[key]``)."""
    from dicec.runner.launcher import LAUNCHER

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")) if p)}
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen([*LAUNCHER, *argv], stdout=log, stderr=log, env=env, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            raise DicecError(f"calibration step {' '.join(argv[:2])} failed: {log.read().strip()[-300:]}")
    if rss is not None:
        rss.setdefault(key, []).append(usage.ru_maxrss / 2**20)  # Linux: kilobytes
    return seconds


def _in_process(argv: list[str]) -> float:
    from dicec.runtime.commands import run_in_process

    start = time.perf_counter()
    rc, log = run_in_process(argv, env={})
    seconds = time.perf_counter() - start
    if rc != 0:
        raise DicecError(f"calibration step {' '.join(argv[:2])} failed in-process: {' '.join(log[-3:])}")
    return seconds


def _warm_latency(operator: str, image_path: str, repeats: int) -> float:
    """One call on a fresh patch with the models already loaded (the patch analysis is not reused)."""
    from dicec.runtime.backend import evaluate, get_backend, registry_for
    from dicec.runtime.calls import Call
    from dicec.runtime.images import load_image

    registry, backend, image = registry_for(), get_backend("builtin"), load_image(image_path)
    spec = registry.get(operator)
    form_kind, args = SAMPLE_CALLS[operator]
    form = spec.form(form_kind)
    values = tuple(a["literal"] for a in args)
    times = []
    for i in range(repeats + 1):
        box = {"left": i, "lower": 0, "right": image.width - i, "upper": image.height}  # a new patch each time
        call = Call(operator=operator, form=form.kind, patch=box, args=values)
        start = time.perf_counter()
        evaluate(backend, spec, form, image, call)
        if i:  # the first call loads the models
            times.append(time.perf_counter() - start)
    return _median(times)


def measure(image: str, *, operators: list[str] | None = None, repeats: int = 5,
            log: Callable[[str], None] = lambda s: None) -> Measured:
    """Time this machine (see the module docstring); ``repeats`` rounds, interleaved, medians kept."""
    if repeats < 1:
        raise DicecError(f"--repeats must be at least 1 (got {repeats})")
    ops = list(operators or SAMPLE_CALLS)
    unknown = [o for o in ops if o not in SAMPLE_CALLS]
    if unknown:
        raise DicecError(f"no sample call to time operator {unknown[0]!r} with (timed: {', '.join(SAMPLE_CALLS)})")
    samples: dict[str, list[float]] = {}
    rss: dict[str, list[float]] = {}
    with Rounds(image) as rounds:
        for r in range(repeats):
            rounds.sample(ops, samples, rss)
            log(f"round {r + 1}/{repeats}: step {samples['step_start'][-1]:.3f} s")
    latency = {op: _warm_latency(op, image, repeats) for op in ops}
    return summarise(samples, rss, latency, repeats=repeats)


class Rounds:
    """A folder with the scene models built and a record to answer from; :meth:`sample` times one round."""

    def __init__(self, image: str) -> None:
        from dicec.runtime.images import load_image

        load_image(image)  # a clear error for a bad image, before any timing
        self.image = image

    def __enter__(self) -> "Rounds":
        self._tmp = tempfile.TemporaryDirectory(prefix="dicec-calibrate-")
        self.folder = Path(self._tmp.name)
        _subprocess(_op_argv("find", self.image, self.folder, "builtin"))  # builds the scene models once, untimed
        self.records = json.dumps([json.loads((self.folder / "record.json").read_text())])
        return self

    def __exit__(self, *exc: Any) -> None:
        self._tmp.cleanup()

    def sample(self, ops: list[str], samples: dict[str, list[float]], rss: dict[str, list[float]]) -> None:
        """One round: a step without models, each operator's step, the answer step (processes), the same
        in-process warm, and a fresh process's first in-process steps (what a cold ``--isolation thread``
        run pays once)."""
        image, folder = self.image, self.folder
        samples.setdefault("step_start", []).append(_subprocess(_op_argv("find", image, folder, "seeded"), rss, ""))
        for op in ops:
            samples.setdefault(f"step:{op}", []).append(_subprocess(_op_argv(op, image, folder, "builtin"), rss, op))
        samples.setdefault("answer_step", []).append(_subprocess(_answer_argv(image, folder, self.records)))
        samples.setdefault("thread_step", []).append(_in_process(_op_argv("find", image, folder, "seeded")))
        samples.setdefault("thread_answer", []).append(_in_process(_answer_argv(image, folder, self.records)))
        cold = _cold_in_process([_op_argv("find", image, folder, "seeded"), _op_argv(ops[0], image, folder, "builtin"),
                                 _answer_argv(image, folder, self.records)])
        for key, value in zip(("cold_step", "cold_model_step", "cold_answer"), cold):
            samples.setdefault(key, []).append(value)


_COLD = """
import json, sys, time
import dicec.cli, dicec.runtime.commands, dicec.runner.workflow  # what dicec run has loaded when its clock starts
from dicec.runtime.commands import run_in_process
out = []
for argv in json.loads(sys.argv[1]):
    start = time.perf_counter()
    rc, log = run_in_process(argv, env={})
    out.append(time.perf_counter() - start)
    if rc:
        sys.exit(" ".join(log[-3:]))
print(json.dumps(out))
"""


def _cold_in_process(argvs: list[list[str]]) -> list[float]:
    """Seconds of each step run in-process, one after another, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run([sys.executable, "-c", _COLD, json.dumps(argvs)], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise DicecError(f"calibration: in-process steps failed: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(samples: dict[str, list[float]], rss: dict[str, list[float]], latency: dict[str, float], *,
              repeats: int, shared_load_from: str | None = None) -> Measured:
    """The figures from a set of rounds' samples (medians). ``shared_load_from``: every operator of
    ``latency`` gets that operator's model load (they load the same scene models)."""
    start = _median(samples["step_start"])
    ops = sorted(latency)
    measured = {op for op in ops if f"step:{op}" in samples}

    def load_of(op: str) -> float:
        src = op if op in measured else shared_load_from
        return round(max(0.0, _median(samples[f"step:{src}"]) - start - latency[src]), 6)

    def memory_of(op: str) -> float:
        src = op if op in measured else shared_load_from
        return round(max(0.001, statistics.median(rss[src]) - statistics.median(rss[""])), 3)

    warm_step, warm_answer = _median(samples["thread_step"]), _median(samples["thread_answer"])
    first = shared_load_from or ops[0]
    cold = (max(0.0, _median(samples["cold_step"]) - warm_step)
            + max(0.0, _median(samples["cold_model_step"]) - warm_step - latency.get(first, 0.0))
            + max(0.0, _median(samples["cold_answer"]) - warm_answer))
    return Measured(step_start_s=start, thread_step_s=warm_step, memory_gb={op: memory_of(op) for op in ops},
                    answer_run_s=round(max(0.0, _median(samples["answer_step"]) - start), 6),
                    thread_answer_s=warm_answer, thread_cold_s=round(cold, 6),
                    load_s={op: load_of(op) for op in ops}, latency_s=dict(latency),
                    repeats=repeats, host=f"{platform.node() or 'this machine'}, {os.cpu_count()} CPUs",
                    as_of=time.strftime("%Y-%m-%d", time.gmtime()),
                    samples={k: [round(x, 6) for x in v] for k, v in samples.items()})


def memory_gb() -> float:
    """This machine's memory, the budget for models held in one step process."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return 16.0


def catalogue(m: Measured) -> dict[str, Any]:
    """The calibrated catalogue: a CPU pool for the answer step and the ``local`` pool."""
    source = (f"measured by dicec.simulate.calibrate on {m.host}: steps of dicec run --isolation process; "
              "priced at 0 (this machine, already paid for)")
    return {"version": 1, "pools": [
        {"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None, "node_labels": {},
         "taints": [], "source": "this machine's CPU, for the answer step"},
        {"name": POOL, "gpu_class": GPU_CLASS, "gpu_memory_gb": memory_gb(), "usd_per_hour": 0.0,
         "node_labels": {}, "taints": [], "max_nodes": None, "source": source, "as_of": m.as_of},
    ]}


def write(m: Measured, out: Path, *, registry=None) -> dict[str, Path]:
    """Write the catalogue, the operators overlay, the timing models and the raw figures under ``out``."""
    import yaml

    from dicec.files import write_atomic
    from dicec.placement.pools import parse_pools
    from dicec.tools import discover

    registry = registry or discover()
    out.mkdir(parents=True, exist_ok=True)
    pools = out / "pools.yaml"
    raw = catalogue(m)
    parse_pools(raw, path=str(pools))  # what is written must load back
    write_atomic(pools, yaml.safe_dump(raw, sort_keys=False))
    ops_dir = out / "operators"
    how = f"measured by dicec.simulate.calibrate on {m.host}, {m.as_of}, median of {m.repeats}"
    for name in sorted(m.latency_s):
        spec = registry.get(name)
        folder = Path(spec.folder) if getattr(spec, "folder", None) else None
        if folder is None or not (folder / "spec.yaml").is_file():
            raise DicecError(f"operator {name!r}: its folder is not known, so it cannot be overlaid")
        data = yaml.safe_load((folder / "spec.yaml").read_text(encoding="utf-8"))
        profile = data["profile"]
        profile["latency_s"] = {**profile["latency_s"], GPU_CLASS: max(m.latency_s[name], 1e-6)}
        profile["model_load_s"] = m.load_s[name]
        profile["gpu_memory_gb"] = m.memory_gb[name]
        data["model"] = dict(SCENE_MODEL)
        profile["sources"] = {**profile["sources"],
                              "latency_s": f"{GPU_CLASS}: {how} (one warm call); other classes: "
                                           f"{profile['sources'].get('latency_s', '')}",
                              "model_load_s": f"{how}: a step process with the call, less the step start-up and "
                                              "the call (this overlay is for the local pool only)",
                              "gpu_memory_gb": f"{how}: peak resident memory of its step process beyond a step "
                                               "that loads no model"}
        target = ops_dir / name
        target.mkdir(parents=True, exist_ok=True)
        for f in folder.iterdir():
            if f.is_file() and f.name != "spec.yaml":
                shutil.copyfile(f, target / f.name)
        write_atomic(target / "spec.yaml", yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    discover([ops_dir], builtin=False, entry_points=False)  # the overlay must load
    paths = {"pools": pools, "operators": ops_dir}
    for isolation in ("process", "thread"):
        path = out / f"timing-{isolation}.json"
        write_atomic(path, json.dumps(m.timing(isolation), indent=2, sort_keys=True) + "\n")
        paths[f"timing-{isolation}"] = path
    write_atomic(out / "calibration.json", json.dumps(m.to_json(), indent=2, sort_keys=True) + "\n")
    paths["calibration"] = out / "calibration.json"
    return paths
