"""The pieces of the step contract that both its sides use: the payload encoding and the result folder.

The contract between emitted steps and the runtime in their container -- ``dicec op``'s and ``dicec
answer``'s flags, what each file holds -- is described in :mod:`dicec.emit.steps`, which writes the
commands. Its two shared pieces live here, on the runtime side, so that emission imports them from
the runtime (a module with no imports of its own) and the runtime never imports emission:

* :func:`b64` / :func:`unb64`: how untrusted text (the program, a call, a fused group) travels in a
  step's argv -- base64url without padding, so it cannot open an Argo ``{{...}}`` expression, a YAML
  structure or a shell word;
* :data:`RESULT_DIR`: the folder a step writes its results under (``dicec run`` gives each step a
  folder of its own in its place);
* :data:`STEP_COMMANDS`: the commands a dicec step container runs, the only ones ``dicec run`` runs on
  the user's machine unless told otherwise (``--run-any-command``).
* :func:`shard_slice`: which images shard ``i`` of a batch runs (a stage pod picks its slice with it,
  the batch plan and the cost model count with it).
* :data:`ANSWER_OUTPUT` / :data:`ANSWER_JSON_OUTPUT`: a workflow's answer outputs, the answer as text (a
  string as it is, anything else as its JSON) and as canonical JSON; :data:`ANSWER_TEXT_KEY` /
  :data:`ANSWER_JSON_KEY` the same two strings in the answer server's reply, where the HTTP answer task's
  outputs take them from (:mod:`dicec.emit.http`, :mod:`dicec.serving.answer_server`);
* :func:`result_object` / :func:`result_record` / :func:`result_value`: the body a services-mode HTTP
  step's model server answers with (``{"value": V, "record": R}``, the task's Argo ``outputs.result``),
  which later requests and the answer carry back as a patch, a reference or a record
  (:mod:`dicec.serving.model_server`, :mod:`dicec.emit.http`).
"""

from __future__ import annotations

import base64
from typing import Any

#: Where a step writes its value, record, answer or a fused group's files.
RESULT_DIR = "/tmp/dicec"

#: A workflow's answer outputs: the answer as text (a string as it is, anything else as its canonical JSON:
#: what ``dicec exec`` prints) and as canonical JSON (a string quoted, so ``"1"`` and ``1`` differ).
ANSWER_OUTPUT = "answer"
ANSWER_JSON_OUTPUT = "answer-json"
#: The answer server's reply ``{"json": CANONICAL_JSON, "text": TEXT}``: both strings, the two outputs' values.
ANSWER_JSON_KEY = "json"
ANSWER_TEXT_KEY = "text"

#: The start of every command dicec emits for a step container: ``dicec op ...`` (an operator step, a
#: fused group, a services-mode call, a batch stage: every subcommand of ``op`` is dicec's own) and
#: ``dicec answer ...``. A container whose command + args do not start with one of these is not a dicec
#: step, and ``dicec run`` refuses the workflow before anything runs (:mod:`dicec.runner.workflow`).
STEP_COMMANDS: tuple[tuple[str, ...], ...] = (("dicec", "op"), ("dicec", "answer"))


def is_step_command(argv: list[str]) -> bool:
    """Whether a container's command + args (before any substitution) is one of :data:`STEP_COMMANDS`."""
    return any(tuple(argv[:len(start)]) == start for start in STEP_COMMANDS)


def b64(data: str) -> str:
    """base64url without padding: only ``[A-Za-z0-9_-]``, safe in argv, YAML and Argo templates."""
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")


def unb64(data: str) -> str:
    """The inverse of :func:`b64`."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")


def shard_slice(shard: int, shards: int, count: int) -> tuple[int, int]:
    """``(start, stop)`` of shard ``shard`` of ``shards`` over ``count`` images: contiguous slices in image
    order whose sizes differ by one at most (``[shard * count // shards, (shard + 1) * count // shards)``)."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not one of 0..{shards - 1}")
    return shard * count // shards, (shard + 1) * count // shards


#: The keys of a result object, exactly: what an HTTP step's model server answers (its ``outputs.result``).
RESULT_KEYS = frozenset({"value", "record"})


def result_object(value: Any, record: Any) -> dict:
    """An HTTP step's answer: the call's value (what a pod step writes as ``value``) and its record."""
    return {"value": value, "record": record}


def is_result(data: Any) -> bool:
    """Whether ``data`` is a result object (a JSON object with exactly the keys ``value`` and ``record``)."""
    return isinstance(data, dict) and data.keys() == RESULT_KEYS


def result_value(data: Any) -> Any:
    """A result object's value; anything else as it is (a pod step's ``value`` output)."""
    return data["value"] if is_result(data) else data


def result_record(data: Any) -> Any:
    """A result object's record; anything else as it is (a pod step's ``record`` output)."""
    return data["record"] if is_result(data) else data
