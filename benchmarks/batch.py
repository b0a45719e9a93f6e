"""A pods-mode batch on this machine against the serial program looped in one process: seconds and their ratio.

    python benchmarks/batch.py [--images 200] [--shards 8] [--parallelism N] [--isolation process|thread]
                               [--question TEXT] [--format text|json]

Draws --images scenes (examples/scenes: shapes on a plain background, what ``--models builtin`` answers),
compiles --question (default: a left/right relation, which finds two kinds of shape, checks every
detection's colour in two fan-outs and may ask the whole image) with ``dicec compile --batch --shards N``,
then times, each as a fresh process from its start to its end:

* ``batch``: ``dicec run WF --isolation process -p images=[...] --models builtin`` -- every pod of every
  shard's chain a process of its own, as a pod on a cluster (each loads its models once, for its shard);
* ``serial``: the compiled program run by ``dicec exec``'s own code (``run_program``) over the same images
  one after another in ONE process, its models loaded once: the warm serial baseline;
* with ``--per-image``, also ``per-image``: the batch as it was emitted before stage pods (and still is
  for ``--input-artifact``): one query DAG per image, every step (or fused group) a pod loading its models
  for that one image (:func:`dicec.emit.argo.emit_workflow`), run the same way.

Printed: both wall-clock times, their ratio (batch / serial), the answers that differ (there must be none),
the pods started, and the load average of this machine before and after (other work on a shared machine
slows either run; the figures are one run each, not a best of several).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTION = "Is the white rectangle to the left of the red triangle?"


def draw(folder: Path, count: int) -> list[str]:
    """``count`` scene PNGs (scene i is seed i), their paths."""
    from dicec.files import write_atomic
    from dicec.runtime.images import encode_png
    from dicec.runtime.scene.generate import make_scene, render

    out = []
    for seed in range(count):
        path = folder / f"scene-{seed:04d}.png"
        write_atomic(path, encode_png(render(make_scene(seed))))
        out.append(str(path))
    return out


def serial_loop(program_file: str, images_file: str) -> None:
    """The warm serial baseline (run as its own process): every image through the program, models loaded once."""
    from dicec.runtime.backend import get_backend, registry_for
    from dicec.runtime.images import load_image
    from dicec.runtime.program import ProgramError, run_program

    source = Path(program_file).read_text()
    registry, backend = registry_for(), get_backend("builtin")
    answers = []
    for uri in json.loads(Path(images_file).read_text()):
        try:
            answers.append({"answer": run_program(source, registry=registry, image=load_image(uri),
                                                  backend=backend, log=lambda s: None).answer})
        except ProgramError as exc:
            answers.append({"error": str(exc)})
    print(json.dumps(answers))


def write_per_image(question: Path, target: Path) -> None:
    """The per-image batch workflow of ``question`` (emitted directly: ``dicec compile`` makes stage pods)."""
    from dicec.emit import EmitOptions, dump_yaml
    from dicec.emit.argo import emit_workflow
    from dicec.pipeline import compile_path
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    placed = compile_path(str(question), registry=registry_for(), catalogue=load_pools()).placed
    target.write_text(dump_yaml([emit_workflow(placed, EmitOptions(batch=True))]))


def timed(argv: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"batch.py: {' '.join(argv[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="how many scenes (default 200)")
    parser.add_argument("--shards", type=int, default=8, help="shards of the batch workflow (default 8)")
    parser.add_argument("--parallelism", type=int, default=None,
                        help="dicec run's workers (default: the number of CPUs, at most 8, as dicec run)")
    parser.add_argument("--isolation", choices=["process", "thread"], default="process")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--per-image", action="store_true",
                        help="also time the per-image fan-out (a pod per step and image; slow)")
    parser.add_argument("--serial-loop", nargs=2, metavar=("PROGRAM", "IMAGES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serial_loop:
        serial_loop(*args.serial_loop)
        return
    if args.images < 0 or args.shards < 1:
        parser.error("--images must be at least 0 and --shards at least 1")
    parallelism = args.parallelism or min(8, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="dicec-batch-bench-") as tmp:
        folder = Path(tmp)
        images = draw(folder, args.images)
        (folder / "images.json").write_text(json.dumps(images))
        (folder / "q.txt").write_text(args.question + "\n")
        dicec = [sys.executable, "-m", "dicec"]
        timed([*dicec, "compile", str(folder / "q.txt"), "--batch", "--shards", str(args.shards),
               "-o", str(folder / "wf.yaml")])
        timed([*dicec, "codegen", str(folder / "q.txt"), "-o", str(folder / "prog.py")])
        load_before = os.getloadavg()
        batch_s, out = timed([*dicec, "run", str(folder / "wf.yaml"), "--isolation", args.isolation, "--models",
                              "builtin", "--parallelism", str(parallelism), "--format", "json",
                              "-p", f"images={json.dumps(images)}"])
        batch = json.loads(out)
        serial_s, out = timed([sys.executable, __file__, "--serial-loop", str(folder / "prog.py"),
                               str(folder / "images.json")])
        per_image = None
        if args.per_image:
            write_per_image(folder / "q.txt", folder / "per-image.yaml")
            per_image_s, text = timed([*dicec, "run", str(folder / "per-image.yaml"), "--isolation", args.isolation,
                                       "--models", "builtin", "--parallelism", str(parallelism), "--format", "json",
                                       "-p", f"images={json.dumps(images)}"])
            per_image = {"seconds": round(per_image_s, 2), "pods": json.loads(text)["steps"]}
        load_after = os.getloadavg()
    serial = json.loads(out)
    got = [{"answer": a} for a in batch["answers"]]
    errors = {e["index"]: {"error": e["error"]} for e in batch["errors"]}
    got = [errors.get(i, g) for i, g in enumerate(got)]
    differ = sum(1 for a, b in zip(got, serial) if a != b) + abs(len(got) - len(serial))
    figures = {"images": args.images, "question": args.question, "shards": args.shards, "parallelism": parallelism,
               "isolation": args.isolation, "pods": batch["steps"], "batch_s": round(batch_s, 2),
               "serial_s": round(serial_s, 2), "ratio": round(batch_s / serial_s, 2) if serial_s else None,
               "answers_differ": differ, "load_before": [round(x, 2) for x in load_before],
               "load_after": [round(x, 2) for x in load_after], "cpus": os.cpu_count(), "per_image": per_image}
    if args.format == "json":
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.images} drawn scenes, question {args.question!r}, builtin models, {os.cpu_count()} CPUs")
        print(f"  batch  (dicec run --isolation {args.isolation}, {args.shards} shards, {parallelism} workers, "
              f"{batch['steps']} pods): {batch_s:8.2f} s")
        print(f"  serial (the program over every image in one process, models loaded once):      {serial_s:8.2f} s")
        if per_image:
            print(f"  per-image fan-out (a pod per step and image, {per_image['pods']} pods):"
                  f"{' ' * 22}{per_image['seconds']:8.2f} s")
        print(f"  batch / serial: {figures['ratio']}   answers that differ: {differ}")
        print(f"  load average (1, 5, 15 min): before {figures['load_before']}, after {figures['load_after']}")
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
