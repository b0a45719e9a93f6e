"""Accuracy of ``dicec run --models builtin`` on generated scenes: ``python examples/scenes/evaluate.py [N]``.

Generates N scenes (default 100) into a temporary folder, compiles every question with the offline
code generator, runs the compiled workflow on its scene with the built-in ONNX scene models, and
compares the answer with the ground truth. Prints the accuracy overall and per question kind, and
each miss.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate import generate  # noqa: E402


def evaluate(count: int, folder: Path, *, parallelism: int = 4) -> dict:
    from dicec.pipeline import compile_text
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for
    from dicec.runner.workflow import RunOptions, run_workflow

    registry, pools = registry_for(), load_pools()
    records = generate(folder, count)
    right, total, misses = Counter(), Counter(), []
    compiled: dict[str, str] = {}
    for rec in records:
        for q in rec["questions"]:
            if q["question"] not in compiled:
                compiled[q["question"]] = compile_text(q["question"], "question", path="question.txt",
                                                       registry=registry, catalogue=pools).yaml
            wf = folder / "wf.yaml"
            wf.write_text(compiled[q["question"]])
            result = run_workflow(str(wf), RunOptions(parameters={"image": str(folder / rec["image"])},
                                                      parallelism=parallelism, env={"DICEC_MODELS": "builtin"}))
            got = json.loads(result.outputs["answer-json"])  # the answer as JSON ("answer" is its text)
            total[q["kind"]] += 1
            if got == q["answer"]:
                right[q["kind"]] += 1
            else:
                misses.append((rec["image"], q["question"], q["answer"], got))
    return {"right": right, "total": total, "misses": misses}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, nargs="?", default=100, help="how many scenes (default 100)")
    n = parser.parse_args().count
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        res = evaluate(n, Path(tmp))
    r, t = res["right"], res["total"]
    print(f"{sum(r.values())}/{sum(t.values())} questions answered as the ground truth says "
          f"({100 * sum(r.values()) / max(1, sum(t.values())):.1f}%) on {n} scenes, {time.monotonic() - start:.0f} s")
    for kind in sorted(t):
        print(f"  {kind:10} {r[kind]}/{t[kind]}")
    for miss in res["misses"]:
        print("  miss:", *miss)
