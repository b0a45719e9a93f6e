"""Token accounting: how many LLM calls a build made and how many tokens they used.

Every code-generation backend returns a :class:`Usage`; the offline and replay backends return the
zero value, so ``--format json`` always carries the same keys and a pinned (replayed) build can be
shown to have made no LLM call at all.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class Usage:
    """LLM calls and tokens, summed over every request a build made (refinement rounds and retries
    that got an answer included).

    Attributes:
        llm_calls: Messages API requests that returned a reply.
        input_tokens: uncached input tokens, as the API reports ``usage.input_tokens``.
        output_tokens: generated tokens (``usage.output_tokens``).
        cache_creation_input_tokens: input tokens written to the prompt cache.
        cache_read_input_tokens: input tokens read from the prompt cache (the static prompt on
            later rounds and later questions).
    """

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Usage.{f.name} must be a non-negative integer, not {value!r}")

    def __add__(self, other: "Usage") -> "Usage":
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: No LLM call made.
NONE = Usage()
