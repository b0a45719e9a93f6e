"""Calibration: does the simulator predict ``dicec run`` on this machine? One command, a table of figures.

Usage: python benchmarks/calibrate.py [--isolation process|thread|both] [--fuse on|off|both] [--repeats 5]
                                      [--runs 3] [--scenes 4] [--out DIR] [--json FILE] [--unpaired]

1. Writes ``--scenes`` generated scenes (examples/scenes/generate.py); their questions are the examples.
2. Measures this machine (dicec.simulate.calibrate: step start-up, each built-in operator's model load,
   memory and latency, the answer step; medians of ``--repeats`` interleaved rounds) and writes the
   ``local`` pool catalogue, the operators overlay and the timing models under ``--out``.
3. For every question: compiles it onto the ``local`` pool (``dicec compile q.txt --pools OUT/pools.yaml
   --operators OUT/operators``, with fusion and with ``--no-fuse``), runs it ``--runs`` times with
   ``dicec run --isolation I`` (a fresh process each time, the default parallelism: min(8, CPUs)) on
   its scene and keeps the median of the run's own ``seconds``; simulates the same workflow on as many
   ``local`` nodes as ``dicec run`` has workers (as ``dicec simulate wf.yaml --pools OUT/pools.yaml
   --operators OUT/operators --pool placed --nodes P --timing T.json``, where T is OUT/timing-I.json
   with ``widths``: the number of elements each fan-out of the run had, 0 when its source found
   nothing), and prints predicted and measured seconds and the error.

This machine is shared, so its load changes from minute to minute; unless ``--unpaired``, the step
figures (start-up, model load, answer step, cold start) are measured again in every run round, beside
the run, and that example is predicted from them: both sides then see the same machine.

``process`` isolation is what a pod does (a process per step that loads its models): pods mode.
``thread`` isolation keeps the models loaded in one process: services mode, plus the one cold start
(imports, finding the operators, setting up the models) that a fresh ``dicec run`` pays and a warm
service does not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "examples" / "scenes"))

LIMIT = 0.25


def scene_questions(folder: Path, count: int) -> list[dict]:
    from generate import generate

    rows = []
    for rec in generate(folder, count):
        for i, q in enumerate(rec["questions"]):
            rows.append({"name": f"{Path(rec['image']).stem}-{q['kind']}", "question": q["question"],
                         "image": str(folder / rec["image"]), "answer": q["answer"]})
    return rows


def run_seconds(wf: Path, image: str, isolation: str, parallelism: int, keep: Path | None = None) -> tuple[float, dict]:
    """One ``dicec run`` in a fresh process: (the run's own seconds, its JSON)."""
    argv = [sys.executable, "-m", "dicec", "run", str(wf), "-p", f"image={image}", "--isolation", isolation,
            "--parallelism", str(parallelism), "--models", "builtin", "--format", "json"]
    if keep is not None:
        argv += ["--keep", str(keep)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"dicec run {wf} failed: {proc.stderr.strip()[-400:]}")
    body = json.loads(proc.stdout)
    return body["seconds"], body


def fanout_widths(placed, keep: Path) -> dict[str, int]:
    """How many elements each fan-out of the kept run had (0 when its source found nothing)."""
    from dicec.emit.fused import FusedSteps

    steps = FusedSteps.of(placed)
    widths = {}
    for t in placed.graph.tasks:
        if t.fanout is None:
            continue
        step = steps.step_of.get(t.id)
        if step is not None:  # a fused step wrote the list of the fan-out's values
            files = list((keep / step).glob(f"**/dicec/{t.id}/value.json"))
            widths[t.id] = len(json.loads(files[0].read_text())) if files else 0
        else:  # one step folder per element
            widths[t.id] = len([p for p in keep.glob(f"{t.id}-*") if p.name[len(t.id) + 1:].isdigit()])
    return widths


def predict(placed, registry, catalogue, measured, *, isolation: str, nodes: int, widths: dict[str, int]) -> float:
    """The simulator's makespan of ``placed`` as compiled (its fused groups), on ``nodes`` local nodes."""
    from dicec.simulate.runs import jobs_for
    from dicec.timing.model import TimingModel
    from dicec.timing.schedule import make_cluster, simulate

    model = TimingModel(**measured.timing(isolation), widths=widths)
    mode = "pods" if isolation == "process" else "services"
    # dicec run --isolation thread runs each step (a fan-out's elements too) as a call of its own to warm models,
    # with no Argo agent: services mode with every call a container step (the timing file's start-up is 0)
    jobs, _ = jobs_for([placed], [placed.graph.path], registry, catalogue, model, pool="placed", mode=mode,
                       spot=False, fuse=True, http=False)
    cluster = make_cluster(jobs, {"local": nodes}, model)
    result = simulate(jobs, cluster, batch=1, model=model)
    # a fresh dicec run starts cold; in thread isolation it pays that once, where a service is warm
    return result.makespan_s + (measured.thread_cold_s if mode == "services" else 0.0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--isolation", choices=["process", "thread", "both"], default="both")
    parser.add_argument("--fuse", choices=["on", "off", "both"], default="both",
                        help="compile with fusion (dicec's default: most scene questions become one step) and/or "
                             "--no-fuse (a step per task, so dicec run's parallel workers are exercised)")
    parser.add_argument("--repeats", type=int, default=5, help="calibration rounds (medians kept)")
    parser.add_argument("--runs", type=int, default=3, help="dicec run repeats per question (median kept)")
    parser.add_argument("--scenes", type=int, default=4, help="generated scenes whose questions are the examples")
    parser.add_argument("--out", type=Path, default=None, help="keep the calibration files here")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--unpaired", action="store_true",
                        help="predict every example from the one calibration (default: re-measure the step "
                             "figures in each run round, beside the run, so both see the same machine load)")
    args = parser.parse_args(argv)

    from dicec.pipeline import compile_text
    from dicec.placement import load_pools
    from dicec.simulate.calibrate import Rounds, measure, summarise, write
    from dicec.tools import discover

    work = Path(tempfile.mkdtemp(prefix="dicec-calibrate-"))
    out = args.out or work / "local"
    rows = scene_questions(work / "scenes", args.scenes)
    started = time.perf_counter()
    measured = measure(rows[0]["image"], repeats=args.repeats, log=lambda s: print(f"  calibrating: {s}", file=sys.stderr))
    paths = write(measured, out)
    registry = discover([str(paths["operators"])])
    catalogue = load_pools(str(paths["pools"]))
    parallelism = min(8, os.cpu_count() or 1)
    print(f"local pool: {measured.host}; step start-up {measured.step_start_s:.3f} s, answer step "
          f"{measured.answer_run_s:.3f} s (+ start-up), in-process step {measured.thread_step_s:.4f} s; model load "
          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(measured.load_s.items())) + " s; files in " + str(out))
    print(f"dicec run parallelism {parallelism}; {args.runs} run(s) per question, median; error = predicted / measured - 1; "
          + ("figures from the one calibration" if args.unpaired else
             "step figures re-measured beside each run (paired), operator latencies from the calibration") + "\n")
    rounds = Rounds(rows[0]["image"]).__enter__()
    isolations = ["process", "thread"] if args.isolation == "both" else [args.isolation]
    figures: dict = {"host": measured.host, "parallelism": parallelism, "calibration": measured.to_json(), "rows": []}
    variants = [(i, f) for i in isolations for f in ([True, False] if args.fuse == "both" else [args.fuse == "on"])]
    for isolation, fuse in variants:
        label = f"{isolation}, {'fused' if fuse else 'no-fuse'}"
        print(f"isolation {isolation} (simulated as {'pods' if isolation == 'process' else 'services'} mode), "
              f"compiled {'with fusion' if fuse else 'with --no-fuse'}")
        print("| example | tasks | steps | fan-out | predicted s | measured s | error % |\n|---|---|---|---|---|---|---|")
        errors = []
        for row in rows:
            compiled = compile_text(row["question"], "question", path=f"{row['name']}.txt", registry=registry,
                                    catalogue=catalogue, placement=None if fuse else {"fuse": False})
            tag = f"{isolation}-{'fused' if fuse else 'nofuse'}-{row['name']}"
            wf = work / f"{tag}.yaml"
            wf.write_text(compiled.yaml)
            keep = work / f"keep-{tag}"
            times, body, samples, rss = [], None, {}, {}
            for r in range(args.runs):
                if not args.unpaired:
                    rounds.sample(["find"], samples, rss)
                seconds, body = run_seconds(wf, row["image"], isolation, parallelism, keep if r == 0 else None)
                times.append(seconds)
            measured_s = statistics.median(times)
            widths = fanout_widths(compiled.placed, keep)
            width = "/".join(str(w) for w in widths.values()) or "-"
            figures_here, reg = measured, registry
            if not args.unpaired:  # the same figures, measured beside this example's runs
                figures_here = summarise(samples, rss, measured.latency_s, repeats=args.runs, shared_load_from="find")
                reg = discover([str(write(figures_here, work / f"cal-{tag}")["operators"])])
            predicted = predict(compiled.placed, reg, catalogue, figures_here, isolation=isolation,
                                nodes=parallelism, widths=widths)
            error = predicted / measured_s - 1.0
            errors.append(abs(error))
            figures["rows"].append({"isolation": isolation, "fuse": fuse, "example": row["name"], "question": row["question"],
                                    "tasks": len(compiled.graph.tasks), "steps": body["steps"], "fanout": width,
                                    "predicted_s": round(predicted, 4), "measured_s": round(measured_s, 4),
                                    "runs_s": [round(t, 4) for t in times], "error": round(error, 4)})
            print(f"| {row['name']} | {len(compiled.graph.tasks)} | {body['steps']} | {width} | {predicted:.3f} | "
                  f"{measured_s:.3f} | {error * 100:+.1f} |")
        mean, worst = statistics.mean(errors), max(errors)
        figures[label] = {"mean_abs_error": round(mean, 4), "max_abs_error": round(worst, 4)}
        print(f"\n{label}: mean |error| {mean * 100:.1f}%, max |error| {worst * 100:.1f}% "
              f"({'within' if worst <= LIMIT else 'OVER'} the {LIMIT * 100:.0f}% target)\n")
    rounds.__exit__(None, None, None)
    print(f"({time.perf_counter() - started:.0f} s; the machine's load average was {os.getloadavg()[0]:.2f})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
