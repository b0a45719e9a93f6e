"""What an emitted operator step runs: ``dicec op NAME ...`` (see :mod:`dicec.emit.steps`).

``op`` resolves its call -- arguments from literals, the ``--refs`` values and formatted strings
(``str()`` of each value, as the program's f-string or ``+`` does), the receiver from ``--patch`` /
``--index`` -- computes it with the backend and writes the value and the record, each atomically:

* ``--patch "image"`` is the whole image; a box is that box; ``null`` is no receiver (a function);
* with ``--index N`` the patch is element N of the list ``--patch`` holds (Python indexing); out of
  range, or no list, gives the empty value -- ``[]`` for a patch-list operator, ``null`` otherwise --
  and a ``null`` record, because the serial program cannot have made that call;
* with ``--index none`` a list in ``--patch`` is an element of a nested fan-out: the call runs once
  per element and the value and the record are lists in the same order (nested lists stay nested);
* an operator failing on its input (not a set-up problem) is recorded as ``{"error": ...}`` with
  the empty value, exit 0: tasks are speculative, and the final step raises the same error only if
  the serial program really makes that call. Set-up problems (the image, a model file) exit 1.

A services-mode step (``dicec op call``, :func:`dicec.runtime.client.run_call`) is :func:`run_op` with
the model server as its backend; a fused group's step (``dicec op --group``) is :mod:`dicec.runtime.group`.
The resolution of a call from its inputs (:func:`resolve_call`) and its computation
(:func:`dicec.runtime.compute.compute_call`) are also what the model server's ``/v1/step`` runs for an
HTTP step (:mod:`dicec.serving.model_server`), so every way of running a step resolves a call alike.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from dicec.errors import DicecError
from dicec.runtime.backend import get_backend, registry_for
from dicec.runtime.calls import canonical_json
from dicec.runtime.compute import MISSING, Log, compute_call, py_str, write_output
from dicec.runtime.contract import unb64
from dicec.runtime.flags import json_flag


def _flag(name: str) -> str:
    """How a step's input is named in an error: its command-line flag (``--refs``)."""
    return f"--{name}"


def decode_call(payload: str, field: Callable[[str], str] = _flag) -> dict:
    """The ``--call`` payload: ``{"task", "operator", "form", "args"}``."""
    try:
        body = json.loads(unb64(payload)) if isinstance(payload, str) else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"{field('call')} is not base64url of a JSON call ({exc})") from None
    if not isinstance(body, dict) or not {"operator", "form", "args"} <= set(body) or not isinstance(body["args"], list):
        raise DicecError(f"{field('call')} must hold {{task, operator, form, args}}")
    return body


def task_of(call_payload: str) -> str | None:
    """The id of the task a ``--call`` payload is for (its records name it), or ``None`` if it names none."""
    task = decode_call(call_payload).get("task")
    return task if isinstance(task, str) else None


def resolve_arg(arg: Any, refs: dict, field: Callable[[str], str] = _flag) -> Any:
    """A task-graph argument (``{"literal"}``, ``{"ref"}``, ``{"format"}``) -> its value."""
    if not isinstance(arg, dict) or len(arg) != 1:
        raise DicecError(f"bad argument in {field('call')}: {arg!r}")
    (kind, body), = arg.items()
    if kind == "literal":
        return body
    if kind == "ref":
        if not isinstance(body, str) or body not in refs:
            raise DicecError(f"{field('refs')} has no value for task {body!r}")
        return refs[body]
    if kind == "format":
        if not isinstance(body, list):
            raise DicecError(f"bad format argument in {field('call')}: {body!r}")
        return "".join(p if isinstance(p, str) else py_str(resolve_arg(p, refs, field)) for p in body)
    raise DicecError(f"bad argument kind {kind!r} in {field('call')}")


