"""Test helper: a program compiled (pods mode) and run with ``dicec run`` on test images, with what its answer
step reported of the replay (:mod:`dicec.runtime.replaycounts`), to see a plan's claims hold when it runs."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

from helpers import run_and_count, write_image  # noqa: E402

#: Noise images of three sizes: seeded answers differ on each, so both sides of a condition are taken.
IMAGE_SEEDS = (0, 1, 2, 3)


def images(folder: Path) -> list[Path]:
    return [write_image(folder / f"image{s}.png", width=300 + 40 * s, height=220, seed=s) for s in IMAGE_SEEDS]


def compiled(source: str, registry, pools):
    from dicec.pipeline import compile_text

    return compile_text(source, "program", path="p.py", registry=registry, catalogue=pools)


def runs(source: str, registry, pools, folder: Path, *, models: str = "seeded") -> tuple:
    """(the compiled workflow, [(result, the answer step's counts or None)] per image)."""
    c = compiled(source, registry, pools)
    out = []
    for image in images(folder):
        result, reported = run_and_count(c.yaml, folder, image, models=models)
        assert len(reported) == (1 if "answer" in result else 0), (result, reported)
        out.append((result, reported[0].counts if reported else None))
    return c, out
