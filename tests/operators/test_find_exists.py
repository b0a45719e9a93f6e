"""find and exists: GLIP-L preprocessing and detection post-processing with a fake session."""

from __future__ import annotations

import numpy as np
import pytest

from dicec.builtin_operators import _glip

GLIP_INPUTS = [("pixel_values", "tensor(float)"), ("input_ids", "tensor(int64)"), ("attention_mask", "tensor(int64)")]

# A 400x600 patch is resized by 2 to 800x1200 and padded to 800x1216.
H, W = 400, 600
PAD_H, PAD_W, SCALE = 800, 1216, 2.0


def norm_box(x0, y0, x1, y1):
    """Patch top-left-origin corners -> (cx, cy, w, h) normalised to the padded GLIP input."""
    x0, y0, x1, y1 = (v * SCALE for v in (x0, y0, x1, y1))
    return [(x0 + x1) / 2 / PAD_W, (y0 + y1) / 2 / PAD_H, (x1 - x0) / PAD_W, (y1 - y0) / PAD_H]


DETECTIONS = [  # (top-left corners in patch pixels, score)
    ((100, 50, 300, 150), 0.9),     # kept
    ((105, 55, 305, 155), 0.8),     # overlaps the first: suppressed by NMS
    ((400, 200, 500, 300), 0.7),    # disjoint: kept
    ((10, 10, 50, 50), 0.4),        # below the threshold
    ((200, 300, 260, 360), 0.5),    # exactly at the threshold: dropped (score must be above it)
    ((550, 350, 700, 450), 0.6),    # runs off the patch: clipped to it
]
EXPECTED = [
    {"left": 100, "lower": 250, "right": 300, "upper": 350},
    {"left": 400, "lower": 100, "right": 500, "upper": 200},
    {"left": 550, "lower": 0, "right": 600, "upper": 50},
]


def glip_session(fake_session, detections=DETECTIONS):
    boxes = np.array([[norm_box(*b) for b, _ in detections]], dtype=np.float32)
    scores = np.array([[s for _, s in detections]], dtype=np.float32)
    return fake_session(GLIP_INPUTS, lambda feeds: [boxes, scores])


class Tokenizer:
    def __init__(self):
        self.seen = []

    def __call__(self, text):
        self.seen.append(text)
        ids = np.array([101] + [1000 + len(w) for w in text.split()] + [102])
        return ids, np.ones_like(ids)


def test_preprocess_resizes_pads_and_normalises_in_bgr():
    img = np.zeros((480, 640, 3), dtype=np.uint8)
    img[..., 0] = 255                                       # red patch
    prep = _glip.preprocess(img)
    assert prep.pixel_values.shape == (1, 3, 800, 1088)     # 800 x 1066, padded to multiples of 32
    assert prep.pixel_values.dtype == np.float32
    assert (prep.scale_y, prep.scale_x) == (pytest.approx(800 / 480), pytest.approx(1066 / 640))
    blue, red = prep.pixel_values[0, 0, 10, 10], prep.pixel_values[0, 2, 10, 10]
    assert blue == pytest.approx((0 - 103.530) / 57.375, abs=1e-3)
    assert red == pytest.approx((255 - 123.675) / 58.395, abs=1e-3)
    assert prep.pixel_values[0, :, :, 1066:].max() == 0    # padding


def test_find_thresholds_nms_flips_and_clips(load_operator, fake_session):
    session = glip_session(fake_session)
    tok = Tokenizer()
    op = load_operator("find").Operator(session, tokenize=tok)
    boxes = op(np.zeros((H, W, 3), dtype=np.uint8), "cup")
    assert boxes == EXPECTED
    assert all(b["lower"] < b["upper"] and b["left"] < b["right"] for b in boxes)
    feeds = session.calls[0]["feeds"]
    assert feeds["pixel_values"].shape == (1, 3, PAD_H, PAD_W) and feeds["pixel_values"].dtype == np.float32
    assert feeds["input_ids"].dtype == np.int64 and feeds["input_ids"].shape == (1, 3)
    assert session.calls[0]["output_names"] == ["boxes", "scores"]


