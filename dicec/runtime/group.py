"""``dicec op --group``: the step of a fused group runs several calls, in order, in one process.

A fused group (:mod:`dicec.placement.fusion`) is tasks that one pod runs so that it starts once and
loads each model once. The step gets the group's calls with their patch sources as in the task graph
(the contract is in :mod:`dicec.emit.steps`) and resolves each from the values of the calls before it
or from ``--inputs`` (values of tasks outside the group), exactly as separate steps would get them
through Argo: each value is passed on as the canonical JSON a step writes, read back, so a call sees
the same value whether its producer ran in the same pod or another.

Per call it writes ``DIR/TASK/value.json`` and ``DIR/TASK/record.json``, the files a step of its own
writes, so the final step's records and the downstream tasks' inputs are the same as without fusion:

* ``image`` is the whole image; ``item`` is element ``index`` of the source's patch list (or the
  patch it returned); ``each`` runs the call once per element of the source's list (nested lists
  stay nested), as Argo's ``withParam`` over separate steps does, giving lists of values and records;
* a source value the step does not have (an input that was not valid JSON, an index out of range, an
  ``each`` over something that is not a list) gives the empty value and a null record -- the serial
  program cannot have made that call with that input, and the final step runs any call without a
  record on demand;
* an operator failing on its input is recorded as for one step (:mod:`dicec.runtime.step`).

A batch's stage pod (:mod:`dicec.runtime.stage`) resolves its calls with the same functions
(:func:`check_calls`, :func:`prepare_calls`, :func:`resolve_call`), once per image of its shard.
"""

from __future__ import annotations

import json
import os
from typing import Any

from dicec.errors import DicecError
from dicec.runtime.backend import get_backend, registry_for
from dicec.runtime.calls import canonical_json
from dicec.runtime.compute import MISSING, Log, compute_call, py_str, write_output
from dicec.runtime.contract import unb64
from dicec.runtime.flags import lenient_members

_PATCH_KINDS = ("image", "item", "each")


