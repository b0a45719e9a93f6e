"""What the emitted steps run: ``dicec op NAME ...`` and ``dicec answer ...`` (see :mod:`dicec.emit.steps`).

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

``answer`` reads the records (a JSON list; elements that are not valid JSON are skipped, lists are
flattened), re-runs the program answering each call from them or on demand, and writes the answer
as canonical JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from dicec.emit.steps import unb64
from dicec.errors import DicecError
from dicec.files import write_atomic
from dicec.runtime.backend import empty_value, evaluate, get_backend, registry_for
from dicec.runtime.calls import Call, canonical_json, is_box

Log = Callable[[str], None]


def json_flag(text: str, flag: str) -> Any:
    """A flag's JSON text -> its value, or a one-line error naming the flag."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"{flag} is not valid JSON ({exc.msg} at character {exc.pos}): {text[:80]!r}") from None


def decode_call(payload: str) -> dict:
    """The ``--call`` payload: ``{"task", "operator", "form", "args"}``."""
    try:
        body = json.loads(unb64(payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"--call is not base64url of a JSON call ({exc})") from None
    if not isinstance(body, dict) or not {"operator", "form", "args"} <= set(body) or not isinstance(body["args"], list):
        raise DicecError("--call must hold {task, operator, form, args}")
    return body


def py_str(value: Any) -> str:
    """``str()`` of a JSON value as the serial program holds it."""
    return str(value)


def resolve_arg(arg: Any, refs: dict) -> Any:
    """A task-graph argument (``{"literal"}``, ``{"ref"}``, ``{"format"}``) -> its value."""
    if not isinstance(arg, dict) or len(arg) != 1:
        raise DicecError(f"bad argument in --call: {arg!r}")
    (kind, body), = arg.items()
    if kind == "literal":
        return body
    if kind == "ref":
        if body not in refs:
            raise DicecError(f"--refs has no value for task {body!r}")
        return refs[body]
    if kind == "format":
        return "".join(p if isinstance(p, str) else py_str(resolve_arg(p, refs)) for p in body)
    raise DicecError(f"bad argument kind {kind!r} in --call")


def prepare_call(name: str, call_payload: str, refs_json: str, patch_json: str, index: str,
                 operator_dirs: tuple[str, ...]) -> tuple[Any, Any, tuple, Any]:
    """A step's flags -> (operator spec, call form, resolved arguments, patch); shared by ``op`` and ``op call``."""
    body = decode_call(call_payload)
    if body["operator"] != name:
        raise DicecError(f"the step runs operator {name!r} but --call is for {body['operator']!r}")
    spec = registry_for(operator_dirs).get(name)
    form = spec.form(body["form"])
    if form is None:
        raise DicecError(f"operator {name!r} has no {body['form']} form")
    refs = json_flag(refs_json, "--refs")
    if not isinstance(refs, dict):
        raise DicecError("--refs must be a JSON object of task values")
    args = tuple(resolve_arg(a, refs) for a in body["args"])
    patch = json_flag(patch_json, "--patch")
    if index not in ("none", ""):
        try:
            i = int(index)
        except ValueError:
            raise DicecError(f"--index must be an integer or none, not {index!r}") from None
        patch = patch[i] if isinstance(patch, list) and -len(patch) <= i < len(patch) else MISSING
    return spec, form, args, patch


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
    value, record = compute_call(spec, form, args, patch, image=image, backend=backend, log=log)
    write_crops(crops_out, image, value, wanted, log)
    write_output(value_out, canonical_json(value))
    write_output(record_out, canonical_json(record))
    log(f"{name}: {where or backend.name + ' backend'}, value {canonical_json(value)[:200]}")
    return value


#: A patch that does not exist (an index out of range, a value a step did not get): empty value, null record.
MISSING = object()


def compute_call(spec, form, args: tuple, patch: Any, *, image, backend, log: Log = lambda s: None) -> tuple[Any, Any]:
    """``(value, record)`` of one call on ``patch`` (``"image"``, a box, ``None`` or :data:`MISSING`;
    a list is a nested fan-out's elements, each computed, values and records as lists in the same order)."""
    whole = {"left": 0, "lower": 0, "right": image.width, "upper": image.height}

    def one(p: Any) -> tuple[Any, Any]:
        if p is MISSING:
            return empty_value(form.result), None
        if isinstance(p, list):
            pairs = [one(q) for q in p]
            return [v for v, _ in pairs], [r for _, r in pairs]
        if form.kind == "method":
            if p == "image":
                p = whole
            elif p is None:
                return empty_value(form.result), None
            elif not is_box(p):
                raise DicecError(f"--patch must be \"image\", a box, or a list of boxes, not {canonical_json(p)[:80]}")
        else:
            p = None
        call = Call(operator=spec.name, form=form.kind, patch=p, args=args)
        value, error = evaluate(backend, spec, form, image, call)
        if error is not None:
            log(f"operator error (recorded; it matters only if the program makes this call): {error}")
        return value, call.record(value, error)

    return one(patch)


def write_output(path: str, text: str | bytes) -> None:
    """Write a step output atomically, creating its folder (a container's ``/tmp/dicec`` starts absent)."""
    parent = os.path.dirname(path)
    if parent:
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise DicecError(f"cannot create the output folder {parent!r}: {exc.strerror or exc}") from None
    write_atomic(path, text + "\n" if isinstance(text, str) else text)


def parse_records(text: str) -> list[Any]:
    """The ``--records`` list, skipping elements that are not valid JSON (unresolved Argo references)."""
    text = text.strip()
    if not text.startswith("[") or not text.endswith("]"):
        whole = json_flag(text, "--records")
        return whole if isinstance(whole, list) else [whole]
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, list) else [whole]
    except json.JSONDecodeError:
        pass
    return [value for _, value in lenient_members(text, "--records")]


