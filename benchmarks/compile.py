"""Compile 1000 questions through every stage and print throughput and per-stage latency.

    python benchmarks/compile.py [--n 1000] [--format text|json]

Questions: the project's examples/questions, GQA questions from ../shared/dev when present, and
questions built from a fixed grid of objects and families to reach --n (deterministic). Stages are
timed in-process (codegen, analyse, place, emit); "total" includes YAML dumping. Start-up (imports,
operator discovery) is timed separately, once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OBJECTS = ["car", "dog", "person", "bottle", "truck", "bicycle", "cup", "chair", "bird", "boat",
           "front bumper", "windshield", "plastic bag", "traffic light", "umbrella"]
FAMILIES = ["Is there a {a}?", "How many {a}s are there?", "What color is the {a}?",
            "Is the {a} to the left of the {b}?", "Is the {a} bigger than the {b}?",
            "Is there a {a} or a {b}?", "Is the {a} red or blue?", "Is the {a} damaged?",
            "Which {a} is closest to the {b}?", "What is on the {a}?"]


def questions(n: int) -> list[str]:
    out = [p.read_text().strip() for p in sorted((ROOT / "examples" / "questions").glob("*.txt"))]
    gqa = ROOT.parent / "shared" / "dev" / "gqa_questions.jsonl"
    if gqa.exists():
        out += [json.loads(line)["question"] for line in gqa.read_text().splitlines() if line.strip()]
    for fam, a, b in itertools.product(FAMILIES, OBJECTS, OBJECTS):
        if len(out) >= n:
            break
        if a != b:
            out.append(fam.format(a=a, b=b))
    return out[:n]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="questions to compile (default 1000)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args()

    t0 = time.perf_counter()
    from dicec.emit import EmitOptions
    from dicec.pipeline import compile_text
    from dicec.placement import load_pools
    from dicec.tools import discover

    registry, catalogue = discover(), load_pools()
    startup = time.perf_counter() - t0
    qs = questions(args.n)
    stages: dict[str, list[float]] = {"codegen": [], "analyse": [], "place": [], "emit": [], "total": []}
    failures = 0
    start = time.perf_counter()
    for i, q in enumerate(qs, 1):
        t = time.perf_counter()
        try:
            result = compile_text(q, "question", path=f"q{i}.txt", registry=registry, catalogue=catalogue,
                                  options=EmitOptions())
        except Exception as exc:  # report, keep measuring
            failures += 1
            print(f"q{i}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        stages["total"].append(time.perf_counter() - t)
        for k, v in result.timings.items():
            stages[k].append(v)
        if sys.stderr.isatty() and i % 50 == 0:
            print(f"\r{i}/{len(qs)}", end="", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    report = {
        "questions": len(qs), "failures": failures, "wall_s": round(wall, 3),
        "questions_per_s": round(len(qs) / wall, 1), "startup_s": round(startup, 3),
        "stages_ms": {k: {"p50": round(pct(v, 0.5) * 1000, 3), "p95": round(pct(v, 0.95) * 1000, 3)}
                      for k, v in stages.items() if v},
    }
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(f"compiled {len(qs)} questions in {wall:.2f} s: {report['questions_per_s']} questions/s "
              f"({failures} failed); start-up {startup:.2f} s")
        print(f"{'stage':<8} {'p50 ms':>9} {'p95 ms':>9}")
        for k, v in report["stages_ms"].items():
            print(f"{k:<8} {v['p50']:>9.3f} {v['p95']:>9.3f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
