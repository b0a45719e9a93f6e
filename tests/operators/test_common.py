"""The shared numpy helpers: resampling, normalisation, layout, feeds, NMS and box geometry."""

from __future__ import annotations

import numpy as np
import pytest

from dicec.builtin_operators import _common as c


@pytest.mark.parametrize("kernel", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(7, 5), (40, 90), (13, 13)])
def test_resize_keeps_a_constant_image_constant(kernel, size):
    img = np.full((13, 21, 3), 77, dtype=np.uint8)
    out = c.resize(img, *size, kernel)
    assert out.shape == (*size, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 77.0, atol=1e-3)


@pytest.mark.parametrize("kernel", ["bilinear", "bicubic"])
def test_resize_to_the_same_size_is_the_identity(kernel, rgb):
    img = rgb(9, 11)
    np.testing.assert_allclose(c.resize(img, 9, 11, kernel), img.astype(np.float32), atol=1e-3)


def test_resize_weights_rows_sum_to_one_and_antialias_widens_the_kernel():
    w = c.resize_weights(8, 2, "bilinear")
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)
    assert (w > 0).sum(axis=1).tolist() == [6, 6]          # a triangle 4x wider than the 1-pixel one
    np.testing.assert_allclose(w[0], w[1][::-1], atol=1e-7)  # symmetric about the image centre
    w_cv = c.resize_weights(8, 2, "bilinear", antialias=False)
    assert (w_cv > 0).sum(axis=1).max() <= 2                # plain interpolation between two pixels


def test_resize_downscale_of_a_ramp_is_monotonic():
    ramp = np.tile(np.arange(64, dtype=np.float32), (4, 1))
    out = c.resize(ramp, 4, 16, "bicubic")
    assert np.all(np.diff(out[0]) > 0)
    assert out[0, 0] == pytest.approx(1.5, abs=0.6) and out[0, -1] == pytest.approx(61.5, abs=0.6)


@pytest.mark.parametrize("h, w, expect", [
    (480, 640, (800, 1066)),      # shorter side to 800
    (640, 480, (1066, 800)),      # portrait
    (100, 1000, (133, 1330)),     # the longer side is capped at 1333 (then int(133 * 10))
    (800, 800, (800, 800)),
])
def test_shorter_side_size_follows_maskrcnn_benchmark(h, w, expect):
    assert c.shorter_side_size(h, w, 800, 1333) == expect


def test_normalize_uses_mean_std_and_channel_order():
    img = np.zeros((2, 2, 3), dtype=np.uint8)
    img[..., 0] = 255                                   # pure red
    rgb = c.normalize(img, (0.5, 0.25, 0.0), (0.5, 0.25, 1.0))
    np.testing.assert_allclose(rgb[0, 0], [1.0, -1.0, 0.0], atol=1e-6)
    bgr = c.normalize(img, (100.0, 100.0, 100.0), (50.0, 50.0, 50.0), scale=1.0, bgr=True)
    np.testing.assert_allclose(bgr[0, 0], [-2.0, -2.0, 3.1], atol=1e-6)   # red ends up last
    assert rgb.dtype == np.float32


def test_to_nchw_layout_dtype_and_contiguity(rgb):
    img = rgb(5, 7)
    x = c.to_nchw(img)
    assert x.shape == (1, 3, 5, 7) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    assert x[0, 2, 4, 6] == img[4, 6, 2]
    batch = c.to_nchw([img, img])
    assert batch.shape == (2, 3, 5, 7)


def test_pad_to_multiple_pads_bottom_right_with_zeros():
    x = np.ones((1, 3, 33, 64), dtype=np.float32)
    y = c.pad_to_multiple(x, 32)
    assert y.shape == (1, 3, 64, 64)
    assert y[0, :, :33, :].min() == 1 and y[0, :, 33:, :].max() == 0
    assert c.pad_to_multiple(x[..., :32, :], 32).shape == (1, 3, 32, 64)


def test_iou_and_centre_box_conversion():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    np.testing.assert_allclose(c.box_iou(a, b)[0], [50 / 150, 0.0, 1.0])
    np.testing.assert_allclose(c.cxcywh_to_xyxy([[5, 5, 10, 4]]), [[0, 3, 10, 7]])


def test_nms_suppresses_overlapping_boxes_and_keeps_disjoint_ones():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]])
    scores = np.array([0.6, 0.9, 0.8, 0.1])
    keep = c.nms(boxes, scores, 0.5)
    assert keep.tolist() == [1, 2]                       # 0 and 3 overlap box 1 (IoU > 0.5)
    assert c.nms(boxes, scores, 0.99).tolist() == [1, 2, 0, 3]
    assert c.nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_nms_threshold_is_strictly_greater():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]])       # IoU 1/3
    assert c.nms(boxes, np.array([0.9, 0.8]), 1 / 3).tolist() == [0, 1]
    assert c.nms(boxes, np.array([0.9, 0.8]), 0.33).tolist() == [0]


def test_flip_to_bottom_left_truncates_then_flips():
    boxes = c.to_bottom_left(np.array([[10.7, 20.2, 50.9, 60.5]]), height=100)
    assert boxes == [{"left": 10, "lower": 40, "right": 50, "upper": 80}]
    assert boxes[0]["lower"] < boxes[0]["upper"]
    # float32 round-off just below a whole pixel does not lose that pixel
    assert c.to_bottom_left(np.array([[99.99999, 0, 200, 50.000001]]), height=100)[0]["left"] == 100


def test_clip_keeps_boxes_inside_the_image():
    clipped = c.clip_xyxy(np.array([[-5, -5, 50, 120]]), width=40, height=100)
    assert clipped.tolist() == [[0, 0, 40, 100]]


def test_build_feeds_casts_to_declared_types_and_reports_missing(fake_session):
    session = fake_session([("x", "tensor(float)"), ("ids", "tensor(int64)"), ("n", "tensor(int32)")], lambda f: [])
    feeds = c.build_feeds(session, {"x": np.zeros(2, np.float64), "ids": [1, 2], "n": np.array([3]), "extra": 1})
    assert feeds["x"].dtype == np.float32 and feeds["ids"].dtype == np.int64 and feeds["n"].dtype == np.int32
    assert "extra" not in feeds
    with pytest.raises(ValueError, match="'n' has no value"):
        c.build_feeds(session, {"x": 0, "ids": 0})
    with pytest.raises(ValueError, match="lacks input"):
        c.build_feeds(session, {"x": 0, "ids": 0, "n": 0}, required=("pixel_values",))


def test_softmax_is_stable():
    p = c.softmax(np.array([1000.0, 1000.0, 0.0]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], atol=1e-12)


def test_check_image_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        c.check_image(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="no area"):
        c.check_image(np.zeros((0, 4, 3)))
