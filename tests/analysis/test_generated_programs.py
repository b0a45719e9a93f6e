"""Property tests: on generated programs the analyser never crashes and its graphs are well-formed."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings

from programs import programs
from dicec.analysis import analyse, graph_from_json
from dicec.check import check_program
from dicec.emit import dump_yaml, emit_workflow
from dicec.placement import place
from dicec.validate import validate_text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(source=programs())
def test_generated_programs_plan_into_well_formed_graphs(registry, pools, source):
    _, problems = check_program(source, registry, path="gen.py")
    assert problems == [], (source, [str(p) for p in problems])
    graph = analyse(source, registry, path="gen.py")
    seen = set()
    for t in graph.tasks:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", t.id) and len(t.id) <= 40
        assert set(t.depends) <= seen  # topological order
        if t.fanout is not None:
            assert t.patch is not None and t.patch.kind == "each" and t.patch.task == t.fanout
        seen.add(t.id)
    calls = source.count(".find(") + source.count(".exists(") + source.count(".simple_query(") \
        + source.count(".verify_property(") + source.count(".compute_depth(") + source.count(".best_text_match(")
    assert graph.stats["operator_calls"] <= calls  # one task per distinct call (loops analysed once)
    assert graph_from_json(json.loads(graph.dumps())).dumps() == graph.dumps()
    placed = place(graph, registry, pools)
    text = dump_yaml([emit_workflow(placed)])
    assert validate_text(text, path="gen.yaml") == []
    assert text == dump_yaml([emit_workflow(place(analyse(source, registry, path="gen.py"), registry, pools))])
