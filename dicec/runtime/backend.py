"""Operator backends and evaluating one canonical call with one.

A backend turns a canonical call (operator spec, the input image, the receiver's box, JSON
arguments) into the operator's raw answer; :func:`evaluate` turns that into the call's JSON value
(see :mod:`dicec.runtime.calls`) or a recorded error. Backends:

* ``seeded`` (:mod:`dicec.runtime.seeded`): for testing and simulation; answers depend only on
  (operator, image bytes, box, arguments) through a hash, so any program runs without models and
  the serial and parallel answers can be compared exactly;
* ``builtin`` (:mod:`dicec.runtime.scene`): the built-in scene models (ONNX graphs the project
  builds, for solid shapes on a plain background) for the ViperGPT operators, text reading
  (``read_text``, PP-OCR models shipped by rapidocr-onnxruntime), and any other operator through
  ``onnx`` when its model file is here (else that call raises: "no built-in model");
* ``onnx`` (:mod:`dicec.runtime.onnxops`): the production path, every operator on the model file
  its spec names (sha256-checked, one onnxruntime session per model per process) through its
  ``operator.py``; a missing or mismatching model stops the step. The vision image sets it.

Steps do not take a ``--models`` flag in the emitted workflow, so the backend is chosen by the
``DICEC_MODELS`` environment variable (``dicec run --models`` sets it for its steps); the default is
``builtin``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol

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


def evaluate(backend: Backend, spec: Any, form: Any, image: Any, call: Call) -> tuple[Any, str | None]:
    """(value, None) or (empty value, error message) for ``call``; bad setup (DicecError) propagates.

    A backend with an ``evaluate_call(spec, form, image, call)`` method evaluates the whole call itself:
    the services-mode step's backend, whose model server runs this function (:mod:`dicec.runtime.client`).
    """
    remote = getattr(backend, "evaluate_call", None)
    if remote is not None:
        return remote(spec, form, image, call)
    try:
        raw = backend.compute(spec, form, image, call.patch, list(call.args))
        return value_of(form.result, raw, call.patch, call, form.params), None
    except DicecError:
        raise
    except Exception as exc:  # the operator failed on this input: the program sees it raise
        text = str(exc) if isinstance(exc, OperatorError) else f"{type(exc).__name__}: {exc}"
        return empty_value(form.result), f"{call.operator}: {text}"


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
