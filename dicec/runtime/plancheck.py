"""A replay set against the plan: were its unused records speculation, and its computed calls residual?

The plan is the program's task graph (:func:`dicec.analysis.analyse`): its tasks, each with a ``guard`` when
the plan speculates it (precomputes a call the program may not make), and its residual calls, each with
the reason it left that call to the answer step. The answer step gets the program, not the graph, so
:func:`plan_of` derives the graph again from the program it replays, with the same registry: the analysis
is deterministic, so its task ids are the ones the workflow was compiled with, which every step writes
into its records (``"task"``, :meth:`dicec.runtime.calls.Call.record`). That lets every answer step of any
workflow dicec emitted say whether the plan was right, with nothing added to what Argo sees. (A workflow
compiled from a task graph edited by hand, or by another version of dicec, is set against the program's
own plan; records of tasks that plan does not have count as mispredicted.)

:func:`check_replay` gives the :class:`~dicec.runtime.replaycounts.ReplayCounts`:

* a record the replay did not use is *mispredicted* unless every task that wrote it is speculative in the
  plan (a record that names no task cannot be shown to be speculation);
* a call the replay computed (no record had it) is matched to the plan's residual calls by operator and
  the line its call starts on -- the runtime sees the line of the instruction making the call, which for a
  call written over several lines may be a later one, so it is mapped to the call expression around it
  (:func:`call_starts`) -- and is *mispredicted* when no residual call matches.
"""

from __future__ import annotations

import ast
import hashlib
import threading
from collections import OrderedDict
from typing import Any

from dicec.runtime.replaycounts import ComputedSite, ReplayCounts

#: Plans kept per process (the answer server replays the same few programs many times).
PLAN_CACHE_SIZE = 256

_PLANS: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()
_LOCK = threading.Lock()


def plan_of(source: str, registry: Any) -> Any:
    """The program's task graph (cached per process by program text and registry)."""
    from dicec.analysis import analyse

    key = (id(registry), hashlib.sha256(source.encode("utf-8")).hexdigest())
    with _LOCK:
        hit = _PLANS.get(key)
        if hit is not None and hit[0] is registry:  # the cache holds the registry, so its id is not reused
            _PLANS.move_to_end(key)
            return hit[1]
    graph = analyse(source, registry, path="<program>")
    with _LOCK:
        _PLANS[key] = (registry, graph)
        while len(_PLANS) > PLAN_CACHE_SIZE:
            _PLANS.popitem(last=False)
    return graph


def call_starts(source: str, registry: Any) -> dict[str, list[tuple[int, int]]]:
    """Operator -> the (first, last) lines of each call expression of it in the program."""
    out: dict[str, list[tuple[int, int]]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and registry.method(node.func.attr) is not None:
            name = registry.method(node.func.attr)[0].name
        elif isinstance(node.func, ast.Name) and registry.function(node.func.id) is not None:
            name = registry.function(node.func.id)[0].name
        else:
            continue
        out.setdefault(name, []).append((node.lineno, node.end_lineno or node.lineno))
    return out


def call_start(starts: dict[str, list[tuple[int, int]]], operator: str, line: int | None) -> int | None:
    """The first line of the innermost call of ``operator`` whose lines hold ``line`` (``line`` if none does)."""
    if line is None:
        return None
    around = [first for first, last in starts.get(operator, []) if first <= line <= last]
    return max(around) if around else line


def check_replay(source: str, registry: Any, records: list[Any], stats: Any) -> ReplayCounts:
    """The counts of one replay of ``source`` over ``records`` whose run made ``stats``
    (:class:`dicec.runtime.program.Stats`), set against the program's plan."""
    from dicec.runtime.answer import iter_records

    graph = plan_of(source, registry)
    speculative = {t.id for t in graph.tasks if t.guard is not None}
    residual = {(r.operator, r.line): r.reason for r in graph.residual}
    tasks_of: dict[str, set[str]] = {}
    for key, record in iter_records(records):
        task = record.get("task")
        tasks_of.setdefault(key, set()).add(task if isinstance(task, str) else "")
    unused: dict[str, int] = {}
    records_unused = mispredicted = 0
    for key, tasks in tasks_of.items():
        if key in stats.used:
            continue
        records_unused += 1
        mispredicted += 0 if tasks <= speculative else 1
        for task in tasks:
            unused[task] = unused.get(task, 0) + 1
    starts = call_starts(source, registry) if stats.computed else {}
    sites: dict[tuple, int] = {}
    for operator, line in stats.computed:
        start = call_start(starts, operator, line)
        where = (operator, start, residual.get((operator, start)))
        sites[where] = sites.get(where, 0) + 1
    computed = tuple(ComputedSite(operator=op, line=line, calls=n, residual=reason)
                     for (op, line, reason), n in sorted(sites.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1)))
    by_operator: dict[str, int] = {}
    for site in computed:
        by_operator[site.operator] = by_operator.get(site.operator, 0) + site.calls
    return ReplayCounts(calls=stats.calls, records_used=len(stats.used & tasks_of.keys()),
                        records_unused=records_unused, records_mispredicted=mispredicted,
                        calls_computed=dict(sorted(by_operator.items())),
                        calls_mispredicted=sum(s.calls for s in computed if s.residual is None),
                        unused=dict(sorted(unused.items())), computed=computed)
