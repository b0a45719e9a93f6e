"""Services mode with HTTP steps, on this machine: step pods per query, and ``dicec run`` against ``dicec exec``.

    python benchmarks/services_http.py [--question examples/questions/damage-parts.txt] [--repeat 5]
                                       [--format text|json]

For the question (default: the damage-parts example, 12 parts, each detection of a part checked):

* **step pods per query**: ``before``, services mode as it was (one ``dicec op call`` pod per task,
  one per fan-out element at the cost model's 3 elements each, plus the answer pod), counted from the
  task graph; ``after``, the container templates the Workflow now has times their elements (0 when
  every step is an HTTP template); and the steps ``dicec run`` actually ran as containers (``steps``)
  against the HTTP requests it sent (``requests``) on a test image. Pods mode's run is shown beside it
  (its steps load their models; fused groups run several tasks in one pod).
* **wall time**: ``dicec run`` of the services-mode workflow (in this process, ``--isolation
  thread``: the model servers and the answer server start on loopback, every request goes over HTTP,
  and they stop at the end) against ``dicec exec`` of its program (one process, models loaded once),
  each the median of ``--repeat`` runs after one warm-up, with ``--models seeded`` and ``builtin``,
  answers compared exactly.
* **answer replay**: the CPU time of the answer server's replay of the program over the steps' results
  (median of ``--repeat``), the figure behind ``ANSWER_BUSY_S`` in :mod:`dicec.emit.services`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def image_for(folder: Path) -> Path:
    """A scene image drawn by examples/scenes (what the built-in models answer about)."""
    sys.path.insert(0, str(REPO / "examples" / "scenes"))
    from generate import generate

    record = generate(folder / "scenes", 1)[0]
    return folder / "scenes" / record["image"]


def median_s(fn, repeat: int) -> float:
    fn()  # warm-up: models built and loaded, caches filled
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--question", default=str(REPO / "examples" / "questions" / "damage-parts.txt"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args()

    from dicec.emit import EmitOptions
    from dicec.pipeline import compile_path
    from dicec.placement import load_pools
    from dicec.runner.workflow import RunOptions, run_workflow
    from dicec.runtime.answer import replay
    from dicec.runtime.backend import get_backend, registry_for
    from dicec.runtime.contract import ANSWER_JSON_OUTPUT
    from dicec.runtime.images import load_image
    from dicec.runtime.program import run_program
    from dicec.timing.model import TimingModel

    FANOUT_WIDTH = TimingModel().fanout  # the elements a fan-out is assumed to have

    registry, pools = registry_for(), load_pools()
    services = compile_path(args.question, registry=registry, catalogue=pools, options=EmitOptions(mode="services"))
    pods = compile_path(args.question, registry=registry, catalogue=pools, options=EmitOptions())
    graph = services.graph
    before = sum(FANOUT_WIDTH if t.fanout is not None else 1 for t in graph.tasks) + 1
    templates = {t["name"]: t for t in services.workflow["spec"]["templates"]}
    tasks = templates["main"]["dag"]["tasks"]
    after = sum(FANOUT_WIDTH if "withParam" in t else 1 for t in tasks if "container" in templates[t["template"]])
    out: dict = {"question": Path(args.question).name, "tasks": len(graph.tasks),
                 "fanouts": sum(1 for t in graph.tasks if t.fanout is not None),
                 "step_pods_before": before, "step_pods_after": after,
                 "http_steps": sum(1 for t in tasks if "http" in templates[t["template"]]), "runs": {}}

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "services.yaml").write_text(services.yaml)
        (folder / "pods.yaml").write_text(pods.yaml)
        image = image_for(folder)
        for models in ("seeded", "builtin"):
            options = RunOptions(parameters={"image": str(image)}, parallelism=8, env={"DICEC_MODELS": models})
            runs: dict = {}

            def run(path: str) -> None:
                runs[path] = run_workflow(str(folder / path), options)

            def execute() -> None:
                runs["exec"] = run_program(services.program, registry=registry, image=load_image(str(image)),
                                           backend=get_backend(models))

            row = {"run_s": median_s(lambda: run("services.yaml"), args.repeat),
                   "exec_s": median_s(execute, args.repeat),
                   "pods_mode_run_s": median_s(lambda: run("pods.yaml"), args.repeat)}
            s, p = runs["services.yaml"], runs["pods.yaml"]
            row.update(steps=s.steps, requests=s.requests, pods_mode_steps=p.steps,
                       same_answer=(json.loads(s.outputs[ANSWER_JSON_OUTPUT]) == runs["exec"].answer
                                    == json.loads(p.outputs[ANSWER_JSON_OUTPUT])))
            out["runs"][models] = row

        # the answer server's replay: the program over the steps' results (records), seeded answers
        records: list = []
        run_program(services.program, registry=registry, image=load_image(str(image)), backend=_RecordingBackend(records))
        out["replay_s"] = median_s(lambda: replay(services.program, records=records, image=load_image(str(image)),
                                                  backend=get_backend("seeded"), registry=registry,
                                                  where="records"), args.repeat)
        out["replay_records"] = len(records)
    return out


class _RecordingBackend:
    """The seeded backend, keeping each call's record (what the HTTP steps' results carry)."""

    name = "recording"

    def __init__(self, records: list) -> None:
        self.records = records

    def evaluate_call(self, spec, form, image, call):
        from dicec.runtime.backend import evaluate, get_backend

        value, error = evaluate(get_backend("seeded"), spec, form, image, call)
        self.records.append(call.record(value, error))
        return value, error


def show(out: dict) -> None:
    print(f"{out['question']}: {out['tasks']} tasks ({out['fanouts']} fan-outs)")
    print(f"  step pods per query: before {out['step_pods_before']} (services mode with a pod per call, "
          f"3 elements per fan-out), after {out['step_pods_after']} ({out['http_steps']} HTTP steps, sent by "
          "the one agent pod)")
    print("  models   dicec run (services)   dicec exec   dicec run (pods mode)   container steps   HTTP requests   "
          "pods-mode steps   same answer")
    for models, row in out["runs"].items():
        print(f"  {models:8} {row['run_s'] * 1000:17.1f} ms {row['exec_s'] * 1000:9.1f} ms "
              f"{row['pods_mode_run_s'] * 1000:19.1f} ms {row['steps']:17} {row['requests']:15} "
              f"{row['pods_mode_steps']:17}   {row['same_answer']}")
    print(f"  answer replay over {out['replay_records']} records: {out['replay_s'] * 1000:.1f} ms (median)")


if __name__ == "__main__":
    result = main()
    if "--format" in sys.argv and sys.argv[sys.argv.index("--format") + 1] == "json":
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        show(result)
