"""Numpy stages of the scene models: background, connected regions, boxes, shape and size.

Given the foreground mask from the ``scene_detect`` graph, regions are 4-connected runs joined with
a union-find; each region gets its box (top-left origin, exclusive right/bottom), pixel count, mean
colour and a shape from how much of its box it fills (a square or rectangle fills all of it, a circle
pi/4 = 0.785, a triangle half) and its aspect ratio. Regions smaller than :data:`MIN_AREA` pixels are
noise (anti-aliasing, crop edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_AREA = 40
LARGE_SIDE = 60


@dataclass(frozen=True, kw_only=True)
class Region:
    """One solid shape found in a patch.

    Attributes:
        x0, y0, x1, y1: its box in the patch, top-left origin, right/bottom exclusive.
        area: pixels.
        mean: mean RGB colour.
        shape: circle, square, rectangle or triangle.
        colour: the palette colour (filled in after the colour graph).
    """

    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    mean: tuple[float, float, float]
    shape: str
    colour: str = ""

    @property
    def size(self) -> str:
        return "large" if max(self.x1 - self.x0, self.y1 - self.y0) >= LARGE_SIDE else "small"


def background_colour(ring: np.ndarray) -> np.ndarray:
    """The median colour of the frame's border ring (the plain background; see ``SourceImage.border``)."""
    return np.median(ring.astype(np.float32), axis=0)


def shape_of(area: int, width: int, height: int) -> str:
    fill = area / float(width * height)
    aspect = width / float(height)
    if fill >= 0.9:
        return "square" if 0.85 <= aspect <= 1.18 else "rectangle"
    if fill >= 0.68:
        return "circle"
    return "triangle"


def regions(mask: np.ndarray, pixels: np.ndarray) -> list[Region]:
    """Connected foreground regions of ``mask`` (H, W), largest first."""
    labels = label_components(mask.astype(bool))
    out = []
    if labels.max() == 0:
        return out
    idx = np.flatnonzero(labels)
    lab = labels.ravel()[idx]
    ys, xs = np.divmod(idx, mask.shape[1])
    order = np.argsort(lab, kind="stable")
    lab, ys, xs = lab[order], ys[order], xs[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    ends = np.r_[starts[1:], lab.size]
    flat = pixels.reshape(-1, 3).astype(np.float64)
    for s, e in zip(starts, ends):
        area = int(e - s)
        if area < MIN_AREA:
            continue
        x0, x1, y0, y1 = int(xs[s:e].min()), int(xs[s:e].max()) + 1, int(ys[s:e].min()), int(ys[s:e].max()) + 1
        mean = flat[ys[s:e] * mask.shape[1] + xs[s:e]].mean(axis=0)
        out.append(Region(x0=x0, y0=y0, x1=x1, y1=y1, area=area, mean=tuple(float(v) for v in mean),
                          shape=shape_of(area, x1 - x0, y1 - y0)))
    out.sort(key=lambda r: (-r.area, r.x0, r.y0))
    return out


def label_components(mask: np.ndarray) -> np.ndarray:
    """4-connected component labels (0 = background) via runs and union-find."""
    h, w = mask.shape
    parent: list[int] = [0]
    runs_prev: list[tuple[int, int, int]] = []
    labels = np.zeros((h, w), dtype=np.int64)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for y in range(h):
        row = mask[y]
        if not row.any():
            runs_prev = []
            continue
        d = np.diff(np.r_[0, row.astype(np.int8), 0])
        starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        runs = []
        j = 0
        for s, e in zip(starts.tolist(), stops.tolist()):
            lab = 0
            while j < len(runs_prev) and runs_prev[j][1] <= s:
                j += 1
            k = j
            while k < len(runs_prev) and runs_prev[k][0] < e:
                other = find(runs_prev[k][2])
                if lab == 0:
                    lab = other
                elif other != lab:
                    parent[max(other, lab)] = min(other, lab)
                    lab = min(other, lab)
                k += 1
            if lab == 0:
                lab = len(parent)
                parent.append(lab)
            labels[y, s:e] = lab
            runs.append((s, e, lab))
        runs_prev = runs
    roots = np.array([find(i) for i in range(len(parent))], dtype=np.int64)
    return roots[labels]
