"""The answer step's counts: which records its replay used, which calls it computed, and what the plan said.

Every way of running the answer step -- ``dicec answer`` (a pod), the answer server (services mode) and a
batch's answer pod -- replays the serial program over the records the tasks wrote
(:func:`dicec.runtime.answer.replay`). That makes the answer right whatever the plan predicted, and so hides a
wrong plan: a call no record answers is computed there, serially (latency), and a record no call uses was
computed for nothing (GPU time). :class:`ReplayCounts` says how much of each happened and whether the plan
said it would (:mod:`dicec.runtime.plancheck` sets a replay against the task graph):

* ``calls_computed``: calls answered without a record, by operator; ``calls_mispredicted`` of them were not
  among the plan's residual calls (the plan predicted a task for the call, and no record matched it);
* ``records_used`` and ``records_unused``: distinct records (one per call; a fan-out writes one per element)
  that answered a call, and that did not; ``records_mispredicted`` of the unused ones came from a task the
  plan did not mark as speculative (a task without a guard: the plan said the program would make that call).

A right plan has both mispredicted counts at 0; unused records are then speculation the plan chose.

How the counts travel, so that ``dicec run`` reports them for any workflow with no change to what Argo
sees: a line ``answer: counts {JSON}`` in the step's log (:func:`counts_line`; a batch's answer pod writes one
per image and question, with their numbers), and from the answer server the response header
``Dicec-Answer-Counts`` (:data:`COUNTS_HEADER`, the same JSON), so the response body -- the workflow's
``answer`` output -- is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from dicec.errors import DicecError

#: The log line that carries one replay's counts (the program's own prints start ``program:``).
COUNTS_PREFIX = "answer: counts "
#: The answer server's response header with the same JSON.
COUNTS_HEADER = "Dicec-Answer-Counts"
#: What a counts line may say about where the replay ran, besides the counts.
WHERE_KEYS = ("image", "index", "question")


@dataclass(frozen=True, kw_only=True)
class ComputedSite:
    """The calls at one place in the program that the answer step computed (no record answered them).

    Attributes:
        operator: the operator called.
        line: the program line the call starts on (how the plan numbers its residual calls), or ``None``
            when the replay could not tell.
        calls: how many calls were made there.
        residual: the reason the plan gave for leaving the call to the answer step, or ``None`` when the
            plan did not list it (it predicted a task for the call: a misprediction).
    """

    operator: str
    line: int | None
    calls: int
    residual: str | None

    def __post_init__(self) -> None:
        if not self.operator or _bad_count(self.calls) or self.calls < 1:
            raise ValueError(f"a computed site needs an operator and at least one call, not {self!r}")

    @property
    def where(self) -> tuple:
        return (self.operator, -1 if self.line is None else self.line, self.residual or "")

    def to_json(self) -> dict[str, Any]:
        return {"operator": self.operator, "line": self.line, "calls": self.calls, "residual": self.residual}


@dataclass(frozen=True, kw_only=True)
class ReplayCounts:
    """One replay's counts (or several added up, :func:`total`).

    Attributes:
        queries: the replays counted (1 for one query).
        calls: operator calls the program made.
        records_used: distinct records that answered a call.
        records_unused: distinct records that answered none.
        records_mispredicted: the unused records not all of whose tasks the plan marked speculative.
        calls_computed: calls answered without a record, by operator (sorted, no zeros).
        calls_mispredicted: the computed calls the plan did not list as residual.
        unused: unused records by the task that computed them (a record two tasks computed counts under
            each; ``""`` for records that name no task).
        computed: the computed calls by place in the program, in (operator, line) order.
    """

    queries: int = 1
    calls: int = 0
    records_used: int = 0
    records_unused: int = 0
    records_mispredicted: int = 0
    calls_computed: dict[str, int] = field(default_factory=dict)
    calls_mispredicted: int = 0
    unused: dict[str, int] = field(default_factory=dict)
    computed: tuple[ComputedSite, ...] = ()

    def __post_init__(self) -> None:
        numbers = (self.queries, self.calls, self.records_used, self.records_unused, self.records_mispredicted,
                   self.calls_mispredicted, *self.calls_computed.values(), *self.unused.values())
        if any(_bad_count(n) for n in numbers):
            raise ValueError("replay counts are whole numbers of at least 0")
        if self.records_mispredicted > self.records_unused:
            raise ValueError("more mispredicted records than unused ones")
        by_operator: dict[str, int] = {}
        for site in self.computed:
            by_operator[site.operator] = by_operator.get(site.operator, 0) + site.calls
        if by_operator != {k: v for k, v in self.calls_computed.items() if v}:
            raise ValueError("the computed calls by operator are not the sum of their sites")
        if self.calls_mispredicted != sum(s.calls for s in self.computed if s.residual is None):
            raise ValueError("the mispredicted calls are not the computed sites the plan did not list")
        if sum(self.calls_computed.values()) > self.calls:
            raise ValueError("more computed calls than calls")

    @property
    def records(self) -> int:
        """Distinct records the answer step was given."""
        return self.records_used + self.records_unused

    @property
    def computed_calls(self) -> int:
        """Calls answered without a record."""
        return sum(self.calls_computed.values())

    @property
    def right(self) -> bool:
        """Whether the plan was right: nothing computed it did not list, nothing unused it did not speculate."""
        return self.records_mispredicted == 0 and self.calls_mispredicted == 0

    def to_json(self) -> dict[str, Any]:
        return {"queries": self.queries, "calls": self.calls, "records_used": self.records_used,
                "records_unused": self.records_unused, "records_mispredicted": self.records_mispredicted,
                "calls_computed": dict(sorted(self.calls_computed.items())),
                "calls_mispredicted": self.calls_mispredicted, "unused": dict(sorted(self.unused.items())),
                "computed": [s.to_json() for s in self.computed]}

    def summary(self) -> str:
        """One line for a log: ``8 from 11 records (3 unused, 3 speculated); 1 computed (simple_query 1, 1 residual)``."""
        unused = self.records_unused - self.records_mispredicted
        text = f"{self.records_used} of {self.records} records used"
        if self.records_unused:
            text += f" ({self.records_unused} unused: {unused} speculated, {self.records_mispredicted} mispredicted)"
        computed = self.computed_calls
        text += f"; {computed} computed"
        if computed:
            ops = ", ".join(f"{k} {v}" for k, v in sorted(self.calls_computed.items()))
            text += f" ({ops}: {computed - self.calls_mispredicted} residual, {self.calls_mispredicted} mispredicted)"
        return text


def _bad_count(n: Any) -> bool:
    return isinstance(n, bool) or not isinstance(n, int) or n < 0


def counts_from_json(data: Any, *, where: str = "answer counts") -> ReplayCounts:
    """:meth:`ReplayCounts.to_json` output back as :class:`ReplayCounts`; one-line error if malformed."""
    try:
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        sites = tuple(ComputedSite(operator=str(s["operator"]), line=s["line"], calls=s["calls"],
                                   residual=s["residual"]) for s in data.get("computed", []))
        if any(s.line is not None and _bad_count(s.line) for s in sites) or \
                any(s.residual is not None and not isinstance(s.residual, str) for s in sites):
            raise ValueError("a computed site's line or reason is not what it should be")
        return ReplayCounts(queries=data["queries"], calls=data["calls"], records_used=data["records_used"],
                            records_unused=data["records_unused"], records_mispredicted=data["records_mispredicted"],
                            calls_computed=dict(data["calls_computed"]), calls_mispredicted=data["calls_mispredicted"],
                            unused=dict(data.get("unused", {})), computed=sites)
    except (KeyError, TypeError, ValueError) as exc:
        raise DicecError(f"{where}: malformed counts ({exc})") from None


def total(counts: Iterable[ReplayCounts]) -> ReplayCounts:
    """Several replays' counts added up (a batch's): sums, and the computed sites merged by place and reason."""
    parts = list(counts)
    sites: dict[tuple, ComputedSite] = {}
    for c in parts:
        for s in c.computed:
            old = sites.get(s.where)
            sites[s.where] = s if old is None else ComputedSite(operator=s.operator, line=s.line,
                                                                calls=old.calls + s.calls, residual=s.residual)
    return ReplayCounts(queries=sum(c.queries for c in parts), calls=sum(c.calls for c in parts),
                        records_used=sum(c.records_used for c in parts),
                        records_unused=sum(c.records_unused for c in parts),
                        records_mispredicted=sum(c.records_mispredicted for c in parts),
                        calls_computed=_sum_maps(c.calls_computed for c in parts),
                        calls_mispredicted=sum(c.calls_mispredicted for c in parts),
                        unused=_sum_maps(c.unused for c in parts),
                        computed=tuple(sites[k] for k in sorted(sites)))


def _sum_maps(maps: Iterable[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in maps:
        for k, v in m.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def counts_text(counts: ReplayCounts, **where: Any) -> str:
    """The counts as compact ASCII JSON, with ``where`` (:data:`WHERE_KEYS`) first: a log line's or a header's."""
    unknown = set(where) - set(WHERE_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    body = {k: v for k, v in where.items() if v is not None}
    body.update(counts.to_json())
    return json.dumps(body, sort_keys=False, separators=(",", ":"), ensure_ascii=True)


def counts_line(counts: ReplayCounts, **where: Any) -> str:
    """The log line that carries one replay's counts (:data:`COUNTS_PREFIX` and :func:`counts_text`)."""
    return COUNTS_PREFIX + counts_text(counts, **where)


def parse_counts(text: str, *, where: str = "answer counts") -> tuple[dict[str, Any], ReplayCounts]:
    """``(where, counts)`` from :func:`counts_text` output; one-line error if it is not that."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"{where}: the counts are not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DicecError(f"{where}: the counts are not a JSON object")
    return {k: data[k] for k in WHERE_KEYS if k in data}, counts_from_json(data, where=where)


def parse_counts_line(line: str, *, where: str = "answer counts") -> tuple[dict[str, Any], ReplayCounts] | None:
    """``(where, counts)`` of a :func:`counts_line`, or ``None`` for any other log line."""
    if not line.startswith(COUNTS_PREFIX):
        return None
    return parse_counts(line[len(COUNTS_PREFIX):], where=where)
