"""Scenes for the built-in models: solid shapes on a plain background, their ground truth and questions.

A scene is 3 to 6 shapes (circle, square, rectangle, triangle; eight colours; small or large) placed
without overlap, at least :data:`GAP` pixels apart and from the border, so that ViperGPT's 10-pixel
crop margin around one shape never reaches another. Each scene comes with four questions whose
answers follow from the shapes alone: a count, a colour, an existence and a left/right relation.
Everything is a pure function of the seed.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np

from dicec.runtime.scene import BACKGROUND, COLOURS, SHAPES

WIDTH, HEIGHT = 400, 300
GAP = 26


@dataclass(frozen=True, kw_only=True)
class Shape:
    """One drawn shape: its kind, colour, size class and box (top-left origin, exclusive ends)."""

    shape: str
    colour: str
    size: str
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def centre_x(self) -> float:
        return (self.x0 + self.x1) / 2


def make_scene(seed: int) -> list[Shape]:
    rng = random.Random(seed)
    shapes: list[Shape] = []
    for _ in range(rng.randint(3, 6)):
        for _attempt in range(200):
            kind, colour, size = rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(("small", "large"))
            side = rng.randint(26, 40) if size == "small" else rng.randint(70, 96)
            w, h = side, side
            if kind == "rectangle":
                w, h = (side, int(side / 1.9)) if rng.random() < 0.5 else (int(side / 1.9), side)
                if max(w, h) < 26 or min(w, h) < 12:
                    continue
            x0, y0 = rng.randint(GAP, WIDTH - GAP - w), rng.randint(GAP, HEIGHT - GAP - h)
            box = Shape(shape=kind, colour=colour, size=size, x0=x0, y0=y0, x1=x0 + w, y1=y0 + h)
            if all(_apart(box, s) for s in shapes):
                shapes.append(box)
                break
    return shapes


def _apart(a: Shape, b: Shape) -> bool:
    return a.x1 + GAP <= b.x0 or b.x1 + GAP <= a.x0 or a.y1 + GAP <= b.y0 or b.y1 + GAP <= a.y0


def render(shapes: list[Shape]) -> np.ndarray:
    img = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    for s in shapes:
        w, h = s.x1 - s.x0, s.y1 - s.y0
        if s.shape in ("square", "rectangle"):
            inside = (xs >= s.x0) & (xs < s.x1) & (ys >= s.y0) & (ys < s.y1)
        elif s.shape == "circle":
            cx, cy, r = s.x0 + w / 2 - 0.5, s.y0 + h / 2 - 0.5, w / 2
            inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
        else:  # an upward triangle: apex at the top centre, base at the bottom
            frac = (ys - s.y0 + 0.5) / h
            half = frac * w / 2
            cx = s.x0 + w / 2
            inside = (ys >= s.y0) & (ys < s.y1) & (np.abs(xs + 0.5 - cx) <= half)
        img[inside] = COLOURS[s.colour]
    return img


def _plural(shape: str) -> str:
    return shape + "s"


def questions(shapes: list[Shape], seed: int) -> list[dict]:
    rng = random.Random(seed * 7919 + 1)
    out = []
    colour, kind = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    if rng.random() < 0.6:
        pick = rng.choice(shapes)
        colour, kind = pick.colour, pick.shape
    count = sum(1 for s in shapes if s.colour == colour and s.shape == kind)
    out.append({"kind": "count", "question": f"How many {colour} {_plural(kind)} are there?", "answer": str(count)})
    unique = [k for k in SHAPES if sum(1 for s in shapes if s.shape == k) == 1]
    if unique:
        k = rng.choice(unique)
        s = next(s for s in shapes if s.shape == k)
        out.append({"kind": "colour", "question": f"What color is the {k}?", "answer": s.colour})
    if rng.random() < 0.5:
        pick = rng.choice(shapes)
        colour, kind = pick.colour, pick.shape
    else:
        colour, kind = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    present = any(s.colour == colour and s.shape == kind for s in shapes)
    out.append({"kind": "existence", "question": f"Is there a {colour} {kind}?", "answer": "yes" if present else "no"})
    distinct = [s for s in shapes if sum(1 for t in shapes if (t.colour, t.shape) == (s.colour, s.shape)) == 1]
    if len(distinct) >= 2:
        a, b = rng.sample(distinct, 2)
        if a.centre_x != b.centre_x:
            out.append({"kind": "relation",
                        "question": f"Is the {a.colour} {a.shape} to the left of the {b.colour} {b.shape}?",
                        "answer": "yes" if a.centre_x < b.centre_x else "no"})
    return out


def scene_record(seed: int, image_name: str) -> dict:
    shapes = make_scene(seed)
    return {"seed": seed, "image": image_name, "width": WIDTH, "height": HEIGHT,
            "shapes": [asdict(s) for s in shapes], "questions": questions(shapes, seed)}
