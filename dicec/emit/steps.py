"""The contract between emitted steps and the operator runtime inside the container.

Every operator step runs ``dicec op NAME`` with these flags (all values passed as separate argv
entries, never through a shell):

``--image URI``      the input image (the workflow's ``image`` parameter).
``--call B64``       base64url of the call's canonical JSON: ``{"task", "operator", "form", "args"}``;
                     args as in the task graph (``{"literal": v}``, ``{"ref": id}``, ``{"format": [...]}``).
``--patch JSON``     ``"image"`` (the whole image), a box ``{"left","lower","right","upper"}``, a list of
                     boxes (an element of a nested fan-out: the call runs once per box), or a patch list
                     to pick ``--index`` from.
``--index N|none``   which element of a patch list ``--patch`` holds; an index out of range gives a null value.
``--refs JSON``      the values of the tasks named by ``ref`` arguments, ``{"task-id": value}``.
``--value-out P``    where to write the call's JSON value (read by fan-outs and refs).
``--record-out P``   where to write ``{"operator","form","patch","args","value"}`` with arguments
                     resolved, the key the final step looks calls up by.

The final step runs ``dicec answer --image URI --program B64 --records JSON --out P``: it re-runs the
serial program (base64url of its source) and answers each operator call from the records (a JSON list
whose elements are records or lists of records, from fan-outs); a call with no record runs on demand.
A records element that is not valid JSON (Argo leaves an unresolved reference when a fan-out had no
elements) is ignored, which can only cost time, never change the answer.

Untrusted text (the program, its string literals) only ever reaches the workflow base64-encoded, so
it cannot open an Argo ``{{...}}`` expression, a YAML structure or a shell word.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from dicec.analysis.graph import Task

RESULT_DIR = "/tmp/dicec"
VALUE_PATH = f"{RESULT_DIR}/value.json"
RECORD_PATH = f"{RESULT_DIR}/record.json"
ANSWER_PATH = f"{RESULT_DIR}/answer.json"
IMAGE_PARAMETER = "image"


def b64(data: str) -> str:
    """base64url without padding: only ``[A-Za-z0-9_-]``, safe in argv, YAML and Argo templates."""
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")


def unb64(data: str) -> str:
    """The inverse of :func:`b64`."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")


def call_payload(task: Task) -> str:
    """The ``--call`` value for ``task``."""
    body: dict[str, Any] = {"task": task.id, "operator": task.operator, "form": task.form,
                            "args": [a.to_json() for a in task.args]}
    return b64(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def op_command(operator: str) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` of an operator step's container, over its input parameters."""
    command = ["dicec", "op", operator]
    args = [
        "--image", "{{workflow.parameters.image}}",
        "--call", "{{inputs.parameters.call}}",
        "--patch", "{{inputs.parameters.patch}}",
        "--index", "{{inputs.parameters.index}}",
        "--refs", "{{inputs.parameters.refs}}",
        "--value-out", VALUE_PATH,
        "--record-out", RECORD_PATH,
    ]
    return command, args


def answer_command() -> tuple[list[str], list[str]]:
    """``command`` and ``args`` of the final answer step."""
    return ["dicec", "answer"], [
        "--image", "{{workflow.parameters.image}}",
        "--program", "{{inputs.parameters.program}}",
        "--records", "{{inputs.parameters.records}}",
        "--out", ANSWER_PATH,
    ]
