"""The ``onnx`` backend: every operator runs its own model file through its ``operator.py``.

For each operator the backend

1. locates the model file its spec names (``model.file``): a local path (a relative one is taken
   from the operator's folder) or a ``file://`` URI; any other scheme is one "not supported here"
   error, a missing file one "not found" line, and a pinned ``model.sha256`` is checked before the
   file is loaded (:mod:`dicec.runtime.models`);
2. creates ONE onnxruntime session per model file per process (CUDA requested when onnxruntime
   offers it, then ``get_providers()`` checked, one log line saying which provider runs it);
3. imports the operator's code (``spec.entry``, normally ``operator.py``) and builds its
   ``Operator(session, ...)`` once, injecting the keyword arguments its ``__init__`` accepts:

   * ``tokenize`` / ``detokenize``: from the **tokeniser seam**, a file ``tokenizer.py`` in the
     operator's folder defining ``load(model_path) -> {"tokenize": f, "detokenize": g}`` (it
     receives the model file's path, so it can read a vocabulary stored beside the model). An
     operator whose ``__init__`` takes ``tokenize`` and whose folder has no ``tokenizer.py`` is a
     set-up error naming the folder. dicec ships no vocabularies: put ``tokenizer.py`` in the
     folder (or in a copy of it given with ``--operators DIR``);
   * ``load_model``: ``load_model(file_name, sha256=None) -> session`` for a second model stored
     beside the first (``read_text`` loads PP-OCR's recogniser this way), through the same cache;

4. calls it on the receiver, by the parameters of its ``__call__``:

   * ``(images, ...)`` (``best_image_match``): the crops of the boxes in the first argument, then
     the remaining arguments; the answer is an index into that list;
   * ``(image, box=None)`` (``compute_depth``): the whole image and the receiver's box, so depth is
     read from one map of the whole image as ViperGPT does;
   * otherwise ``(crop, *args)`` for a method form (the receiver's pixels, (H, W, 3) uint8 RGB) and
     ``(None, *args)`` for a function form;

5. computes a batch (the model server's, :func:`dicec.runtime.backend.evaluate_batch`) in one go when
   the ``Operator`` defines ``batch(calls)``: ``calls`` is a list of ``(args, kwargs)``, each what one
   ``__call__`` would receive, and it returns one entry per call, the answer or the exception that call
   raised (``compute_depth`` stacks same-sized inputs into one ``session.run``). Should the hook itself
   raise, the batch is computed call by call (one log line), so a batch never answers differently
   from its calls one at a time; an operator without the hook is always called one call at a time.

The ``builtin`` backend (:mod:`dicec.runtime.scene.backend`) answers the scene operators with the
built-in scene models and hands every other operator to this backend with ``packaged=True``: an
operator listed in :data:`PACKAGED` (``read_text``) then takes its model files from the Python
package that ships them (rapidocr-onnxruntime's PP-OCR models) instead of the spec's folder; the
spec's pinned sha256 is checked either way. ``python -m dicec.runtime.onnxops DIR`` copies those
packaged files to ``DIR/<operator>/`` (the vision image does this at build time so that the spec
paths under ``/opt/dicec/models`` hold them for ``--models onnx``).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from dicec.errors import DicecError, Location
from dicec.runtime.calls import OperatorError, is_box
from dicec.runtime.models import ModelFile, load_session, model_path, verified_path

TOKENIZER_FILE = "tokenizer.py"

#: Operators whose model files ship inside a Python package: name -> (package, folder in it).
PACKAGED = {"read_text": ("rapidocr_onnxruntime", "models")}
#: How to install such a package without replacing onnxruntime-gpu (it depends on the CPU wheel).
PACKAGED_INSTALL = {"rapidocr_onnxruntime": "pip install --no-deps 'rapidocr-onnxruntime==1.4.4'"}


def packaged_folder(operator: str) -> Path:
    """The folder holding ``operator``'s model files inside its installed package (not imported)."""
    package, sub = PACKAGED[operator]
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise DicecError(f"the built-in models of {operator!r} are not installed (they ship in the Python package "
                         f"{package}): {PACKAGED_INSTALL.get(package, package)}")
    return Path(list(found.submodule_search_locations)[0]) / sub


