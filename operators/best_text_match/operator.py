"""``ImagePatch.best_text_match(option_list, prefix=None)``: which option describes the patch best?

As ViperGPT's ``image_patch.py`` (``best_match_model: xvlm``): when ``prefix`` is given each option
is scored as ``prefix + " " + option``; the patch is compared with every option by X-VLM image-text
similarity and the option with the highest similarity (softmax is monotonic, so argmax of the raw
similarities; ties go to the first option) is returned as written in ``option_list``.

Runtime contract: ``Operator(session, *, tokenize=...)``; ``operator(image, option_list, prefix=None)
-> str`` where ``image`` is the patch crop, a numpy (H, W, 3) uint8 RGB array. ``tokenize(texts) ->
(input_ids, attention_mask)`` is injected by the runtime (BERT vocabulary, out of scope here); see
``_xvlm.py`` for the preprocessing and the session contract.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from dicec.builtin_operators._common import softmax
from dicec.builtin_operators._xvlm import Similarity


class Operator:
    """X-VLM argmax over the options, as ViperGPT's ``best_text_match``."""

    def __init__(self, session: Any, *, tokenize=None) -> None:
        self.similarity = Similarity(session, tokenize=tokenize)

    def probabilities(self, image: Any, option_list: Sequence[str], prefix: str | None = None) -> np.ndarray:
        """Softmax over the options of the (temperature 100) similarities, for inspection."""
        return softmax(100.0 * self._scores(image, option_list, prefix))

    def _scores(self, image: Any, option_list: Sequence[str], prefix: str | None) -> np.ndarray:
        if isinstance(option_list, str) or not isinstance(option_list, Sequence) or len(option_list) == 0:
            raise ValueError("best_text_match needs a non-empty list of options")
        texts = [str(o) if prefix is None else f"{prefix} {o}" for o in option_list]
        return self.similarity.similarities([image], texts)[0]

    def __call__(self, image: Any, option_list: Sequence[str], prefix: str | None = None) -> str:
        scores = self._scores(image, option_list, prefix)
        return option_list[int(np.argmax(scores))]
