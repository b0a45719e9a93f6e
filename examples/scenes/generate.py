"""Write N scene PNGs with their ground truth and questions: ``python examples/scenes/generate.py OUT [N]``.

OUT gets ``scene-000.png`` ... and ``scenes.jsonl`` (one scene a line: seed, image, shapes with
their boxes, and questions with answers). Scenes are solid shapes on a plain grey background, the
domain of the built-in scene models (``dicec exec|run --models builtin``). Deterministic: scene i
is seed i.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dicec.files import write_atomic
from dicec.runtime.images import encode_png
from dicec.runtime.scene.generate import make_scene, render, scene_record


def generate(out: Path, count: int) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for seed in range(count):
        name = f"scene-{seed:03d}.png"
        write_atomic(out / name, encode_png(render(make_scene(seed))))
        records.append(scene_record(seed, name))
    write_atomic(out / "scenes.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the scenes into (created if missing)")
    parser.add_argument("count", type=int, nargs="?", default=100, help="how many scenes (default 100)")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("count must be at least 1")
    recs = generate(args.out, args.count)
    print(f"{len(recs)} scenes, {sum(len(r['questions']) for r in recs)} questions -> {args.out}")


if __name__ == "__main__":
    main()
