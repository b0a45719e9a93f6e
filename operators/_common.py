"""Model-independent numpy helpers shared by the built-in operators (``dicec.builtin_operators._common``).

Everything here is plain numpy so that it can be unit-tested without a model, a GPU or onnxruntime:

* image checks and resampling (separable PIL-style resize with bilinear or bicubic kernels and
  antialiasing on downscale), normalisation with a model's published mean/std, HWC -> NCHW float32,
  padding to a size divisor;
* feeding an onnxruntime-like session: inputs are matched by the names the session reports through
  ``get_inputs()`` and cast to the element type it declares (``tensor(float)``, ``tensor(int64)``, ...);
* detection post-processing: (cx, cy, w, h) -> corners, IoU, class-agnostic NMS, and the flip from
  the usual top-left image origin to ViperGPT's bottom-left origin (``lower < upper``);
* small numeric helpers (stable softmax).

The session contract used by every operator: ``session.get_inputs()`` returns objects with ``.name``
(and optionally ``.type`` and ``.shape``, as ``onnxruntime.NodeArg`` does) and
``session.run(output_names, feeds)`` returns a list of numpy arrays in the order of ``output_names``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

#: Mean/std of the OpenAI CLIP image preprocessing, used by X-VLM and BLIP-2 (RGB, [0, 1] scale).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

_PIXEL_TOLERANCE = 1e-3

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


# --------------------------------------------------------------------------------------------- images

def check_image(image: Any, what: str = "image") -> np.ndarray:
    """Return ``image`` as an (H, W, 3) array, or raise ``ValueError`` saying what is wrong."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{what} must be an (H, W, 3) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{what} has no area (shape {arr.shape})")
    return arr


def _kernel(name: str, a: float):
    if name == "bilinear":
        return 1.0, lambda x: np.clip(1.0 - np.abs(x), 0.0, None)
    if name == "bicubic":
        def cubic(x: np.ndarray) -> np.ndarray:
            x = np.abs(x)
            out = np.zeros_like(x)
            near = x < 1.0
            far = (x >= 1.0) & (x < 2.0)
            out[near] = ((a + 2.0) * x[near] - (a + 3.0)) * x[near] ** 2 + 1.0
            out[far] = ((a * x[far] - 5.0 * a) * x[far] + 8.0 * a) * x[far] - 4.0 * a
            return out
        return 2.0, cubic
    raise ValueError(f"unknown resize kernel {name!r} (bilinear or bicubic)")


