"""``best_image_match(list_patches, content, return_index=False)``: which patch shows the content best?

As ViperGPT's ``image_patch.py`` (``best_match_model: xvlm``): every patch is scored against every
content text by X-VLM image-text similarity, the scores are averaged over the content texts, and the
patch with the highest mean wins (ties: the first). An empty list gives ``None`` like ViperGPT.
A plain string ``content`` is treated as one text (ViperGPT would iterate over its characters).

Runtime contract (a module function, so there is no receiver patch): ``Operator(session, *,
tokenize=...)``; ``operator(images, content, return_index=False, boxes=None)`` where ``images`` is
the list of patch crops (each a numpy (H, W, 3) uint8 RGB array) in the order of ``list_patches``
and ``boxes`` optionally their ``{"left", "lower", "right", "upper"}`` boxes. It returns the index
(int) when ``return_index`` is true or no boxes are given, else the winning patch's box (dict), which
the runtime maps back to the ``ImagePatch``. ``tokenize(texts) -> (input_ids, attention_mask)`` is
injected by the runtime (BERT vocabulary, out of scope here); see ``_xvlm.py`` for the
preprocessing and the session contract.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from dicec.builtin_operators._xvlm import Similarity


def choose(scores: np.ndarray) -> int:
    """(N patches, C contents) similarities -> index of the patch with the highest mean over contents."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"expected (patches, contents) scores, got shape {s.shape}")
    return int(np.argmax(s.mean(axis=1)))


class Operator:
    """X-VLM mean-over-contents argmax over patches, as ViperGPT's ``best_image_match``."""

    def __init__(self, session: Any, *, tokenize=None) -> None:
        self.similarity = Similarity(session, tokenize=tokenize)

    def __call__(self, images: Sequence[Any], content: Sequence[str] | str, return_index: bool = False,
                 boxes: Sequence[dict] | None = None) -> int | dict | None:
        images = list(images)
        if not images:
            return None
        texts = [content] if isinstance(content, str) else [str(c) for c in content]
        if not texts:
            raise ValueError("best_image_match needs at least one content text")
        if boxes is not None and len(boxes) != len(images):
            raise ValueError(f"{len(images)} patches but {len(boxes)} boxes")
        index = choose(self.similarity.similarities(images, texts))
        if return_index or boxes is None:
            return index
        return dict(boxes[index])