def decode_group(payload: str) -> list[dict]:
    """The ``--group`` payload's calls, checked for shape."""
    try:
        body = json.loads(unb64(payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"--group is not base64url of a JSON group ({exc})") from None
    calls = body.get("calls") if isinstance(body, dict) else None
    if not isinstance(calls, list) or not calls:
        raise DicecError("--group must hold {\"calls\": [...]} with at least one call")
    return check_calls(calls, "--group")


def check_calls(calls: list, flag: str) -> list[dict]:
    """``calls`` (a group's, or one question's in a stage pod), each checked for shape, task ids unique."""
    seen: set[str] = set()
    for c in calls:
        if (not isinstance(c, dict) or not {"task", "operator", "form", "args", "patch"} <= set(c)
                or not isinstance(c["args"], list) or not isinstance(c["task"], str)):
            raise DicecError(f"each {flag} call must hold {{task, operator, form, args, patch}}")
        if not c["task"] or "/" in c["task"] or c["task"] in (".", "..") or c["task"] in seen:
            raise DicecError(f"{flag}: bad or repeated task id {c['task']!r}")
        seen.add(c["task"])
        patch = c["patch"]
        if patch is not None and (not isinstance(patch, dict) or patch.get("kind") not in _PATCH_KINDS
                                  or (patch["kind"] != "image" and not isinstance(patch.get("task"), str))):
            raise DicecError(f"{flag}: task {c['task']!r} has a bad patch source {patch!r}")
    return calls


def parse_inputs(text: str) -> dict[str, Any]:
    """``--inputs``: a JSON object of task values; entries whose value is not valid JSON are left out."""
    text = text.strip()
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = _lenient_object(text)
    if not isinstance(whole, dict):
        raise DicecError("--inputs must be a JSON object of task values, {\"task-id\": value}")
    return whole


def _lenient_object(text: str) -> dict[str, Any]:
    """``{"a": 1, "b": {{unresolved}}}`` -> ``{"a": 1}`` (keys are task ids, so plain JSON strings)."""
    if not text.startswith("{") or not text.endswith("}"):
        raise DicecError(f"--inputs is not a JSON object: {text[:80]!r}")
    return dict(lenient_members(text, "--inputs", keyed=True))


def prepare_calls(calls: list[dict], registry: Any) -> list[tuple[dict, Any, Any]]:
    """``(call, spec, form)`` of each decoded call: every operator and form is known before any model loads."""
    prepared = []
    for c in calls:
        spec = registry.get(c["operator"])
        form = spec.form(c["form"])
        if form is None:
            raise DicecError(f"operator {spec.name!r} has no {c['form']} form (task {c['task']!r})")
        prepared.append((c, spec, form))
    return prepared


def resolve_call(call: dict, values: dict[str, Any]) -> tuple[tuple, Any]:
    """``(arguments, patch)`` of a decoded call from the values of the tasks before it (see the module
    docstring); the patch is :data:`~dicec.runtime.compute.MISSING` when the call cannot be made with
    those values, and ``[]`` for a fan-out over nothing (no elements, no calls)."""
    args = _args(call["args"], values)
    if args is MISSING:
        return (), MISSING
    patch = _patch(call["patch"], values)
    if patch is MISSING and call["patch"] is not None and call["patch"]["kind"] == "each":
        patch = []
    return args, patch


def run_group(*, image: Any, group_payload: str, inputs_json: str, out_dir: str, models: str | None = None,
              operator_dirs: tuple[str, ...] = (), log: Log = lambda s: None) -> dict[str, Any]:
    """Run a fused group's calls in order on ``image`` (the frame, or an edge step's crops); returns ``{task: value}``."""
    calls = decode_group(group_payload)
    values = parse_inputs(inputs_json)
    prepared = prepare_calls(calls, registry_for(operator_dirs))
    backend = get_backend(models)
    out: dict[str, Any] = {}
    for c, spec, form in prepared:
        args, patch = resolve_call(c, values)
        value, record = compute_call(spec, form, args, patch, image=image, backend=backend, log=log, task=c["task"])
        text = canonical_json(value)
        folder = os.path.join(out_dir, c["task"])
        write_output(os.path.join(folder, "value.json"), text)
        write_output(os.path.join(folder, "record.json"), canonical_json(record))
        values[c["task"]] = out[c["task"]] = json.loads(text)  # as the next step would read it back
        log(f"{c['task']}: {spec.name}, value {text[:160]}")
    log(f"group of {len(calls)} calls: {backend.name} backend")
    return out


def _args(args: list, values: dict[str, Any]) -> Any:
    """The call's argument values, or MISSING when a referenced value is not available."""
    out = []
    for a in args:
        if not isinstance(a, dict) or len(a) != 1:
            raise DicecError(f"bad argument in --group: {a!r}")
        (kind, body), = a.items()
        if kind == "literal":
            out.append(body)
        elif kind == "ref":
            if body not in values:
                return MISSING
            out.append(values[body])
        elif kind == "format":
            parts = []
            for p in body:
                if isinstance(p, str):
                    parts.append(p)
                elif isinstance(p, dict) and set(p) == {"ref"}:
                    if p["ref"] not in values:
                        return MISSING
                    parts.append(py_str(values[p["ref"]]))
                else:
                    raise DicecError(f"bad format part in --group: {p!r}")
            out.append("".join(parts))
        else:
            raise DicecError(f"bad argument kind {kind!r} in --group")
    return tuple(out)


def _patch(source: dict | None, values: dict[str, Any]) -> Any:
    if source is None:
        return None
    if source["kind"] == "image":
        return "image"
    if source["task"] not in values:
        return MISSING
    value = values[source["task"]]
    if source["kind"] == "each":
        return value if isinstance(value, list) else MISSING
    index = source.get("index")
    if index is None:
        return value
    if isinstance(index, bool) or not isinstance(index, int):
        raise DicecError(f"--group: bad index {index!r}")
    return value[index] if isinstance(value, list) and -len(value) <= index < len(value) else MISSING
