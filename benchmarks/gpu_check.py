"""The CUDA path of onnxruntime-gpu, checked against the CPU path on the same machine.

Usage: python benchmarks/gpu_check.py [--scenes N] [--repeat R] [--json FILE]

Runs the same measurements twice in child processes: once as installed (onnxruntime takes the CUDA
provider when it can) and once with ``CUDA_VISIBLE_DEVICES=""`` (no GPU visible, so every session falls
back to the CPU). Each child reports which provider every model ran on, the answers, and per-call times:

* the built-in scene models (``scene_detect``/``scene_colour``): every generated question about N drawn
  scenes, through ``dicec.runtime.program.run_program`` with the ``builtin`` backend, as ``dicec exec`` runs it;
* ``read_text`` with the PP-OCRv4 models rapidocr-onnxruntime ships, on rendered licence plates;
* ``compute_depth`` on the onnx backend with a stacked batch (a tiny DPT-shaped graph built here with
  onnx.helper): one ``session.run`` for the batch against one call at a time.

The parent prints both columns and says whether the answers agree. Without a GPU the two children are
the same CPU run (the first line says so). Where a GPU is present this is the check that the CUDA
sessions answer what the CPU ones do, and by how much faster; the figures are in the README.
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

REPO = Path(__file__).resolve().parents[1]
PLATES = ("AB12 CDE", "KX70 TRY", "GF 2083")


def _timed(fn, repeat: int) -> tuple[object, float]:
    """fn()'s result and its median seconds over ``repeat`` runs (after one warm-up)."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def measure(scenes: int, repeat: int) -> dict:
    """One child's measurements (see the module docstring)."""
    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(REPO / "tests" / "operators"))
    sys.path.insert(0, str(REPO / "tests" / "runtime"))
    from test_batching import dpt_batch_model  # noqa: E402  (the tests' tiny DPT-shaped graph)
    from test_onnx_backend import operator_dir  # noqa: E402
    from test_read_text import render as render_plate  # noqa: E402

    from dicec.codegen.offline import generate_offline
    from dicec.runtime import models
    from dicec.runtime.backend import evaluate, evaluate_batch, get_backend, registry_for
    from dicec.runtime.calls import Call, answer_text
    from dicec.runtime.images import encode_png, load_image
    from dicec.runtime.program import run_program
    from dicec.runtime.scene.generate import make_scene, questions, render

    lines: list[str] = []
    out: dict = {"onnxruntime": onnxruntime.__version__, "available": onnxruntime.get_available_providers(),
                 "provider_lines": lines}
    registry = registry_for(())
    tmp = Path(tempfile.mkdtemp(prefix="dicec-gpu-"))
    original = models._report  # the one line per model saying where it runs, kept here
    models._report = lambda name, *, on_cuda, fell_back, log: lines.append(
        f"onnxruntime: {name} runs on {'CUDA' if on_cuda else 'CPU'}")
    try:
        # -- scene models: every generated question about N scenes, as dicec exec answers it
        builtin = get_backend("builtin")
        answers, seconds = [], []
        for seed in range(scenes):
            shapes = make_scene(seed)
            path = tmp / f"scene-{seed}.png"
            path.write_bytes(encode_png(render(shapes)))
            image = load_image(str(path))
            for q in questions(shapes, seed):
                program = generate_offline(q["question"], registry).code
                start = time.perf_counter()
                outcome = run_program(program, registry=registry, image=image, backend=builtin)
                seconds.append(time.perf_counter() - start)
                answers.append(answer_text(outcome.answer))
        out["scene"] = {"answers": answers, "questions": len(answers), "median_s": statistics.median(seconds)}
        detect, _ = builtin.sessions()
        frame = np.ascontiguousarray(render(make_scene(0))[None], dtype=np.uint8)
        feeds = {"image": frame, "background": np.full((1, 1, 1, 3), 128, dtype=np.float32)}
        _, out["scene"]["detect_run_s"] = _timed(lambda: detect.run(None, feeds), repeat)

        # -- read_text: PP-OCRv4 det + rec on rendered plates
        texts, seconds = [], []
        spec = registry.get("read_text")
        form = spec.form("method")
        for text in PLATES:
            path = tmp / f"plate-{len(texts)}.png"
            path.write_bytes(encode_png(render_plate(text, 6)))
            image = load_image(str(path))
            call = Call(operator="read_text", form="method",
                        patch={"left": 0, "lower": 0, "right": image.width, "upper": image.height}, args=())
            (value, error), s = _timed(lambda: evaluate(builtin, spec, form, image, call), repeat)
            texts.append(error or value)
            seconds.append(s)
        out["read_text"] = {"texts": texts, "median_s": statistics.median(seconds)}

        # -- compute_depth on onnx: one stacked run against one call at a time
        ops = operator_dir(tmp / "ops", "compute_depth", dpt_batch_model(tmp / "dpt.onnx"))
        spec = registry_for((str(ops),)).get("compute_depth")
        form = spec.form("method")
        onnx = get_backend("onnx")
        rng = np.random.default_rng(7)
        calls = []
        for i in range(8):
            path = tmp / f"depth-{i}.png"
            path.write_bytes(encode_png(rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)))
            image = load_image(str(path))
            box = {"left": 0, "lower": 0, "right": image.width, "upper": image.height}
            calls.append((image, Call(operator="compute_depth", form="method", patch=box, args=())))
        single, single_s = _timed(lambda: [evaluate(onnx, spec, form, im, c) for im, c in calls], repeat)
        batched, batch_s = _timed(lambda: evaluate_batch(onnx, spec, form, calls), repeat)
        out["depth"] = {"single": [v for v, _ in single], "batched": [v for v, _ in batched],
                        "batch_equals_single": batched == single, "single_s": single_s, "batch_s": batch_s}
    finally:
        models._report = original
    return out


