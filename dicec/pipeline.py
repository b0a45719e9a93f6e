"""The stages chained: any entry point (question, program, task graph, placed graph) to a workflow.

The CLI and the benchmarks call these; each step is one stage's pure function, so the same input
always gives the same bytes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dicec.errors import DicecError, Location
from dicec.files import read_text

#: Input kinds by file suffix.
SUFFIXES = {".txt": "question", ".py": "program", ".json": "graph"}
MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True, kw_only=True)
class Compiled:
    """Everything one compile produced.

    Attributes:
        question: the question, when the input was one.
        program: the serial program's text.
        graph: the task graph.
        placed: the placed graph.
        workflow: the Argo Workflow as a dict.
        yaml: the workflow as deterministic YAML text.
        warnings: one-line warnings from the stages (e.g. a question the rules could not decompose).
        timings: seconds spent per stage.
    """

    question: str | None
    program: str
    graph: Any
    placed: Any
    workflow: dict
    yaml: str
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


def input_kind(path: str) -> str:
    kind = SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        raise DicecError("expected a .txt question, a .py program or a .json task graph", location=Location(path=path))
    return kind


def read_question(path: str) -> str:
    text = " ".join(read_text(path, what="question").split())
    if len(text) > MAX_QUESTION_CHARS:
        raise DicecError(f"question is {len(text)} characters, over the {MAX_QUESTION_CHARS}-character limit",
                         location=Location(path=path))
    return text


def generate(question: str, registry, *, backend: str = "offline"):
    """Stage 2: question -> program (``GeneratedProgram`` with ``code``, ``family``, ``warnings``)."""
    if backend != "offline":
        raise DicecError(f"unknown code-generation backend {backend!r} (available: offline)")
    from dicec.codegen import generate_offline

    return generate_offline(question, registry)


def compile_text(text: str, kind: str, *, path: str, registry, catalogue, options=None,
                 backend: str = "offline") -> Compiled:
    """Run the stages from ``kind`` (``question``, ``program`` or ``graph``) to the workflow."""
    from dicec.analysis import analyse, graph_from_json
    from dicec.emit import EmitOptions, dump_yaml, emit_workflow
    from dicec.placement import place, placed_from_json

    timings: dict[str, float] = {}
    warnings: list[str] = []
    question = None
    placed = None
    t0 = time.perf_counter()
    if kind == "question":
        question = text
        generated = generate(question, registry, backend=backend)
        program = generated.code
        warnings.extend(generated.warnings)
        timings["codegen"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        graph = analyse(program, registry, path=f"{path} (generated)", question=question)
    elif kind == "program":
        program = text
        graph = analyse(program, registry, path=path)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DicecError(f"not valid JSON: {exc.msg}", location=Location(path=path, line=exc.lineno)) from None
        if isinstance(data, dict) and data.get("kind") == "dicec/placed-graph":
            placed = placed_from_json(data, where=path)
            graph = placed.graph
        else:
            graph = graph_from_json(data, where=path)
        program = graph.source
        question = graph.question
    timings["analyse"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if placed is None:
        placed = place(graph, registry, catalogue)
    timings["place"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    workflow = emit_workflow(placed, options or EmitOptions())
    text_out = dump_yaml([workflow])
    timings["emit"] = time.perf_counter() - t0
    return Compiled(question=question, program=program, graph=graph, placed=placed, workflow=workflow,
                    yaml=text_out, warnings=tuple(warnings), timings=timings)


def compile_path(path: str, *, registry, catalogue, options=None, backend: str = "offline") -> Compiled:
    """Read ``path`` (kind by suffix) and compile it."""
    kind = input_kind(path)
    text = read_question(path) if kind == "question" else read_text(path, what=kind)
    return compile_text(text, kind, path=path, registry=registry, catalogue=catalogue, options=options, backend=backend)
