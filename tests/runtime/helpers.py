"""Shared helpers for the runtime tests: test images, compiling, and running exec/run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dicec.runtime.images import encode_png


def write_image(path: Path, width: int = 320, height: int = 240, seed: int = 0) -> Path:
    """A deterministic noisy RGB PNG."""
    rng = np.random.default_rng(seed)
    path.write_bytes(encode_png(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)))
    return path


def exec_answer(source: str, image: Path, *, models: str = "seeded", registry=None) -> dict:
    """``dicec exec`` in-process: {"answer": ...} or {"error": (kind, detail, line)}."""
    from dicec.runtime.backend import get_backend, registry_for
    from dicec.runtime.images import load_image
    from dicec.runtime.program import ProgramError, run_program

    try:
        outcome = run_program(source, registry=registry or registry_for(), image=load_image(str(image)),
                              backend=get_backend(models))
    except ProgramError as exc:
        return {"error": [exc.kind, exc.detail, exc.line]}
    return {"answer": outcome.answer}


def run_answer_of(workflow_yaml: str, tmp: Path, image: Path, *, models: str = "seeded", isolation: str = "thread",
                  parallelism: int = 4) -> dict:
    """``dicec run`` in-process on workflow text: {"answer": ...} or {"failed": step, "log": tail} from the answer step."""
    return run_and_count(workflow_yaml, tmp, image, models=models, isolation=isolation, parallelism=parallelism)[0]


def run_and_count(workflow_yaml: str, tmp: Path, image: Path, *, models: str = "seeded", isolation: str = "thread",
                  parallelism: int = 4) -> tuple[dict, list]:
    """:func:`run_answer_of`, and what the answer step reported of its replay (``RunResult.answer_counts``;
    none when a step failed)."""
    from dicec.runner.workflow import RunOptions, StepFailed, run_workflow

    wf = tmp / "wf.yaml"
    wf.write_text(workflow_yaml)
    try:
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, parallelism=parallelism,
                                                  isolation=isolation, env={"DICEC_MODELS": models}))
    except StepFailed as exc:
        return {"failed": exc.step, "log": exc.log_tail}, []
    from dicec.runtime.calls import answer_text

    value = json.loads(result.outputs["answer-json"])
    assert result.outputs["answer"] == answer_text(value)  # the plain output: a string without its JSON quotes
    return {"answer": value}, list(result.answer_counts)
