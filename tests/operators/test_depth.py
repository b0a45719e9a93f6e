"""compute_depth: MiDaS DPT preprocessing, inverse depth -> depth, and the median."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture
def depth_mod(load_operator):
    return load_operator("compute_depth")


@pytest.mark.parametrize("h, w, expect", [
    (480, 640, (384, 512)),     # the height's scale (0.8) is closer to 1: it decides
    (640, 480, (512, 384)),
    (384, 384, (384, 384)),
    (100, 1000, (32, 384)),     # width decides; the height rounds to one multiple of 32
    (1000, 1000, (384, 384)),
])
def test_net_size_is_midas_minimal_keep_aspect(depth_mod, h, w, expect):
    assert depth_mod.net_size(h, w) == expect


def test_preprocess_shape_dtype_and_half_half_normalisation(depth_mod):
    img = np.zeros((480, 640, 3), dtype=np.uint8)
    img[:, 320:] = 255
    x = depth_mod.preprocess(img)
    assert x.shape == (1, 3, 384, 512) and x.dtype == np.float32
    assert x[0, :, 10, 10] == pytest.approx([-1.0, -1.0, -1.0], abs=1e-4)
    assert x[0, :, 10, 500] == pytest.approx([1.0, 1.0, 1.0], abs=1e-4)


def prediction_session(fake_session, make):
    """The fake net answers ``make(h, w)`` at the network resolution."""
    return fake_session([("pixel_values", "tensor(float)")],
                        lambda feeds: [make(*feeds["pixel_values"].shape[-2:])[None].astype(np.float32)])


def test_median_depth_of_a_constant_inverse_depth(depth_mod, fake_session, rgb):
    op = depth_mod.Operator(prediction_session(fake_session, lambda h, w: np.full((h, w), 2.0)))
    value = op(rgb(60, 80))
    assert isinstance(value, float) and value == pytest.approx(0.5, rel=1e-4)
    assert json.loads(json.dumps(value)) == value


def test_box_selects_the_patch_in_a_full_image_map_with_bottom_left_origin(depth_mod, fake_session, rgb):
    # top half of the picture near (inverse depth 1 -> depth 1), bottom half far (0.25 -> depth 4)
    def make(h, w):
        pred = np.full((h, w), 0.25)
        pred[: h // 2] = 1.0
        return pred

    op = depth_mod.Operator(prediction_session(fake_session, make))
    full = rgb(96, 128)
    top = {"left": 0, "lower": 48, "right": 128, "upper": 96}        # upper half in ViperGPT coordinates
    bottom = (10, 0, 60, 48)
    assert op(full, box=top) == pytest.approx(1.0, rel=1e-3)
    assert op(full, box=bottom) == pytest.approx(4.0, rel=1e-3)


def test_median_depth_crops_exactly_and_guards_zero(depth_mod):
    d = np.arange(12, dtype=float).reshape(3, 4)          # rows top to bottom
    assert depth_mod.median_depth(d) == 5.5
    assert depth_mod.median_depth(d, (0, 2, 4, 3)) == 1.5   # bottom-left box lower=2, upper=3 is the top row
    with pytest.raises(ValueError, match="no area"):
        depth_mod.median_depth(d, (2, 1, 2, 3))
    far = depth_mod.depth_map(np.zeros((1, 8, 8)), 8, 8)
    assert np.isfinite(far).all() and far.max() == pytest.approx(1e6)
