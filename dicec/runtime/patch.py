"""ViperGPT's ``ImagePatch`` and helper functions, model-free, with operator calls sent to a runtime.

Semantics follow cvlab-columbia/viper ``image_patch.py``:

* coordinates have a bottom-left origin (``lower < upper``); ``left``/``lower``/``right``/``upper``
  are in the coordinates of the image the patch was made from, ``width``/``height`` are the crop's
  size, ``horizontal_center``/``vertical_center`` are float means of the edges;
* ``crop(left, lower, right, upper)`` takes coordinates *relative to this patch*, truncates them to
  ints, widens the box by ViperGPT's 10-pixel margin (``crop_larger_margin``) clamped to the patch,
  and returns a patch whose coordinates are absolute; a crop without area raises
  ``ImagePatch has no area`` as ViperGPT does;
* ``overlaps_with``, ``distance`` (gap between boxes, or minus their IoU when they touch),
  ``bool_to_yesno`` and ``coerce_to_numeric`` as in ViperGPT (words to numbers for the usual
  English number words; the month/dateparser branch of ViperGPT never returns there either).

A patch lives on a :class:`Frame`: the input image, or ``patch.cropped_image`` (a crop whose own
coordinates start at 0, as ``ImagePatch(patch.cropped_image)`` gives in ViperGPT). Every frame knows
its offset in the input image, so any patch has a *root box* -- its box in the input image -- which
is what call records and steps use. Operator methods (``find``, ``simple_query``, ...) are not
defined here: attribute lookup sends any name the registry has as a method to the frame's runtime.
"""

from __future__ import annotations

import math
import re
from typing import Any

MARGIN = 10


class PatchError(Exception):
    """An error ViperGPT's ImagePatch raises (a patch without area)."""


class Frame:
    """An image patches are cut from: the input image, or a crop of it.

    Attributes:
        runtime: answers the operator calls of patches on this frame.
        source: the input image (:class:`dicec.runtime.images.SourceImage`).
        x0, y0: this frame's bottom-left corner in the input image.
        width, height: its size in pixels.
    """

    __slots__ = ("runtime", "source", "x0", "y0", "width", "height")

    def __init__(self, runtime: Any, source: Any, x0: int = 0, y0: int = 0,
                 width: int | None = None, height: int | None = None) -> None:
        self.runtime = runtime
        self.source = source
        self.x0, self.y0 = x0, y0
        self.width = source.width if width is None else width
        self.height = source.height if height is None else height

    def __repr__(self) -> str:
        return f"<image {self.width}x{self.height}>"


def crop_box(width: int, height: int, left: Any, lower: Any, right: Any, upper: Any, *,
             margin: int = MARGIN) -> tuple[int, int, int, int]:
    """ViperGPT's ``crop`` arithmetic in a patch of ``width`` x ``height``: ints, margin, clamp.

    Returns the box relative to the patch; raises :class:`PatchError` when it has no area.
    """
    left, lower, right, upper = int(left), int(lower), int(right), int(upper)
    if margin:
        left, lower = max(0, left - margin), max(0, lower - margin)
        right, upper = min(width, right + margin), min(height, upper + margin)
    return slice_box(width, height, left, lower, right, upper)


def slice_box(width: int, height: int, left: int, lower: int, right: int, upper: int) -> tuple[int, int, int, int]:
    """The box that slicing ``image[H-upper:H-lower, left:right]`` really covers (Python slice rules)."""
    cols = range(width)[left:right]
    rows = range(height)[height - upper:height - lower]
    if len(cols) == 0 or len(rows) == 0:
        raise PatchError("ImagePatch has no area")
    return cols[0], height - rows[-1] - 1, cols[-1] + 1, height - rows[0]


