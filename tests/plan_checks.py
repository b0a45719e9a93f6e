"""Whether a plan was right, from what the answer step reported (issue 17), for the equivalence suites.

The answer step replays the program over the tasks' records and reports what it used and computed
(:mod:`dicec.runtime.replaycounts`; ``dicec run`` keeps it as ``RunResult.answer_counts``). A right answer
does not need a right plan, so the suites also check the plan: against the task graph the test compiled
(not the one the answer step derived for itself), every call the answer step computed is one of the
graph's residual calls, with the same operator, line and reason -- so a program with no residual call
computes nothing there -- and every record no call used comes from a task the graph marked speculative
(a task with a guard). The answer step's own verdict (``records_mispredicted``, ``calls_mispredicted``)
must agree.
"""

from __future__ import annotations


def assert_plan_was_right(graph, counts, what) -> None:
    """``counts`` (a :class:`~dicec.runtime.replaycounts.ReplayCounts`) of one replay of ``graph``'s program."""
    residual = {(r.operator, r.line): r.reason for r in graph.residual}
    guarded = {t.id for t in graph.tasks if t.guard is not None}
    for site in counts.computed:
        assert (site.operator, site.line) in residual, (what, "computed a call the plan predicted", site, graph.dumps())
        assert site.residual == residual[(site.operator, site.line)], (what, site)
    if not graph.residual:
        assert counts.calls_computed == {}, (what, "a fully predicted program computed calls", counts)
    assert set(counts.unused) <= guarded, (what, "unused records of tasks the plan did not speculate",
                                           sorted(set(counts.unused) - guarded), graph.dumps())
    assert counts.records_mispredicted == 0 and counts.calls_mispredicted == 0, (what, counts)
    assert counts.records_used + counts.computed_calls >= min(counts.calls, 1), (what, counts)


def assert_plans_were_right(graph, reported, what, *, answers: int) -> None:
    """Each of a run's reported counts (``RunResult.answer_counts``): exactly one per answer the run gave."""
    assert len(reported) == answers, (what, f"{len(reported)} counts reported for {answers} answers")
    for r in reported:
        assert_plan_was_right(graph, r.counts, what)
