"""``dicec op serve NAME...``: the model server a services-mode Deployment runs.

One process serves one or more operators (several small models sharing one GPU) over HTTP with
JSON, through the same backends ``dicec op`` and ``dicec exec`` use (:func:`dicec.runtime.backend.get_backend`,
so ``--models`` / ``DICEC_MODELS`` choose seeded, builtin or onnx) and the same
:func:`~dicec.runtime.backend.evaluate`, so a value served is exactly the value a pod step computes.

Endpoints:

``GET /healthz``   liveness: 200 as soon as the HTTP server runs (also while models load).
``GET /readyz``    readiness: 200 once every served operator's model is loaded; 503 while loading,
                   after a load failure, and while draining on shutdown.
``GET /metrics``   Prometheus text: requests, batches, batch-size sum and maximum, errors, per operator.
``POST /v1/call``  one operator call, ``{"operator", "form", "patch", "args", "image"}`` where ``patch``
                   is the receiver's box (``null`` for a function), ``args`` the resolved positional
                   arguments and ``image`` ``{"sha256": HEX}`` with, the first time the server sees that
                   image, ``"data"`` (base64 of the file bytes: an image file, or an offloaded step's
                   crop bundle, :mod:`dicec.runtime.crops`). Answer: ``{"value", "error", "batch_size",
                   "backend"}``; ``error`` is the operator's failure on this input (recorded by the step,
                   as ``dicec op`` records it), not a transport error.

Bad requests get a 4xx with ``{"error": "..."}``: 400 malformed JSON or fields, 404 unknown path or an
operator not served here, 405 wrong method, 409 an image digest the server does not hold (send
``data``), 411 no Content-Length, 413 body too large, 415 not JSON; 503 while not ready; 500 when a
backend cannot be set up (a missing model file), which the step reports as a set-up failure.

Batching: each operator has a queue and one worker thread. The worker takes the first waiting
request, then keeps collecting until it holds ``max_batch`` or ``max_wait_ms`` has passed (0, the
default: it takes what is already queued, adding no latency), and hands the batch (one group per form)
to :func:`~dicec.runtime.backend.evaluate_batch`: ONE backend computation where the backend has
``compute_batch`` (the ``onnx`` backend, for operators with a ``batch`` hook: ``compute_depth``
preprocesses each distinct frame once and stacks same-sized inputs into one ``session.run``), else
the calls one at a time (``seeded``, ``builtin``). Each call keeps its own value and error, what it
answers alone (bit for bit on onnxruntime's CPU kernels, as the tests and the benchmark check; a GPU
kernel may round a stacked run differently in the last bits). Every answer carries the size of the
batch it was handed to the backend in, and ``/metrics`` counts those batches and sums their sizes.
``benchmarks/serve.py`` measures both: on the built-in scene models (per call, cached per box)
batching gains nothing and waiting for fuller batches only adds latency; on ``compute_depth`` with a
model whose run is dominated by reading its weights, batches of 8 raise throughput (``--workload
depth``). The HTTP side is fully concurrent (a thread per connection, HTTP/1.1 keep-alive).

Shutdown: SIGTERM (or SIGINT) marks the server as draining (``/readyz`` 503, so Kubernetes takes it out
of the Service), keeps answering for ``shutdown_delay_s`` while endpoints update, stops accepting
connections, finishes every request already received, and exits 0.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import queue
import re
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from dicec.errors import DicecError

Log = Callable[[str], None]

CALL_PATH = "/v1/call"
DEFAULT_PORT = 8080
DEFAULT_MAX_BATCH = 8
DEFAULT_MAX_WAIT_MS = 0.0
#: A request's body limit: the largest image dicec reads (256 MiB) is refused earlier by the step; a
#: frame of a few MB base64-encoded is far below this.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Decoded images kept by digest.
IMAGE_CACHE = 16
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """What ``dicec op serve`` was asked for.

    Attributes:
        operators: the operators to serve (at least one; each must be known to the registry).
        host: the address to listen on (``0.0.0.0`` in a pod; loopback by default).
        port: the port (0: any free port, printed on start).
        max_batch: most requests one batch holds.
        max_wait_ms: how long a worker waits for a batch to fill after its first request.
        models: the backend (``seeded``, ``builtin``, ``onnx``), or ``None`` for ``$DICEC_MODELS``.
        operator_dirs: extra operator folders.
        shutdown_delay_s: on SIGTERM, seconds to keep serving while unready, before closing.
        max_body_bytes: the largest request body accepted.
    """

    operators: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_batch: int = DEFAULT_MAX_BATCH
    max_wait_ms: float = DEFAULT_MAX_WAIT_MS
    models: str | None = None
    operator_dirs: tuple[str, ...] = ()
    shutdown_delay_s: float = 0.0
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if not self.operators:
            raise DicecError("dicec op serve needs at least one operator name")
        if len(set(self.operators)) != len(self.operators):
            raise DicecError(f"operator named twice in {' '.join(self.operators)}")
        if not 0 <= self.port <= 65535:
            raise DicecError(f"--port must be 0..65535 (got {self.port})")
        if self.max_batch < 1:
            raise DicecError(f"--max-batch must be >= 1 (got {self.max_batch})")
        if not self.max_wait_ms >= 0:
            raise DicecError(f"--max-wait-ms must be >= 0 (got {self.max_wait_ms})")
        if not self.shutdown_delay_s >= 0:
            raise DicecError(f"--shutdown-delay-s must be >= 0 (got {self.shutdown_delay_s})")


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class _Pending:
    """One call waiting in an operator's queue."""

    spec: Any
    form: Any
    image: Any
    call: Any
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: str | None = None
    failure: str | None = None  # a set-up problem (DicecError): the request fails with 500
    batch_size: int = 0


