"""``ImagePatch.exists(object_name)``: is there at least one ``object_name`` in the patch?

As in ViperGPT's API prompt (``return len(self.find(object_name)) > 0``) this runs the same GLIP-L
detector as ``find`` and answers whether any box survives the score threshold (0.5), NMS and the
area checks. ViperGPT's executor additionally re-checks each box with BLIP-2 ("Is this a X?") and
sends "number ..." names to ``simple_query``; one operator loads one model here, so that second
opinion is left to the program (see ``operators/SOURCES.md``).

Runtime contract: ``Operator(session, *, tokenize=...)`` with the same session and tokeniser as
``find`` (see ``_glip.py``); ``operator(image, object_name) -> bool`` where ``image`` is the patch
crop, a numpy (H, W, 3) uint8 RGB array.
"""

from __future__ import annotations

from typing import Any

from dicec.builtin_operators._glip import Detector


class Operator(Detector):
    """GLIP-L detection reduced to a yes/no for ``ImagePatch.exists``."""

    def __call__(self, image: Any, object_name: str) -> bool:
        return len(self.detect(image, object_name)) > 0