def test_find_respects_a_custom_threshold_and_the_detection_cap(load_operator, fake_session):
    op = load_operator("find").Operator(glip_session(fake_session), tokenize=Tokenizer(), score_threshold=0.65,
                                        max_detections=1)
    assert op(np.zeros((H, W, 3), dtype=np.uint8), "cup") == EXPECTED[:1]


def test_find_drops_small_boxes_when_an_area_ratio_is_set(load_operator, fake_session):
    op = load_operator("find").Operator(glip_session(fake_session), tokenize=Tokenizer(), min_box_area_ratio=0.05)
    # 200x100 = 8.3% and 100x100 = 4.2% of the 600x400 patch; the clipped 50x50 box is 1%
    assert op(np.zeros((H, W, 3), dtype=np.uint8), "cup") == EXPECTED[:1]


def test_find_asks_glip_for_people_like_vipergpt(load_operator, fake_session):
    tok = Tokenizer()
    op = load_operator("find").Operator(glip_session(fake_session), tokenize=tok)
    op(np.zeros((H, W, 3), dtype=np.uint8), "person")
    op(np.zeros((H, W, 3), dtype=np.uint8), " red car ")
    assert tok.seen == ["people", "red car"]


def test_find_returns_json_ints_and_nothing_for_no_detection(load_operator, fake_session):
    import json

    op = load_operator("find").Operator(glip_session(fake_session, [((0, 0, 10, 10), 0.1)]), tokenize=Tokenizer())
    assert op(np.zeros((H, W, 3), dtype=np.uint8), "cup") == []
    op = load_operator("find").Operator(glip_session(fake_session), tokenize=Tokenizer())
    assert json.loads(json.dumps(op(np.zeros((H, W, 3), dtype=np.uint8), "cup"))) == EXPECTED


def test_find_needs_a_tokenizer_and_a_name(load_operator, fake_session):
    op = load_operator("find").Operator(glip_session(fake_session))
    with pytest.raises(RuntimeError, match="tokenize"):
        op(np.zeros((H, W, 3), dtype=np.uint8), "cup")
    with pytest.raises(ValueError, match="object_name"):
        _glip.caption_for("  ")


def test_exists_is_any_detection_above_threshold(load_operator, fake_session):
    Exists = load_operator("exists").Operator
    img = np.zeros((H, W, 3), dtype=np.uint8)
    assert Exists(glip_session(fake_session), tokenize=Tokenizer())(img, "cup") is True
    low = [((100, 50, 300, 150), 0.45), ((400, 200, 500, 300), 0.5)]
    assert Exists(glip_session(fake_session, low), tokenize=Tokenizer())(img, "cup") is False
    assert Exists(glip_session(fake_session, low), tokenize=Tokenizer(), score_threshold=0.4)(img, "cup") is True


def test_boxes_map_back_per_axis_when_the_resize_rounds(load_operator, fake_session):
    # 480x640 -> 800x1066 (x scale 1066/640 is not 800/480), padded to 800x1088
    sx, sy = 1066 / 640, 800 / 480
    x0, y0, x1, y1 = 64 * sx, 48 * sy, 320 * sx, 240 * sy
    box = [[(x0 + x1) / 2 / 1088, (y0 + y1) / 2 / 800, (x1 - x0) / 1088, (y1 - y0) / 800]]
    session = fake_session(GLIP_INPUTS, lambda feeds: [np.array([box], np.float32), np.array([[0.9]], np.float32)])
    op = load_operator("find").Operator(session, tokenize=Tokenizer())
    assert op(np.zeros((480, 640, 3), dtype=np.uint8), "cup") == [{"left": 64, "lower": 240, "right": 320, "upper": 432}]
