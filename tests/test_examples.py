"""Every example question compiles, with the built-in operators, to a valid workflow of the right shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dicec.pipeline import compile_path
from dicec.validate import validate_text

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "questions").glob("*.txt"))


def test_there_are_enough_examples_across_families():
    families = {p.name.split("-")[0] for p in EXAMPLES}
    assert len(EXAMPLES) >= 20
    assert {"existence", "count", "attribute", "relation", "compare", "logic", "choice", "which", "damage",
            "search"} <= families


@pytest.fixture(scope="module")
def compiled(builtin_registry, pools):
    return {p.name: compile_path(str(p), registry=builtin_registry, catalogue=pools) for p in EXAMPLES}


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_example_compiles_to_a_valid_deterministic_workflow(compiled, builtin_registry, pools, name):
    result = compiled[name]
    problems = validate_text(result.yaml, path=name)
    assert problems == [], [str(p) for p in problems]
    again = compile_path(str(EXAMPLES[[p.name for p in EXAMPLES].index(name)]), registry=builtin_registry, catalogue=pools)
    assert again.yaml == result.yaml
    wf = yaml.safe_load(result.yaml)
    gpu_steps = [t for t in wf["spec"]["templates"] if t.get("container") and t["name"] != "answer"]
    assert len(gpu_steps) >= 1 and all(t["nodeSelector"] for t in gpu_steps)


def test_two_independent_finds_give_width_two(compiled):
    g = compiled["compare-sizes.txt"].graph
    finds = [t for t in g.tasks if t.operator == "find"]
    assert len(finds) >= 2 and all(t.depends == () for t in finds)
    assert g.stats["max_width"] >= 2


def test_loop_over_detections_gives_a_fanout(compiled):
    g = compiled["damage-parts.txt"].graph
    fans = [t for t in g.tasks if t.fanout is not None]
    assert fans and all(g.task(t.fanout).operator == "find" for t in fans)
    assert all(t.operator == "verify_property" and t.args[1].value == "damaged" for t in fans)
    wf = yaml.safe_load(compiled["damage-parts.txt"].yaml)
    tasks = wf["spec"]["templates"][0]["dag"]["tasks"]
    fused = {tid for group in compiled["damage-parts.txt"].placed.fusion for tid in group.tasks}
    assert fused  # by default the per-part checks run in one pod with the detections (dicec.placement.fusion)
    assert sum(1 for t in tasks if "withParam" in t) == len([t for t in fans if t.id not in fused])


def test_scene_search_asks_several_phrasings_in_parallel(compiled):
    g = compiled["search-plastic-litter.txt"].graph
    assert g.stats["max_width"] >= 3 and all(t.depends == () for t in g.tasks)


def test_fallback_question_warns(compiled):
    result = compiled["fallback-why-smiling.txt"]
    assert result.warnings and [t.operator for t in result.graph.tasks] == ["simple_query"]