def resize_weights(in_size: int, out_size: int, kernel: str = "bilinear", *, a: float = -0.5,
                   antialias: bool = True) -> np.ndarray:
    """The (out_size, in_size) matrix of a 1-D resampling with pixel-centre alignment.

    On downscale with ``antialias`` the kernel is stretched by the scale factor (as PIL does), so
    every input pixel contributes; without it (as OpenCV does) the kernel keeps its width. Each row
    sums to 1, so a constant signal stays constant.
    """
    if in_size <= 0 or out_size <= 0:
        raise ValueError(f"resize sizes must be positive, got {in_size} -> {out_size}")
    support, fn = _kernel(kernel, a)
    scale = in_size / out_size
    stretch = max(scale, 1.0) if antialias else 1.0
    centres = (np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.arange(in_size, dtype=np.float64)
    weights = fn((src[None, :] - centres[:, None]) / stretch)
    weights[np.abs(src[None, :] - centres[:, None]) > support * stretch] = 0.0
    totals = weights.sum(axis=1, keepdims=True)
    # A row can only sum to 0 when the kernel misses every source pixel; fall back to the nearest one.
    empty = totals[:, 0] == 0
    if empty.any():
        nearest = np.clip(np.rint(centres[empty]).astype(int), 0, in_size - 1)
        weights[np.where(empty)[0], nearest] = 1.0
        totals = weights.sum(axis=1, keepdims=True)
    return (weights / totals).astype(np.float32)


def resize(image: np.ndarray, height: int, width: int, kernel: str = "bilinear", *, a: float = -0.5,
           antialias: bool = True) -> np.ndarray:
    """Resize an (H, W) or (H, W, C) array to (height, width); returns float32 in the input's value range."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim not in (2, 3):
        raise ValueError(f"resize expects (H, W) or (H, W, C), got shape {arr.shape}")
    wy = resize_weights(arr.shape[0], int(height), kernel, a=a, antialias=antialias)
    wx = resize_weights(arr.shape[1], int(width), kernel, a=a, antialias=antialias)
    if arr.ndim == 2:
        return wy @ arr @ wx.T
    return np.einsum("oh,hwc,pw->opc", wy, arr, wx, optimize=True).astype(np.float32)


def shorter_side_size(height: int, width: int, min_size: int, max_size: int | None) -> tuple[int, int]:
    """(new_h, new_w) with the shorter side at ``min_size`` unless the longer would exceed ``max_size``.

    This is the test-time rule of maskrcnn_benchmark (used by GLIP): the aspect ratio is kept and the
    size is rounded to whole pixels.
    """
    size = float(min_size)
    short, long = float(min(height, width)), float(max(height, width))
    if max_size is not None and long / short * size > max_size:
        size = float(int(round(max_size * short / long)))
    if height <= width:
        return int(size), int(size * width / height)
    return int(size * height / width), int(size)


def normalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float], *, scale: float = 1.0 / 255.0,
              bgr: bool = False) -> np.ndarray:
    """``(image * scale - mean) / std`` per channel, float32 HWC; ``bgr`` first reverses RGB -> BGR."""
    arr = np.asarray(image, dtype=np.float32)
    if bgr:
        arr = arr[..., ::-1]
    mean_a = np.asarray(mean, dtype=np.float32)
    std_a = np.asarray(std, dtype=np.float32)
    return ((arr * np.float32(scale) - mean_a) / std_a).astype(np.float32)


def to_nchw(image: np.ndarray) -> np.ndarray:
    """(H, W, C) -> contiguous float32 (1, C, H, W); a list of same-sized images -> (N, C, H, W)."""
    if isinstance(image, (list, tuple)):
        return np.ascontiguousarray(np.stack([np.asarray(i, dtype=np.float32).transpose(2, 0, 1) for i in image]))
    arr = np.asarray(image, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1)[None])


def pad_to_multiple(batch: np.ndarray, divisor: int, value: float = 0.0) -> np.ndarray:
    """Zero-pad an (N, C, H, W) batch at the bottom/right so H and W are multiples of ``divisor``."""
    if divisor <= 1:
        return batch
    h, w = batch.shape[-2:]
    ph, pw = (-h) % divisor, (-w) % divisor
    if ph == 0 and pw == 0:
        return batch
    return np.pad(batch, ((0, 0), (0, 0), (0, ph), (0, pw)), constant_values=value)


# ------------------------------------------------------------------------------------------- sessions

def input_names(session: Any) -> list[str]:
    """The input names an onnxruntime-like session declares, in order."""
    return [getattr(i, "name", None) or str(i) for i in session.get_inputs()]


def build_feeds(session: Any, available: Mapping[str, Any], *, required: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Feeds for ``session.run``: every declared input taken from ``available`` and cast to its type.

    Inputs the session declares but ``available`` lacks are an error; entries of ``available`` the
    session does not declare are left out (so one operator can drive graphs with or without optional
    generation parameters). Every name in ``required`` must be declared by the session.
    """
    declared = list(session.get_inputs())
    names = [getattr(i, "name", None) or str(i) for i in declared]
    missing_decl = [r for r in required if r not in names]
    if missing_decl:
        raise ValueError(f"model session lacks input(s) {missing_decl} (it declares {names})")
    feeds = {}
    for node, name in zip(declared, names):
        if name not in available:
            raise ValueError(f"model input {name!r} has no value (the operator provides {sorted(available)})")
        value = np.asarray(available[name])
        dtype = _ORT_DTYPES.get(getattr(node, "type", None) or "")
        feeds[name] = value.astype(dtype) if dtype is not None and value.dtype != dtype else value
    return feeds


def run(session: Any, output_names: Sequence[str] | None, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """``session.run`` with a check that it answered one array per requested output."""
    outputs = session.run(None if output_names is None else list(output_names), dict(feeds))
    outputs = [np.asarray(o) for o in outputs]
    if output_names is not None and len(outputs) != len(output_names):
        raise ValueError(f"model session returned {len(outputs)} output(s), expected {list(output_names)}")
    return outputs


# ------------------------------------------------------------------------------------------ numerics

def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --------------------------------------------------------------------------------------------- boxes

def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) centre/size boxes -> (N, 4) corner boxes (x0, y0, x1, y1)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    half_w, half_h = b[:, 2] / 2.0, b[:, 3] / 2.0
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) corner boxes -> (N, M); empty boxes have IoU 0."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-agnostic greedy non-maximum suppression.

    Returns the indices of the kept boxes, highest score first. A box is suppressed when its IoU with
    an already kept, higher-scoring box is greater than ``iou_threshold``; equal scores keep the
    earlier box.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"nms: {boxes.shape[0]} boxes but {scores.shape[0]} scores")
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        overlaps = box_iou(boxes[best:best + 1], boxes[rest])[0]
        order = rest[overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def clip_xyxy(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Clip (N, 4) corner boxes to the image rectangle [0, width] x [0, height]."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, width)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, height)
    return b


def to_bottom_left(boxes_xyxy: np.ndarray, height: int) -> list[dict[str, int]]:
    """Top-left-origin corner boxes -> ViperGPT boxes ``{left, lower, right, upper}`` (bottom-left origin).

    Coordinates are truncated to whole pixels first (ViperGPT casts GLIP's boxes with ``astype(int)``),
    with a 1e-3 pixel tolerance so that float32 round-off (99.99998 for 100) does not lose a pixel;
    then the y axis is flipped: ``lower = height - y1`` and ``upper = height - y0``, so ``lower < upper``
    for a box with area.
    """
    b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    out = []
    for x0, y0, x1, y1 in np.trunc(b + np.copysign(_PIXEL_TOLERANCE, b)).astype(np.int64):
        out.append({"left": int(x0), "lower": int(height - y1), "right": int(x1), "upper": int(height - y0)})
    return out


def box_from_any(box: Any) -> tuple[int, int, int, int]:
    """(left, lower, right, upper) from a ViperGPT box dict or a 4-sequence."""
    if isinstance(box, Mapping):
        return int(box["left"]), int(box["lower"]), int(box["right"]), int(box["upper"])
    left, lower, right, upper = box
    return int(left), int(lower), int(right), int(upper)
