"""PP-OCR (PaddleOCR v4 mobile) text detection and recognition around onnxruntime sessions, numpy only.

The ``read_text`` operator runs the two PP-OCRv4 mobile models that the PyPI package
``rapidocr-onnxruntime`` ships (``ch_PP-OCRv4_det_infer.onnx`` and ``ch_PP-OCRv4_rec_infer.onnx``),
with the pre- and post-processing of rapidocr 1.4.4 (``rapidocr_onnxruntime/config.yaml``,
``ch_ppocr_det``, ``ch_ppocr_rec``) re-written in numpy, so neither OpenCV, pyclipper nor shapely is
needed (rapidocr's own Python code is not imported, only its model files are used):

detection (DB, Differentiable Binarization)
    the image, in BGR like PaddleOCR's cv2 input, is resized so its shorter side is at least 736
    (``limit_type: min``, ``limit_side_len: 736``; each side rounded to a multiple of 32), scaled to
    [0, 1] and normalised with mean 0.5 and std 0.5, HWC -> NCHW float32. The probability map is
    thresholded at 0.3 and dilated by a 2x2 kernel (``thresh``, ``use_dilation``); each connected
    region becomes a candidate box whose mean probability must reach 0.5 (``box_thresh``, the
    "fast" score over the box). The box is grown by ``area * 1.6 / perimeter`` on every side
    (``unclip_ratio``, what pyclipper's offset does for a rectangle) and mapped back to the image.
    Boxes are axis-aligned here (rapidocr fits a rotated minimum-area rectangle): enough for
    licence plates and signs, not for strongly rotated text.
recognition (SVTR-LCNet, CTC)
    each box's crop is resized to height 48 keeping its aspect ratio, normalised like detection and
    zero-padded on the right to the widest crop of the batch (at least 320 wide, ``rec_img_shape``);
    the output (N, T, C) is decoded greedily (argmax, repeats merged, blank dropped) with the
    character table stored in the model's metadata (``character``), with "blank" prepended and " "
    appended as rapidocr's ``CTCLabelDecode`` does. Lines whose mean character confidence is below
    0.5 are dropped (``text_score``).

The text-line orientation classifier (``cls``) is not run: plates and signs are upright.

Session contract: detection ``x`` float32 (1, 3, H, W) -> (1, 1, H, W) probabilities; recognition
``x`` float32 (N, 3, 48, W) -> (N, T, C) softmax scores, with ``custom_metadata_map["character"]``
(one character per line) unless the character table is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from dicec.builtin_operators._common import check_image, resize
from dicec.runtime.scene.vision import label_components

DET_LIMIT_SIDE = 736
DET_MULTIPLE = 32
DET_THRESH = 0.3
DET_BOX_THRESH = 0.5
DET_UNCLIP_RATIO = 1.6
DET_MIN_SIZE = 3
DET_MAX_CANDIDATES = 1000
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
REC_BATCH = 6
TEXT_SCORE = 0.5
MEAN = 0.5
STD = 0.5


@dataclass(frozen=True)
class Line:
    """One recognised text line: its box in image pixels (top-left origin) and text."""

    x0: int
    y0: int
    x1: int
    y1: int
    text: str
    score: float


def _normalise(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> float32 (3, H, W) BGR, ``(x / 255 - 0.5) / 0.5``."""
    bgr = np.asarray(img, dtype=np.float32)[..., ::-1]
    return np.ascontiguousarray(((bgr / 255.0 - MEAN) / STD).transpose(2, 0, 1).astype(np.float32))


def det_size(height: int, width: int, limit: int = DET_LIMIT_SIDE) -> tuple[int, int]:
    """rapidocr's ``limit_type: min`` resize: shorter side up to ``limit``, sides rounded to 32."""
    ratio = limit / min(height, width) if min(height, width) < limit else 1.0
    h, w = int(height * ratio), int(width * ratio)
    return (max(int(round(h / DET_MULTIPLE) * DET_MULTIPLE), DET_MULTIPLE),
            max(int(round(w / DET_MULTIPLE) * DET_MULTIPLE), DET_MULTIPLE))


def det_input(image: np.ndarray) -> np.ndarray:
    h, w = det_size(*image.shape[:2])
    return _normalise(resize(image, h, w, "bilinear", antialias=False))[None]


