"""X-VLM image-text similarity shared by ``verify_property``, ``best_text_match`` and ``best_image_match``.

ViperGPT (cvlab-columbia/viper ``vision_models.py`` XVLMModel, ``configs/base_config.yaml``) uses the
X-VLM checkpoint fine-tuned for COCO retrieval with a Swin-B image encoder at 384x384 and a BERT-base
text encoder, and scores an image against texts with the contrastive heads only: the cosine
similarity of the projected, L2-normalised image and text features. This module holds the
model-independent parts of that, in numpy:

* image: resize to 384x384 (bicubic, aspect ratio not kept), scale to [0, 1], normalise with the
  CLIP mean/std, HWC -> NCHW float32;
* text: ViperGPT's caption clean-up (lower case, some punctuation removed, "-" and "/" to spaces,
  runs of spaces collapsed, at most 30 words);
* scores: the "binary score" ViperGPT uses for ``verify_property``: similarities times 100, then for
  each negative text a two-way softmax between the positive and that negative, averaged.

Session contract (the exported graph):

inputs, in this order (matched by declared names and cast to declared types)
    ``pixel_values`` float32 (N, 3, 384, 384); ``input_ids`` int64 (T, L); ``attention_mask`` int64 (T, L).
output ``logits`` float (N, T): cosine similarity of image n and text t.

Tokenisation needs the BERT vocabulary and is out of scope: operators take an injected
``tokenize(texts: list[str]) -> (input_ids, attention_mask)`` callable that pads to the longest text.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import numpy as np

from dicec.builtin_operators._common import (CLIP_MEAN, CLIP_STD, build_feeds, check_image, normalize, resize,
                                             run, to_nchw)

IMAGE_RES = 384
MAX_WORDS = 30
TEMPERATURE = 100.0
INPUTS = ("pixel_values", "input_ids", "attention_mask")
OUTPUTS = ("logits",)

Tokenize = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]

_PUNCT = re.compile(r"[,.'!?\"()*#:;~]")
_SPACES = re.compile(r"\s{2,}")


def clean_caption(text: str, max_words: int = MAX_WORDS) -> str:
    """ViperGPT's X-VLM text clean-up; raises ``ValueError`` when nothing is left."""
    caption = _PUNCT.sub("", str(text).lower()).replace("-", " ").replace("/", " ").replace("<person>", "person")
    caption = _SPACES.sub(" ", caption).rstrip("\n").strip(" ")
    words = caption.split(" ")
    if len(words) > max_words:
        caption = " ".join(words[:max_words])
    if not caption:
        raise ValueError(f"text {text!r} is empty after clean-up")
    return caption


def preprocess(images: Sequence[Any]) -> np.ndarray:
    """Patches (each (H, W, 3) uint8 RGB) -> float32 (N, 3, 384, 384) for X-VLM."""
    out = []
    for i, image in enumerate(images):
        img = check_image(image, f"patch {i}")
        out.append(normalize(resize(img, IMAGE_RES, IMAGE_RES, "bicubic"), CLIP_MEAN, CLIP_STD))
    return to_nchw(out)


def binary_score(similarities: Sequence[float], temperature: float = TEMPERATURE) -> float:
    """Mean over negatives of softmax([s_pos, s_neg])[0] with s = temperature * cosine similarity.

    ``similarities[0]`` is the positive text, the rest are negatives (at least one).
    """
    sims = np.asarray(similarities, dtype=np.float64).reshape(-1) * temperature
    if sims.size < 2:
        raise ValueError("binary_score needs the positive text and at least one negative")
    # softmax over the pair (pos, neg) for each negative = sigmoid(pos - neg)
    return float(np.mean(1.0 / (1.0 + np.exp(sims[1:] - sims[0]))))


class Similarity:
    """Image-text cosine similarities from an X-VLM session."""

    def __init__(self, session: Any, *, tokenize: Tokenize | None = None) -> None:
        self.session = session
        self.tokenize = tokenize

    def similarities(self, images: Sequence[Any], texts: Sequence[str]) -> np.ndarray:
        """(N images, T texts) cosine similarities."""
        if self.tokenize is None:
            raise RuntimeError("X-VLM needs a tokenize(texts) -> (input_ids, attention_mask) callable "
                               "(BERT vocabulary); the runtime injects it")
        if not images:
            raise ValueError("no image to score")
        if not texts:
            raise ValueError("no text to score")
        cleaned = [clean_caption(t) for t in texts]
        ids, mask = self.tokenize(cleaned)
        ids = np.asarray(ids, dtype=np.int64).reshape(len(cleaned), -1)
        mask = np.asarray(mask, dtype=np.int64).reshape(len(cleaned), -1)
        feeds = build_feeds(self.session, {"pixel_values": preprocess(images), "input_ids": ids,
                                           "attention_mask": mask})
        (logits,) = run(self.session, OUTPUTS, feeds)
        logits = np.asarray(logits, dtype=np.float64)
        if logits.shape != (len(images), len(cleaned)):
            raise ValueError(f"X-VLM returned logits of shape {logits.shape}, expected {(len(images), len(cleaned))}")
        return logits
