"""``dicec op serve NAME...``: the model server a services-mode Deployment runs.

One process serves one or more operators (several small models sharing one GPU) over HTTP with
JSON, through the same backends ``dicec op`` and ``dicec exec`` use (:func:`dicec.runtime.backend.get_backend`,
so ``--models`` / ``DICEC_MODELS`` choose seeded, builtin or onnx) and the same
:func:`~dicec.runtime.backend.evaluate`, so a value served is exactly the value a pod step computes.

Endpoints (the HTTP front, probes and drain are :mod:`dicec.serving.httpbase`'s):

``GET /healthz``   liveness: 200 as soon as the HTTP server runs (also while models load).
``GET /readyz``    readiness: 200 once every served operator's model is loaded; 503 while loading,
                   after a load failure, and while draining on shutdown.
``GET /metrics``   Prometheus text: requests, steps, batches, batch-size sum and maximum, errors, per operator.
``POST /v1/step``  one services-mode workflow step, sent by Argo's agent from an HTTP template
                   (:mod:`dicec.emit.http`): the step's inputs as a pod step gets them as flags
                   (:mod:`dicec.emit.steps`), resolved and computed by the same code
                   (:func:`dicec.runtime.step.resolve_call`, :mod:`dicec.runtime.compute`)::

                     {"call": "<base64url call payload, as --call>", "image": "<the image URI>",
                      "index": "none" | "N", "patch": "image" | null | <a box, a list, a result object>,
                      "refs": {"TASK": <a value or a result object>, ...}}

                   A *result object* is what this endpoint answers, ``{"value": V, "record": R}``
                   (Argo passes a task's answer on as its ``outputs.result``); wherever one appears as
                   the patch or a reference, its value is used. The server reads the image itself, by
                   URI (:func:`dicec.runtime.images.load_image`: a path or ``file://`` here, and
                   whatever schemes that loader reads), only when a call needs it, and keeps decoded
                   images by the sha256 of the bytes read; pixels never travel in the request. A list
                   patch (a fan-out's elements, or a nested fan-out's) is computed element by element
                   exactly as ``dicec op --index none`` does, and all its calls enter the operator's
                   batching queue together, so they run as few backend batches as ``--max-batch``
                   allows. Answer 200: ``{"value": V, "record": R}``, exactly what ``dicec op`` writes
                   as value and record (lists for a list patch); an operator failing on its input is in
                   ``R`` with the empty value, still 200, as a pod step exits 0.
``POST /v1/call``  one resolved operator call, ``{"operator", "form", "patch", "args", "image"}`` where
                   ``patch`` is the receiver's box (``null`` for a function), ``args`` the resolved
                   positional arguments and ``image`` ``{"sha256": HEX}`` with, the first time the server
                   sees that image, ``"data"`` (base64 of the file bytes: an image file, or an offloaded
                   step's crop bundle, :mod:`dicec.runtime.crops`). Answer: ``{"value", "error",
                   "batch_size", "backend"}``; ``error`` is the operator's failure on this input (recorded
                   by the caller), not a transport error. The container steps that stay in services mode
                   (``dicec op call``) and the answer step's and answer server's calls without a record
                   use it (:mod:`dicec.runtime.client`).

Bad requests get a 4xx with ``{"error": "..."}``: 400 malformed JSON, a repeated key, bad fields or an
unreadable image, 404 unknown path or an operator not served here, 405 wrong method, 409 an image
digest the server does not hold (send ``data``), 411 no Content-Length, 413 body too large, 415 not
JSON; 503 while not ready; 500 when a backend cannot be set up (a missing model file), which the step
reports as a set-up failure.

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
connections, finishes every request already received, and exits 0
(:func:`dicec.serving.httpbase.serve_until_signal`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import queue
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable

from dicec.errors import DicecError
from dicec.serving.httpbase import JSONServer, RequestError, parse_json, prometheus, require_fields, serve_until_signal

Log = Callable[[str], None]

CALL_PATH = "/v1/call"
STEP_PATH = "/v1/step"
DEFAULT_PORT = 8080
DEFAULT_MAX_BATCH = 8
DEFAULT_MAX_WAIT_MS = 0.0
#: A request's body limit: the largest image dicec reads (256 MiB) is refused earlier by the step; a
#: frame of a few MB base64-encoded is far below this.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Decoded images kept by digest.
IMAGE_CACHE = 16
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: How ``/v1/step`` names a field in an error (the pod step's message names its flag instead).
_BODY_FIELD: Callable[[str], str] = lambda name: f"'{name}'"  # noqa: E731


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


@dataclass
class _Counters:
    requests: int = 0
    steps: int = 0
    batches: int = 0
    batch_size_sum: int = 0
    batch_size_max: int = 0
    operator_errors: int = 0
    failures: int = 0


class ModelServer(JSONServer):
    """The server: HTTP front, per-operator batching workers, model loading; start, then stop."""

    def __init__(self, options: ServeOptions, *, log: Log = lambda s: None) -> None:
        from dicec.runtime.backend import get_backend, registry_for

        super().__init__(host=options.host, port=options.port, shutdown_delay_s=options.shutdown_delay_s,
                         max_body_bytes=options.max_body_bytes, log=log)
        self.options = options
        self.registry = registry_for(options.operator_dirs)
        self.specs = {name: self.registry.get(name) for name in options.operators}
        self.name = f"model server for {', '.join(self.specs)}"
        self.backend = get_backend(options.models)
        self.queues: dict[str, queue.Queue] = {name: queue.Queue() for name in options.operators}
        self.counters = {name: _Counters() for name in options.operators}
        self.images: OrderedDict[str, Any] = OrderedDict()
        self.routes = {STEP_PATH: lambda text: (HTTPStatus.OK, self.handle_step(parse_json(text))),
                       CALL_PATH: lambda text: (HTTPStatus.OK, self.handle_call(parse_json(text)))}

    # -- life cycle ----------------------------------------------------------------------------------
    def start(self, *, load_in_background: bool = True) -> None:
        """Listen, start the workers, and load the models (in the background: liveness holds meanwhile)."""
        self.listen()
        for name in self.options.operators:
            self.spawn(self._work, name, name)
        if load_in_background:
            self.spawn(self._load, "load")
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

    def stopping(self) -> None:
        for q in self.queues.values():
            q.put(None)

    # -- the work ------------------------------------------------------------------------------------
    def submit(self, operator: str, pendings: list[_Pending]) -> list[_Pending]:
        """Queue ``pendings`` together (so a worker can batch them) and wait for all of them."""
        for pending in pendings:
            self.queues[operator].put(pending)
        for pending in pendings:
            pending.done.wait()
        return pendings

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
    def handle_step(self, body: Any) -> dict[str, Any]:
        """One HTTP step (the module docstring): resolve its call as ``dicec op`` does, compute every element
        through the operator's batching queue, and answer ``{"value", "record"}``."""
        from dicec.runtime.compute import call_plan, plan_calls, settle_plan, whole_box
        from dicec.runtime.contract import result_object, result_value
        from dicec.runtime.step import resolve_call, task_of

        self.require_ready()
        require_fields(body, {"call", "image"}, {"patch", "index", "refs"})
        uri = body["image"]
        if not isinstance(uri, str):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'image' must be the image's URI, a string")
        refs = body.get("refs", {})
        if isinstance(refs, dict):
            refs = {task: result_value(v) for task, v in refs.items()}
        try:
            spec, form, args, patch = resolve_call(body["call"], refs, result_value(body.get("patch", "image")),
                                                   body.get("index", "none"), self.registry, field=_BODY_FIELD)
        except DicecError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        if spec.name not in self.specs:
            raise RequestError(HTTPStatus.NOT_FOUND, f"operator {spec.name!r} is not served here "
                                                     f"(serves: {', '.join(self.specs)})")
        loaded: list[Any] = []

        def image() -> Any:  # read only when a call needs it
            if not loaded:
                loaded.append(self._image_at(uri))
            return loaded[0]

        try:
            plan = call_plan(spec, form, args, patch, whole=lambda: whole_box(image()))
        except DicecError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        calls = plan_calls(plan)
        done = self.submit(spec.name, [_Pending(spec=spec, form=form, image=image(), call=c) for c in calls]) \
            if calls else []
        failed = next((p.failure for p in done if p.failure is not None), None)
        if failed is not None:
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, failed)
        with self.lock:
            self.counters[spec.name].steps += 1
        value, record = settle_plan(plan, form, [(p.value, p.error) for p in done], task=task_of(body["call"]))
        return result_object(value, record)

    def handle_call(self, body: Any) -> dict[str, Any]:
        """Validate one call request, run it through the operator's batch queue, and return the answer."""
        from dicec.runtime.calls import Call, is_box

        self.require_ready()
        require_fields(body, set(), {"operator", "form", "patch", "args", "image"})
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
        (done,) = self.submit(operator, [_Pending(spec=spec, form=form, image=image, call=call)])
        if done.failure is not None:
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, done.failure)
        return {"value": done.value, "error": done.error, "batch_size": done.batch_size, "backend": self.backend.name}

    def _image_at(self, uri: str) -> Any:
        """The image at ``uri``, read by the step side's loader; kept (decoded once) by its bytes' sha256."""
        from dicec.runtime.images import load_image

        try:
            image = load_image(uri)
        except DicecError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"cannot read the image: {exc}") from None
        with self.lock:
            cached = self.images.get(image.digest)
            if cached is not None:
                self.images.move_to_end(image.digest)
                return cached
        return self._keep(image.digest, image)

    def _keep(self, digest: str, image: Any) -> Any:
        with self.lock:
            kept = self.images.setdefault(digest, image)
            self.images.move_to_end(digest)
            while len(self.images) > IMAGE_CACHE:
                self.images.popitem(last=False)
        return kept

    def _image(self, ref: Any) -> Any:
        """The image a ``/v1/call`` request names by digest (sent with ``data`` the first time)."""
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
        return self._keep(digest, image)

    def describe(self) -> dict[str, Any]:
        return {"operators": list(self.specs), "backend": self.backend.name}

    def metrics(self) -> str:
        """Prometheus text exposition of the counters."""
        with self.lock:
            rows = {name: (c.requests, c.steps, c.batches, c.batch_size_sum, c.batch_size_max, c.operator_errors,
                           c.failures) for name, c in self.counters.items()}
            ready = 1 if self.state == "ready" else 0
        out = [prometheus("dicec_serve_ready", "gauge", "Whether the models are loaded and the server takes calls.",
                          [("", ready)])]
        metrics = (("requests_total", "counter", "Calls answered."),
                   ("steps_total", "counter", "Workflow steps answered (POST /v1/step; a step holds one or more calls)."),
                   ("batches_total", "counter", "Batches run."),
                   ("batch_size_sum", "counter", "Sum of the sizes of the batches run (over batches_total: the mean)."),
                   ("batch_size_max", "gauge", "Largest batch run."),
                   ("operator_errors_total", "counter", "Calls the operator failed on (answered, with 'error')."),
                   ("failures_total", "counter", "Calls that failed to run (a backend set-up problem; HTTP 500)."))
        for i, (name, kind, text) in enumerate(metrics):
            out.append(prometheus(f"dicec_serve_{name}", kind, text,
                                  [(f'{{operator="{op}"}}', row[i]) for op, row in rows.items()]))
        return "".join(out)


def preload(backend: Any, spec: Any) -> None:
    """Load ``spec``'s model now, so ready means loaded; a set-up problem raises DicecError.

    onnx: the operator's session (model file, checksum, tokeniser); builtin: the scene models for the
    operators they answer (the others load on their first call, as in ``dicec op``); seeded: nothing.
    """
    if backend.name == "onnx":
        backend.operator(spec)
    elif backend.name == "builtin" and hasattr(backend, f"op_{spec.name}"):
        backend.sessions()


def serve(options: ServeOptions, *, log: Log, announce: Callable[[str], None]) -> int:
    """Run until SIGTERM or SIGINT, then drain and return 0 (``dicec op serve``).

    ``announce`` gets one line, ``dicec serve: listening on URL (OPERATORS)``, once the port is bound
    (``--port 0`` users and ``dicec run`` read the port from it).
    """
    return serve_until_signal(ModelServer(options, log=log), log=log, announce=announce,
                              what=", ".join(options.operators))
