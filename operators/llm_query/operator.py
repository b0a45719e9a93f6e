"""``llm_query(query, context=None, long_answer=True)`` and ``ImagePatch.llm_query(question, long_answer=True)``.

ViperGPT answers these text-only questions with GPT-3 (``text-davinci-003``, temperature 0): a long
answer is the model's completion of the query itself (up to 256 tokens); a short answer puts the
query, with ``context`` substituted for its ``{}``, into a few-shot "answer very briefly" prompt, takes
at most 5 tokens up to the first newline, and cleans the answer (lower case, "." and "," removed,
the words a/an/the/to dropped). A self-hosted cluster has no GPT-3, so dicec serves an open 8B
instruction model, Meta-Llama-3-8B-Instruct, with greedy decoding; the few-shot GPT-3 prompt is
replaced by a one-line system instruction written for dicec (the instruct model follows it without
examples).

Numpy/Python parts implemented here: prompt building (Llama 3 chat format, overridable), context
substitution, generation parameters, stripping the echoed prompt from the output, and the short
answer clean-up. The image is not used (ViperGPT's method form ignores it too).

Runtime contract: ``Operator(session, *, tokenize=..., detokenize=...)``; the session is a
generation graph (see ``_generate.py``) whose ``max_length`` counts prompt plus new tokens and whose
``sequences`` start with the prompt (as onnxruntime's BeamSearch does for decoder-only models).
``tokenize(text) -> input_ids`` (or ``(input_ids, attention_mask)``) and ``detokenize(ids) -> str``
need the Llama 3 tokenizer and are injected by the runtime. ``operator(image, query, context=None,
long_answer=True) -> str``; ``image`` may be ``None``. The method form's second positional argument
is ``long_answer``: a bool arriving in ``context`` is taken as ``long_answer``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from dicec.builtin_operators._generate import GenerationParams, generate

LONG_MAX_NEW_TOKENS = 256
SHORT_MAX_NEW_TOKENS = 5
SHORT_INSTRUCTION = ("Answer the question in one or two words. Give no explanation, no range of values "
                     "and no hedging.")
_DROP_WORDS = {"a", "an", "the", "to", ""}


def llama3_chat(user: str, system: str | None = None) -> str:
    """A single-turn prompt in the Llama 3 Instruct chat format, ending where the assistant speaks."""
    parts = ["<|begin_of_text|>"]
    if system:
        parts.append(f"<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>")
    parts.append(f"<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>")
    parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(parts)


def with_context(query: str, context: Any) -> str:
    """Put ``context`` into the query: in place of ``{}`` when there is one, else on a line after it."""
    if context is None:
        return query
    if "{}" in query:
        return query.replace("{}", str(context))
    return f"{query}\nContext: {context}"


def clean_short_answer(text: str) -> str:
    """First line, lower case, without '.' or ',' and without the words a/an/the/to."""
    first = str(text).lstrip().split("\n", 1)[0]
    words = first.replace(".", "").replace(",", "").lower().split(" ")
    return " ".join(w for w in words if w not in _DROP_WORDS)


class Operator:
    """Meta-Llama-3-8B-Instruct for ``llm_query``."""

    def __init__(self, session: Any, *, tokenize: Callable | None = None, detokenize: Callable | None = None,
                 chat_template: Callable[[str, str | None], str] = llama3_chat) -> None:
        self.session = session
        self.tokenize = tokenize
        self.detokenize = detokenize
        self.chat_template = chat_template

    def prompt(self, query: str, context: Any = None, long_answer: bool = True) -> str:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("llm_query needs a non-empty query string")
        text = with_context(query, context)
        return self.chat_template(text, None if long_answer else SHORT_INSTRUCTION)

    def __call__(self, image: Any, query: str, context: Any = None, long_answer: bool = True) -> str:
        if isinstance(context, bool) and long_answer is True:   # method form: llm_query(question, long_answer)
            context, long_answer = None, context
        if self.tokenize is None or self.detokenize is None:
            raise RuntimeError("the LLM needs tokenize/detokenize callables (Llama 3 tokenizer); the runtime injects them")
        encoded = self.tokenize(self.prompt(query, context, long_answer))
        ids, mask = encoded if isinstance(encoded, tuple) else (encoded, None)
        ids = np.asarray(ids, dtype=np.int64).reshape(1, -1)
        mask = np.ones_like(ids) if mask is None else np.asarray(mask, dtype=np.int64).reshape(1, -1)
        new_tokens = LONG_MAX_NEW_TOKENS if long_answer else SHORT_MAX_NEW_TOKENS
        params = GenerationParams(max_length=ids.shape[1] + new_tokens, min_length=1, num_beams=1)
        tokens = generate(self.session, {"input_ids": ids, "attention_mask": mask}, params)
        prompt_ids = [int(t) for t in ids[0]]
        if tokens[:len(prompt_ids)] == prompt_ids:
            tokens = tokens[len(prompt_ids):]
        text = str(self.detokenize(tokens))
        return text.strip() if long_answer else clean_short_answer(text)