@dataclass
class _Counters:
    requests: int = 0
    batches: int = 0
    batch_size_sum: int = 0
    batch_size_max: int = 0
    operator_errors: int = 0
    failures: int = 0


class ModelServer:
    """The server: HTTP front, per-operator batching workers, model loading; start, then stop."""

    def __init__(self, options: ServeOptions, *, log: Log = lambda s: None) -> None:
        from dicec.runtime.backend import get_backend, registry_for

        self.options, self.log = options, log
        registry = registry_for(options.operator_dirs)
        self.specs = {name: registry.get(name) for name in options.operators}
        self.backend = get_backend(options.models)
        self.state = "loading"  # loading, ready, failed, draining, stopped
        self.load_error: str | None = None
        self.queues: dict[str, queue.Queue] = {name: queue.Queue() for name in options.operators}
        self.counters = {name: _Counters() for name in options.operators}
        self.lock = threading.Lock()
        self.images: OrderedDict[str, Any] = OrderedDict()
        self.httpd: _HTTPServer | None = None
        self.threads: list[threading.Thread] = []

    # -- life cycle ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.httpd is None:
            raise RuntimeError("the server is not started")
        host, port = self.httpd.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}"

    def start(self, *, load_in_background: bool = True) -> None:
        """Listen, start the workers, and load the models (in the background: liveness holds meanwhile)."""
        try:
            self.httpd = _HTTPServer((self.options.host, self.options.port), _Handler, self)
        except OSError as exc:
            raise DicecError(f"cannot listen on {self.options.host}:{self.options.port}: {exc.strerror or exc}") from None
        serve = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                 name="dicec-serve-http", daemon=True)
        serve.start()
        self.threads.append(serve)
        for name in self.options.operators:
            worker = threading.Thread(target=self._work, args=(name,), name=f"dicec-serve-{name}", daemon=True)
            worker.start()
            self.threads.append(worker)
        if load_in_background:
            loader = threading.Thread(target=self._load, name="dicec-serve-load", daemon=True)
            loader.start()
            self.threads.append(loader)
        else:
            self._load()

    def _load(self) -> None:
        started = time.monotonic()
        try:
            for spec in self.specs.values():
                preload(self.backend, spec)
        except DicecError as exc:
            with self.lock:
                self.state, self.load_error = "failed", str(exc)
            self.log(f"dicec serve: loading models failed: {exc}")
            return
        with self.lock:
            if self.state == "loading":
                self.state = "ready"
        self.log(f"dicec serve: ready: {', '.join(self.specs)} on the {self.backend.name} backend "
                 f"({time.monotonic() - started:.2f} s to load)")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until ready; raise DicecError if loading failed or took longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if self.state == "ready":
                    return
                if self.state == "failed":
                    raise DicecError(f"model server for {', '.join(self.specs)} failed to load: {self.load_error}")
            time.sleep(0.01)
        raise DicecError(f"model server for {', '.join(self.specs)} was not ready after {timeout_s:g} s")

    def stop(self, *, delay_s: float | None = None) -> None:
        """Drain and stop: unready, wait ``delay_s``, close the listener, answer what was received."""
        with self.lock:
            if self.state == "stopped":
                return
            self.state = "draining"
        time.sleep(self.options.shutdown_delay_s if delay_s is None else delay_s)
        if self.httpd is not None:
            self.httpd.shutdown()       # no new connections
            self.httpd.server_close()   # joins the request threads: every received request is answered
        for q in self.queues.values():
            q.put(None)
        for t in self.threads:
            if t is not threading.current_thread():
                t.join(timeout=30)
        with self.lock:
            self.state = "stopped"

    # -- the work ------------------------------------------------------------------------------------
    def submit(self, operator: str, pending: _Pending) -> _Pending:
        self.queues[operator].put(pending)
        pending.done.wait()
        return pending

    def _work(self, operator: str) -> None:
        q = self.queues[operator]
        wait_s = self.options.max_wait_ms / 1000.0
        while True:
            first = q.get()
            if first is None:
                return
            batch, stop = [first], False
            deadline = time.monotonic() + wait_s
            while len(batch) < self.options.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = q.get(timeout=remaining) if remaining > 0 else q.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            sizes = self._run_batch(batch)
            with self.lock:
                c = self.counters[operator]
                c.batches += len(sizes)
                c.requests += len(batch)
                c.batch_size_sum += len(batch)
                c.batch_size_max = max(c.batch_size_max, *sizes)
                c.operator_errors += sum(1 for p in batch if p.error is not None)
                c.failures += sum(1 for p in batch if p.failure is not None)
            for p in batch:
                p.done.set()
            if stop:
                return

    def _run_batch(self, batch: list[_Pending]) -> list[int]:
        """Evaluate a batch: the calls of each form as one backend computation (``evaluate_batch``).

        Every call gets its own value and error; a set-up problem fails the calls it concerns (HTTP 500).
        A batch mixing the method and function forms of one operator goes to the backend as one group per
        form; ``batch_size`` is the size of the call's group, and the group sizes are returned.
        """
        from dicec.runtime.backend import evaluate_batch

        groups: dict[str, list[_Pending]] = {}
        for p in batch:
            groups.setdefault(p.form.kind, []).append(p)
        for group in groups.values():
            try:
                outcomes = evaluate_batch(self.backend, group[0].spec, group[0].form,
                                          [(p.image, p.call) for p in group])
            except DicecError as exc:
                outcomes = [exc] * len(group)
            except Exception as exc:  # a bug: answer the requests rather than hang them
                outcomes = [RuntimeError(f"internal error: {type(exc).__name__}: {exc}")] * len(group)
            for p, outcome in zip(group, outcomes):
                if isinstance(outcome, Exception):  # a set-up problem of this call (DicecError), or a bug
                    p.failure = str(outcome)
                else:
                    p.value, p.error = outcome
                p.batch_size = len(group)
        return [len(g) for g in groups.values()]

    # -- requests ------------------------------------------------------------------------------------
    def handle_call(self, body: Any) -> dict[str, Any]:
        """Validate one call request, run it through the operator's batch queue, and return the answer."""
        from dicec.runtime.calls import Call, is_box

        with self.lock:
            state = self.state
        if state != "ready":
            reason = {"loading": "models are still loading", "failed": f"models failed to load: {self.load_error}",
                      "draining": "the server is shutting down"}.get(state, state)
            raise RequestError(HTTPStatus.SERVICE_UNAVAILABLE, f"not ready: {reason}")
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        unknown = sorted(set(body) - {"operator", "form", "patch", "args", "image"})
        if unknown:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown field {unknown[0]!r}")
        operator = body.get("operator")
        if not isinstance(operator, str):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'operator' must be a string")
        spec = self.specs.get(operator)
        if spec is None:
            raise RequestError(HTTPStatus.NOT_FOUND, f"operator {operator!r} is not served here "
                                                     f"(serves: {', '.join(self.specs)})")
        form = spec.form(body.get("form")) if isinstance(body.get("form"), str) else None
        if form is None:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"'form' must be one of {', '.join(f.kind for f in spec.forms)}")
        args = body.get("args")
        if not isinstance(args, list):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'args' must be a list")
        if not form.min_args <= len(args) <= form.max_args:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"{operator} takes {form.min_args} to {form.max_args} "
                                                       f"arguments, got {len(args)}")
        patch = body.get("patch")
        if form.kind == "method" and not is_box(patch):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'patch' must be a box {left, lower, right, upper} of integers")
        if form.kind != "method" and patch is not None:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"'patch' must be null for the function form of {operator}")
        image = self._image(body.get("image"))
        call = Call(operator=operator, form=form.kind, patch=patch, args=tuple(args))
        done = self.submit(operator, _Pending(spec=spec, form=form, image=image, call=call))
        if done.failure is not None:
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, done.failure)
        return {"value": done.value, "error": done.error, "batch_size": done.batch_size, "backend": self.backend.name}

    def _image(self, ref: Any) -> Any:
        from dicec.runtime.crops import is_bundle, load_bundle
        from dicec.runtime.images import MAX_IMAGE_BYTES, SourceImage, image_size

        if not isinstance(ref, dict) or not isinstance(ref.get("sha256"), str) or not _HEX64.match(ref["sha256"]):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'image' must be {\"sha256\": 64 lower-case hex digits, "
                                                       "\"data\": base64 of the file bytes (optional once sent)}")
        if set(ref) - {"sha256", "data"}:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown field in 'image': {sorted(set(ref) - {'sha256', 'data'})[0]!r}")
        digest = ref["sha256"]
        with self.lock:
            cached = self.images.get(digest)
            if cached is not None:
                self.images.move_to_end(digest)
                return cached
        if "data" not in ref:
            raise RequestError(HTTPStatus.CONFLICT, "image not held here: send it again with 'data'")
        if not isinstance(ref["data"], str):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'image.data' must be a base64 string")
        try:
            data = base64.b64decode(ref["data"], validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'image.data' is not valid base64") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the image is over the size limit")
        if hashlib.sha256(data).hexdigest() != digest:
            raise RequestError(HTTPStatus.BAD_REQUEST, "'image.data' does not match 'image.sha256'")
        where = f"image sha256:{digest[:12]}"
        try:
            if is_bundle(data):  # an offloaded step's crops (dicec.runtime.crops): records keep the frame's identity
                image = load_bundle(data, where=f"crops sha256:{digest[:12]}")
            else:
                width, height = image_size(data, where=where)
                image = SourceImage(uri=where, digest=digest, width=width, height=height, data=data)
        except DicecError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        with self.lock:
            self.images[digest] = image
            while len(self.images) > IMAGE_CACHE:
                self.images.popitem(last=False)
        return image

    def readiness(self) -> tuple[HTTPStatus, dict[str, Any]]:
        with self.lock:
            state, error = self.state, self.load_error
        body: dict[str, Any] = {"status": state, "operators": list(self.specs), "backend": self.backend.name}
        if error:
            body["error"] = error
        return (HTTPStatus.OK if state == "ready" else HTTPStatus.SERVICE_UNAVAILABLE), body

    def metrics(self) -> str:
        """Prometheus text exposition of the counters."""
        with self.lock:
            rows = {name: (c.requests, c.batches, c.batch_size_sum, c.batch_size_max, c.operator_errors, c.failures)
                    for name, c in self.counters.items()}
            ready = 1 if self.state == "ready" else 0
        out = ["# HELP dicec_serve_ready Whether the models are loaded and the server takes calls.",
               "# TYPE dicec_serve_ready gauge", f"dicec_serve_ready {ready}"]
        metrics = (("requests_total", "counter", "Calls answered."),
                   ("batches_total", "counter", "Batches run."),
                   ("batch_size_sum", "counter", "Sum of the sizes of the batches run (over batches_total: the mean)."),
                   ("batch_size_max", "gauge", "Largest batch run."),
                   ("operator_errors_total", "counter", "Calls the operator failed on (answered, with 'error')."),
                   ("failures_total", "counter", "Calls that failed to run (a backend set-up problem; HTTP 500)."))
        for i, (name, kind, text) in enumerate(metrics):
            out += [f"# HELP dicec_serve_{name} {text}", f"# TYPE dicec_serve_{name} {kind}"]
            out += [f'dicec_serve_{name}{{operator="{op}"}} {row[i]}' for op, row in rows.items()]
        return "\n".join(out) + "\n"


