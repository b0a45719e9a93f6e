"""The operator spec: what one vision operator is, read from its ``spec.yaml``.

A spec says how programs call the operator (its Python signature, as a method of ``ImagePatch``, a
module function, or both), what it returns, what the prompt tells the LLM about it, which container
image and model file run it, and its GPU profile (memory, model-load time, latency per GPU class),
every figure with the source it came from. Specs are validated where they are read, so a broken
operator folder is one clear error naming the file.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dicec.errors import DicecError, Location

SPEC_FILE = "spec.yaml"
SPEC_VERSION = 1

#: The GPU classes every built-in operator lists a latency for (derived in operators/SOURCES.md). GPU
#: classes are data: a profile may list any class name and a pool catalogue may name any class; a
#: class a spec does not list gets a latency derived from the spec's ``work`` and the pool's datasheet
#: figures (dicec.timing.figures).
GPU_CLASSES = ("A4000", "A6000", "A100")
#: What a GPU class name looks like: a letter or digit, then letters, digits, ``-``, ``_`` or ``.``.
GPU_CLASS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
#: Edge devices' GPU classes (an ``edge: true`` pool); an operator may run on one only if it gives a
#: latency for it (see dicec.placement.edge). ORIN: NVIDIA Jetson AGX Orin.
EDGE_GPU_CLASSES = ("ORIN",)
#: The class of a pool calibrated on one machine (dicec.simulate.calibrate): figures measured there,
#: written into an --operators overlay; no shipped operator or catalogue names it.
LOCAL_GPU_CLASSES = ("LOCAL",)

#: What an operator's result is, derived from its return annotation. ``patches`` results can be
#: looped over (fan-out); ``patch`` results can be called on; the rest are plain JSON values.
RESULT_KINDS = {
    "list[ImagePatch]": "patches",
    "List[ImagePatch]": "patches",
    "ImagePatch": "patch",
    "bool": "bool",
    "str": "str",
    "float": "float",
    "int": "int",
    "ImagePatch | int": "patch",
}

#: What of the image an operator's call needs (the spec's optional ``reads``; see OperatorSpec).
READS = ("patch", "frame")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FIGURES = ("gpu_memory_gb", "model_load_s", "latency_s")
_WORK_KEYS = ("tflop", "tensor_utilisation", "memory_gb", "bandwidth_utilisation", "memory_shared", "overhead_s")


@dataclass(frozen=True, kw_only=True)
class Param:
    """One parameter of an operator's call form.

    Attributes:
        name: the parameter name, as programs may pass it by keyword.
        annotation: its type as written in the signature (informational, shown in the prompt).
        has_default: whether it may be left out.
        default: the default value (a Python literal) when ``has_default``.
    """

    name: str
    annotation: str = ""
    has_default: bool = False
    default: Any = None


@dataclass(frozen=True, kw_only=True)
class Form:
    """One way programs call an operator.

    Attributes:
        kind: ``"method"`` (``patch.NAME(...)``, the receiver is an ImagePatch) or ``"function"``
            (``NAME(...)`` at module level).
        signature: the Python signature as written in the spec, without ``self``.
        params: the parameters, in order.
        returns: the return annotation as written.
        result: the result kind (see :data:`RESULT_KINDS`).
    """

    kind: str
    signature: str
    params: tuple[Param, ...]
    returns: str
    result: str

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if not p.has_default)

    @property
    def max_args(self) -> int:
        return len(self.params)


@dataclass(frozen=True, kw_only=True)
class Work:
    """The work of one call, from which its latency on any GPU class with datasheet figures is derived
    (:func:`dicec.timing.figures.derived_latency`), as operators/SOURCES.md derives the listed ones.

    Attributes:
        tflop: compute-bound work per call, in TFLOP (10^12 floating-point operations).
        tensor_utilisation: the assumed share of the dense FP16 tensor peak that work reaches, in (0, 1].
        memory_gb: memory-bound traffic per call, in GB (10^9 bytes): weights read per decoding step
            times steps, or activation traffic.
        bandwidth_utilisation: the assumed share of the memory bandwidth that traffic reaches, in (0, 1].
        memory_shared: whether that traffic is model weights, which a batch of calls reads once.
        overhead_s: fixed seconds per call (pre- and post-processing, kernel launches).
    """

    tflop: float
    tensor_utilisation: float
    memory_gb: float
    bandwidth_utilisation: float
    memory_shared: bool
    overhead_s: float

    def __post_init__(self) -> None:
        for name in ("tensor_utilisation", "bandwidth_utilisation"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"profile.work.{name} must be a fraction in (0, 1] (got {value})")
        if self.tflop < 0 or self.memory_gb < 0 or self.overhead_s < 0:
            raise ValueError("profile.work figures must not be negative")

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _WORK_KEYS}


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Resource figures for placement and cost, each backed by a source.

    Attributes:
        gpu_memory_gb: GPU memory the loaded model needs; 0 means the operator runs on CPU.
        model_load_s: seconds to load the model into a fresh process.
        latency_s: seconds per call, by GPU class (any class name; ``CPU`` for a CPU operator).
        sources: for each figure above (and ``work`` when given), where it came from (model card,
            paper, measurement, derivation).
        work: the work of one call, from which the latency on a class not in ``latency_s`` is derived;
            ``None`` when the spec does not give it (then only the listed classes run it).
    """

    gpu_memory_gb: float
    model_load_s: float
    latency_s: dict[str, float]
    sources: dict[str, str]
    work: Work | None = None


