"""Edge-cloud workflows: the offload ``when`` (dicec.emit.offload), validation, and run == exec with skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dicec.analysis import analyse
from dicec.emit import dump_yaml, emit_workflow
from dicec.pipeline import generate
from dicec.placement import load_pools, place
from dicec.runtime.when import evaluate_when
from dicec.validate import validate_text

REPO = Path(__file__).resolve().parents[2]
MARINE = REPO / "examples" / "marine"
QUESTIONS = sorted((MARINE / "questions").glob("*.txt"))
#: write_image seeds: the seeded detector finds no "bottle" in 27 and 46, and 1-3 in the others.
NOTHING_FOUND = (27, 46)
FOUND = (0, 2, 7)


@pytest.fixture(scope="module")
def marine_pools():
    return load_pools(MARINE / "pools.yaml")


def compiled(question_file: Path, registry, pools) -> tuple[str, str, object]:
    question = question_file.read_text().strip()
    program = generate(question, registry).code
    placed = place(analyse(program, registry, path=question_file.name, question=question), registry, pools)
    return program, dump_yaml([emit_workflow(placed)]), placed


def dag_tasks(text: str) -> dict[str, dict]:
    wf = yaml.safe_load(text)
    main = next(t for t in wf["spec"]["templates"] if t["name"] == "main")
    return {t["name"]: t for t in main["dag"]["tasks"]}


def test_the_marine_questions_exist():
    assert {q.stem for q in QUESTIONS} >= {"plastic-litter", "floating-bottles", "litter-near-boat"}


@pytest.mark.parametrize("question_file", QUESTIONS, ids=lambda p: p.stem)
def test_edge_cloud_workflows_validate(question_file, builtin_registry, marine_pools):
    _, text, _ = compiled(question_file, builtin_registry, marine_pools)
    assert validate_text(text, path=question_file.name) == []


def test_the_offloaded_step_is_guarded_on_the_edge_detection(builtin_registry, marine_pools):
    _, text, placed = compiled(MARINE / "questions" / "floating-bottles.txt", builtin_registry, marine_pools)
    tasks = dag_tasks(text)
    assert tasks["verify-property-bottle"]["when"] == "'{{tasks.find-bottle.outputs.parameters.value}}' != '[]'"
    assert "when" not in tasks["find-bottle"] and "when" not in tasks["answer"]
    wf = yaml.safe_load(text)
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    find = templates[tasks["find-bottle"]["template"]]
    assert find["nodeSelector"] == {"kubernetes.io/arch": "arm64", "node-role.kubernetes.io/edge": ""}
    assert templates[tasks["answer"]["template"]]["nodeSelector"]["node-role.kubernetes.io/edge"] == ""
    assert templates[tasks["verify-property-bottle"]["template"]]["nodeSelector"] == {
        "nvidia.com/gpu.product": "NVIDIA-RTX-A4000"}
    assert emit_workflow(placed) == emit_workflow(placed)  # deterministic


@pytest.mark.parametrize("value, expected", [("[]", False), ('[{"left":1,"lower":2,"right":30,"upper":40}]', True)])
def test_dicec_run_reads_the_condition_as_argo_does(value, expected):
    text = "'{{tasks.find-bottle.outputs.parameters.value}}' != '[]'".replace(
        "{{tasks.find-bottle.outputs.parameters.value}}", value)
    assert evaluate_when(text) is expected


def test_without_an_edge_pool_nothing_is_guarded(builtin_registry):
    _, text, _ = compiled(MARINE / "questions" / "floating-bottles.txt", builtin_registry, load_pools())
    assert all("when" not in t for t in dag_tasks(text).values())


@pytest.mark.parametrize("question_file", QUESTIONS, ids=lambda p: p.stem)
def test_run_of_the_edge_cloud_workflow_is_exactly_exec(question_file, builtin_registry, marine_pools, tmp_path):
    from runtime.helpers import exec_answer, write_image

    from dicec.runtime.workflow import RunOptions, run_workflow

    program, text, placed = compiled(question_file, builtin_registry, marine_pools)
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    guarded = {t for t, spec in dag_tasks(text).items() if "when" in spec}
    for seed in (*NOTHING_FOUND, *FOUND):
        image = write_image(tmp_path / f"frame-{seed}.png", seed=seed)
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"}))
        assert json.loads(result.outputs["answer"]) == exec_answer(program, image)["answer"], seed
        if question_file.stem == "floating-bottles":
            # the edge finds no bottle in NOTHING_FOUND frames: the offloaded cloud step is skipped
            assert set(result.skipped) == (guarded if seed in NOTHING_FOUND else set()), seed
            assert guarded == {"verify-property-bottle"}


def test_a_detection_inside_a_fused_edge_step_guards_by_that_steps_output(builtin_registry, marine_pools, tmp_path):
    from runtime.helpers import exec_answer, write_image

    from dicec.runtime.workflow import RunOptions, run_workflow

    program = (
        "def execute_command(image):\n"
        "    image_patch = ImagePatch(image)\n"
        "    litter = image_patch.find(\"litter\")\n"
        "    boats = image_patch.find(\"boat\")\n"
        "    moving = [b for b in boats if b.verify_property(\"boat\", \"moving\")]\n"
        "    return str(len(litter) + len(moving))\n")
    placed = place(analyse(program, builtin_registry, path="p.py"), builtin_registry, marine_pools)
    text = dump_yaml([emit_workflow(placed)])
    assert validate_text(text, path="p.py") == []
    guarded = {name: t["when"] for name, t in dag_tasks(text).items() if "when" in t}
    assert len(guarded) == 1 and "find-" in next(iter(guarded.values()))
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    for seed in (1, 5, 0):  # the seeded detector finds no boat in 1 and 5, one in 0
        image = write_image(tmp_path / f"f{seed}.png", seed=seed)
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"}))
        assert json.loads(result.outputs["answer"]) == exec_answer(program, image)["answer"]
        assert bool(result.skipped) == (seed != 0)
    # the two edge detections as one fused pod on the vessel: the guard names that step's per-task output
    from dataclasses import replace

    from dicec.placement.fusion import FusedGroup

    group = FusedGroup(tasks=("find-litter", "find-boat"), pool="vessel-orin", seconds=11.4, usd=None, saved_s=16.8)
    fused_text = dump_yaml([emit_workflow(replace(placed, fusion=(group, *placed.fusion)))])
    assert validate_text(fused_text, path="fused.yaml") == []
    whens = [t["when"] for t in dag_tasks(fused_text).values() if "when" in t]
    assert whens == ["'{{tasks.find-litter.outputs.parameters.value-find-boat}}' != '[]'"]
    wf.write_text(fused_text)
    for seed in (1, 0):
        image = tmp_path / f"f{seed}.png"
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"}))
        assert json.loads(result.outputs["answer"]) == exec_answer(program, image)["answer"]
        assert bool(result.skipped) == (seed != 0)
