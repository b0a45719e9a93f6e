"""Operator backends and evaluating one canonical call with one.

A backend turns a canonical call (operator spec, the input image, the receiver's box, JSON
arguments) into the operator's raw answer; :func:`evaluate` turns that into the call's JSON value
(see :mod:`dicec.runtime.calls`) or a recorded error; :func:`evaluate_batch` does that for several calls
of one operator (the model server's batches) in one backend computation where the backend offers
``compute_batch`` (the ``onnx`` backend, for operators that define a ``batch`` hook), each call keeping
its own value or error. Backends:

* ``seeded`` (:mod:`dicec.runtime.seeded`): for testing and simulation; answers depend only on
  (operator, image bytes, box, arguments) through a hash, so any program runs without models and
  the serial and parallel answers can be compared exactly;
* ``builtin`` (:mod:`dicec.runtime.scene`): the built-in scene models (ONNX graphs the project
  builds, for solid shapes on a plain background) for the ViperGPT operators, text reading
  (``read_text``, PP-OCR models shipped by rapidocr-onnxruntime), and any other operator through
  ``onnx`` when its model file is here (else that call raises: "no built-in model");
* ``onnx`` (:mod:`dicec.runtime.onnxops`): the production path, every operator on the model file
  its spec names (sha256-checked, one onnxruntime session per model per process) through its
  ``operator.py``; a missing or mismatching model stops the step. The vision image sets ``builtin`` (what it
  carries answers); ``DICEC_MODELS=onnx`` where the production model files are mounted.

Steps do not take a ``--models`` flag in the emitted workflow, so the backend is chosen by the
``DICEC_MODELS`` environment variable (``dicec run --models`` sets it for its steps); the default is
``builtin``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Protocol, Sequence

from dicec.errors import DicecError
from dicec.runtime.calls import Call, OperatorError, value_of

MODELS_ENV = "DICEC_MODELS"
OPERATORS_ENV = "DICEC_OPERATORS"
BACKENDS = ("builtin", "onnx", "seeded")
DEFAULT_BACKEND = "builtin"


class Backend(Protocol):
    """Computes operator calls."""

    name: str

    def compute(self, spec: Any, form: Any, image: Any, patch: dict | None, args: list) -> Any:
        """The raw answer: local boxes for ``patches`` results, an index for ``patch``, else a value."""

    # Optional: ``compute_batch(spec, form, items) -> list`` where ``items`` are (image, patch, args) tuples
    # of calls of one operator in one form; it returns one entry per item, in order: the raw answer, or
    # the exception that item raised (an operator error of that call only; a DicecError there is a set-up
    # problem of that call). Raising instead is a set-up problem of the whole batch. A backend without it
    # is evaluated one call at a time (:func:`evaluate_batch`).


#: One call of a batch: its image and its canonical call.
BatchItem = tuple[Any, Call]


def evaluate(backend: Backend, spec: Any, form: Any, image: Any, call: Call) -> tuple[Any, str | None]:
    """(value, None) or (empty value, error message) for ``call``; bad setup (DicecError) propagates.

    A backend with an ``evaluate_call(spec, form, image, call)`` method evaluates the whole call itself:
    the services-mode step's backend, whose model server runs this function (:mod:`dicec.runtime.client`).
    """
    remote = getattr(backend, "evaluate_call", None)
    if remote is not None:
        return remote(spec, form, image, call)
    return settle(form, call, lambda: backend.compute(spec, form, image, call.patch, list(call.args)))


def settle(form: Any, call: Call, compute: Callable[[], Any]) -> tuple[Any, str | None]:
    """(value, None) from ``compute()``'s raw answer, or (empty value, error) when it or the value fails.

    A DicecError (a set-up problem, not this input's) propagates.
    """
    try:
        raw = compute()
        return value_of(form.result, raw, call.patch, call, form.params), None
    except DicecError:
        raise
    except Exception as exc:  # the operator failed on this input: the program sees it raise
        text = str(exc) if isinstance(exc, OperatorError) else f"{type(exc).__name__}: {exc}"
        return empty_value(form.result), f"{call.operator}: {text}"


def evaluate_batch(backend: Backend, spec: Any, form: Any, items: Sequence[BatchItem]) -> list[Any]:
    """:func:`evaluate` of several calls of one operator and form, as one backend computation where it can.

    Returns one outcome per item, in order: (value, error) exactly as :func:`evaluate` gives it, or the
    DicecError that item's set-up raised; one call's failure never fails the others. A backend with
    ``compute_batch`` computes them in one go (a DicecError it raises fails the whole batch, and
    propagates); any other backend, a remote one, or a batch of one is evaluated call by call.
    """
    batch = getattr(backend, "compute_batch", None)
    if batch is None or len(items) < 2 or getattr(backend, "evaluate_call", None) is not None:
        out: list[Any] = []
        for image, call in items:
            try:
                out.append(evaluate(backend, spec, form, image, call))
            except DicecError as exc:
                out.append(exc)
        return out
    raws = batch(spec, form, [(image, call.patch, list(call.args)) for image, call in items])
    if len(raws) != len(items):
        raise DicecError(f"the {backend.name} backend answered {len(raws)} of a batch of {len(items)} "
                         f"{spec.name} calls")
    out = []
    for (_, call), raw in zip(items, raws):
        try:
            out.append(settle(form, call, lambda raw=raw: _raise(raw) if isinstance(raw, BaseException) else raw))
        except DicecError as exc:
            out.append(exc)
    return out


def _raise(exc: BaseException) -> Any:
    raise exc


def empty_value(kind: str) -> Any:
    """The value of a call that did not run: ``[]`` for a patch list (fan-outs need a list), else null."""
    return [] if kind == "patches" else None


_BACKENDS: dict[str, Backend] = {}
_LOCK = threading.Lock()


def get_backend(name: str | None = None) -> Backend:
    """The process-wide backend ``name`` (default: ``$DICEC_MODELS`` or builtin); models load once."""
    name = name or os.environ.get(MODELS_ENV) or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise DicecError(f"unknown model backend {name!r} (available: {', '.join(BACKENDS)})")
    with _LOCK:
        if name not in _BACKENDS:
            if name == "seeded":
                from dicec.runtime.seeded import SeededBackend

                _BACKENDS[name] = SeededBackend()
            elif name == "onnx":
                from dicec.runtime.onnxops import OnnxBackend

                _BACKENDS[name] = OnnxBackend()
            else:
                from dicec.runtime.scene.backend import BuiltinBackend

                _BACKENDS[name] = BuiltinBackend()
        return _BACKENDS[name]


_REGISTRIES: dict[tuple[str, ...], Any] = {}


def registry_for(operator_dirs: tuple[str, ...] = ()) -> Any:
    """The operator registry: built-ins, entry points, ``$DICEC_OPERATORS`` folders, then ``operator_dirs``.

    Cached per process and folder list (an in-process ``dicec run`` asks once per step).
    """
    from dicec.tools import discover

    extra = tuple(d for d in os.environ.get(OPERATORS_ENV, "").split(os.pathsep) if d)
    key = (*extra, *operator_dirs)
    with _LOCK:
        if key not in _REGISTRIES:
            _REGISTRIES[key] = discover(list(key))
        return _REGISTRIES[key]
