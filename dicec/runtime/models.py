"""Loading ONNX model files: located as a spec names them, sha256-checked, one session per process.

Before the first CUDA session of a process, ``onnxruntime.preload_dlls()`` (onnxruntime >= 1.21) loads the CUDA
and cuDNN libraries the ``onnxruntime-gpu[cuda,cudnn]`` extras install as ``nvidia-*`` wheels, so an image needs
only the GPU driver (``images/Dockerfile.vision``); what it prints is kept off standard output.

A model reference is a local path or a ``file://`` URI (any other scheme is refused here: models are
baked into the image or mounted, never downloaded by a step) and, when pinned, its sha256. The
session asks for the CUDA provider when onnxruntime offers it, then checks ``get_providers()``
(a CUDA request falls back to CPU silently when no GPU is usable). onnxruntime's own warnings are
silenced; what happened is said in dicec's words: one line per model naming its provider, in the
step's log (or on stderr only when verbose, ``dicec -v``, :mod:`dicec.verbosity`), and that CUDA was
requested but is not usable once per process, only when verbose.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from dicec.errors import DicecError, Location

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True, kw_only=True)
class ModelFile:
    """Where a model file is and what it must hash to.

    Attributes:
        name: a short name for messages and the provider log line.
        file: a local path or ``file://`` URI.
        sha256: 64 hex digits, or ``None`` for an unpinned file (not checked).
    """

    name: str
    file: str
    sha256: str | None


def model_path(file: str) -> Path:
    """The local path of a model reference; other URI schemes are a clear error."""
    from dicec.files import local_file

    return local_file(file, what="model location", elsewhere="bake the model into the image or mount it")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_path(model: ModelFile) -> Path:
    """The model's file, present and matching its checksum, or a one-line error."""
    path = model_path(model.file)
    where = Location(path=str(path))
    if not path.is_file():
        raise DicecError(f"model file for {model.name} not found: put the exported ONNX file at {path} (mount a volume "
                         f"holding it at {path.parent}, or build an image FROM dicec's that copies it there), or run "
                         "the built-in models instead (DICEC_MODELS=builtin, the vision image's default)", location=where)
    if model.sha256 is not None:
        actual = sha256_of(path)
        if actual != model.sha256:
            raise DicecError(f"model file for {model.name} fails its checksum (sha256 {actual[:12]}..., "
                             f"expected {model.sha256[:12]}...)", location=where)
    return path


_SESSIONS: dict[tuple[str, str | None], Any] = {}
_LOCK = threading.Lock()


def load_session(model: ModelFile, *, log: Callable[[str], None] | None = None, ort: Any = None) -> Any:
    """An onnxruntime session for ``model``, created once per process (CUDA if usable, else CPU)."""
    key = (str(model_path(model.file)), model.sha256)
    with _LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        path = verified_path(model)
        if ort is None:
            import onnxruntime as ort
        available = list(ort.get_available_providers())
        wanted = [CUDA, CPU] if CUDA in available else [CPU]
        if CUDA in wanted:
            preload_cuda(ort)
        if hasattr(ort, "set_default_logger_severity"):
            ort.set_default_logger_severity(4)  # onnxruntime's own CUDA-loading noise; we log one line
        options = ort.SessionOptions()
        options.log_severity_level = 3  # the fallback is reported below, once, in our words
        try:
            with _stdout_of_this_thread() as printed:  # its "EP Error" banner, printed when CUDA fails
                session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)
        except Exception as exc:  # onnxruntime raises its own types for a corrupt file
            raise DicecError(f"model file for {model.name} cannot be loaded: {str(exc).splitlines()[0]}",
                             location=Location(path=str(path))) from None
        if printed:
            from dicec import verbosity

            verbosity.detail(f"onnxruntime said, loading {model.name}: " + " ".join("".join(printed).split())[:300])
        used = session.get_providers()
        _report(model.name, on_cuda=CUDA in used, fell_back=CUDA in wanted and CUDA not in used, log=log)
        _SESSIONS[key] = session
        return session


_PRELOADED: list[bool] = []


def preload_cuda(ort: Any) -> None:
    """``ort.preload_dlls()`` once per process (under the session lock), where this onnxruntime has it: the pip
    CUDA and cuDNN libraries loaded before the CUDA provider needs them. What it prints (a library it could not
    load) and warns is kept off standard output and stderr and said when verbose; the CUDA fallback line then follows as usual."""
    if _PRELOADED or not hasattr(ort, "preload_dlls"):
        return
    _PRELOADED.append(True)
    try:
        with _stdout_of_this_thread() as printed, warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            ort.preload_dlls()
        printed = [*printed, *(f" {w.message}" for w in warned)]  # its CUDA plugin's registration warns
    except Exception as exc:  # a directory it expects is absent: the CUDA session then falls back, as without it
        printed = [f"{type(exc).__name__}: {exc}"]
    if printed:
        from dicec import verbosity

        verbosity.detail("onnxruntime.preload_dlls said: " + " ".join("".join(printed).split())[:300],
                         once="onnxruntime-preload")


class _ThreadStdout:
    """``sys.stdout`` while a session is created: text this thread prints is kept, other threads' passes on.

    onnxruntime's Python wrapper *prints* (to standard output) an "EP Error" banner when the CUDA provider
    cannot be created and it falls back to the CPU. Standard output is where ``dicec exec --format json``
    writes its JSON and ``dicec op serve`` its URL (from another thread, while the models load), so the
    banner is taken off it here, for this thread only, and reported in our words when verbose.
    """

    def __init__(self, real: Any) -> None:
        self.real, self.thread, self.kept = real, threading.get_ident(), []

    def write(self, text: str) -> int:
        if threading.get_ident() == self.thread:
            self.kept.append(text)
            return len(text)
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextlib.contextmanager
def _stdout_of_this_thread() -> Iterator[list[str]]:
    """Keep what this thread prints to standard output in the block (the list yielded)."""
    real = sys.stdout
    proxy = _ThreadStdout(real)
    sys.stdout = proxy
    try:
        yield proxy.kept
    finally:
        sys.stdout = real


def _report(name: str, *, on_cuda: bool, fell_back: bool, log: Callable[[str], None] | None) -> None:
    """Which provider runs ``name``: into ``log`` where the caller keeps one (a step's log), else on
    stderr when verbose; the CUDA fallback, verbose only, once per process."""
    from dicec import verbosity

    if fell_back:
        verbosity.detail("onnxruntime: CUDA was requested but is not usable here; models run on CPU",
                         once="onnxruntime-cuda-fallback")
    line = f"onnxruntime: {name} runs on {'CUDA' if on_cuda else 'CPU'}"
    if log is not None:
        log(line)
    else:
        verbosity.detail(line)