def lenient_members(text: str, flag: str, *, keyed: bool = False) -> list[tuple[str | None, Any]]:
    """``(None, element)`` of the JSON list ``text`` (brackets included), or with ``keyed`` ``(key, value)``
    of the JSON object, skipping elements or values that are not valid JSON (unresolved Argo references)."""
    decoder, out, pos, end = json.JSONDecoder(), [], 1, len(text) - 1
    while pos < end:
        while pos < end and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= end:
            break
        key = None
        if keyed:
            try:
                key, pos = decoder.raw_decode(text, pos)
                while pos < end and text[pos] in " \t\r\n":
                    pos += 1
                if not isinstance(key, str) or text[pos] != ":":
                    raise ValueError("expected a key and ':'")
                pos += 1
                while pos < end and text[pos] in " \t\r\n":
                    pos += 1
            except (ValueError, IndexError):
                raise DicecError(f"{flag} is not a JSON object of task values: {text[:80]!r}") from None
        try:
            value, nxt = decoder.raw_decode(text, pos)
            rest = text[nxt:end].lstrip()
            if rest and not rest.startswith(","):
                raise ValueError("junk after element")
        except ValueError:
            pos = _skip_element(text, pos, end)
        else:
            out.append((key, value))
            pos = nxt
    return out


def _skip_element(text: str, pos: int, end: int) -> int:
    """Index of the ``,`` ending the (invalid) element at ``pos``, brackets and strings respected."""
    depth, in_str = 0, False
    while pos < end:
        c = text[pos]
        if in_str:
            if c == "\\":
                pos += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth <= 0:
            return pos
        pos += 1
    return pos


def records_index(records: list[Any]) -> dict[str, dict]:
    """Key -> record, over records and (nested) lists of records; anything else is skipped."""
    out: dict[str, dict] = {}
    stack = list(reversed(records))
    while stack:
        r = stack.pop()
        if isinstance(r, list):
            stack.extend(reversed(r))
        elif (isinstance(r, dict) and isinstance(r.get("operator"), str) and isinstance(r.get("form"), str)
              and isinstance(r.get("args"), list) and "value" in r):
            call = Call(operator=r["operator"], form=r["form"], patch=r.get("patch"), args=tuple(r["args"]))
            out.setdefault(call.key, r)
    return out


def run_answer(*, image_uri: str, program_payload: str, records_json: str, out: str | None,
               models: str | None = None, operator_dirs: tuple[str, ...] = (), services_json: str | None = None,
               services: dict[str, str] | None = None, log: Log = lambda s: None) -> Any:
    """``dicec answer``: the serial program over the records; returns the answer (JSON).

    With ``services_json`` (``--services``, services mode) a call without a record goes to its operator's
    model server (:class:`dicec.runtime.client.ServiceRouter`, URLs resolved through ``services``, the
    ``$DICEC_SERVICES`` map) instead of a model loaded here."""
    from dicec.runtime.images import load_image
    from dicec.runtime.program import run_program

    try:
        source = unb64(program_payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"--program is not base64url of the program's text ({exc})") from None
    records = records_index(parse_records(records_json))
    image = load_image(image_uri)
    if services_json is not None:
        from dicec.runtime.client import ServiceRouter, parse_service_map

        backend = ServiceRouter.of_urls(parse_service_map(services_json), services=services)
    else:
        backend = get_backend(models)
    try:
        outcome = run_program(source, registry=registry_for(operator_dirs), image=image, backend=backend,
                              records=records, path="<program>", log=log)
    finally:
        if services_json is not None:
            backend.close()
    s = outcome.stats
    where = "model servers" if services_json is not None else f"{backend.name} models"
    log(f"answer: {s.calls} operator calls, {s.from_records} from {len(records)} records, "
        f"{s.on_demand} on demand ({where})")
    if out is not None:
        write_output(out, canonical_json(outcome.answer))
    return outcome.answer
