"""The answer step's counts (dicec.runtime.replaycounts): made only consistent, summed for a batch, and carried
as one log line or header that reads back exactly; malformed counts are one clear error."""

from __future__ import annotations

import pytest

from dicec.errors import DicecError
from dicec.runtime.replaycounts import (COUNTS_PREFIX, ComputedSite, ReplayCounts, counts_line, counts_text,
                                        parse_counts, parse_counts_line, total)


def some_counts(**changes) -> ReplayCounts:
    fields = dict(calls=5, records_used=3, records_unused=2, records_mispredicted=1,
                  calls_computed={"exists": 2}, calls_mispredicted=1, unused={"find-cat": 1, "find-dog": 1},
                  computed=(ComputedSite(operator="exists", line=4, calls=1, residual="argument 'object_name' is x"),
                            ComputedSite(operator="exists", line=7, calls=1, residual=None)))
    fields.update(changes)
    return ReplayCounts(**fields)


def test_counts_read_back_from_their_log_line_and_header_text():
    counts = some_counts()
    line = counts_line(counts, image="s3://b/a.png", index=3, question=2)
    assert line.startswith(COUNTS_PREFIX) and "\n" not in line and line.isascii()
    assert parse_counts_line(line) == ({"image": "s3://b/a.png", "index": 3, "question": 2}, counts)
    assert parse_counts(counts_text(counts)) == ({}, counts)
    assert parse_counts_line("program: hello") is None


@pytest.mark.parametrize("changes, message", [
    ({"calls": -1}, "whole numbers"),
    ({"records_used": True}, "whole numbers"),
    ({"records_mispredicted": 3}, "more mispredicted records than unused"),
    ({"calls_computed": {"exists": 3}}, "not the sum of their sites"),
    ({"calls_mispredicted": 0}, "not the computed sites the plan did not list"),
    ({"calls": 1}, "more computed calls than calls"),
])
def test_inconsistent_counts_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        some_counts(**changes)
    with pytest.raises(ValueError, match="at least one call"):
        ComputedSite(operator="exists", line=1, calls=0, residual=None)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"queries": 1}', '{"queries": 1, "calls": "many", '
                                  '"records_used": 0, "records_unused": 0, "records_mispredicted": 0, '
                                  '"calls_computed": {}, "calls_mispredicted": 0}'])
def test_malformed_counts_are_one_line(text):
    with pytest.raises(DicecError) as err:
        parse_counts_line(COUNTS_PREFIX + text, where="step answer")
    assert str(err.value).startswith("step answer: ") and "\n" not in str(err.value)


def test_a_batch_sums_its_replays_and_merges_computed_sites_by_place():
    a, b = some_counts(), some_counts(unused={"find-cat": 2}, records_unused=2)
    summed = total([a, b])
    assert (summed.queries, summed.calls, summed.records_used, summed.records_unused) == (2, 10, 6, 4)
    assert summed.calls_computed == {"exists": 4} and summed.calls_mispredicted == 2
    assert summed.unused == {"find-cat": 3, "find-dog": 1}
    assert [(s.line, s.calls) for s in summed.computed] == [(4, 2), (7, 2)]
    assert total([]) == ReplayCounts(queries=0)


def test_the_summary_line_says_what_was_speculated_and_what_mispredicted():
    assert some_counts().summary() == ("3 of 5 records used (2 unused: 1 speculated, 1 mispredicted); "
                                       "2 computed (exists 2: 1 residual, 1 mispredicted)")
    assert ReplayCounts(calls=1, records_used=1).summary() == "1 of 1 records used; 0 computed"
