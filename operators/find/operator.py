"""``ImagePatch.find(object_name)``: open-vocabulary detection with GLIP-L, as in ViperGPT.

Runtime contract (chosen by the lead; the onnxruntime runtime lands later):

``Operator(session, *, tokenize=...)``
    ``session`` is onnxruntime-like: ``get_inputs()`` (objects with ``.name``, optionally ``.type``)
    and ``run(output_names, feeds)``. Its graph takes ``pixel_values`` float32 (1, 3, H, W),
    ``input_ids`` int64 (1, L), ``attention_mask`` int64 (1, L) and returns ``boxes`` (1, Q, 4) as
    normalised (cx, cy, w, h) of the padded input and ``scores`` (1, Q) in [0, 1].
    ``tokenize(text) -> (input_ids, attention_mask)`` turns the caption into BERT token ids; it needs
    GLIP's vocabulary files, so the runtime injects it (tokenisation is out of scope here).

``operator(image, object_name) -> list[dict]``
    ``image`` is the patch crop, a numpy (H, W, 3) uint8 RGB array. The result is JSON: one box per
    object found, best first, ``{"left", "lower", "right", "upper"}`` in the patch's pixel
    coordinates with ViperGPT's bottom-left origin (``lower < upper``), clipped to the patch. The
    runtime turns each box into ``ImagePatch.crop(...)`` (which adds ViperGPT's 10-pixel margin).

What is implemented here, in numpy (see ``_glip.py`` for the figures and where they come from):
resize (shorter side 800, longer <= 1333) with GLIP's BGR mean/std and padding to 32; decoding of
normalised (cx, cy, w, h) to pixels; score threshold 0.5; class-agnostic NMS at IoU 0.6; at most
100 boxes; clip; flip to the bottom-left origin; "person" is asked as "people" like ViperGPT does.
Not done: ViperGPT routes ``find("object")`` to Mask R-CNN; here every name goes to GLIP.
"""

from __future__ import annotations

from typing import Any

from dicec.builtin_operators._glip import Detector


class Operator(Detector):
    """GLIP-L detection for ``ImagePatch.find``."""

    def __call__(self, image: Any, object_name: str) -> list[dict[str, int]]:
        return self.detect(image, object_name)
