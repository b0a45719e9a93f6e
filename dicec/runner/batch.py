"""Reading a batch workflow's result: the ``answers`` output, one answer per entry of ``images``.

A batch workflow (``dicec compile --batch``, see :mod:`dicec.emit.inputs`) outputs ``answers``, Argo's
aggregation of the per-image ``answer`` outputs: a JSON list in the order of the ``images`` parameter.
An empty ``images`` list runs nothing, and Argo leaves the aggregate unresolved; that is read as no
answers. Anything else that is not a list of the right length is an error, never a silent mismatch.
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
    return images, answers
