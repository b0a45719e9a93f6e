"""What both servers of services mode share: the HTTP front, JSON bodies, probes and the SIGTERM drain.

The model server (:mod:`dicec.serving.model_server`) and the answer server
(:mod:`dicec.serving.answer_server`) are each a :class:`JSONServer`: a stdlib ``ThreadingHTTPServer``
(a thread per connection, HTTP/1.1 keep-alive, a listen backlog of 1024 so bursts of concurrent
callers are not reset) with

``GET /healthz``   liveness: 200 as soon as the HTTP server runs.
``GET /readyz``    readiness: 200 while the server takes work (:meth:`JSONServer.readiness`); 503 while
                   it loads, after a load failure, and while it drains.
``GET /metrics``   Prometheus text (:meth:`JSONServer.metrics`).
``POST PATH``      the server's own routes (:attr:`JSONServer.routes`), each given the request body's
                   text once its ``Content-Length`` (required, at most ``max_body_bytes``) and
                   ``Content-Type`` (``application/json``) are checked.

:func:`parse_json` reads a body strictly: valid JSON whose objects repeat no key. The workflow builds
request bodies by substituting Argo parameters into a fixed JSON text (:mod:`dicec.emit.http`); a
parameter that contained a quote could add a key, and would then repeat one of the fixed keys or add an
unknown one, which every route refuses. Errors are a one-line JSON ``{"error": ...}`` with a 4xx or 5xx
status (:class:`RequestError`).

Life cycle: :meth:`JSONServer.start` listens; :meth:`JSONServer.stop` marks the server draining
(``/readyz`` 503, so Kubernetes takes it out of its Service), waits ``shutdown_delay_s`` while endpoints
update, stops accepting connections and answers every request already received; :func:`serve_until_signal`
runs a server until SIGTERM or SIGINT (``dicec op serve``, ``dicec answer serve``) and exits 0.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from dicec.errors import DicecError

Log = Callable[[str], None]
#: A POST route: the body's text -> (status, JSON answer) or (status, JSON answer, extra headers).
Route = Callable[[str], tuple]
PROBES = ("/healthz", "/readyz", "/metrics")


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, " ".join(str(message).split())


def no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a repeated key is a 400 (``object_pairs_hook`` of :func:`parse_json`)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the body repeats the key {key!r}")
        out[key] = value
    return out


def parse_json(text: str) -> Any:
    """A request body's JSON, strictly: valid JSON, no object repeating a key (400 otherwise)."""
    try:
        return json.loads(text, object_pairs_hook=no_repeated_keys)
    except json.JSONDecodeError as exc:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}") from None


def require_fields(body: Any, required: set[str], optional: set[str] = frozenset()) -> dict:
    """``body`` as a JSON object with the ``required`` keys and no key outside ``required | optional``."""
    if not isinstance(body, dict):
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    unknown = sorted(set(body) - required - optional)
    if unknown:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown field {unknown[0]!r}")
    missing = sorted(required - set(body))
    if missing:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"missing field {missing[0]!r}")
    return body


class JSONServer:
    """A server's life cycle and probes; subclasses set :attr:`routes` and may override the hooks.

    Attributes:
        host: the address to listen on.
        port: the port (0: any free port).
        shutdown_delay_s: on stop, seconds to keep serving while unready, before closing.
        max_body_bytes: the largest request body accepted.
        state: ``loading``, ``ready``, ``failed``, ``draining`` or ``stopped``.
        routes: POST path -> :data:`Route`.
    """

    name = "dicec server"

    def __init__(self, *, host: str, port: int, shutdown_delay_s: float, max_body_bytes: int,
                 log: Log = lambda s: None) -> None:
        self.host, self.port = host, port
        self.shutdown_delay_s, self.max_body_bytes = shutdown_delay_s, max_body_bytes
        self.log = log
        self.state = "loading"
        self.load_error: str | None = None
        self.lock = threading.Lock()
        self.httpd: _HTTPServer | None = None
        self.threads: list[threading.Thread] = []
        self.routes: dict[str, Route] = {}

    @property
    def url(self) -> str:
        if self.httpd is None:
            raise RuntimeError("the server is not started")
        host, port = self.httpd.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}"

    def listen(self) -> None:
        """Bind and serve HTTP on a thread of its own."""
        try:
            self.httpd = _HTTPServer((self.host, self.port), _Handler, self)
        except OSError as exc:
            raise DicecError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.spawn(self.httpd.serve_forever, "http", poll_interval=0.05)

    def spawn(self, target: Callable, what: str, *args: Any, **kwargs: Any) -> threading.Thread:
        """Start a daemon thread that :meth:`stop` joins."""
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, name=f"dicec-serve-{what}", daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def start(self) -> None:
        """Listen and take work (subclasses load models first, see the model server)."""
        self.listen()
        with self.lock:
            if self.state == "loading":
                self.state = "ready"

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until ready; raise DicecError if loading failed or took longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.state == "ready":
                    return
                if self.state == "failed":
                    raise DicecError(f"{self.name} failed to load: {self.load_error}")
            time.sleep(0.01)
        raise DicecError(f"{self.name} was not ready after {timeout_s:g} s")

    def stop(self, *, delay_s: float | None = None) -> None:
        """Drain and stop: unready, wait ``delay_s``, close the listener, answer what was received."""
        with self.lock:
            if self.state == "stopped":
                return
            self.state = "draining"
        time.sleep(self.shutdown_delay_s if delay_s is None else delay_s)
        if self.httpd is not None:
            self.httpd.shutdown()       # no new connections
            self.httpd.server_close()   # joins the request threads: every received request is answered
        self.stopping()
        for t in self.threads:
            if t is not threading.current_thread():
                t.join(timeout=30)
        with self.lock:
            self.state = "stopped"

    def stopping(self) -> None:
        """Hook: after the last request is answered, before the threads are joined (workers end here)."""

    def require_ready(self) -> None:
        """503 unless the server takes work now."""
        with self.lock:
            state = self.state
        if state != "ready":
            reason = {"loading": "models are still loading", "failed": f"models failed to load: {self.load_error}",
                      "draining": "the server is shutting down"}.get(state, state)
            raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, f"not ready: {reason}")

    def readiness(self) -> tuple[HTTPStatus, dict[str, Any]]:
        with self.lock:
            state, error = self.state, self.load_error
        body: dict[str, Any] = {"status": state, **self.describe()}
        if error:
            body["error"] = error
        return (HTTPStatus.OK if state == "ready" else HTTPStatus.SERVICE_UNAVAILABLE), body

    def describe(self) -> dict[str, Any]:
        """Hook: what ``/readyz`` adds about the server."""
        return {}

    def metrics(self) -> str:
        """Hook: Prometheus text for ``/metrics``."""
        with self.lock:
            ready = 1 if self.state == "ready" else 0
        return prometheus("dicec_serve_ready", "gauge", "Whether the server takes work.", [("", ready)])


