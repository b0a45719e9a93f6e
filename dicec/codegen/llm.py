"""The Messages API client behind ``--backend anthropic``: options, retries, and one-line errors.

:class:`LLMOptions` holds what a user configures (model, max tokens, timeout, base URL, key, rounds,
retries); the key and base URL also come from the SDK's usual environment variables,
``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``. :class:`MessagesClient` sends one request through
the official ``anthropic`` SDK with the static prompt as a system block marked for prompt caching
(``cache_control: ephemeral``), so refinement rounds and later questions read it from the cache.

Faults are handled here, not in the SDK, so the policy is visible and testable: the SDK's own
retries are off (``max_retries=0``); 429, 529 (overloaded), other 5xx, 408/409, timeouts and
connection failures are retried with exponential backoff (``retry-after``/``retry-after-ms`` from
the server win when given, capped at :data:`MAX_RETRY_AFTER_S`); a missing or rejected key, a
refused request and retries running out each become one :class:`~dicec.errors.DicecError` line.
Text from the server is untrusted: it is shown only as a shortened, single-line quote.

``anthropic`` is imported only when a client is made, so no other verb pays for it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from dicec.codegen.usage import Usage
from dicec.errors import DicecError, one_line

DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_MAX_TOKENS = 2048
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_ROUNDS = 3
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF_S = 1.0
#: The longest wait between two attempts, whatever the backoff or the server says.
MAX_RETRY_AFTER_S = 60.0
MAX_ROUNDS = 10

#: Status codes worth another attempt: timeout, conflict, rate limit, server errors, 529 overloaded.
RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))

KEY_ENV = "ANTHROPIC_API_KEY"
TOKEN_ENV = "ANTHROPIC_AUTH_TOKEN"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"


@dataclass(frozen=True, kw_only=True)
class LLMOptions:
    """How to reach the LLM and how hard to try.

    Attributes:
        model: the model id sent to the Messages API.
        max_tokens: the most tokens one reply may have.
        timeout_s: seconds to wait for one reply.
        base_url: the API's base URL; ``None`` means ``$ANTHROPIC_BASE_URL``, else the SDK's default.
        api_key: the key; ``None`` means ``$ANTHROPIC_API_KEY`` (or ``$ANTHROPIC_AUTH_TOKEN``). Never
            shown in ``repr``.
        rounds: refinement rounds: how many replies the checker may refuse before the build fails.
        retries: further attempts of one request after a retryable fault (429, 529, 5xx, timeout).
        backoff_s: the first wait between attempts, doubled each time (when the server gives no
            ``retry-after``).
        lock: the lock file pinning (question, model, prompt hash) -> checked code, or ``None``.
    """

    model: str = DEFAULT_MODEL
    max_tokens: int = DEFAULT_MAX_TOKENS
    timeout_s: float = DEFAULT_TIMEOUT_S
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    rounds: int = DEFAULT_ROUNDS
    retries: int = DEFAULT_RETRIES
    backoff_s: float = DEFAULT_BACKOFF_S
    lock: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model or any(c.isspace() for c in self.model) or len(self.model) > 200:
            raise DicecError(f"--model must be a model id without spaces, not {str(self.model)[:60]!r}")
        if not isinstance(self.max_tokens, int) or not 1 <= self.max_tokens <= 1_000_000:
            raise DicecError(f"--max-tokens must be between 1 and 1000000, not {self.max_tokens!r}")
        if not isinstance(self.timeout_s, (int, float)) or not 0 < self.timeout_s <= 3600:
            raise DicecError(f"--timeout must be between 0 and 3600 seconds, not {self.timeout_s!r}")
        if not isinstance(self.rounds, int) or not 1 <= self.rounds <= MAX_ROUNDS:
            raise DicecError(f"--rounds must be between 1 and {MAX_ROUNDS}, not {self.rounds!r}")
        if not isinstance(self.retries, int) or not 0 <= self.retries <= 20:
            raise DicecError(f"retries must be between 0 and 20, not {self.retries!r}")
        if not isinstance(self.backoff_s, (int, float)) or not 0 <= self.backoff_s <= MAX_RETRY_AFTER_S:
            raise DicecError(f"backoff must be between 0 and {MAX_RETRY_AFTER_S:g} seconds, not {self.backoff_s!r}")
        if self.base_url is not None and not str(self.base_url).startswith(("http://", "https://")):
            raise DicecError(f"--base-url must be an http:// or https:// URL, not {str(self.base_url)[:80]!r}")
        if self.api_key is not None and (not self.api_key.strip() or any(c in self.api_key for c in "\r\n\x00")):
            raise DicecError("--api-key is empty or contains a line break")


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One reply of the Messages API.

    Attributes:
        text: the text blocks of the reply, joined.
        stop_reason: why the model stopped (``end_turn``, ``max_tokens``, ...), as the API says.
        usage: this request's tokens (``llm_calls`` 1).
    """

    text: str
    stop_reason: str | None
    usage: Usage


