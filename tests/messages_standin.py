"""A local stand-in for the Messages API, so the real anthropic SDK can be tested without a network.

:class:`MessagesStandIn` is an ``http.server`` on 127.0.0.1 (port 0, chosen by the OS) in a thread.
It answers ``POST /v1/messages`` from a script of steps -- a reply (content blocks, ``usage`` with
``input_tokens``/``output_tokens``, a stop reason) or an error (status code and the API's error body
``{"type": "error", "error": {"type": ..., "message": ...}}``, optional headers such as
``retry-after``), optionally after a delay -- and records every request it got (headers and JSON
body). The key is read from ``x-api-key`` or ``Authorization: Bearer`` (SDK versions differ); a
wrong key gets 401 as the real service answers it; an exhausted script is a 500 whose
message says so, so a test that sends more requests than it scripted fails loudly.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "sk-ant-test-standin"


@dataclass
class Step:
    """One scripted answer: a reply (``text``) or an error (``status`` >= 400)."""

    text: str = ""
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0
    stop_reason: str = "end_turn"
    input_tokens: int = 100
    output_tokens: int = 50
    cache_read_input_tokens: int = 0


def reply(text: str, **kw) -> Step:
    return Step(text=text, **kw)


def error(status: int, error_type: str, message: str, **kw) -> Step:
    return Step(status=status, error_type=error_type, message=message, **kw)


class MessagesStandIn:
    """The server; use as a context manager. ``requests`` holds every request's ``headers`` and ``body``."""

    def __init__(self, steps: list[Step] | None = None, *, key: str = KEY) -> None:
        self.steps = list(steps or [])
        self.key = key
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with standin._lock:
                    standin.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    step = standin.steps.pop(0) if standin.steps else None
                if self.path.split("?")[0] != "/v1/messages":
                    return self._send(404, _error("not_found_error", f"no route {self.path}"))
                auth = self.headers.get("authorization") or ""
                given = self.headers.get("x-api-key") or (auth[len("Bearer "):] if auth.startswith("Bearer ") else None)
                if given != standin.key:
                    return self._send(401, _error("authentication_error", "invalid x-api-key"))
                if not isinstance(body, dict) or not {"model", "max_tokens", "messages"} <= set(body):
                    return self._send(400, _error("invalid_request_error", "model, max_tokens and messages are required"))
                if step is None:
                    return self._send(500, _error("api_error", "stand-in script exhausted: unexpected request"))
                if step.delay_s:
                    time.sleep(step.delay_s)
                if step.status >= 400:
                    return self._send(step.status, _error(step.error_type, step.message), step.headers)
                message = {
                    "id": f"msg_standin_{len(standin.requests)}", "type": "message", "role": "assistant",
                    "model": body["model"], "content": [{"type": "text", "text": step.text}],
                    "stop_reason": step.stop_reason, "stop_sequence": None,
                    "usage": {"input_tokens": step.input_tokens, "output_tokens": step.output_tokens,
                              "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": step.cache_read_input_tokens},
                }
                return self._send(200, message, step.headers)

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", f"req_standin_{len(standin.requests)}")
                    for k, v in (headers or {}).items():
                        self.send_header(k, str(v))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def bodies(self) -> list[dict]:
        return [r["body"] for r in self.requests]

    def __enter__(self) -> "MessagesStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _error(error_type: str, message: str) -> dict:
    return {"type": "error", "error": {"type": error_type, "message": message}}