@dataclass(frozen=True, kw_only=True)
class ModelRef:
    """The model file an operator loads.

    Attributes:
        name: the model's public name (e.g. ``GLIP-L``).
        file: path of the ONNX file inside the container image (or ``file://`` URI).
        sha256: its checksum, or ``None`` while no exported file is pinned.
        reference: where the model comes from (paper or model card).
    """

    name: str
    file: str
    sha256: str | None
    reference: str


@dataclass(frozen=True, kw_only=True)
class OperatorSpec:
    """A vision operator, as read from ``<folder>/spec.yaml``.

    Attributes:
        name: the operator's name, which is also the method or function name programs call.
        doc: one line for the prompt: what it does.
        forms: how programs call it (method and/or function).
        image: the container image whose ``dicec op NAME`` runs it.
        model: the model file it loads, or ``None`` for a model-free operator.
        profile: GPU memory, load time and latency figures with sources.
        entry: the file (relative to ``folder``) holding the operator's code.
        folder: the operator folder it was read from.
        origin: where discovery found it (``builtin``, ``entry-point:NAME`` or ``dir:PATH``).
        reads: what of the image a call needs: ``patch`` (only its receiver's pixels, and those of
            patches passed as arguments; the default) or ``frame`` (the whole frame, e.g. a depth
            model run on the full image). Only ``patch`` operators can be sent an edge detection's
            crops instead of the frame (:mod:`dicec.placement.edge`).
    """

    name: str
    doc: str
    forms: tuple[Form, ...]
    image: str
    model: ModelRef | None
    profile: Profile
    entry: str
    folder: Path
    origin: str = "builtin"
    reads: str = "patch"

    def form(self, kind: str) -> Form | None:
        """The call form of ``kind`` (``method`` or ``function``), if the operator has one."""
        for f in self.forms:
            if f.kind == kind:
                return f
        return None

    @property
    def uses_gpu(self) -> bool:
        return self.profile.gpu_memory_gb > 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``dicec tools --format json`` prints)."""
        return {
            "name": self.name,
            "doc": self.doc,
            "forms": [
                {"kind": f.kind, "signature": f.signature, "result": f.result,
                 "min_args": f.min_args, "max_args": f.max_args}
                for f in self.forms
            ],
            "image": self.image,
            "model": None if self.model is None else {
                "name": self.model.name, "file": self.model.file,
                "sha256": self.model.sha256, "reference": self.model.reference},
            "profile": {
                "gpu_memory_gb": self.profile.gpu_memory_gb,
                "model_load_s": self.profile.model_load_s,
                "latency_s": dict(sorted(self.profile.latency_s.items())),
                "sources": dict(sorted(self.profile.sources.items())),
                **({"work": self.profile.work.to_json()} if self.profile.work is not None else {}),
            },
            "entry": self.entry,
            "reads": self.reads,
            "origin": self.origin,
            "folder": str(self.folder),
        }


def load_spec(folder: Path, *, origin: str) -> OperatorSpec:
    """Read and validate ``folder/spec.yaml``; raise :class:`DicecError` naming the file on any problem."""
    path = folder / SPEC_FILE
    where = Location(path=str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DicecError(f"cannot read operator spec: {exc}", location=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DicecError(f"operator spec is not valid YAML: {getattr(exc, 'problem', exc)}",
                         location=Location(path=str(path), line=line)) from None
    return parse_spec(raw, folder=folder, origin=origin, where=where)


def parse_spec(raw: Any, *, folder: Path, origin: str, where: Location) -> OperatorSpec:
    """Validate a decoded spec mapping and build the :class:`OperatorSpec`."""

    def fail(msg: str) -> DicecError:
        return DicecError(f"operator spec: {msg}", location=where)

    if not isinstance(raw, dict):
        raise fail("expected a mapping at the top level")
    known = {"version", "name", "doc", "forms", "image", "model", "profile", "entry", "reads"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    if raw.get("version") != SPEC_VERSION:
        raise fail(f"'version' must be {SPEC_VERSION}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("'name' must be a lower-case Python identifier")
    doc = _text(raw, "doc", fail)
    image = _text(raw, "image", fail)
    entry = _text(raw, "entry", fail)
    if not (folder / entry).is_file():
        raise fail(f"entry {entry!r} is not a file in {folder}")

    forms_raw = raw.get("forms")
    if not isinstance(forms_raw, list) or not forms_raw:
        raise fail("'forms' must be a non-empty list of {kind, signature}")
    forms = []
    for item in forms_raw:
        if not isinstance(item, dict) or set(item) != {"kind", "signature"}:
            raise fail("each form must have exactly 'kind' and 'signature'")
        forms.append(_parse_form(name, item["kind"], item["signature"], fail))
    kinds = [f.kind for f in forms]
    if len(set(kinds)) != len(kinds):
        raise fail("a form kind appears twice")

    model = None
    if raw.get("model") is not None:
        m = raw["model"]
        if not isinstance(m, dict) or not {"name", "file", "reference"} <= set(m) or set(m) - {"name", "file", "sha256", "reference"}:
            raise fail("'model' needs name, file, reference (and optionally sha256)")
        sha = m.get("sha256")
        if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
            raise fail("'model.sha256' must be 64 lower-case hex digits")
        model = ModelRef(name=str(m["name"]), file=str(m["file"]), sha256=sha, reference=str(m["reference"]))

    profile = _parse_profile(raw.get("profile"), fail)
    reads = raw.get("reads", "patch")
    if reads not in READS:
        raise fail(f"'reads' must be one of {', '.join(READS)}, not {reads!r}")
    if reads != "frame" and _takes_the_frame(folder / entry):
        raise fail(f"{entry}: Operator.__call__ takes 'box' (the whole frame and the patch's box), so the spec "
                   "must say 'reads: frame' (an operator fed an edge detection's crops never sees the frame)")
    return OperatorSpec(name=name, doc=doc, forms=tuple(forms), image=image, model=model,
                        profile=profile, entry=entry, folder=folder, origin=origin, reads=reads)


def _takes_the_frame(entry: Path) -> bool:
    """Whether the entry's ``Operator.__call__`` has a ``box`` parameter: the onnx backend then passes it
    the whole frame (:mod:`dicec.runtime.onnxops`). Read with ``ast``, never imported here."""
    try:
        tree = ast.parse(entry.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return False  # the backend reports an unloadable entry where it loads it
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Operator":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__call__":
                    return any(a.arg == "box" for a in [*item.args.args, *item.args.kwonlyargs])
    return False


def _text(raw: dict, key: str, fail) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"'{key}' must be a non-empty string")
    return " ".join(value.split())


def _parse_form(name: str, kind: Any, signature: Any, fail) -> Form:
    if kind not in ("method", "function"):
        raise fail(f"form kind must be 'method' or 'function', not {kind!r}")
    if not isinstance(signature, str):
        raise fail("form signature must be a string")
    try:
        tree = ast.parse(f"def {signature}: ...")
    except SyntaxError:
        raise fail(f"signature {signature!r} is not a Python signature") from None
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef) or fn.name != name:
        raise fail(f"signature {signature!r} must start with the operator name {name!r}")
    args = fn.args
    if args.vararg or args.kwarg or args.posonlyargs or args.kwonlyargs:
        raise fail(f"signature {signature!r}: only plain positional-or-keyword parameters are supported")
    if args.args and args.args[0].arg == "self":
        raise fail(f"signature {signature!r}: leave out 'self'")
    first_default = len(args.args) - len(args.defaults)
    params = []
    for i, a in enumerate(args.args):
        default = None
        if i >= first_default:
            try:
                default = ast.literal_eval(args.defaults[i - first_default])
            except ValueError:
                raise fail(f"signature {signature!r}: the default of {a.arg!r} must be a literal") from None
        params.append(Param(name=a.arg, annotation=ast.unparse(a.annotation) if a.annotation else "",
                            has_default=i >= first_default, default=default))
    params = tuple(params)
    if fn.returns is None:
        raise fail(f"signature {signature!r} needs a return annotation")
    returns = ast.unparse(fn.returns)
    result = RESULT_KINDS.get(returns)
    if result is None:
        raise fail(f"signature {signature!r}: return type {returns!r} is not one of {', '.join(sorted(RESULT_KINDS))}")
    return Form(kind=kind, signature=signature, params=params, returns=returns, result=result)


def _parse_profile(p: Any, fail) -> Profile:
    if not isinstance(p, dict):
        raise fail("'profile' must be a mapping with gpu_memory_gb, model_load_s, latency_s, sources")
    extra = sorted(set(p) - {*_FIGURES, "sources", "work"})
    if extra:
        raise fail(f"profile: unknown key {extra[0]!r}")

    def number(value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise fail(f"profile.{what} must be a number >= 0")
        return float(value)

    mem = number(p.get("gpu_memory_gb"), "gpu_memory_gb")
    load = number(p.get("model_load_s"), "model_load_s")
    lat_raw = p.get("latency_s")
    if not isinstance(lat_raw, dict) or not lat_raw:
        raise fail("profile.latency_s must map GPU classes (or 'CPU') to seconds")
    latency = {}
    for cls, value in lat_raw.items():
        if not isinstance(cls, str) or not GPU_CLASS_NAME.match(cls):
            raise fail(f"profile.latency_s: {cls!r} is not a GPU class name (letters, digits, '-', '_', '.'; "
                       "e.g. A100, T4, L40S) or CPU")
        latency[cls] = number(value, f"latency_s.{cls}")
        if latency[cls] == 0:
            raise fail(f"profile.latency_s.{cls} must be > 0")
    work = _parse_work(p.get("work"), fail)
    if mem > 0 and not set(latency) - {"CPU"} and work is None:
        raise fail("profile.latency_s needs at least one GPU class (or profile.work to derive them) for an "
                   "operator that uses GPU memory")
    sources = p.get("sources")
    if not isinstance(sources, dict):
        raise fail("profile.sources must give a source for each figure")
    needed = _FIGURES + (("work",) if work is not None else ())
    for fig in needed:
        src = sources.get(fig)
        if not isinstance(src, str) or not src.strip():
            raise fail(f"profile.sources.{fig} is missing: every figure needs its source")
    if set(sources) - set(needed):
        raise fail(f"profile.sources: unknown figure {sorted(set(sources) - set(needed))[0]!r}")
    return Profile(gpu_memory_gb=mem, model_load_s=load, latency_s=latency,
                   sources={k: " ".join(v.split()) for k, v in sources.items()}, work=work)


def _parse_work(raw: Any, fail) -> Work | None:
    """``profile.work``: the work of one call (see :class:`Work`), or ``None`` when absent."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail(f"profile.work must be a mapping of {', '.join(_WORK_KEYS)}")
    unknown = sorted(set(raw) - set(_WORK_KEYS))
    if unknown:
        raise fail(f"profile.work: unknown key {unknown[0]!r} (known: {', '.join(_WORK_KEYS)})")
    values: dict[str, Any] = {}
    defaults = {"tflop": 0.0, "tensor_utilisation": 1.0, "memory_gb": 0.0, "bandwidth_utilisation": 0.6,
                "memory_shared": False, "overhead_s": 0.0}
    for key in _WORK_KEYS:
        value = raw.get(key, defaults[key])
        if key == "memory_shared":
            if not isinstance(value, bool):
                raise fail("profile.work.memory_shared must be true or false")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise fail(f"profile.work.{key} must be a number >= 0")
        values[key] = value if key == "memory_shared" else float(value)
    if values["tflop"] == 0 and values["memory_gb"] == 0 and values["overhead_s"] == 0:
        raise fail("profile.work gives no work: set tflop, memory_gb or overhead_s")
    try:
        return Work(**values)
    except ValueError as exc:
        raise fail(str(exc)) from None
