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
    # each group's step is named for what it runs: its operators and its pool (one task: the task's id)
    cars, kinds = "fused-find-verify-property-a4000", query
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    assert set(tasks) == {cars, kinds, "answer"}  # find-car and verify run in one step
    group = templates[cars]
    assert group["container"]["command"] == ["dicec", "op"] and "--group" in group["container"]["args"]
    assert group["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert group["nodeSelector"] == {**placed.pools["a4000"].node_labels, "kubernetes.io/arch": "amd64"}
    assert [p["name"] for p in group["outputs"]["parameters"]] == [
        "value-find-car", "record-find-car", f"value-{verify}", f"record-{verify}"]
    args = {p["name"]: p["value"] for p in tasks[cars]["arguments"]["parameters"]}
    calls = json.loads(unb64(args["group"]))["calls"]
    assert [c["task"] for c in calls] == ["find-car", verify] and calls[1]["patch"] == {"kind": "each", "task": "find-car"}
    assert "inputs" not in args and "dependencies" not in tasks[cars]
    # the simple_query fan-out (another pool) is a step of its own running its elements in one pod
    # the values from outside the group travel as raw data Argo writes to a file, never as an argument
    (inputs,) = tasks[kinds]["arguments"]["artifacts"]
    assert inputs == {"name": "inputs",
                      "raw": {"data": '{"find-car": {{tasks.%s.outputs.parameters.value-find-car}}}' % cars}}
    assert {"name": "inputs", "path": "/dicec/inputs/group-inputs.json", "raw": {"data": "{}"}} in \
        templates[tasks[kinds]["template"]]["inputs"]["artifacts"]
    assert "artifacts" not in tasks[cars]["arguments"]  # a group needing nothing from outside gets the default
    assert tasks[kinds]["dependencies"] == [cars] and "withParam" not in tasks[kinds]
    (records,) = tasks["answer"]["arguments"]["artifacts"]
    assert records["raw"]["data"] == (f"[{{{{tasks.{cars}.outputs.parameters.record-find-car}}}}, "
                                      f"{{{{tasks.{cars}.outputs.parameters.record-{verify}}}}}, "
                                      f"{{{{tasks.{kinds}.outputs.parameters.record-{query}}}}}]")
    answer_args = templates["answer"]["container"]["args"]
    assert answer_args[answer_args.index("--records-file") + 1] == "/dicec/inputs/records.json"
    assert not any("outputs.parameters" in a for a in answer_args + templates[tasks[kinds]["template"]]["container"]["args"])
    assert tasks["answer"]["dependencies"] == [cars, kinds]


def test_fused_step_names_are_unique_stable_and_fit_argo(builtin_registry, pools):
    from types import SimpleNamespace

    from dicec.emit.fused import step_names

    placed, _ = build(builtin_registry, pools)
    verify, query = (t.id for t in placed.graph.tasks[1:])
    groups = {"find-car": ("find-car", verify), verify: (verify,), query: (query,)}
    names = step_names(placed, groups)
    assert names == {"find-car": "fused-find-verify-property-a4000", verify: verify, query: query}
    twins = step_names(placed, {"find-car": ("find-car", verify), verify: (verify, "find-car")})
    assert list(twins.values()) == ["fused-find-verify-property-a4000", "fused-verify-property-find-a4000"]
    same = step_names(placed, {"find-car": ("find-car", verify), verify: ("find-car", verify)})
    assert list(same.values()) == ["fused-find-verify-property-a4000", "fused-find-verify-property-a4000-2"]
    assert step_names(placed, groups) == names  # the same graph, the same names
    many = SimpleNamespace(graph=SimpleNamespace(tasks=[], task=lambda t: SimpleNamespace(operator=t)),
                           placements={"a": SimpleNamespace(pool="a100-80gb")})
    (long,) = step_names(many, {"a": tuple(f"operator_number_{i}" for i in range(20))}).values()
    assert len(long) <= 128 and long.startswith("fused-operator-number-0-") and long.endswith("-more-a100-80gb")


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