def prometheus(name: str, kind: str, text: str, rows: list[tuple[str, Any]]) -> str:
    """One metric in Prometheus text: ``rows`` are (label text such as ``{operator="find"}``, value)."""
    return "".join([f"# HELP {name} {text}\n", f"# TYPE {name} {kind}\n",
                    *(f"{name}{labels} {value}\n" for labels, value in rows)])


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the request threads: nothing received is dropped
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 1024  # the listen backlog: socketserver's 5 resets bursts of concurrent steps

    def __init__(self, address: tuple[str, int], handler: type, app: JSONServer) -> None:
        self.app = app
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dicec-serve"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # one line per request would drown the pod log; /metrics counts them

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._json(HTTPStatus.OK, {"status": "alive"})
        elif path == "/readyz":
            self._json(*app.readiness())
        elif path == "/metrics":
            self._send(HTTPStatus.OK, app.metrics().encode("utf-8"), "text/plain; version=0.0.4; charset=utf-8")
        elif path in app.routes:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes POST", allow="POST")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path {path!r} (try {', '.join(app.routes)}, "
                                              f"{', '.join(PROBES)})")

    def do_POST(self) -> None:  # noqa: N802
        app = self.server.app
        path = self.path.split("?", 1)[0]
        route = app.routes.get(path)
        if route is None:
            known = path in PROBES
            if known:
                self._drain_body()
            self._error(HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND,
                        f"{path} takes GET" if known else f"no such path {path!r} (POST {', '.join(app.routes)})",
                        allow="GET" if known else None)
            return
        try:
            status, answer, *headers = route(self._read_body())
        except RequestError as exc:
            self._error(exc.status, exc.message)
            return
        self._json(status, answer, headers=headers[0] if headers else None)

    def _read_body(self) -> str:
        limit = self.server.app.max_body_bytes
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            raise RequestError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        if n < 0 or n > limit:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is {n} bytes, over the {limit}-byte limit")
        data = self.rfile.read(n)
        kind = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"the body must be application/json, not {kind}")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}") from None

    def _drain_body(self) -> None:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        if 0 < n <= self.server.app.max_body_bytes:
            self.rfile.read(n)
        elif n:
            self.close_connection = True

    def _error(self, status: HTTPStatus, message: str, *, allow: str | None = None) -> None:
        self._json(status, {"error": message}, headers={"Allow": allow} if allow else None)

    def _json(self, status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> None:
        from dicec.runtime.calls import canonical_json

        data = canonical_json(body).encode("utf-8")
        extra = dict(headers or {})
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            extra["Retry-After"] = "1"
        self._send(status, data, "application/json", extra)

    def _send(self, status: HTTPStatus, data: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def serve_until_signal(server: JSONServer, *, log: Log, announce: Callable[[str], None], what: str) -> int:
    """Start ``server``, run until SIGTERM or SIGINT (or a failed model load), then drain and return 0.

    ``announce`` gets one line, ``dicec serve: listening on URL (WHAT)``, once the port is bound
    (``--port 0`` users and ``dicec run`` read the port from it).
    """
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        announce(f"dicec serve: listening on {server.url} ({what})")
        while not stop.wait(0.5):
            with server.lock:
                if server.state == "failed":
                    break
        failed = server.state == "failed"
        log("dicec serve: loading failed, stopping" if failed else "dicec serve: shutting down (draining)")
        server.stop(delay_s=0.0 if failed else None)
        if failed:
            raise DicecError(f"models failed to load: {server.load_error}")
        log("dicec serve: stopped")
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
