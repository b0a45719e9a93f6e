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

A *fused group* (several tasks one pod runs, see :mod:`dicec.placement.fusion`) is one step running
``dicec op --group B64 --image URI --inputs-file FILE --out-dir DIR``, with no NAME:

``--group B64``      base64url of ``{"calls": [{"task", "operator", "form", "args", "patch"}, ...]}``, the
                     group's tasks in graph order; ``patch`` is the task graph's patch source (``null``,
                     ``{"kind": "image"}``, ``{"kind": "item", "task", "index"}``, ``{"kind": "each",
                     "task"}``): the step resolves it, and ``ref`` arguments, from the values of the
                     calls before it in the group or from ``--inputs``.
``--inputs-file FILE``  the values of the tasks outside the group that the group needs, ``{"task-id": value}``
                     (``--inputs JSON`` on a command line); an entry that is not valid JSON (an unresolved
                     reference) is left out. The step's input artifact ``inputs`` (:data:`GROUP_INPUTS_PATH`):
                     the DAG task passes the object as ``raw`` data with its references, which Argo
                     substitutes and writes to the file, so a detection's thousand boxes never travel
                     through argv (Linux refuses one argument over 128 KiB) or the environment.
``--out-dir DIR``    each call writes ``DIR/TASK/value.json`` and ``DIR/TASK/record.json``, exactly what a
                     step of its own writes to ``--value-out`` and ``--record-out``; they are the step's
                     output parameters ``value-TASK`` and ``record-TASK``.

A fan-out task in a group runs once per element of its source's value, in the one pod, and writes
the list of values and the list of records (the shape Argo's aggregation of separate steps has); a
value or patch the group could not get (an empty or unresolved source) gives the empty value and a
null record, which the final step answers on demand if the program needs that call.

In services mode (``dicec compile --mode services``, :mod:`dicec.emit.services`) an operator step is an
Argo ``http`` template whose JSON body carries exactly these inputs (``call``, ``image``, ``patch``,
``index``, ``refs``) to the model server's ``POST /v1/step``, which answers the value and the record
these files would hold (:mod:`dicec.emit.http`), and the final step is one to the answer server's
``POST /v1/answer``. A step that stays a container there runs ``dicec op call NAME --service URL`` with
exactly the flags above: the call is evaluated by the model server at URL (``dicec op serve``) instead of
a model in the step, and the value and record files are the same (:mod:`dicec.runtime.client`).

The final step runs ``dicec answer --image URI --program B64 --records-file FILE --out P --text-out T``:
it re-runs the serial program (base64url of its source) and answers each operator call from the records (a
JSON list whose elements are records or lists of records, from fan-outs); a call with no record runs on
demand. The records reach it as the input artifact ``records`` (:data:`RECORDS_PATH`), ``raw`` data the DAG
task builds from the steps' ``record`` outputs (Argo substitutes the references and writes the file): a
crowded image's records (1120 detections checked one by one are 170 KB) are over the 128 KiB Linux allows
one argument. ``raw`` artifacts need no artifact repository; like the parameters they replace, their data
is kept in the node's status (:mod:`dicec.runner.weight` counts it). It writes the answer twice: ``P`` as
canonical JSON (the output ``answer-json``) and ``T`` as text, a string as it is and anything else as its
JSON (the output ``answer``, what ``dicec exec`` prints), so Argo's ``answer`` of a string answer carries no
JSON quotes.
A records element that is not valid JSON (an unresolved reference) is ignored, which can only cost
time, never change the answer. A skipped step (a false ``when``, or a fan-out over an empty list)
has its outputs' declared defaults, ``[]`` for a value and ``null`` for a record (see
:data:`VALUE_DEFAULT`), so every reference to it resolves.

A pods-mode batch (``dicec compile --batch``) runs ``dicec op stage`` in every pod of a shard's chain instead:
its contract (the images as a raw artifact, records as JSON Lines artifacts, the answers) is described in
:mod:`dicec.runtime.stage`, and the workflow's shape in :mod:`dicec.emit.batch`.

