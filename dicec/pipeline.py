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
class Planned:
    """One input taken through placement.

    Attributes:
        path: the input file (or the name it was given under).
        question: the question, when the input was one.
        program: the serial program's text.
        graph: the task graph.
        placed: the placed graph.
        warnings: one-line warnings from the stages (e.g. a question the rules could not decompose).
        timings: seconds spent per stage.
        usage: LLM calls and tokens spent generating the program (``None`` offline or from a program).
    """

    path: str
    question: str | None
    program: str
    graph: Any
    placed: Any
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    usage: Any = None


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
        usage: LLM calls and tokens spent generating the program (zero offline, replayed, or when the
            input was not a question).
        plan: a pods-mode batch's :class:`~dicec.placement.stages.BatchPlan` (shards of stage pods), else ``None``.
        inputs: every input through placement, in order (several for several questions over one batch);
            the first is the one ``question`` ... ``usage`` describe.
    """

    question: str | None
    program: str
    graph: Any
    placed: Any
    workflow: dict
    yaml: str
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    usage: Any = None
    plan: Any = None
    inputs: tuple[Planned, ...] = ()


def input_kind(path: str) -> str:
    kind = SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        raise DicecError("expected a .txt question, a .py program or a .json task graph", location=Location(path=path))
    return kind


#: Capitalised words that open a question or a request: after a line that does not end in ",", ";", ":"
#: or "-", such a line is a new question (see :func:`read_question`).
QUESTION_OPENERS = frozenset("""
Is Are Was Were Do Does Did Can Could Would Will Should Has Have Had Isn't Aren't Doesn't Don't Can't What What's
Which Who Who's Whose Where Where's When Why How Count Show Tell List Find Name Read Locate Identify Describe
Please Check
""".split())


def read_question(path: str) -> str:
    """The one question in the file at ``path``, whitespace collapsed.

    A question may be wrapped over several lines; a file that holds several questions is refused, in
    one line naming the lines where they start (joining them would ask a question nobody asked). A
    line starts a new question when the line before it ends a sentence (".", "?", "!"), or when it
    opens the way a question or request does ("Is", "What", "How", "Count", "Show" ...: see
    :data:`QUESTION_OPENERS`, capitalised) and the line before it does not end with ",", ";", ":" or "-".
    """
    lines = [(number, line.strip()) for number, line in enumerate(read_text(path, what="question").split("\n"), 1)
             if line.strip()]  # file lines end in \n (or \r\n); U+2028 and the like are characters of a line
    starts = [number for i, (number, line) in enumerate(lines)
              if i == 0 or lines[i - 1][1].endswith((".", "?", "!"))
              or line.split()[0] in QUESTION_OPENERS and not lines[i - 1][1].endswith((",", ";", ":", "-"))]
    if len(starts) > 1:
        where = ", ".join(str(n) for n in starts[:-1]) + f" and {starts[-1]}"
        raise DicecError(f"the file holds {len(starts)} questions (starting on lines {where}); a question file "
                         "takes one question: put each in a file of its own", location=Location(path=path))
    text = " ".join(" ".join(line for _, line in lines).split())
    if not text:
        raise DicecError("question file is empty", location=Location(path=path))
    if len(text) > MAX_QUESTION_CHARS:
        raise DicecError(f"question is {len(text)} characters, over the {MAX_QUESTION_CHARS}-character limit",
                         location=Location(path=path))
    return text


def generate(question: str, registry, *, backend: str = "offline", llm=None, path: str = "<question>"):
    """Stage 2: question -> program (``GeneratedProgram`` with ``code``, ``family``, ``warnings``,
    ``usage``); ``llm`` is the :class:`~dicec.codegen.llm.LLMOptions` of ``anthropic``/``replay``."""
    from dicec.codegen.backends import generate_program

    return generate_program(question, registry, backend=backend, options=llm, path=path)


def plan_text(text: str, kind: str, *, path: str, registry, catalogue, mode: str = "pods", backend: str = "offline",
              llm=None, placement: dict | None = None) -> Planned:
    """Run the stages from ``kind`` (``question``, ``program`` or ``graph``) up to the placed graph (see
    :func:`compile_text`)."""
    from dicec.analysis import analyse, graph_from_json
    from dicec.placement import place, placed_from_json

    timings: dict[str, float] = {}
    warnings: list[str] = []
    question = None
    placed = None
    usage = None
    t0 = time.perf_counter()
    if kind == "question":
        question = text
        generated = generate(question, registry, backend=backend, llm=llm, path=path)
        program = generated.code
        usage = generated.usage
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
    if placed is None or placement or (mode == "services" and placed.services is None):  # services: its figures
        placed = place(graph, registry, catalogue, mode=mode, **(placement or {}))
    timings["place"] = time.perf_counter() - t0
    return Planned(path=path, question=question, program=program, graph=graph, placed=placed,
                   warnings=tuple(warnings), timings=timings, usage=usage)


def compile_text(text: str, kind: str, *, path: str, registry, catalogue, options=None,
                 backend: str = "offline", llm=None, placement: dict | None = None) -> Compiled:
    """Run the stages from ``kind`` (``question``, ``program`` or ``graph``) to the workflow.

    ``placement``: keyword options of :func:`dicec.placement.place` (objective, max_latency_s, spot,
    fuse); given, a placed graph is placed again with them."""
    from dicec.emit import EmitOptions

    options = options or EmitOptions()
    planned = plan_text(text, kind, path=path, registry=registry, catalogue=catalogue, mode=options.mode,
                        backend=backend, llm=llm, placement=placement)
    return emit_planned([planned], registry=registry, options=options)


def emit_planned(planned: list[Planned], *, registry, options) -> Compiled:
    """The workflow of inputs taken through placement: one input's (:func:`dicec.emit.argo.emit_documents`),
    or, for a pods-mode batch, shards of stage pods answering every input's question for every image
    (:func:`dicec.placement.stages.plan_batch`, :func:`dicec.emit.batch.emit_batch_workflow`)."""
    from dicec.emit import dump_yaml
    from dicec.emit.argo import emit_documents

    from dicec.emit.images import check_operators, with_images

    t0 = time.perf_counter()
    check_operators(options.operator_images, (op for p in planned for op in p.placed.images))
    placed = [with_images(p.placed, options) for p in planned]  # --image, --operator-image (dicec.emit.images)
    plan = None
    if options.batch:
        from dicec.emit.batch import emit_batch_workflow, uses_stages
        from dicec.placement.stages import plan_batch

        if uses_stages(placed, options):
            plan = plan_batch(placed, registry, shards=options.shards, max_images=options.max_batch)
    if plan is None and options.shards is not None:
        raise DicecError("--shards: this batch runs one query per image (its placement uses an edge pool), "
                         "not as shards of stage pods")
    if plan is not None:
        documents = [emit_batch_workflow(placed, plan, options)]
    elif len(planned) > 1:
        raise DicecError("several questions are answered together only by a pods-mode --batch whose pods read the "
                         "images themselves (not --mode services, --input-artifact or an edge pool)")
    else:
        documents = emit_documents(placed[0], options)  # services mode: servers, then the Workflow
    text_out = dump_yaml(documents)
    first = planned[0]
    timings = {k: sum(p.timings.get(k, 0.0) for p in planned) for k in dict.fromkeys(
        k for p in planned for k in p.timings)}
    timings["emit"] = time.perf_counter() - t0
    return Compiled(question=first.question, program=first.program, graph=first.graph, placed=first.placed,
                    workflow=documents[-1], yaml=text_out, warnings=tuple(w for p in planned for w in p.warnings),
                    timings=timings, usage=first.usage, plan=plan, inputs=tuple(planned))


def compile_path(path: str, *, registry, catalogue, options=None, backend: str = "offline", llm=None,
                 placement: dict | None = None) -> Compiled:
    """Read ``path`` (kind by suffix) and compile it."""
    return compile_paths([path], registry=registry, catalogue=catalogue, options=options, backend=backend, llm=llm,
                         placement=placement)


def compile_paths(paths: list[str], *, registry, catalogue, options=None, backend: str = "offline", llm=None,
                  placement: dict | None = None) -> Compiled:
    """Read and compile each of ``paths`` (kind by suffix): one workflow; several inputs need ``--batch`` (every
    question answered for every image, sharing the stage pods)."""
    from dicec.emit import EmitOptions

    options = options or EmitOptions()
    if not paths:
        raise DicecError("nothing to compile: give a question, program or graph file")
    if len(paths) > 1 and not options.batch:
        raise DicecError(f"{len(paths)} inputs: several questions are compiled together only with --batch "
                         "(each question answered for every image of the batch)")
    planned = []
    for path in paths:
        kind = input_kind(path)
        text = read_question(path) if kind == "question" else read_text(path, what=kind)
        planned.append(plan_text(text, kind, path=path, registry=registry, catalogue=catalogue, mode=options.mode,
                                 backend=backend, llm=llm, placement=placement))
    return emit_planned(planned, registry=registry, options=options)
