"""Reading a batch workflow's result: the ``answers`` output, one answer per entry of ``images``.

A batch workflow that fans out one query per image (services mode, or ``--input-artifact``; see
:mod:`dicec.emit.inputs`) outputs ``answers``, Argo's aggregation of the per-image ``answer-json`` outputs:
a JSON list in the order of the ``images`` parameter, of the answers themselves when every answer is a JSON
list or object, else of their JSON texts as strings (:func:`decode_answers` reads either back). An empty
``images`` list runs nothing, and Argo leaves the aggregate unresolved; that is read as no answers
(:func:`batch_answers`).

A pods-mode batch of stage pods (:mod:`dicec.emit.batch`; it carries its plan in an annotation) outputs
``answers`` as a list of per-shard lists, each entry ``{"index": i, "answers": [{"answer": A} |
{"error": MESSAGE}, ...]}`` per image, one outcome per question; :func:`stage_answers` checks it covers
every image once, in order. Anything that is not what it should be is an error, never a silent mismatch.
"""

from __future__ import annotations

import json
from typing import Any

from dicec.errors import DicecError

BATCH_PARAMETER = "images"


def parse_images(text: str, *, where: str) -> list[Any]:
    """The ``images`` parameter's JSON list."""
    try:
        images = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"{where}: -p images must be a JSON list of images ({exc.msg})") from None
    if not isinstance(images, list):
        raise DicecError(f"{where}: -p images must be a JSON list of images, not {type(images).__name__}")
    return images


def batch_answers(answers_text: str, parameters: dict[str, str], where: str) -> tuple[list[Any], list[Any]]:
    """(images, answers) of a finished batch run; ``answers[i]`` is the answer for ``images[i]``."""
    images = parse_images(parameters.get(BATCH_PARAMETER, "[]"), where=where)
    if not images:
        return [], []
    try:
        answers = json.loads(answers_text)
    except json.JSONDecodeError:
        raise DicecError(f"{where}: the answers output is not a JSON list: {answers_text[:120]!r}") from None
    if not isinstance(answers, list) or len(answers) != len(images):
        raise DicecError(f"{where}: expected {len(images)} answers, one per image, got "
                         f"{len(answers) if isinstance(answers, list) else type(answers).__name__}")
    return images, decode_answers(answers, where=where)


def decode_answers(aggregated: list[Any], *, where: str) -> list[Any]:
    """The answers of an aggregated ``answer-json`` list: Argo kept the parsed answers (each a list or an object)
    or, when any answer is not, every answer's JSON text as a string (:mod:`dicec.runner.aggregate`); a string
    element is therefore always JSON text to parse, never an answer itself."""
    out = []
    for element in aggregated:
        if isinstance(element, str):
            try:
                element = json.loads(element)
            except json.JSONDecodeError:
                raise DicecError(f"{where}: an element of the answers output is not an answer's JSON: "
                                 f"{element[:120]!r}") from None
        out.append(element)
    return out


def stage_answers(answers_text: str, parameters: dict[str, str], questions: int,
                  where: str) -> tuple[list[Any], list[list[dict]]]:
    """(images, outcomes) of a finished pods-mode batch of ``questions`` questions: ``outcomes[i][k]`` is
    ``{"answer": A}`` or ``{"error": MESSAGE}`` for image ``i`` and question ``k``."""
    images = parse_images(parameters.get(BATCH_PARAMETER, "[]"), where=where)
    try:
        shards = json.loads(answers_text)
    except json.JSONDecodeError:
        raise DicecError(f"{where}: the answers output is not JSON: {answers_text[:120]!r}") from None
    if not isinstance(shards, list) or not all(isinstance(s, list) for s in shards):
        raise DicecError(f"{where}: the answers output is not a list of per-shard lists: {answers_text[:120]!r}")
    rows = [row for shard in shards for row in shard]
    if len(rows) != len(images):
        raise DicecError(f"{where}: expected {len(images)} answers, one per image, got {len(rows)}")
    outcomes = []
    for i, row in enumerate(rows):
        got = row.get("answers") if isinstance(row, dict) else None
        if (row.get("index") if isinstance(row, dict) else None) != i or not isinstance(got, list) or \
                len(got) != questions or not all(isinstance(o, dict) and len(set(o) & {"answer", "error"}) == 1
                                                 for o in got):
            raise DicecError(f"{where}: answer {i} is not the answers of image {i} to {questions} question(s): "
                             f"{json.dumps(row)[:120]}")
        outcomes.append(got)
    return images, outcomes


def stage_report(images: list[Any], outcomes: list[list[dict]], names: list[str]) -> tuple[list[str], dict, list[dict]]:
    """How ``dicec run`` shows a pods-mode batch: (text lines, the JSON body's ``answers``/``errors``/``questions``,
    the errors). One question: ``IMAGE: ANSWER`` per image, as for any batch; several: ``IMAGE [q2]: ANSWER``.
    A failed answer is ``... error: MESSAGE`` and ``null`` among the JSON answers, with its entry in ``errors``."""
    from dicec.runtime.calls import answer_text

    lines, answers, errors = [], [], []
    for i, (image, got) in enumerate(zip(images, outcomes)):
        shown = image if isinstance(image, str) else json.dumps(image)
        for k, o in enumerate(got):
            head = shown if len(names) == 1 else f"{shown} [{names[k]}]"
            if "error" in o:
                lines.append(f"{head}: error: {o['error']}")
                errors.append({"index": i, "image": image, "question": names[k], "error": o["error"]})
            else:
                lines.append(f"{head}: {answer_text(o['answer'])}")
        values = [o.get("answer") for o in got]
        answers.append(values[0] if len(names) == 1 else values)
    body = {"answers": answers, "errors": errors}
    if len(names) > 1:
        body["questions"] = names
    return lines, body, errors