class ImagePatch:
    """A box of an image, ViperGPT's ``ImagePatch``; operator methods come from the registry."""

    __slots__ = ("_frame", "left", "lower", "right", "upper", "width", "height",
                 "horizontal_center", "vertical_center")

    def __init__(self, image: Any, left: Any = None, lower: Any = None, right: Any = None, upper: Any = None) -> None:
        if isinstance(image, ImagePatch):
            frame, box = image._frame, (image.left, image.lower, image.right, image.upper)
            if left is not None or lower is not None or right is not None or upper is not None:
                frame = image.cropped_image
        elif isinstance(image, Frame):
            frame, box = image, (0, 0, image.width, image.height)
        else:
            raise TypeError(f"ImagePatch needs the image, not {type(image).__name__}")
        if left is None and lower is None and right is None and upper is None:
            if not isinstance(image, ImagePatch):
                box = (0, 0, frame.width, frame.height)
        else:
            if None in (left, lower, right, upper):
                raise TypeError("ImagePatch needs all of left, lower, right, upper or none of them")
            box = slice_box(frame.width, frame.height, int(left), int(lower), int(right), int(upper))
        self._set(frame, box)

    def _set(self, frame: Frame, box: tuple[int, int, int, int]) -> None:
        self._frame = frame
        self.left, self.lower, self.right, self.upper = box
        self.width, self.height = box[2] - box[0], box[3] - box[1]
        if self.width <= 0 or self.height <= 0:
            raise PatchError("ImagePatch has no area")
        self.horizontal_center = (self.left + self.right) / 2
        self.vertical_center = (self.lower + self.upper) / 2

    @classmethod
    def on(cls, frame: Frame, box: tuple[int, int, int, int]) -> "ImagePatch":
        """A patch with ``box`` in ``frame``'s coordinates (no checks beyond area)."""
        patch = cls.__new__(cls)
        patch._set(frame, box)
        return patch

    # -- identity for records and steps ---------------------------------------------------------
    @property
    def root_box(self) -> dict[str, int]:
        f = self._frame
        return {"left": f.x0 + self.left, "lower": f.y0 + self.lower,
                "right": f.x0 + self.right, "upper": f.y0 + self.upper}

    def from_root(self, box: dict) -> "ImagePatch":
        """The patch on this patch's frame whose root box is ``box``."""
        f = self._frame
        return ImagePatch.on(f, (int(box["left"]) - f.x0, int(box["lower"]) - f.y0,
                                 int(box["right"]) - f.x0, int(box["upper"]) - f.y0))

    # -- the model-free API -------------------------------------------------------------------------
    @property
    def cropped_image(self) -> Frame:
        f = self._frame
        return Frame(f.runtime, f.source, f.x0 + self.left, f.y0 + self.lower, self.width, self.height)

    @property
    def original_image(self) -> Frame:
        return Frame(self._frame.runtime, self._frame.source)

    def crop(self, left: Any, lower: Any, right: Any, upper: Any) -> "ImagePatch":
        l, lo, r, u = crop_box(self.width, self.height, left, lower, right, upper)
        return ImagePatch.on(self._frame, (self.left + l, self.lower + lo, self.left + r, self.lower + u))

    def overlaps_with(self, left: Any, lower: Any, right: Any, upper: Any) -> bool:
        return self.left <= right and self.right >= left and self.lower <= upper and self.upper >= lower

    def print_image(self, size: Any = None) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        runtime = object.__getattribute__(self, "_frame").runtime
        method = runtime.method(name) if runtime is not None else None
        if method is None:
            raise AttributeError(f"'ImagePatch' object has no attribute '{name}'")
        return lambda *args, **kwargs: method(self, args, kwargs)

    def __repr__(self) -> str:
        return f"ImagePatch({self.left}, {self.lower}, {self.right}, {self.upper})"


# -- module functions ---------------------------------------------------------------------------------
def distance(patch_a: Any, patch_b: Any) -> float:
    """ViperGPT's ``distance``: the gap between two boxes, minus their IoU when they touch; |a-b| for numbers."""
    if isinstance(patch_a, ImagePatch) and isinstance(patch_b, ImagePatch):
        a, b = patch_a, patch_b
        u = (max(0, a.left - b.right), max(0, a.lower - b.upper))
        v = (max(0, b.left - a.right), max(0, b.lower - a.upper))
        dist = math.sqrt(u[0] ** 2 + u[1] ** 2 + v[0] ** 2 + v[1] ** 2)
        if dist == 0:
            return -box_iou(a, b)
        return dist
    return abs(patch_a - patch_b)


def box_iou(a: ImagePatch, b: ImagePatch) -> float:
    iw = max(0, min(a.right, b.right) - max(a.left, b.left))
    ih = max(0, min(a.upper, b.upper) - max(a.lower, b.lower))
    inter = iw * ih
    union = (a.right - a.left) * (a.upper - a.lower) + (b.right - b.left) * (b.upper - b.lower) - inter
    return inter / union if union > 0 else 0.0


def bool_to_yesno(bool_answer: Any) -> str:
    return "yes" if bool_answer else "no"


_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}


def word_to_num(text: str) -> int:
    """English number words to an int (``"two hundred and five"`` -> 205); ``ValueError`` if there are none."""
    if text.strip().isdigit():
        return int(text.strip())
    words = [w for w in re.split(r"[\s-]+", text.lower()) if w in _UNITS or w in _TENS or w in _SCALES]
    if not words:
        raise ValueError("no number words")
    total, current = 0, 0
    for w in words:
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * _SCALES[w]
            current = 0
    return total + current


def coerce_to_numeric(string: Any, no_string: bool = False) -> Any:
    """ViperGPT's ``coerce_to_numeric``: the number in a string (first of a range), else the string."""
    if not isinstance(string, str):
        string = str(string)
    try:
        return word_to_num(string)
    except ValueError:
        pass
    string_re = re.sub(r"[^0-9.\-]", "", string)
    if string_re.startswith("-"):
        string_re = "&" + string_re[1:]
    if "-" in string_re:
        return coerce_to_numeric(string_re.split("-")[0].replace("&", "-"))
    string_re = string_re.replace("&", "-")
    try:
        return float(string_re) if "." in string_re else int(string_re)
    except ValueError:
        if no_string:
            raise
        return string
