"""``ImagePatch.simple_query(question)``: a short answer to a basic question about the patch (BLIP-2).

ViperGPT answers with BLIP-2 (ViT-g + Q-Former + Flan-T5-XXL; ``blip_v2_model_type:
blip2-flan-t5-xxl``): the question is cleaned like LAVIS does (lower case, the characters
``. ! " ( ) * # : ; ~`` removed, at most 50 words), put in the prompt ``"Question: {q} Short answer:"``,
and decoded with 5 beams, ``max_length`` 10, ``min_length`` 1 and ``length_penalty`` -1 (favours short
answers). Numpy parts implemented here: that text clean-up and prompt; the image preprocessing of
the BLIP-2 processor (resize to 224x224 bicubic, aspect ratio not kept, scale to [0, 1], CLIP
mean/std, HWC -> NCHW float32); the generation parameters; and trimming the decoded answer.

Runtime contract: ``Operator(session, *, tokenize=..., detokenize=...)``; the session is a
generation graph (see ``_generate.py``) taking ``pixel_values`` float32 (1, 3, 224, 224),
``input_ids``/``attention_mask`` int64 (1, L) and the generation parameters, returning ``sequences``.
``tokenize(text) -> (input_ids, attention_mask)`` and ``detokenize(ids) -> str`` (special tokens
skipped) need the T5 vocabulary and are injected by the runtime. ``operator(image, question) -> str``
where ``image`` is the patch crop, a numpy (H, W, 3) uint8 RGB array.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

from dicec.builtin_operators._common import CLIP_MEAN, CLIP_STD, check_image, normalize, resize, to_nchw
from dicec.builtin_operators._generate import GenerationParams, generate

IMAGE_SIZE = 224
MAX_WORDS = 50
PROMPT = "Question: {} Short answer:"
PARAMS = GenerationParams(max_length=10, min_length=1, num_beams=5, num_return_sequences=1,
                          length_penalty=-1.0, repetition_penalty=1.0)

_DROP = re.compile(r"([.!\"()*#:;~])")


def clean_question(question: str, max_words: int = MAX_WORDS) -> str:
    """LAVIS/ViperGPT question clean-up."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("simple_query needs a non-empty question")
    q = _DROP.sub("", question.lower()).rstrip(" ")
    words = q.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else q


def prompt_for(question: str) -> str:
    return PROMPT.format(clean_question(question))


def preprocess(image: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> float32 (1, 3, 224, 224) as the BLIP-2 image processor."""
    img = check_image(image, "patch")
    return to_nchw(normalize(resize(img, IMAGE_SIZE, IMAGE_SIZE, "bicubic"), CLIP_MEAN, CLIP_STD))


class Operator:
    """BLIP-2 Flan-T5-XXL visual question answering for ``ImagePatch.simple_query``."""

    def __init__(self, session: Any, *, tokenize: Callable | None = None, detokenize: Callable | None = None,
                 params: GenerationParams = PARAMS) -> None:
        self.session = session
        self.tokenize = tokenize
        self.detokenize = detokenize
        self.params = params

    def __call__(self, image: Any, question: str) -> str:
        if self.tokenize is None or self.detokenize is None:
            raise RuntimeError("BLIP-2 needs tokenize/detokenize callables (T5 vocabulary); the runtime injects them")
        ids, mask = self.tokenize(prompt_for(question))
        tokens = generate(self.session, {
            "pixel_values": preprocess(image),
            "input_ids": np.asarray(ids, dtype=np.int64).reshape(1, -1),
            "attention_mask": np.asarray(mask, dtype=np.int64).reshape(1, -1),
        }, self.params)
        return str(self.detokenize(tokens)).strip()