Untrusted text (the program, its string literals) only ever reaches the workflow base64-encoded, so
it cannot open an Argo ``{{...}}`` expression, a YAML structure or a shell word. That encoding and the
result folder are the runtime's too, so they live on its side (:mod:`dicec.runtime.contract`).
"""

from __future__ import annotations

import json
from typing import Any

from dicec.analysis.graph import Task
from dicec.runtime.contract import ANSWER_JSON_OUTPUT, ANSWER_OUTPUT, RESULT_DIR, b64  # noqa: F401 (re-exported)

VALUE_PATH = f"{RESULT_DIR}/value.json"
RECORD_PATH = f"{RESULT_DIR}/record.json"
ANSWER_PATH = f"{RESULT_DIR}/answer.json"
ANSWER_TEXT_PATH = f"{RESULT_DIR}/answer.txt"
#: Where the answer step finds the records, and a fused group's step the values from outside the group
#: (input artifacts: outside the ``/tmp`` emptyDir, as every input artifact, :mod:`dicec.emit.inputs`).
RECORDS_PATH = "/dicec/inputs/records.json"
GROUP_INPUTS_PATH = "/dicec/inputs/group-inputs.json"
RECORDS_ARTIFACT = "records"
GROUP_INPUTS_ARTIFACT = "inputs"
IMAGE_PARAMETER = "image"
IMAGE_REFERENCE = "{{workflow.parameters.image}}"
#: ``valueFrom.default`` of every step's value and record outputs. Argo v4 gives a Skipped task (its
#: ``when`` false, or a fan-out over an empty list: "Skipped, empty params") its outputs' declared
#: defaults and nothing else, so without them a reference downstream (a nested fan-out's
#: ``withParam``, ``--refs``, the answer step's records) could not resolve. ``[]`` is exactly the
#: aggregated value of a fan-out with no elements, and the answer step skips a ``null`` record.
VALUE_DEFAULT = "[]"
RECORD_DEFAULT = "null"


def call_payload(task: Task) -> str:
    """The ``--call`` value for ``task``."""
    body: dict[str, Any] = {"task": task.id, "operator": task.operator, "form": task.form,
                            "args": [a.to_json() for a in task.args]}
    return b64(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def op_command(operator: str, *, image: str = IMAGE_REFERENCE) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` of an operator step's container, over its input parameters.

    ``image`` is what ``--image`` gets: the workflow parameter's reference, a template input's, or the
    path an input artifact is downloaded to (see :mod:`dicec.emit.inputs`).
    """
    command = ["dicec", "op", operator]
    args = [
        "--image", image,
        "--call", "{{inputs.parameters.call}}",
        "--patch", "{{inputs.parameters.patch}}",
        "--index", "{{inputs.parameters.index}}",
        "--refs", "{{inputs.parameters.refs}}",
        "--value-out", VALUE_PATH,
        "--record-out", RECORD_PATH,
    ]
    return command, args


def answer_command(*, image: str = IMAGE_REFERENCE) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` of the final answer step (``image`` as for :func:`op_command`)."""
    return ["dicec", "answer"], [
        "--image", image,
        "--program", "{{inputs.parameters.program}}",
        "--records-file", RECORDS_PATH,
        "--out", ANSWER_PATH,
        "--text-out", ANSWER_TEXT_PATH,
    ]


def call_body(task: Task) -> dict[str, Any]:
    """One call of a fused group's (or a batch stage pod's) payload: ``{task, operator, form, args, patch}``."""
    return {"task": task.id, "operator": task.operator, "form": task.form, "args": [a.to_json() for a in task.args],
            "patch": None if task.patch is None else task.patch.to_json()}


def group_payload(tasks: list[Task]) -> str:
    """The ``--group`` value for a fused group's tasks (in graph order)."""
    body = {"calls": [call_body(t) for t in tasks]}
    return b64(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def group_command(*, image: str = IMAGE_REFERENCE) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` of a fused group's step (``image`` as for :func:`op_command`)."""
    return ["dicec", "op"], [
        "--group", "{{inputs.parameters.group}}",
        "--image", image,
        "--inputs-file", GROUP_INPUTS_PATH,
        "--out-dir", RESULT_DIR,
    ]


def member_value_path(task_id: str) -> str:
    """Where a fused group's step writes task ``task_id``'s value."""
    return f"{RESULT_DIR}/{task_id}/value.json"


def member_record_path(task_id: str) -> str:
    """Where a fused group's step writes task ``task_id``'s record."""
    return f"{RESULT_DIR}/{task_id}/record.json"


def value_output(task_id: str) -> str:
    """The output parameter of a fused group's step holding ``task_id``'s value."""
    return f"value-{task_id}"


def record_output(task_id: str) -> str:
    """The output parameter of a fused group's step holding ``task_id``'s record."""
    return f"record-{task_id}"