def preload(backend: Any, spec: Any) -> None:
    """Load ``spec``'s model now, so ready means loaded; a set-up problem raises DicecError.

    onnx: the operator's session (model file, checksum, tokeniser); builtin: the scene models for the
    operators they answer (the others load on their first call, as in ``dicec op``); seeded: nothing.
    """
    if backend.name == "onnx":
        backend.operator(spec)
    elif backend.name == "builtin" and hasattr(backend, f"op_{spec.name}"):
        backend.sessions()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the request threads: nothing received is dropped
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 1024  # the listen backlog: socketserver's 5 resets bursts of concurrent steps

    def __init__(self, address: tuple[str, int], handler: type, model_server: ModelServer) -> None:
        self.model_server = model_server
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dicec-serve"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # one line per request would drown the pod log; /metrics counts them

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        ms = self.server.model_server
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._json(HTTPStatus.OK, {"status": "alive"})
        elif path == "/readyz":
            self._json(*ms.readiness())
        elif path == "/metrics":
            self._send(HTTPStatus.OK, ms.metrics().encode("utf-8"), "text/plain; version=0.0.4; charset=utf-8")
        elif path == CALL_PATH:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{CALL_PATH} takes POST", allow="POST")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path {path!r} (try {CALL_PATH}, /healthz, /readyz, /metrics)")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path != CALL_PATH:
            known = path in ("/healthz", "/readyz", "/metrics")
            if known:
                self._drain_body()
            self._error(HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND,
                        f"{path} takes GET" if known else f"no such path {path!r} (POST {CALL_PATH})",
                        allow="GET" if known else None)
            return
        try:
            body = self._read_json()
            answer = self.server.model_server.handle_call(body)
        except RequestError as exc:
            self._error(exc.status, exc.message)
            return
        self._json(HTTPStatus.OK, answer)

    def _read_json(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            raise RequestError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        if n < 0 or n > self.server.model_server.options.max_body_bytes:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"the body is {n} bytes, over the {self.server.model_server.options.max_body_bytes}-byte limit")
        data = self.rfile.read(n)
        kind = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"the body must be application/json, not {kind}")
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}") from None

    def _drain_body(self) -> None:
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        if 0 < n <= self.server.model_server.options.max_body_bytes:
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


def serve(options: ServeOptions, *, log: Log, announce: Callable[[str], None]) -> int:
    """Run until SIGTERM or SIGINT, then drain and return 0 (``dicec op serve``).

    ``announce`` gets one line, ``dicec serve: listening on URL``, once the port is bound (``--port 0``
    users and ``dicec run`` read the port from it).
    """
    server = ModelServer(options, log=log)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        announce(f"dicec serve: listening on {server.url} ({', '.join(options.operators)})")
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
