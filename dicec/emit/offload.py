"""The Argo ``when`` of an offloaded cloud step: run it only if the edge detection it needs found something.

:func:`dicec.placement.edge.offload_guards` names the cloud tasks whose receiver is an element of an
edge task's patch list. Each gets the condition

    '{{tasks.EDGE.outputs.parameters.value}}' != '[]'

Argo substitutes the edge step's ``value`` output (the canonical JSON the step wrote, with the one
trailing newline Argo trims from a file output) and evaluates the text with govaluate, where a
single-quoted string is a string literal; an empty detection list is exactly ``[]`` (a detection run
inside a fused step is that step's per-task value output, :mod:`dicec.emit.fused`). The value is a
list of boxes (numbers under fixed keys) written by ``dicec op``, never text a user or an LLM wrote,
so it cannot close the quoted string; the only other part of the condition is a task id (a DNS label).
A false condition marks the step Skipped, its record stays unresolved in the ``answer`` step's
records, which skips it (see :mod:`dicec.emit.steps`), and ``dicec run`` does the same
(:mod:`dicec.runtime.when`).
"""

from __future__ import annotations

from typing import Callable

from dicec.placement.edge import offload_guards

EMPTY = "[]"


def value_of(task_id: str) -> str:
    """The Argo reference to a (not fused) task's ``value`` output."""
    return "{{tasks.%s.outputs.parameters.value}}" % task_id


def condition(value_ref: str) -> str:
    """The ``when`` text for a step offloaded from the detections whose value ``value_ref`` refers to."""
    return "'%s' != '%s'" % (value_ref, EMPTY)


def offload_when(placed, value_ref: Callable[[str], str] = value_of) -> dict[str, str]:
    """Task id -> its ``when``, for every offloaded cloud task of ``placed`` (empty without an edge pool).

    ``value_ref`` gives the reference to a task's value (a fused group's step names its outputs per task).
    """
    return {tid: condition(value_ref(source)) for tid, source in offload_guards(placed).items()}
