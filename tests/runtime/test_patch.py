"""ImagePatch and the helper functions behave as ViperGPT's image_patch.py."""

from __future__ import annotations

import pytest

from dicec.runtime.patch import (Frame, ImagePatch, PatchError, bool_to_yesno, coerce_to_numeric, crop_box,
                                 distance)


class _Image:
    width, height, digest = 200, 100, "x"


@pytest.fixture
def image():
    return Frame(None, _Image())


def test_whole_image_box_and_centres(image):
    p = ImagePatch(image)
    assert (p.left, p.lower, p.right, p.upper, p.width, p.height) == (0, 0, 200, 100, 200, 100)
    assert p.horizontal_center == 100.0 and p.vertical_center == 50.0
    assert p.root_box == {"left": 0, "lower": 0, "right": 200, "upper": 100}


def test_crop_adds_vipergpt_margin_clamped_and_is_relative_to_the_patch(image):
    p = ImagePatch(image)
    c = p.crop(50, 20, 80, 60)
    assert (c.left, c.lower, c.right, c.upper) == (40, 10, 90, 70)
    inner = c.crop(0, 0, 10, 10)  # relative to c: margin clamps at c's edges
    assert (inner.left, inner.lower, inner.right, inner.upper) == (40, 10, 60, 30)
    edge = p.crop(195, 95, 250, 130)
    assert (edge.right, edge.upper) == (200, 100)
    assert p.crop(10.9, 10.9, 20.9, 20.9).left == 0  # int() truncation before the margin


def test_crop_without_area_raises_like_vipergpt(image):
    with pytest.raises(PatchError, match="no area"):
        ImagePatch(image).crop(300, 0, 320, 10)
    with pytest.raises(PatchError):
        crop_box(10, 10, 5, 5, 5, 5, margin=0)


def test_cropped_image_is_a_frame_starting_at_zero_with_the_same_root_box(image):
    c = ImagePatch(image).crop(50, 20, 80, 60)
    again = ImagePatch(c.cropped_image)
    assert (again.left, again.lower) == (0, 0) and again.root_box == c.root_box
    assert ImagePatch(c).root_box == c.root_box


def test_overlaps_with_and_distance(image):
    a = ImagePatch(image, 0, 0, 10, 10)
    b = ImagePatch(image, 20, 0, 30, 10)
    assert a.overlaps_with(5, 5, 15, 15) and not a.overlaps_with(11, 11, 15, 15)
    assert distance(a, b) == 10.0
    c = ImagePatch(image, 5, 0, 15, 10)
    assert distance(a, c) == pytest.approx(-50 / 150)
    assert distance(3, 7.5) == 4.5


def test_bool_to_yesno_and_coerce_to_numeric():
    assert bool_to_yesno(True) == "yes" and bool_to_yesno(0) == "no"
    assert coerce_to_numeric("about 12 feet") == 12
    assert coerce_to_numeric("3.5 m") == 3.5
    assert coerce_to_numeric("10-15") == 10
    assert coerce_to_numeric("-4 degrees") == -4
    assert coerce_to_numeric("two hundred and five") == 205
    assert coerce_to_numeric("none") == "none"
    with pytest.raises(ValueError):
        coerce_to_numeric("none", no_string=True)


def test_unknown_attribute_is_an_attribute_error(image):
    with pytest.raises(AttributeError, match="area"):
        ImagePatch(image).area
