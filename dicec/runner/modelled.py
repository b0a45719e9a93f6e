"""Modelled steps: what each step of a dicec workflow would write, shaped like the real thing, with no model
and no image, so a run of the workflow file can be weighed before it is submitted (:mod:`dicec.runner.weight`).

:class:`StepModel` stands in for every container step and HTTP request of a :class:`dicec.runner.workflow.Runner`
run (``RunOptions.model``). It reads each step's own command line with the step's own click command (the
contract of :mod:`dicec.emit.steps`) and resolves each call -- its arguments, its patch, a fan-out's elements,
a fused group's or a batch stage's order -- with the runtime's own functions (:func:`dicec.runtime.step.
resolve_call`, :mod:`dicec.runtime.group`, :func:`dicec.runtime.compute.compute_call`), so the values and
records it writes have exactly the shape and nesting a real step's have; only the answers of the operators are
modelled (:class:`ModelledBackend`, by the operator's result kind, as the seeded backend chooses its answers):

* ``patches`` (``find``): :attr:`Assumptions.detections` boxes inside the receiver (a fractional figure is
  weighed by :mod:`dicec.runner.weight` between the whole numbers around it);
* ``bool``: true or false; ``float``: a four-decimal figure; ``int``: a digit; ``patch``: an index;
* ``str``: one of the options when the call has a list of strings, else :attr:`Assumptions.text_chars`
  characters;
* every answer step answers :attr:`Assumptions.answer_chars` characters.

The image is :attr:`Assumptions.image_width` x :attr:`Assumptions.image_height` (a box's coordinates are as
wide as a real one's) and is never read. A batch stage's pods write their JSON Lines records and answers per
image of their shard, as :mod:`dicec.runtime.stage` does. Deterministic: every modelled answer is a hash of
its call.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dicec.errors import DicecError
from dicec.runtime.seeded import answer_of_kind


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """What a modelled run takes the operators and the images to give.

    Attributes:
        detections: boxes per call of an operator returning patches (``find``); may be fractional (a mean).
        image_width: the images' width in pixels.
        image_height: their height.
        uri_chars: characters of each image's path or URI (``s3://bucket/uploads/2025/05/car-000123.jpg`` is 43).
        text_chars: characters of a text answer (``simple_query``, ``llm_query``).
        answer_chars: characters of a question's answer.
    """

    detections: float = 8
    image_width: int = 1920
    image_height: int = 1080
    uri_chars: int = 64
    text_chars: int = 12
    answer_chars: int = 24

    def __post_init__(self) -> None:
        if not (isinstance(self.detections, (int, float)) and math.isfinite(self.detections)
                and 0 <= self.detections <= 100000):
            raise DicecError(f"detections must be a number from 0 to 100000, not {self.detections!r}")
        for name in ("image_width", "image_height", "uri_chars", "text_chars", "answer_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10 ** 6:
                raise DicecError(f"{name.replace('_', ' ')} must be a whole number from 1 to 1000000, not {value!r}")

    def uri(self, index: int) -> str:
        """A modelled image URI of :attr:`uri_chars` characters, distinct per ``index``."""
        tail = f"-{index:06d}.jpg"
        head = "s3://images/"
        return (head + "x" * max(0, self.uri_chars - len(head) - len(tail)) + tail)[-self.uri_chars:] \
            if self.uri_chars >= len(tail) else f"{index}"[-self.uri_chars:]


@dataclass(frozen=True)
class ModelledImage:
    """The image a modelled step computes on: its size only."""

    width: int
    height: int
    digest: str = "modelled"

    def crop(self, box: Any) -> "ModelledImage":
        return self


class ModelledBackend:
    """Answers every operator call with a modelled value of its result kind (the module docstring)."""

    name = "modelled"

    def __init__(self, assumptions: Assumptions) -> None:
        self.assumptions = assumptions

    def compute(self, spec: Any, form: Any, image: Any, patch: dict | None, args: list) -> Any:
        text = json.dumps([spec.name, patch, args], sort_keys=True, separators=(",", ":"), default=str)
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
        rng = random.Random(seed)
        kind = form.result
        if kind == "patches":
            if patch is None:
                return []
            count = math.floor(self.assumptions.detections)
            w, h = patch["right"] - patch["left"], patch["upper"] - patch["lower"]
            if w < 2 or h < 2:
                return []
            out = []
            for _ in range(count):
                x0, x1 = sorted(rng.sample(range(w + 1), 2))
                y0, y1 = sorted(rng.sample(range(h + 1), 2))
                out.append({"left": x0, "lower": y0, "right": x1, "upper": y1})
            return out
        return answer_of_kind(rng, kind, args, text=lambda: _text(rng, self.assumptions.text_chars))


def _text(rng: random.Random, chars: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(chars - 1)) + "x"


class StepModel:
    """The stand-in :class:`~dicec.runner.workflow.Runner` calls for every container step (:meth:`container`)
    and HTTP request (:meth:`http`) of a modelled run."""

    def __init__(self, assumptions: Assumptions, *, operator_dirs: tuple[str, ...] = ()) -> None:
        from dicec.runtime.backend import registry_for

        self.assumptions = assumptions
        self.operator_dirs = tuple(operator_dirs)
        self.backend = ModelledBackend(assumptions)
        self.image = ModelledImage(assumptions.image_width, assumptions.image_height)
        self.registry = registry_for(operator_dirs)

    def answer_text(self, seed: str) -> str:
        return _text(random.Random(seed), self.assumptions.answer_chars)

    # -- container steps ---------------------------------------------------------------------------------
    def container(self, argv: list[str]) -> tuple[int, list[str]]:
        """Write what the step ``argv`` (a dicec step command, paths already in its folder) would write:
        (exit code, log lines)."""
        from dicec.runtime import commands

        verb = argv[1:3] if len(argv) > 2 and argv[1] == "op" and argv[2] in ("stage", "call") else argv[1:2]
        command = {"op": commands.op, "answer": commands.answer, "op stage": commands.stage,
                   "op call": commands.call}.get(" ".join(verb))
        if argv[:1] != ["dicec"] or command is None:
            return 2, [f"a modelled run models dicec's step commands only, not {' '.join(argv[:3])!r}"]
        try:
            params = dict(command.make_context(command.name or "dicec", list(argv[1 + len(verb):])).params)
            if verb == ["answer"]:
                commands.flag_or_file(params, "records_json", "--records", "[]")
                answer = self.answer_text(params["program_payload"])
                _write(params["out"], json.dumps(answer))
                if params.get("text_out") is not None:  # the plain text form (a string as it is)
                    _write(params["text_out"], answer)
            elif verb == ["op", "stage"]:
                self.stage(params)
            elif params.get("group_payload") is not None:
                commands.flag_or_file(params, "inputs_json", "--inputs", "{}")
                self.group(params)
            else:
                self.op(params)
        except Exception as exc:  # a step that could not be modelled fails as a step would
            return 1, [f"dicec (modelled): {type(exc).__name__}: {exc}"]
        return 0, []

    def op(self, params: dict) -> None:
        from dicec.runtime.calls import canonical_json
        from dicec.runtime.compute import compute_call
        from dicec.runtime.step import prepare_call, task_of

        spec, form, args, patch = prepare_call(params["name"], params["call_payload"], params["refs_json"],
                                               params["patch_json"], params["index"], self.operator_dirs)
        value, record = compute_call(spec, form, args, patch, image=self.image, backend=self.backend,
                                     task=task_of(params["call_payload"]))
        _write(params["value_out"], canonical_json(value))
        _write(params["record_out"], canonical_json(record))
        if params.get("crops_out"):  # an edge detection's crop bundle: an artifact, so its bytes do not count
            _write(params["crops_out"], "", newline=False)

    def group(self, params: dict) -> None:
        from dicec.runtime.calls import canonical_json
        from dicec.runtime.compute import compute_call
        from dicec.runtime.group import decode_group, parse_inputs, prepare_calls, resolve_call

        values = parse_inputs(params["inputs_json"])
        for c, spec, form in prepare_calls(decode_group(params["group_payload"]), self.registry):
            args, patch = resolve_call(c, values)
            value, record = compute_call(spec, form, args, patch, image=self.image, backend=self.backend,
                                         task=c["task"])
            text = canonical_json(value)
            _write(os.path.join(params["out_dir"], c["task"], "value.json"), text)
            _write(os.path.join(params["out_dir"], c["task"], "record.json"), canonical_json(record))
            values[c["task"]] = json.loads(text)

    def stage(self, params: dict) -> None:
        """A batch stage pod or answer pod (:mod:`dicec.runtime.stage`), its images never opened."""
        from dicec.runtime.calls import canonical_json
        from dicec.runtime.compute import compute_call
        from dicec.runtime.contract import shard_slice
        from dicec.runtime.group import prepare_calls, resolve_call
        from dicec.runtime.stage import decode_stage, fresh_lines, read_images, read_lines

        images = read_images(params["images_file"], max_images=params.get("max_images"))
        indices = range(*shard_slice(params["shard"], params["shards"], len(images)))
        if params.get("stage_payload") is not None:
            _, calls = decode_stage(params["stage_payload"])
            lines = read_lines(params["records_in"], images, indices, len(calls)) if params.get("records_in") \
                else fresh_lines(images, indices, len(calls))
            prepared = [prepare_calls(c, self.registry) for c in calls]
            for line in lines:
                for q, question in enumerate(prepared):
                    for c, spec, form in question:
                        args, patch = resolve_call(c, line["values"][q])
                        value, record = compute_call(spec, form, args, patch, image=self.image, backend=self.backend,
                                                     task=c["task"])
                        line["values"][q][c["task"]] = json.loads(canonical_json(value))
                        line["records"][q][c["task"]] = record
            _write(params["records_out"], "".join(canonical_json(line) + "\n" for line in lines), newline=False)
            return
        programs = params["program_payloads"]
        answers = [{"index": i, "image": images[i],
                    "answers": [{"answer": self.answer_text(f"{p}{i}")} for p in programs]} for i in indices]
        _write(params["answers_out"], "".join(canonical_json(a) + "\n" for a in answers), newline=False)
        _write(params["answers_list_out"], canonical_json([{k: v for k, v in a.items() if k != "image"}
                                                           for a in answers]))

    # -- HTTP steps ------------------------------------------------------------------------------------
    def http(self, url: str, body: str) -> str:
        """The response body the model server (``/v1/step``) or the answer server (``/v1/answer``) would send."""
        from dicec.runtime.calls import canonical_json
        from dicec.runtime.compute import compute_call
        from dicec.runtime.contract import result_object, result_value
        from dicec.runtime.step import resolve_call, task_of

        request = json.loads(body)
        if urlsplit(url).path.endswith("/v1/answer"):  # the answer server's reply: {json, text}
            from dicec.runtime.contract import ANSWER_JSON_KEY, ANSWER_TEXT_KEY

            answer = self.answer_text(str(request.get("program")))
            return canonical_json({ANSWER_JSON_KEY: canonical_json(answer), ANSWER_TEXT_KEY: answer})
        refs = {task: result_value(v) for task, v in (request.get("refs") or {}).items()}
        spec, form, args, patch = resolve_call(request["call"], refs, result_value(request.get("patch", "image")),
                                               request.get("index", "none"), self.registry)
        value, record = compute_call(spec, form, args, patch, image=self.image, backend=self.backend,
                                     task=task_of(request["call"]))
        return canonical_json(result_object(value, record))


def _write(path: str, text: str, *, newline: bool = True) -> None:
    from dicec.runtime.compute import write_output

    write_output(path, text if newline else text.encode("utf-8"))
