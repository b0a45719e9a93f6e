"""What ``dicec run`` reports about the answer step: the records each replay used and the calls it computed,
set against the plan, per query and summed for a batch.

Every answer step says it on its own (:mod:`dicec.runtime.replaycounts`): ``dicec answer`` and a batch's
answer pod in their log (``answer: counts {JSON}`` lines), the answer server in its response's
``Dicec-Answer-Counts`` header. The runner keeps what each step said (:class:`StepCounts`, from
:func:`counts_in_log` and :func:`counts_in_headers`), and :func:`answer_step_json` makes the
``answer_step`` of ``dicec run --format json``: for one query its counts, for a batch their sum (``queries``
says how many replays) and the list ``per_query`` (each with its image, its index in the batch and, for a
batch of stage pods, the question's name), in batch order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dicec.runtime.replaycounts import COUNTS_HEADER, ReplayCounts, parse_counts, parse_counts_line, total


@dataclass(frozen=True, kw_only=True)
class StepCounts:
    """What one answer replay reported.

    Attributes:
        step: the step that ran it (as ``dicec run`` names steps: ``answer``, ``query(3:...)/answer``).
        indices: the fan-out elements the step ran in, outermost first (a batch's image index).
        where: what the replay said of itself: ``image``, and in a batch's answer pod ``index`` and
            ``question`` (1, 2, ... in the pod's order).
        counts: its counts.
    """

    step: str
    indices: tuple[int, ...]
    where: dict[str, Any]
    counts: ReplayCounts

    @property
    def order(self) -> tuple:
        """Where it comes in the batch: by image index, then question."""
        index = self.where.get("index")
        first = (index,) if isinstance(index, int) else self.indices
        question = self.where.get("question")
        return (*first, question if isinstance(question, int) else 0, self.step)


def counts_in_log(lines: list[str], *, step: str, indices: tuple[int, ...] = ()) -> list[StepCounts]:
    """The counts lines of a container step's log (none for a step that is not an answer step)."""
    out = []
    for line in lines:
        found = parse_counts_line(line, where=f"step {step}")
        if found is not None:
            out.append(StepCounts(step=step, indices=indices, where=found[0], counts=found[1]))
    return out


def counts_in_headers(headers: dict[str, str], *, step: str, indices: tuple[int, ...] = ()) -> list[StepCounts]:
    """The counts an HTTP step's response carried in :data:`~dicec.runtime.replaycounts.COUNTS_HEADER`."""
    text = headers.get(COUNTS_HEADER)
    if text is None:
        return []
    where, counts = parse_counts(text, where=f"step {step}: {COUNTS_HEADER}")
    return [StepCounts(step=step, indices=indices, where=where, counts=counts)]


def answer_step_json(reported: list[StepCounts], *, batch: bool, questions: list[str] | None = None) -> dict | None:
    """``answer_step`` for ``dicec run --format json``: one query's counts, or a batch's sum and its
    ``per_query`` in batch order; ``None`` when no answer step reported counts (one that failed, or a
    workflow whose answer step is not dicec's)."""
    if not reported:
        return None
    ordered = sorted(reported, key=lambda r: r.order)
    if not batch and len(ordered) == 1:
        return {**ordered[0].where, **ordered[0].counts.to_json()}
    queries = []
    for r in ordered:
        entry: dict[str, Any] = {}
        if "image" in r.where:
            entry["image"] = r.where["image"]
        index = r.where.get("index", r.indices[0] if r.indices else None)
        if index is not None:
            entry["index"] = index
        question = r.where.get("question")
        if questions and isinstance(question, int) and 1 <= question <= len(questions):
            entry["question"] = questions[question - 1]
        entry.update(r.counts.to_json())
        queries.append(entry)
    return {**total(r.counts for r in ordered).to_json(), "per_query": queries}


def answer_step_text(reported: list[StepCounts]) -> str | None:
    """One line for a person: ``answer step: N operator calls over Q queries; ...`` (``None`` when nothing was reported)."""
    if not reported:
        return None
    summed = total(r.counts for r in reported)
    head = f"answer step: {summed.calls} operator calls" + (f" over {summed.queries} queries" if summed.queries > 1 else "")
    return f"{head}; {summed.summary()}"
