"""Fused groups as ONE container step: its shape, the references that lead to it, and that it runs."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

from helpers import exec_answer, run_answer_of, write_image  # noqa: E402

from dicec.analysis import analyse  # noqa: E402
from dicec.emit import EmitOptions, dump_yaml, emit_workflow  # noqa: E402
from dicec.placement import place  # noqa: E402
from dicec.runtime.contract import unb64  # noqa: E402

PROGRAM = textwrap.dedent('''
    def execute_command(image):
        image_patch = ImagePatch(image)
        cars = image_patch.find("car")
        damaged = [car.verify_property("car", "damaged") for car in cars]
        kinds = [car.simple_query("What kind of car is this?") for car in cars]
        return damaged, kinds
''')


def build(registry, pools, **kw):
    placed = place(analyse(PROGRAM, registry, path="p.py"), registry, pools, **kw)
    return placed, emit_workflow(placed, EmitOptions())


def test_a_fused_group_is_one_step_and_everything_refers_to_its_outputs(builtin_registry, pools):
    placed, wf = build(builtin_registry, pools)
    verify, query = (t.id for t in placed.graph.tasks[1:])
    assert [g.tasks for g in placed.fusion] == [("find-car", verify), (query,)]
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    assert set(tasks) == {"find-car", query, "answer"}  # verify runs inside find-car's step
    group = templates["fused-find-car"]
    assert group["container"]["command"] == ["dicec", "op"] and "--group" in group["container"]["args"]
    assert group["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert group["nodeSelector"] == placed.pools["a4000"].node_labels
    assert [p["name"] for p in group["outputs"]["parameters"]] == [
        "value-find-car", "record-find-car", f"value-{verify}", f"record-{verify}"]
    args = {p["name"]: p["value"] for p in tasks["find-car"]["arguments"]["parameters"]}
    calls = json.loads(unb64(args["group"]))["calls"]
    assert [c["task"] for c in calls] == ["find-car", verify] and calls[1]["patch"] == {"kind": "each", "task": "find-car"}
    assert "inputs" not in args and "dependencies" not in tasks["find-car"]
    # the simple_query fan-out (another pool) is a step of its own running its elements in one pod
    q = {p["name"]: p["value"] for p in tasks[query]["arguments"]["parameters"]}
    assert q["inputs"] == '{"find-car": {{tasks.find-car.outputs.parameters.value-find-car}}}'
    assert tasks[query]["dependencies"] == ["find-car"] and "withParam" not in tasks[query]
    answer = {p["name"]: p["value"] for p in tasks["answer"]["arguments"]["parameters"]}
    assert answer["records"] == ("[{{tasks.find-car.outputs.parameters.record-find-car}}, "
                                 f"{{{{tasks.find-car.outputs.parameters.record-{verify}}}}}, "
                                 f"{{{{tasks.{query}.outputs.parameters.record-{query}}}}}]")
    assert tasks["answer"]["dependencies"] == ["find-car", query]


def test_fused_workflows_validate_and_are_byte_stable(builtin_registry, pools, tmp_path):
    from dicec.validate import validate_path

    text = dump_yaml([build(builtin_registry, pools)[1]])
    assert text == dump_yaml([build(builtin_registry, pools)[1]])
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    assert [str(d) for d in validate_path(str(path))] == []


def test_no_fuse_and_services_mode_emit_a_step_per_task(builtin_registry, pools):
    placed, wf = build(builtin_registry, pools, fuse=False)
    names = {t["name"] for t in wf["spec"]["templates"][0]["dag"]["tasks"]}
    assert names == {t.id for t in placed.graph.tasks} | {"answer"}
    assert not any(t["name"].startswith("fused-") for t in wf["spec"]["templates"])


def test_the_fused_workflow_answers_as_the_serial_program(builtin_registry, pools, tmp_path):
    placed, wf = build(builtin_registry, pools)
    for seed in range(3):
        image = write_image(tmp_path / f"i{seed}.png", width=300 + 20 * seed, seed=seed)
        assert run_answer_of(dump_yaml([wf]), tmp_path, image) == exec_answer(PROGRAM, image)
    # the argv a container runs, as a subprocess
    assert run_answer_of(dump_yaml([wf]), tmp_path, image, isolation="process") == exec_answer(PROGRAM, image)
    assert yaml.safe_load(dump_yaml([wf]))["kind"] == "Workflow"
