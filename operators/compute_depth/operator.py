"""``ImagePatch.compute_depth()``: the median depth of the patch, from MiDaS DPT-Large.

ViperGPT (``vision_models.py`` DepthEstimationModel, ``image_patch.py``) runs DPT-Large through the
MiDaS ``dpt_transform``, upsamples the prediction to the image size (bicubic), inverts it ("the model
returns inverse depth"), crops the patch and returns the median. Numpy parts implemented here:

* preprocessing as MiDaS' DPT transform: RGB scaled to [0, 1]; resized keeping the aspect ratio with
  the "minimal" rule (the side whose scale to 384 is closer to 1 decides, both sides rounded to a
  multiple of 32), cubic interpolation without antialiasing (OpenCV ``INTER_CUBIC``); normalised
  with mean 0.5 and std 0.5; HWC -> NCHW float32;
* postprocessing: prediction resized back to the image (bicubic), inverse depth -> depth
  (``1 / max(prediction, 1e-6)`` so the result stays finite and JSON-serialisable), optional crop of
  a bottom-left-origin box, median.

MiDaS predicts relative inverse depth up to an unknown scale and shift per input image, so depths
of different patches are comparable only when they come from one map of the whole image. ViperGPT
therefore runs the model on the original image and crops the map; this operator does the same when
the runtime passes the full image and the patch box (``operator(full_image, box=...)``), and runs on
the crop alone otherwise.

Runtime contract: ``Operator(session)``; the session's graph takes ``pixel_values`` float32
(1, 3, H, W) and returns ``predicted_depth`` (1, H, W) or (H, W) relative inverse depth.
``operator(image, box=None) -> float``: ``image`` is the patch crop (numpy (H, W, 3) uint8 RGB), or,
with ``box`` ({"left", "lower", "right", "upper"} or a 4-tuple, bottom-left origin), the full
original image.

Batches (the model server's): ``operator.batch(calls)`` takes a list of ``(args, kwargs)``, each what
one ``operator(...)`` call would receive, and returns one depth or exception per call. Each distinct
image is preprocessed once (a fan-out's calls share their frame), the images whose preprocessed
inputs have the same size go through the model as ONE stacked run when the graph's batch dimension
is dynamic (``pixel_values`` (N, 3, H, W) -> ``predicted_depth`` (N, H, W)), and each call then takes
the median over its own box, so a call's answer is the one it gets alone (a GPU kernel may round a
stacked run differently in the last bits). A graph with a fixed batch of 1 runs once per distinct
image; a stacked run that fails is retried image by image, so one bad input fails only its own calls.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Sequence

import numpy as np

from dicec.builtin_operators._common import (box_from_any, build_feeds, check_image, normalize, resize, run,
                                             to_nchw)

NET_SIZE = 384
MULTIPLE_OF = 32
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
MIN_INVERSE_DEPTH = 1e-6
INPUTS = ("pixel_values",)
OUTPUTS = ("predicted_depth",)


def _multiple(x: float, multiple: int = MULTIPLE_OF) -> int:
    y = int(round(x / multiple) * multiple)
    return y if y > 0 else int(math.ceil(x / multiple) * multiple)


def net_size(height: int, width: int, target: int = NET_SIZE) -> tuple[int, int]:
    """MiDaS "minimal" keep-aspect resize: (new_h, new_w), multiples of 32."""
    scale_h, scale_w = target / height, target / width
    if abs(1 - scale_w) < abs(1 - scale_h):
        scale_h = scale_w
    else:
        scale_w = scale_h
    return _multiple(scale_h * height), _multiple(scale_w * width)


def preprocess(image: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> float32 (1, 3, h, w) as MiDaS' DPT transform."""
    img = check_image(image)
    new_h, new_w = net_size(*img.shape[:2])
    resized = resize(img, new_h, new_w, "bicubic", a=-0.75, antialias=False)
    return to_nchw(normalize(resized, MEAN, STD))