def resolve_call(call_payload: str, refs: Any, patch: Any, index: str, registry: Any, *, name: str | None = None,
                 field: Callable[[str], str] = _flag) -> tuple[Any, Any, tuple, Any]:
    """One call's inputs, parsed -> (operator spec, call form, resolved arguments, patch).

    The one resolution every way of running a step uses: ``dicec op`` and ``dicec op call`` from their
    flags (:func:`prepare_call`), the model server's ``/v1/step`` from its JSON body
    (:mod:`dicec.serving.model_server`). ``refs`` are the referenced tasks' values, ``patch`` the
    ``--patch`` value, ``index`` ``none`` or an integer (an element of the ``patch`` list, or
    :data:`~dicec.runtime.compute.MISSING` when out of range); ``name``, when given, is the operator the
    step runs; ``field`` names an input in an error message.
    """
    body = decode_call(call_payload, field)
    if name is not None and body["operator"] != name:
        raise DicecError(f"the step runs operator {name!r} but {field('call')} is for {body['operator']!r}")
    if not isinstance(body["operator"], str) or not isinstance(body["form"], str):
        raise DicecError(f"{field('call')} must name its operator and form as strings")
    spec = registry.get(body["operator"])
    form = spec.form(body["form"])
    if form is None:
        raise DicecError(f"operator {spec.name!r} has no {body['form']} form")
    if not isinstance(refs, dict):
        raise DicecError(f"{field('refs')} must be a JSON object of task values")
    args = tuple(resolve_arg(a, refs, field) for a in body["args"])
    if not isinstance(index, str):
        raise DicecError(f"{field('index')} must be an integer or none, as a string, not {index!r}")
    if index not in ("none", ""):
        try:
            i = int(index)
        except ValueError:
            raise DicecError(f"{field('index')} must be an integer or none, not {index!r}") from None
        patch = patch[i] if isinstance(patch, list) and -len(patch) <= i < len(patch) else MISSING
    return spec, form, args, patch


def prepare_call(name: str, call_payload: str, refs_json: str, patch_json: str, index: str,
                 operator_dirs: tuple[str, ...]) -> tuple[Any, Any, tuple, Any]:
    """A step's flags -> (operator spec, call form, resolved arguments, patch); shared by ``op`` and ``op call``."""
    refs = json_flag(refs_json, "--refs")
    patch = json_flag(patch_json, "--patch")
    return resolve_call(call_payload, refs, patch, index, registry_for(operator_dirs), name=name)


def require_step_flags(verb: str, *, name: str | None, call_payload: str | None, value_out: str | None,
                       record_out: str | None, hint: str = "") -> None:
    """One line naming the step flags that are missing (the CLI requires none of them, see commands.py)."""
    missing = [flag for flag, v in (("NAME", name), ("--call", call_payload), ("--value-out", value_out),
                                    ("--record-out", record_out)) if v is None]
    if missing:
        raise DicecError(f"{verb} needs {', '.join(missing)}{hint}")


def load_input(image_uri: str | None, crops: str | None) -> Any:
    """What a step computes on: the frame (``--image``) or the crops an edge step sent (``--crops``,
    :mod:`dicec.runtime.crops`); exactly one of the two."""
    if (image_uri is None) == (crops is None):
        raise DicecError("give exactly one of --image (the frame) and --crops (an edge step's crop bundle)")
    if crops is not None:
        from dicec.runtime.crops import read_bundle

        return read_bundle(crops)
    from dicec.runtime.images import load_image

    return load_image(image_uri)


def parse_crop_indices(indices: str) -> list[int] | None:
    """``--crops-indices``: ``None`` for ``all``, else the integers (checked before the step computes)."""
    if indices == "all":
        return None
    try:
        return [int(i) for i in indices.split(",")]
    except ValueError:
        raise DicecError(f"--crops-indices must be 'all' or comma-separated integers, not {indices!r}") from None


