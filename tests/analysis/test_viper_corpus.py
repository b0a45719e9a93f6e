"""Every parsing program LLMs wrote (../shared/dev/viper_programs.jsonl) plans or is refused cleanly."""

from __future__ import annotations

import collections

from support import viper_programs
from dicec.analysis import analyse
from dicec.emit import dump_yaml, emit_workflow
from dicec.errors import DicecError
from dicec.placement import load_pools, place
from dicec.validate import validate_text


def test_every_viper_program_plans_or_is_refused_in_one_line(builtin_registry):
    registry = builtin_registry
    pools = load_pools()
    rows = viper_programs()
    outcome = collections.Counter()
    widths = []
    for i, row in enumerate(rows):
        try:
            g = analyse(row["code"], registry, path=f"viper:{i}")
        except DicecError as exc:
            line = str(exc)
            assert line.startswith(f"viper:{i}:") and "\n" not in line, line
            outcome["refused"] += 1
            continue
        outcome["planned"] += 1
        widths.append(g.stats["max_width"])
        problems = validate_text(dump_yaml([emit_workflow(place(g, registry, pools))]), path=f"viper:{i}.yaml")
        assert problems == [], [str(p) for p in problems]
        assert g.stats["operator_calls"] >= 1 or "find" not in row["code"]
    print(f"\nviper corpus: {dict(outcome)} of {len(rows)}; mean max_width {sum(widths) / len(widths):.2f}")
    assert len(rows) == 715
    # the README's figures (issue 14, item 11): the rest have real bugs (undefined names, unknown attributes, syntax)
    assert dict(outcome) == {"planned": 690, "refused": 25}
    assert sum(widths) / len(widths) > 1.5
