"""GLIP-L pre- and post-processing shared by the ``find`` and ``exists`` operators (numpy only).

The numbers mirror what ViperGPT runs (cvlab-columbia/viper ``vision_models.py`` GLIPModel and
``configs/base_config.yaml``) on top of GLIP's own test-time configuration (microsoft/GLIP
``configs/pretrain/glip_Swin_L.yaml`` and ``maskrcnn_benchmark/config/defaults.py``):

* input: the patch is converted to BGR on a 0-255 scale (``INPUT.TO_BGR255``), normalised with
  ``PIXEL_MEAN`` (103.530, 116.280, 123.675) and ``PIXEL_STD`` (57.375, 57.120, 58.395), resized so
  the shorter side is 800 and the longer at most 1333 (``MIN_SIZE_TEST``/``MAX_SIZE_TEST``), and
  zero-padded to a multiple of 32 (``DATALOADER.SIZE_DIVISIBILITY``);
* caption: ViperGPT asks GLIP for ``"people"`` when the program says ``"person"``;
* output: boxes scoring above 0.5 (ViperGPT ``detect_thresholds.glip``; GLIP's demo keeps
  ``score > confidence_threshold``), class-agnostic NMS at
  IoU 0.6 (GLIP ``MODEL.ATSS.NMS_TH``), at most 100 boxes (``DETECTIONS_PER_IMG``), truncated to
  whole pixels and flipped to ViperGPT's bottom-left origin; boxes whose area is a fraction of the
  patch not above ``min_box_area_ratio`` are dropped (ViperGPT ``ratio_box_area_to_image_area``, 0).

Session contract (the exported graph; the ONNX file itself lands with the runtime):

inputs, in this order (matched by the names the session declares, cast to their declared types)
    ``pixel_values`` float32 (1, 3, H, W): the preprocessed, padded patch;
    ``input_ids`` int64 (1, L) and ``attention_mask`` int64 (1, L): the tokenised caption.
outputs ``boxes`` (1, Q, 4) and ``scores`` (1, Q)
    ``boxes`` are (cx, cy, w, h) normalised to the padded input tensor (0..1 of W and H);
    ``scores`` are probabilities in [0, 1] that the box matches the caption.

Tokenisation needs GLIP's BERT vocabulary and is out of scope here: the operator takes a
``tokenize(text) -> (input_ids, attention_mask)`` callable, injected by the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dicec.builtin_operators._common import (build_feeds, check_image, clip_xyxy, cxcywh_to_xyxy, nms,
                                             normalize, pad_to_multiple, resize, run, shorter_side_size,
                                             to_bottom_left, to_nchw)

MIN_SIZE_TEST = 800
MAX_SIZE_TEST = 1333
SIZE_DIVISIBILITY = 32
PIXEL_MEAN_BGR = (103.530, 116.280, 123.675)
PIXEL_STD_BGR = (57.375, 57.120, 58.395)
SCORE_THRESHOLD = 0.5
NMS_IOU = 0.6
MAX_DETECTIONS = 100
MIN_BOX_AREA_RATIO = 0.0

INPUTS = ("pixel_values", "input_ids", "attention_mask")
OUTPUTS = ("boxes", "scores")

Tokenize = Callable[[str], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Prepared:
    """A preprocessed patch and what is needed to map boxes back to it.

    Attributes:
        pixel_values: float32 (1, 3, H_pad, W_pad).
        scale_y, scale_x: resized size / patch size per axis (equal up to rounding of the resized size;
            boxes are mapped back per axis, as GLIP's ``BoxList.resize`` does).
        height, width: the patch size in pixels.
    """

    pixel_values: np.ndarray
    scale_y: float
    scale_x: float
    height: int
    width: int


def caption_for(object_name: str) -> str:
    """The caption GLIP is given for ``object_name`` (ViperGPT asks for "people" instead of "person")."""
    if not isinstance(object_name, str) or not object_name.strip():
        raise ValueError("object_name must be a non-empty string")
    name = object_name.strip()
    return "people" if name == "person" else name


def preprocess(image: Any, *, min_size: int = MIN_SIZE_TEST, max_size: int = MAX_SIZE_TEST,
               divisor: int = SIZE_DIVISIBILITY) -> Prepared:
    """Patch (H, W, 3) RGB uint8 -> padded, normalised BGR (1, 3, H', W') float32 for GLIP."""
    img = check_image(image, "patch")
    h, w = img.shape[:2]
    new_h, new_w = shorter_side_size(h, w, min_size, max_size)
    resized = resize(img, new_h, new_w, "bilinear")
    chw = to_nchw(normalize(resized, PIXEL_MEAN_BGR, PIXEL_STD_BGR, scale=1.0, bgr=True))
    return Prepared(pixel_values=pad_to_multiple(chw, divisor), scale_y=new_h / h, scale_x=new_w / w, height=h,
                    width=w)


def decode(boxes: np.ndarray, scores: np.ndarray, prepared: Prepared, *, score_threshold: float = SCORE_THRESHOLD,
           nms_iou: float = NMS_IOU, max_detections: int = MAX_DETECTIONS,
           min_box_area_ratio: float = MIN_BOX_AREA_RATIO) -> list[dict[str, int]]:
    """Raw detector outputs -> ViperGPT boxes in the patch's pixels, best first.

    ``boxes`` are (Q, 4) or (1, Q, 4) normalised (cx, cy, w, h) relative to the padded input tensor;
    ``scores`` (Q,) or (1, Q). Steps: threshold (``score > score_threshold``), decode to pixels of
    the padded input, divide by the resize scale of each axis, clip to the patch, NMS, top ``max_detections``,
    drop boxes without area or not larger than ``min_box_area_ratio`` of the patch, flip to the
    bottom-left origin.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if b.shape[0] != s.shape[0]:
        raise ValueError(f"detector returned {b.shape[0]} boxes but {s.shape[0]} scores")
    keep = s > score_threshold
    b, s = b[keep], s[keep]
    if b.shape[0] == 0:
        return []
    pad_h, pad_w = prepared.pixel_values.shape[-2:]
    xyxy = cxcywh_to_xyxy(b) * np.array([pad_w, pad_h, pad_w, pad_h], dtype=np.float64)
    scale = np.array([prepared.scale_x, prepared.scale_y, prepared.scale_x, prepared.scale_y], dtype=np.float64)
    xyxy = clip_xyxy(xyxy / scale, prepared.width, prepared.height)
    order = nms(xyxy, s, nms_iou)[:max_detections]
    xyxy = xyxy[order]
    out = []
    area = float(prepared.width * prepared.height)
    for box in to_bottom_left(xyxy, prepared.height):
        bw, bh = box["right"] - box["left"], box["upper"] - box["lower"]
        if bw <= 0 or bh <= 0 or bw * bh / area <= min_box_area_ratio:
            continue
        out.append(box)
    return out


class Detector:
    """GLIP-L on one patch: preprocess, run, decode. ``find`` returns its boxes, ``exists`` tests them."""

    def __init__(self, session: Any, *, tokenize: Tokenize | None = None, score_threshold: float = SCORE_THRESHOLD,
                 nms_iou: float = NMS_IOU, max_detections: int = MAX_DETECTIONS,
                 min_box_area_ratio: float = MIN_BOX_AREA_RATIO) -> None:
        self.session = session
        self.tokenize = tokenize
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.max_detections = max_detections
        self.min_box_area_ratio = min_box_area_ratio

    def detect(self, image: Any, object_name: str) -> list[dict[str, int]]:
        if self.tokenize is None:
            raise RuntimeError("GLIP needs a tokenize(text) -> (input_ids, attention_mask) callable "
                               "(BERT vocabulary); the runtime injects it")
        caption = caption_for(object_name)
        prepared = preprocess(image)
        ids, mask = self.tokenize(caption)
        feeds = build_feeds(self.session, {
            "pixel_values": prepared.pixel_values,
            "input_ids": np.asarray(ids, dtype=np.int64).reshape(1, -1),
            "attention_mask": np.asarray(mask, dtype=np.int64).reshape(1, -1),
        })
        boxes, scores = run(self.session, OUTPUTS, feeds)
        return decode(boxes, scores, prepared, score_threshold=self.score_threshold, nms_iou=self.nms_iou,
                      max_detections=self.max_detections, min_box_area_ratio=self.min_box_area_ratio)