def write_crops(path: str | None, image: Any, value: Any, wanted: list[int] | None = None,
                log: Log = lambda s: None) -> None:
    """``--crops-out``: the crop bundle of the boxes in ``value`` (an edge detection's patch list), or of
    the elements ``wanted`` names (:func:`parse_crop_indices`; one out of range is left out)."""
    if path is None:
        if wanted is not None:
            raise DicecError("--crops-indices goes with --crops-out")
        return
    from dicec.runtime.crops import bundle_bytes

    if not isinstance(value, list):
        raise DicecError("--crops-out needs the step's value to be a list of boxes (a patch-list operator)")
    if not value:  # the offloaded steps' `when` skips them: nothing goes to the cloud
        log("crops: the detection found nothing, so no bundle is written")
        return
    if wanted is not None:
        value = [value[i] for i in wanted if -len(value) <= i < len(value)]
    data = bundle_bytes(image, value)
    write_output(path, data)
    log(f"crops: {len(value)} box(es), {len(data)} bytes for the cloud (the frame is {len(image.data)} bytes)")


def run_op(*, name: str | None, image_uri: str | None, call_payload: str | None, patch_json: str = '"image"',
           index: str = "none", refs_json: str = "{}", value_out: str | None = None, record_out: str | None = None,
           models: str | None = None, operator_dirs: tuple[str, ...] = (), group_payload: str | None = None,
           inputs_json: str = "{}", out_dir: str | None = None, crops: str | None = None,
           crops_out: str | None = None, crops_indices: str = "all", backend: Any = None, where: str | None = None,
           log: Log = lambda s: None) -> Any:
    """``dicec op``: compute one call (or one per element of a nested fan-out); returns the value.

    With ``group_payload`` (``--group``), run a fused group's calls instead (:mod:`dicec.runtime.group`).
    With ``crops`` the step reads an edge step's crop bundle instead of the image; with ``crops_out`` it
    also writes the bundle of its value's boxes for an offloaded cloud step (:mod:`dicec.runtime.crops`).
    ``backend`` replaces the ``models`` backend, ``where`` names it in the log
    (``dicec op call``: a model server, :func:`dicec.runtime.client.run_call`).
    """
    if group_payload is not None:
        if name is not None or call_payload is not None or value_out is not None or record_out is not None:
            raise DicecError("--group runs the calls it carries: give no NAME, --call, --value-out or --record-out")
        if out_dir is None:
            raise DicecError("--group needs --out-dir DIR (each call's value and record go under DIR/TASK/)")
        if crops_out is not None or crops_indices != "all":
            raise DicecError("--crops-out goes with one call (an edge detection), not with --group")
        from dicec.runtime.group import run_group

        return run_group(image=load_input(image_uri, crops), group_payload=group_payload, inputs_json=inputs_json,
                         out_dir=out_dir, models=models, operator_dirs=operator_dirs, log=log)
    if out_dir is not None or inputs_json != "{}":
        raise DicecError("--inputs and --out-dir go with --group (a fused group's step)")
    if backend is None:
        require_step_flags("dicec op", name=name, call_payload=call_payload, value_out=value_out,
                           record_out=record_out, hint=" (or --group for a fused group)")
    else:
        require_step_flags("dicec op call", name=name, call_payload=call_payload, value_out=value_out,
                           record_out=record_out)
    wanted = parse_crop_indices(crops_indices)
    spec, form, args, patch = prepare_call(name, call_payload, refs_json, patch_json, index, operator_dirs)
    backend = backend or get_backend(models)
    image = load_input(image_uri, crops)
    value, record = compute_call(spec, form, args, patch, image=image, backend=backend, log=log,
                                 task=task_of(call_payload))
    write_crops(crops_out, image, value, wanted, log)
    write_output(value_out, canonical_json(value))
    write_output(record_out, canonical_json(record))
    log(f"{name}: {where or backend.name + ' backend'}, value {canonical_json(value)[:200]}")
    return value

