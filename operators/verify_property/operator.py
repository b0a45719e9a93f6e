"""``ImagePatch.verify_property(object_name, property)``: does the object in the patch have the property?

ViperGPT (``image_patch.py`` with ``verify_property.model: xvlm``) scores the patch with X-VLM
against the text ``f"{property} {object_name}"`` and, as negatives, ``f"{a} {object_name}"`` for
every attribute ``a`` of its attribute list; the similarities are multiplied by 100, each negative
plays a two-way softmax against the positive, the positive's probabilities are averaged, and the
answer is ``score > 0.6`` (``thresh_xvlm``). This file implements exactly that around an X-VLM
session (see ``_xvlm.py`` for the preprocessing and the session contract).

Runtime contract: ``Operator(session, *, tokenize=..., negatives=..., threshold=0.6)``;
``operator(image, object_name, property) -> bool`` where ``image`` is the patch crop, a numpy
(H, W, 3) uint8 RGB array. ``tokenize(texts) -> (input_ids, attention_mask)`` is injected by the
runtime (BERT vocabulary, out of scope here).

Negatives: ViperGPT's attribute list (``useful_lists/possible_options.json``, ~600 entries) is
third-party data and is not copied here; the runtime should pass it as ``negatives`` for parity,
since the 0.6 threshold was set with it. Without it a short generic list written for dicec
(:data:`DEFAULT_NEGATIVES`) is used. The positive property itself is removed from the negatives.
"""

from __future__ import annotations

from typing import Any, Sequence

from dicec.builtin_operators._xvlm import Similarity, binary_score

THRESHOLD = 0.6

#: A short, generic attribute list used when the runtime gives none (written for dicec).
DEFAULT_NEGATIVES = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray",
    "silver", "gold", "wooden", "metal", "plastic", "glass", "stone", "leather", "paper", "small",
    "large", "tall", "short", "long", "old", "new", "young", "empty", "full", "open", "closed", "wet",
    "dry", "clean", "dirty", "round", "square", "striped", "standing", "sitting", "walking", "lying",
)


class Operator:
    """X-VLM binary score against negative attributes, as ViperGPT's ``verify_property``."""

    def __init__(self, session: Any, *, tokenize=None, negatives: Sequence[str] | None = None,
                 threshold: float = THRESHOLD) -> None:
        self.similarity = Similarity(session, tokenize=tokenize)
        self.negatives = tuple(DEFAULT_NEGATIVES if negatives is None else negatives)
        self.threshold = threshold

    def texts(self, object_name: str, property: str) -> list[str]:
        """The positive text first, then one negative per other attribute."""
        if not str(object_name).strip() or not str(property).strip():
            raise ValueError("verify_property needs a non-empty object_name and property")
        obj, prop = str(object_name).strip(), str(property).strip()
        negatives = [n.strip() for n in self.negatives if n.strip() and n.strip().lower() != prop.lower()]
        if not negatives:
            raise ValueError("verify_property needs at least one negative attribute")
        return [f"{prop} {obj}"] + [f"{n} {obj}" for n in negatives]

    def score(self, image: Any, object_name: str, property: str) -> float:
        sims = self.similarity.similarities([image], self.texts(object_name, property))[0]
        return binary_score(sims)

    def __call__(self, image: Any, object_name: str, property: str) -> bool:
        return bool(self.score(image, object_name, property) > self.threshold)
