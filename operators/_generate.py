"""Feeding a text-generation graph (``simple_query``, ``llm_query``), numpy only.

Session contract: a single generation graph in the style of onnxruntime's ``BeamSearch`` operator
(what ``onnxruntime.transformers.convert_generation`` exports for T5 and GPT-like models): the model
inputs (``input_ids``, ``attention_mask``, and ``pixel_values`` for an image-conditioned model) plus
scalar generation parameters, each a (1,) array: ``max_length`` and ``min_length`` (int32),
``num_beams`` and ``num_return_sequences`` (int32), ``length_penalty`` and ``repetition_penalty``
(float32). The output ``sequences`` is int32 (batch, num_return_sequences, length). Only the inputs
the session declares are fed, so a greedy graph without beam parameters works too.
Tokenising and detokenising need the model's vocabulary and are injected by the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from dicec.builtin_operators._common import build_feeds, run

OUTPUTS = ("sequences",)


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings; ``max_length`` counts what the graph counts (see each operator)."""

    max_length: int
    min_length: int = 1
    num_beams: int = 1
    num_return_sequences: int = 1
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0

    def feeds(self) -> dict[str, np.ndarray]:
        return {
            "max_length": np.array([self.max_length], dtype=np.int32),
            "min_length": np.array([self.min_length], dtype=np.int32),
            "num_beams": np.array([self.num_beams], dtype=np.int32),
            "num_return_sequences": np.array([self.num_return_sequences], dtype=np.int32),
            "length_penalty": np.array([self.length_penalty], dtype=np.float32),
            "repetition_penalty": np.array([self.repetition_penalty], dtype=np.float32),
        }


def generate(session: Any, inputs: Mapping[str, np.ndarray], params: GenerationParams) -> list[int]:
    """Run the generation graph and return the best sequence's token ids."""
    feeds = build_feeds(session, {**params.feeds(), **inputs}, required=("input_ids",))
    (sequences,) = run(session, OUTPUTS, feeds)
    seq = np.asarray(sequences)
    if seq.ndim == 3:
        seq = seq[0, 0]
    elif seq.ndim == 2:
        seq = seq[0]
    elif seq.ndim != 1:
        raise ValueError(f"generation graph returned sequences of shape {np.asarray(sequences).shape}")
    return [int(t) for t in seq]