def _child(env_update: dict[str, str], args: argparse.Namespace) -> dict:
    env = {**os.environ, **env_update, "PYTHONPATH": os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH", ""), str(REPO)) if p)}
    proc = subprocess.run([sys.executable, __file__, "--child", "--scenes", str(args.scenes), "--repeat",
                           str(args.repeat)], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        sys.exit(f"gpu_check: the child run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # onnxruntime may print to stdout before it


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=10, help="drawn scenes whose questions are answered (default 10)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per figure, median taken (default 20)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write both runs as JSON here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.scenes, args.repeat)))
        return 0
    gpu = _child({}, args)
    cpu = _child({"CUDA_VISIBLE_DEVICES": ""}, args)
    print(f"onnxruntime {gpu['onnxruntime']}; providers offered: {', '.join(gpu['available'])}")
    print("as installed:      " + "; ".join(sorted(set(gpu["provider_lines"]))))
    print("no GPU visible:    " + "; ".join(sorted(set(cpu["provider_lines"]))))
    rows = [("scene question (exec, builtin)", gpu["scene"]["median_s"], cpu["scene"]["median_s"]),
            ("scene_detect run, 640x480", gpu["scene"]["detect_run_s"], cpu["scene"]["detect_run_s"]),
            ("read_text on a plate", gpu["read_text"]["median_s"], cpu["read_text"]["median_s"]),
            ("compute_depth x8, one at a time", gpu["depth"]["single_s"], cpu["depth"]["single_s"]),
            ("compute_depth x8, one stacked run", gpu["depth"]["batch_s"], cpu["depth"]["batch_s"])]
    print(f"{'median seconds':36} {'as installed':>13} {'no GPU':>10} {'ratio':>7}")
    for name, g, c in rows:
        print(f"{name:36} {g:13.5f} {c:10.5f} {c / g if g else float('nan'):7.2f}")
    same_scene = gpu["scene"]["answers"] == cpu["scene"]["answers"]
    print(f"scene answers equal: {same_scene} ({gpu['scene']['questions']} questions)")
    print(f"read_text equal: {gpu['read_text']['texts'] == cpu['read_text']['texts']} "
          f"(as installed {gpu['read_text']['texts']}, no GPU {cpu['read_text']['texts']}; rendered {list(PLATES)})")
    diff = max(abs(a - b) for a, b in zip(gpu["depth"]["single"], cpu["depth"]["single"]))
    print(f"compute_depth: stacked == one at a time: as installed {gpu['depth']['batch_equals_single']}, "
          f"no GPU {cpu['depth']['batch_equals_single']}; largest GPU-CPU difference {diff:.3g}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"as_installed": gpu, "no_gpu": cpu}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
