"""Programmatic prompt refinement: ask the LLM, check its program, send the exact problems back.

Round 1 sends the question under the static prompt (:func:`dicec.codegen.prompt.render_prompt`, the
discovered operators' signatures and docstrings). Each reply goes through :func:`extract_code` and
then the one checker (:func:`dicec.check.check_program`) and the analyser, the same as a ``.py``
input. A reply that fails is answered, in the same conversation, with the checker's messages
verbatim (``program.py:LINE: text``, rendered from ``templates/prompts/refine.j2``), and the model
tries again. After ``rounds`` refused replies the build stops with :class:`RefinementFailed`, which
lists what was still wrong with the last program.
"""

from __future__ import annotations

from dataclasses import dataclass

from dicec.codegen.extract import extract_code
from dicec.codegen.llm import LLMOptions, MessagesClient
from dicec.codegen.offline import GeneratedProgram
from dicec.codegen.usage import Usage
from dicec.errors import DicecError
from dicec.tools.registry import Registry

#: The name the LLM's program goes by in the messages sent back to it.
PROGRAM_PATH = "program.py"
REFINE_TEMPLATE = "refine.j2"


class RefinementFailed(DicecError):
    """Every round's program was refused.

    Attributes:
        problems: the lines to show: a summary, then each problem of the last program.
        usage: the tokens spent getting there.
    """

    def __init__(self, summary: str, lines: list[str], usage: Usage) -> None:
        super().__init__(summary)
        self.problems = [self] + lines
        self.usage = usage


@dataclass(frozen=True, kw_only=True)
class Round:
    """One reply and what the checker said of it.

    Attributes:
        code: the extracted program, or ``None`` when the reply held no code.
        problems: one-line messages (``program.py:LINE: text``); empty when the program passed.
        truncated: the reply stopped at the token limit.
    """

    code: str | None
    problems: tuple[str, ...]
    truncated: bool = False


def review(reply_text: str, registry: Registry, *, truncated: bool = False) -> Round:
    """Extract the program from one reply and check it as the pipeline will."""
    from dicec.analysis import analyse

    extracted = extract_code(reply_text)
    if extracted.code is None:
        return Round(code=None, truncated=truncated, problems=(
            f"{PROGRAM_PATH}:1: no Python code found in the reply; answer with the program "
            "(def execute_command(image): ...) only",))
    try:  # analyse runs the checker first (require_valid): CheckFailed carries every checker message
        analyse(extracted.code, registry, path=PROGRAM_PATH)
    except DicecError as exc:
        lines = [str(p) for p in getattr(exc, "problems", None) or [exc]]
        return Round(code=extracted.code, problems=tuple(lines), truncated=truncated)
    return Round(code=extracted.code, problems=(), truncated=truncated)


def feedback(round_: Round) -> str:
    """The user turn that sends a refused program's problems back to the LLM."""
    from dicec.codegen.prompt import render_template

    return render_template(REFINE_TEMPLATE, problems=list(round_.problems), truncated=round_.truncated)


def generate_llm(question: str, registry: Registry, options: LLMOptions, *, client: MessagesClient | None = None,
                 path: str = "<question>", system: str) -> GeneratedProgram:
    """Ask the LLM for a program answering ``question`` under the static prompt ``system``
    (:func:`~dicec.codegen.prompt.render_prompt`); refine until it passes or rounds run out."""
    client = client or MessagesClient(options)
    messages: list[dict] = [{"role": "user", "content": question}]
    usage = Usage()
    last: Round | None = None
    for n in range(1, options.rounds + 1):
        reply = client.complete(system=system, messages=messages)
        usage = usage + reply.usage
        last = review(reply.text, registry, truncated=reply.stop_reason == "max_tokens")
        if not last.problems:
            assert last.code is not None
            return GeneratedProgram(code=last.code, family="llm", backend="anthropic", rounds=n, usage=usage)
        messages.append({"role": "assistant", "content": reply.text if reply.text.strip() else "(empty reply)"})
        messages.append({"role": "user", "content": feedback(last)})
    assert last is not None
    where = f"{path} (LLM program, round {options.rounds})"
    lines = [where + p[len(PROGRAM_PATH):] if p.startswith(PROGRAM_PATH + ":") else p for p in last.problems]
    raise RefinementFailed(
        f"the LLM's program ({options.model}) still failed the checker after {options.rounds} round"
        f"{'s' if options.rounds != 1 else ''} ({len(lines)} problem{'s' if len(lines) != 1 else ''} left); "
        "raise --rounds, rephrase the question, or use --backend offline", lines, usage)