def depth_map(prediction: np.ndarray, height: int, width: int) -> np.ndarray:
    """Relative inverse depth from the net -> depth (H, W) at the image size."""
    pred = np.asarray(prediction, dtype=np.float32)
    pred = pred.reshape(pred.shape[-2:])
    up = resize(pred, height, width, "bicubic", a=-0.75, antialias=False)
    return 1.0 / np.maximum(up, MIN_INVERSE_DEPTH)


def median_depth(depth: np.ndarray, box: Any = None) -> float:
    """Median of a depth map, optionally inside a ViperGPT box (bottom-left origin) of that map."""
    d = np.asarray(depth, dtype=np.float64)
    if box is not None:
        left, lower, right, upper = box_from_any(box)
        h = d.shape[0]
        d = d[max(h - upper, 0):max(h - lower, 0), max(left, 0):max(right, 0)]
    if d.size == 0:
        raise ValueError("the depth crop has no area")
    return float(np.median(d))


class Operator:
    """DPT-Large depth, median over the patch."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def depth(self, image: Any) -> np.ndarray:
        img = check_image(image)
        feeds = build_feeds(self.session, {"pixel_values": preprocess(img)})
        (prediction,) = run(self.session, OUTPUTS, feeds)
        return depth_map(prediction, *img.shape[:2])

    def __call__(self, image: Any, box: Any = None) -> float:
        return median_depth(self.depth(image), box)

    def batch(self, calls: Sequence[tuple[tuple, dict]]) -> list[Any]:
        """One depth (or the exception it raised) per ``(args, kwargs)`` call, stacking same-sized inputs."""
        out: list[Any] = [None] * len(calls)
        images: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(image) -> (image, pixel_values)
        wanted: list[tuple[int, int, Any]] = []                 # (call, id(image), box)
        signature = inspect.signature(self.__call__)
        for i, (args, kwargs) in enumerate(calls):
            try:
                bound = signature.bind(*args, **kwargs)
                image, box = bound.arguments["image"], bound.arguments.get("box")
                if id(image) not in images:
                    img = check_image(image)
                    images[id(image)] = (img, preprocess(img))
                wanted.append((i, id(image), box))
            except Exception as exc:
                out[i] = exc
        by_size: dict[tuple, list[int]] = {}
        for key, (_, pixel_values) in images.items():
            by_size.setdefault(pixel_values.shape, []).append(key)
        maps: dict[int, Any] = {}
        for keys in by_size.values():
            for key, prediction in zip(keys, self._predict([images[k][1] for k in keys])):
                try:
                    maps[key] = prediction if isinstance(prediction, Exception) else \
                        depth_map(prediction, *images[key][0].shape[:2])
                except Exception as exc:
                    maps[key] = exc
        for i, key, box in wanted:
            depth = maps[key]
            try:
                out[i] = depth if isinstance(depth, Exception) else median_depth(depth, box)
            except Exception as exc:
                out[i] = exc
        return out

    def _predict(self, inputs: list[np.ndarray]) -> list[Any]:
        """The model's prediction for each (1, 3, H, W) input of one size: one stacked run where it can."""
        if len(inputs) > 1 and self._dynamic_batch():
            try:
                feeds = build_feeds(self.session, {"pixel_values": np.concatenate(inputs, axis=0)})
                (prediction,) = run(self.session, OUTPUTS, feeds)
                if prediction.ndim >= 3 and prediction.shape[0] == len(inputs):
                    return list(prediction)
            except Exception:
                pass  # retried input by input below: one bad input fails only its own calls
        found: list[Any] = []
        for pixel_values in inputs:
            try:
                (prediction,) = run(self.session, OUTPUTS, build_feeds(self.session, {"pixel_values": pixel_values}))
                found.append(prediction)
            except Exception as exc:
                found.append(exc)
        return found

    def _dynamic_batch(self) -> bool:
        """Whether the graph's ``pixel_values`` takes any batch size (its first dimension is not a number)."""
        for node in self.session.get_inputs():
            if getattr(node, "name", None) == INPUTS[0]:
                shape = getattr(node, "shape", None)
                return bool(shape) and not isinstance(shape[0], int)
        return False