class MessagesClient:
    """Sends requests to the Messages API with the fault policy above.

    ``sleep`` is injectable so tests can record the backoff instead of waiting it out.
    """

    def __init__(self, options: LLMOptions, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self._sleep = sleep
        api_key = options.api_key or os.environ.get(KEY_ENV) or None
        auth_token = None if api_key else (os.environ.get(TOKEN_ENV) or None)
        if not api_key and not auth_token:
            raise DicecError(f"--backend anthropic needs an API key: set {KEY_ENV} or pass --api-key "
                             "(--backend offline needs none; --backend replay builds from a lock file)")
        try:
            import anthropic
        except ImportError:  # pragma: no cover - a dependency of dicec
            raise DicecError("--backend anthropic needs the anthropic package: pip install anthropic") from None
        self._anthropic = anthropic
        base_url = options.base_url or os.environ.get(BASE_URL_ENV) or None
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise DicecError(f"{BASE_URL_ENV} must be an http:// or https:// URL, not {one_line(base_url, 80)!r}")
        kwargs: dict[str, Any] = {"api_key": api_key} if api_key else {"auth_token": auth_token}
        self._client = anthropic.Anthropic(base_url=base_url, timeout=float(options.timeout_s), max_retries=0, **kwargs)
        self.base_url = str(self._client.base_url).rstrip("/")

    def complete(self, *, system: str, messages: list[dict]) -> Reply:
        """One reply to ``messages`` under the cached ``system`` prompt, retrying transient faults."""
        anthropic = self._anthropic
        opts = self.options
        attempts = opts.retries + 1
        last = ""
        for attempt in range(attempts):
            wait = None
            try:
                message = self._client.messages.create(
                    model=opts.model, max_tokens=opts.max_tokens,
                    system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                    messages=messages)
            except anthropic.APITimeoutError:
                last = f"did not answer within {opts.timeout_s:g}s"
            except anthropic.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                last = f"could not be reached ({one_line(cause, 120)})"
            except anthropic.APIStatusError as exc:
                if exc.status_code not in RETRYABLE_STATUS:
                    raise self._refused(exc) from None
                last = f"answered {self._describe(exc)}"
                wait = _retry_after(exc.response.headers)
            else:
                return _reply(message)
            if attempt + 1 < attempts:
                delay = wait if wait is not None else min(opts.backoff_s * (2 ** attempt), MAX_RETRY_AFTER_S)
                self._sleep(delay)
        raise DicecError(f"the Messages API at {self.base_url} {last}, {attempts} attempt"
                         f"{'s' if attempts != 1 else ''} in all; try again later (--backend offline needs no LLM)")

    def _describe(self, exc: Any) -> str:
        kind = getattr(exc, "type", None)
        text = getattr(exc, "api_message", None)
        parts = [str(exc.status_code)] + ([one_line(kind, 40)] if kind else [])
        return " ".join(parts) + (f": {one_line(text)}" if text else "")

    def _refused(self, exc: Any) -> DicecError:
        if exc.status_code == 401:
            return DicecError(f"the Messages API at {self.base_url} rejected the API key ({self._describe(exc)}); "
                              f"check {KEY_ENV} or --api-key")
        if exc.status_code == 403:
            return DicecError(f"the API key may not use the Messages API at {self.base_url} ({self._describe(exc)})")
        if exc.status_code == 404:
            return DicecError(f"the Messages API at {self.base_url} does not know this model or path "
                              f"({self._describe(exc)}); check --model ({self.options.model}) and --base-url")
        return DicecError(f"the Messages API at {self.base_url} refused the request ({self._describe(exc)})")


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``), capped."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name) if headers is not None else None
        if raw is None:
            continue
        try:
            seconds = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
        if seconds >= 0:
            return min(seconds, MAX_RETRY_AFTER_S)
    return None


def _reply(message: Any) -> Reply:
    text = "".join(getattr(block, "text", "") for block in (message.content or [])
                   if getattr(block, "type", None) == "text")
    u = message.usage
    usage = Usage(llm_calls=1, input_tokens=int(u.input_tokens or 0), output_tokens=int(u.output_tokens or 0),
                  cache_creation_input_tokens=int(getattr(u, "cache_creation_input_tokens", 0) or 0),
                  cache_read_input_tokens=int(getattr(u, "cache_read_input_tokens", 0) or 0))
    return Reply(text=text, stop_reason=message.stop_reason, usage=usage)