def det_boxes(prob: np.ndarray, height: int, width: int, *, thresh: float = DET_THRESH,
              box_thresh: float = DET_BOX_THRESH, unclip_ratio: float = DET_UNCLIP_RATIO) -> list[tuple]:
    """DB probability map (any leading axes of size 1, then (h, w)) -> boxes (x0, y0, x1, y1, score) in
    the image's pixels (top-left origin), top to bottom then left to right."""
    p = np.asarray(prob, dtype=np.float32)
    p = p.reshape(p.shape[-2:])
    ph, pw = p.shape
    mask = p > thresh
    dilated = mask.copy()                               # 2x2 dilation, as cv2.dilate with a 2x2 kernel
    dilated[1:, :] |= mask[:-1, :]
    dilated[:, 1:] |= mask[:, :-1]
    dilated[1:, 1:] |= mask[:-1, :-1]
    labels = label_components(dilated)
    out = []
    n = int(labels.max())
    if n == 0:
        return out
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs]
    order = np.argsort(lab, kind="stable")
    ys, xs, lab = ys[order], xs[order], lab[order]
    cuts = np.flatnonzero(np.diff(lab)) + 1
    for gy, gx in list(zip(np.split(ys, cuts), np.split(xs, cuts)))[:DET_MAX_CANDIDATES]:
        x0, x1, y0, y1 = gx.min(), gx.max() + 1, gy.min(), gy.max() + 1
        bw, bh = x1 - x0, y1 - y0
        if min(bw, bh) < DET_MIN_SIZE:
            continue
        score = float(p[y0:y1, x0:x1].mean())
        if score < box_thresh:
            continue
        grow = bw * bh * unclip_ratio / (2.0 * (bw + bh))
        fx0, fy0, fx1, fy1 = x0 - grow, y0 - grow, x1 + grow, y1 + grow
        if min(fx1 - fx0, fy1 - fy0) < DET_MIN_SIZE + 2:
            continue
        sx, sy = width / pw, height / ph
        box = (int(np.clip(round(fx0 * sx), 0, width)), int(np.clip(round(fy0 * sy), 0, height)),
               int(np.clip(round(fx1 * sx), 0, width)), int(np.clip(round(fy1 * sy), 0, height)))
        if box[2] - box[0] > 3 and box[3] - box[1] > 3:
            out.append((*box, score))
    out.sort(key=lambda b: (b[1], b[0]))
    return _reading_order(out)


def _reading_order(boxes: list[tuple]) -> list[tuple]:
    """Top to bottom; boxes whose tops are within 10 pixels count as one row, left to right."""
    boxes = list(boxes)
    for i in range(len(boxes) - 1):
        for j in range(i, -1, -1):
            a, b = boxes[j], boxes[j + 1]
            if abs(b[1] - a[1]) < 10 and b[0] < a[0]:
                boxes[j], boxes[j + 1] = b, a
            else:
                break
    return boxes


def rec_input(crops: Sequence[np.ndarray]) -> np.ndarray:
    """Crops -> float32 (N, 3, 48, W): height 48, aspect kept, right-padded with zeros to the widest."""
    ratios = [c.shape[1] / c.shape[0] for c in crops]
    width = max(REC_MIN_WIDTH, int(REC_HEIGHT * max(ratios)))
    batch = np.zeros((len(crops), 3, REC_HEIGHT, width), dtype=np.float32)
    for i, (crop, ratio) in enumerate(zip(crops, ratios)):
        w = min(width, int(math.ceil(REC_HEIGHT * ratio)))
        batch[i, :, :, :w] = _normalise(resize(crop, REC_HEIGHT, max(w, 1), "bilinear", antialias=False))
    return batch


def characters(session: Any, given: Sequence[str] | None = None) -> list[str]:
    """The CTC label table: "blank", the model's characters, then " " (as rapidocr's CTCLabelDecode)."""
    if given is None:
        meta = getattr(session.get_modelmeta(), "custom_metadata_map", {}) or {}
        if "character" not in meta:
            raise ValueError("the recognition model carries no 'character' table in its metadata")
        given = meta["character"].splitlines()
    return ["blank", *given, " "]


def ctc_decode(scores: np.ndarray, table: Sequence[str]) -> list[tuple[str, float]]:
    """(N, T, C) -> [(text, mean confidence)]: argmax, repeats merged, blank (index 0) dropped."""
    s = np.asarray(scores, dtype=np.float32)
    idx, prob = s.argmax(axis=2), s.max(axis=2)
    out = []
    for row, conf in zip(idx, prob):
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        keep &= row != 0
        chars = [table[i] if i < len(table) else "" for i in row[keep]]
        out.append(("".join(chars), float(conf[keep].mean()) if keep.any() else 0.0))
    return out


class Reader:
    """PP-OCRv4 detection then recognition on one image."""

    def __init__(self, det_session: Any, rec_session: Any, *, character: Sequence[str] | None = None,
                 text_score: float = TEXT_SCORE) -> None:
        self.det = det_session
        self.rec = rec_session
        self.table = characters(rec_session, character)
        self.text_score = text_score

    @staticmethod
    def _run(session: Any, x: np.ndarray) -> np.ndarray:
        name = session.get_inputs()[0].name
        return np.asarray(session.run(None, {name: x})[0])

    def lines(self, image: Any) -> list[Line]:
        img = check_image(image)
        h, w = img.shape[:2]
        boxes = det_boxes(self._run(self.det, det_input(img)), h, w)
        if not boxes:
            return []
        crops = [img[y0:y1, x0:x1] for x0, y0, x1, y1, _ in boxes]
        texts: list[tuple[str, float]] = []
        for start in range(0, len(crops), REC_BATCH):
            texts += ctc_decode(self._run(self.rec, rec_input(crops[start:start + REC_BATCH])), self.table)
        return [Line(x0, y0, x1, y1, text.strip(), score) for (x0, y0, x1, y1, _), (text, score) in zip(boxes, texts)
                if score >= self.text_score and text.strip()]

    def read(self, image: Any) -> str:
        return " ".join(line.text for line in self.lines(image))