class OnnxBackend:
    """Operators on onnxruntime, each from its spec's model file and its ``operator.py``."""

    name = "onnx"

    def __init__(self, *, packaged: bool = False, log: Callable[[str], None] | None = None) -> None:
        self.packaged = packaged
        self.log = log
        self._operators: dict[tuple, Any] = {}
        self._modules: dict[str, Any] = {}
        self._lock = threading.RLock()

    # -- locating and loading ------------------------------------------------------------------------
    def model_file(self, spec: Any, file: str | None = None, sha256: str | None = None) -> ModelFile:
        """The operator's model (or, with ``file``, a model stored beside it) as a :class:`ModelFile`."""
        if spec.model is None:
            raise DicecError(f"operator {spec.name!r} names no model file in its spec; the onnx backend runs "
                             "operators through their models", location=Location(path=str(spec.folder / "spec.yaml")))
        main = spec.model.file
        if self.packaged and spec.name in PACKAGED:
            main = str(packaged_folder(spec.name) / model_path(main).name)
        else:
            path = model_path(main)  # refuses other URI schemes
            if not path.is_absolute():
                main = str(Path(spec.folder) / path)
            else:
                main = str(path)
        if file is None:
            return ModelFile(name=f"{spec.name} ({spec.model.name})", file=main, sha256=spec.model.sha256)
        return ModelFile(name=f"{spec.name} ({file})", file=str(Path(main).parent / file), sha256=sha256)

    def module(self, spec: Any, entry: str) -> Any:
        path = Path(spec.folder) / entry
        key = str(path)
        with self._lock:
            if key not in self._modules:
                name = f"dicec_operator_{spec.name}_{abs(hash(key)):x}_{Path(entry).stem}"
                loader = importlib.util.spec_from_file_location(name, path)
                if loader is None or loader.loader is None:
                    raise DicecError(f"cannot import {entry}", location=Location(path=key))
                module = importlib.util.module_from_spec(loader)
                try:
                    loader.loader.exec_module(module)
                except Exception as exc:
                    raise DicecError(f"importing {entry} of operator {spec.name!r} failed: "
                                     f"{type(exc).__name__}: {exc}", location=Location(path=key)) from None
                self._modules[key] = module
            return self._modules[key]

    def operator(self, spec: Any) -> Any:
        """The operator's ``Operator`` instance, built once per process."""
        main = self.model_file(spec)
        key = (str(spec.folder), main.file)
        with self._lock:
            if key in self._operators:
                return self._operators[key]
            cls = getattr(self.module(spec, spec.entry), "Operator", None)
            if cls is None:
                raise DicecError(f"{spec.entry} of operator {spec.name!r} defines no Operator class",
                                 location=Location(path=str(Path(spec.folder) / spec.entry)))
            accepts = inspect.signature(cls).parameters
            verified_path(main)  # a missing model file is said first: what to mount where (dicec.runtime.models)
            kwargs: dict[str, Any] = {}
            if "tokenize" in accepts or "detokenize" in accepts:
                kwargs.update({k: v for k, v in self.tokenizers(spec, main).items() if k in accepts})
            if "load_model" in accepts:
                kwargs["load_model"] = lambda file, sha256=None: load_session(self.model_file(spec, file, sha256),
                                                                             log=self.log)
            session = load_session(main, log=self.log)
            try:
                op = cls(session, **kwargs)
            except DicecError:
                raise
            except Exception as exc:
                raise DicecError(f"operator {spec.name!r} could not be set up: {type(exc).__name__}: {exc}",
                                 location=Location(path=str(Path(spec.folder) / spec.entry))) from None
            self._operators[key] = op
            return op

    def tokenizers(self, spec: Any, main: ModelFile) -> dict[str, Callable]:
        """``tokenizer.py``'s ``load(model_path)`` from the operator's folder (the tokeniser seam)."""
        path = Path(spec.folder) / TOKENIZER_FILE
        if not path.is_file():
            raise DicecError(f"operator {spec.name!r} needs a tokeniser: add {TOKENIZER_FILE} defining "
                             "load(model_path) -> {'tokenize': ..., 'detokenize': ...} to its folder "
                             "(or to a copy given with --operators DIR)", location=Location(path=str(spec.folder)))
        load = getattr(self.module(spec, TOKENIZER_FILE), "load", None)
        if not callable(load):
            raise DicecError(f"{TOKENIZER_FILE} defines no load(model_path) function", location=Location(path=str(path)))
        try:
            found = load(model_path(main.file))
        except Exception as exc:
            raise DicecError(f"the tokeniser of operator {spec.name!r} failed to load: {type(exc).__name__}: {exc}",
                             location=Location(path=str(path))) from None
        if not isinstance(found, dict) or not all(callable(v) for v in found.values()):
            raise DicecError(f"{TOKENIZER_FILE}: load() must return a dict of callables (tokenize, detokenize)",
                             location=Location(path=str(path)))
        return found

    # -- calling -------------------------------------------------------------------------------------
    def compute(self, spec: Any, form: Any, image: Any, patch: dict | None, args: list) -> Any:
        op = self.operator(spec)
        positional, keywords = self.arguments(spec, form, op, image, patch, args)
        return op(*positional, **keywords)

    def arguments(self, spec: Any, form: Any, op: Any, image: Any, patch: dict | None,
                  args: list) -> tuple[tuple, dict[str, Any]]:
        """What ``op`` is called with for one call (see the module docstring, step 4)."""
        params = list(inspect.signature(op).parameters)
        first = params[0] if params else ""
        if first == "images":
            if not args or not isinstance(args[0], list) or not all(is_box(b) for b in args[0]):
                raise OperatorError(f"{spec.name} needs a list of patches as its first argument")
            return ([image.crop(b) for b in args[0]], *args[1:]), {}
        if "box" in params:
            return (image.pixels, *args), {"box": patch}
        if form.kind == "method":
            if patch is None:
                raise OperatorError(f"{spec.name} is a method but has no patch")
            return (image.crop(patch), *args), {}
        return (None, *args), {}

    def compute_batch(self, spec: Any, form: Any, items: list[tuple[Any, dict | None, list]]) -> list[Any]:
        """Raw answers (or the exception each call raised) of several calls of one operator, in order.

        The operator's ``batch`` hook computes them in one go where it has one (step 5 of the module
        docstring); otherwise, or should the hook fail, each call runs alone. The operator's set-up
        (DicecError) fails the whole batch, as it would fail each call.
        """
        op = self.operator(spec)
        out: list[Any] = [None] * len(items)
        ready: list[int] = []
        calls: list[tuple[tuple, dict[str, Any]]] = []
        for i, (image, patch, args) in enumerate(items):
            try:
                calls.append(self.arguments(spec, form, op, image, patch, args))
                ready.append(i)
            except Exception as exc:  # this call's receiver or arguments: its own error
                out[i] = exc
        hook = getattr(op, "batch", None)
        answers: list[Any] | None = None
        if callable(hook) and len(calls) > 1:
            try:
                answers = list(hook(calls))
                if len(answers) != len(calls):
                    raise ValueError(f"it answered {len(answers)} of {len(calls)} calls")
            except DicecError:
                raise
            except Exception as exc:  # a bug or a model that refuses a batch: fall back, answers stay right
                answers = None
                if self.log is not None:
                    self.log(f"onnxruntime: the batch hook of {spec.name} failed ({type(exc).__name__}: {exc}); "
                             f"computing its {len(calls)} calls one at a time")
        if answers is None:
            answers = [_call_one(op, positional, keywords) for positional, keywords in calls]
        for i, answer in zip(ready, answers):
            out[i] = answer
        return out


def _call_one(op: Any, positional: tuple, keywords: dict[str, Any]) -> Any:
    """``op(*positional, **keywords)``, or the exception it raised (that call's outcome)."""
    try:
        return op(*positional, **keywords)
    except Exception as exc:
        return exc


def copy_packaged(folder: Path) -> list[Path]:
    """Copy the packaged model files of :data:`PACKAGED` operators to ``folder/<operator>/``."""
    from dicec.files import write_atomic

    out = []
    for op in PACKAGED:
        source = packaged_folder(op)
        target = folder / op
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted(source.glob("*.onnx")):
            write_atomic(target / f.name, f.read_bytes())
            out.append(target / f.name)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m dicec.runtime.onnxops DIR  (copies packaged model files to DIR/<operator>/)",
              file=sys.stderr)
        sys.exit(2)
    try:
        for p in copy_packaged(Path(sys.argv[1])):
            print(p)
    except DicecError as exc:
        print(f"dicec: {exc}", file=sys.stderr)
        sys.exit(1)
