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
from dicec.runner.batch import decode_answers
from dicec.runner.when import evaluate_when
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
    wf = [d for d in yaml.safe_load_all(text) if d["kind"] == "Workflow"][0]
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
        "kubernetes.io/arch": "amd64", "nvidia.com/gpu.product": "NVIDIA-RTX-A4000"}
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

    from dicec.runner.workflow import RunOptions, run_workflow

    program, text, placed = compiled(question_file, builtin_registry, marine_pools)
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    guarded = {t for t, spec in dag_tasks(text).items() if "when" in spec}
    for seed in (*NOTHING_FOUND, *FOUND):
        image = write_image(tmp_path / f"frame-{seed}.png", seed=seed)
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"}))
        assert json.loads(result.outputs["answer-json"]) == exec_answer(program, image)["answer"], seed
        if question_file.stem == "floating-bottles":
            # the edge finds no bottle in NOTHING_FOUND frames: the offloaded cloud step is skipped
            assert set(result.skipped) == (guarded if seed in NOTHING_FOUND else set()), seed
            assert guarded == {"verify-property-bottle"}


def test_a_detection_inside_a_fused_edge_step_guards_by_that_steps_output(builtin_registry, marine_pools, tmp_path):
    from runtime.helpers import exec_answer, write_image

    from dicec.runner.workflow import RunOptions, run_workflow

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
        assert json.loads(result.outputs["answer-json"]) == exec_answer(program, image)["answer"]
        assert bool(result.skipped) == (seed != 0)
    # the two edge detections as one fused pod on the vessel: the guard names that step's per-task output
    from dataclasses import replace

    from dicec.placement.fusion import FusedGroup

    group = FusedGroup(tasks=("find-litter", "find-boat"), pool="vessel-orin", seconds=11.4, usd=None, saved_s=16.8)
    fused_text = dump_yaml([emit_workflow(replace(placed, fusion=(group, *placed.fusion)))])
    assert validate_text(fused_text, path="fused.yaml") == []
    whens = [t["when"] for t in dag_tasks(fused_text).values() if "when" in t]
    assert whens == ["'{{tasks.fused-find-vessel-orin.outputs.parameters.value-find-boat}}' != '[]'"]
    wf.write_text(fused_text)
    for seed in (1, 0):
        image = tmp_path / f"f{seed}.png"
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"}))
        assert json.loads(result.outputs["answer-json"]) == exec_answer(program, image)["answer"]
        assert bool(result.skipped) == (seed != 0)


# -- crops, not frames (dicec.emit.offload, dicec.runtime.crops) ----------------------------------------
CIRCLES = ("def execute_command(image):\n"
           "    image_patch = ImagePatch(image)\n"
           "    circles = image_patch.find(\"circle\")\n"
           "    red = [c for c in circles if c.verify_property(\"circle\", \"red\")]\n"
           "    first = image_patch.simple_query(\"what is it?\") if len(circles) > 5 else \"none\"\n"
           "    return str(len(red)) + first\n")
DEPTH = ("def execute_command(image):\n"
         "    image_patch = ImagePatch(image)\n"
         "    bottles = image_patch.find(\"bottle\")\n"
         "    return str([b.compute_depth() for b in bottles])\n")


def _templates(text: str) -> dict[str, dict]:
    wf = [d for d in yaml.safe_load_all(text) if d["kind"] == "Workflow"][0]
    return {t["name"]: t for t in wf["spec"]["templates"]}


def _emit(program, registry, pools, **options):
    from dicec.emit import EmitOptions
    from dicec.emit.argo import emit_documents

    mode = options.get("mode", "pods")
    placed = place(analyse(program, registry, path="p.py"), registry, pools, mode=mode, fuse=options.pop("fuse", True))
    text = dump_yaml(emit_documents(placed, EmitOptions(**options)))
    assert validate_text(text, path="p.py") == []
    return placed, text


def _without_edge_cpu(pools, tmp_path):
    data = yaml.safe_load((MARINE / "pools.yaml").read_text())
    data["pools"] = [p for p in data["pools"] if p["name"] != "vessel-cpu"]
    (tmp_path / "pools.yaml").write_text(yaml.safe_dump(data))
    return load_pools(tmp_path / "pools.yaml")


@pytest.mark.parametrize("fuse", [True, False])
def test_the_cloud_step_reads_the_edge_steps_crops_not_the_frame(builtin_registry, marine_pools, fuse):
    from dicec.emit.offload import CROPS_IN_PATH, CROPS_OUT_PATH

    placed, text = _emit(MARINE_FLOATING, builtin_registry, marine_pools, fuse=fuse, input_artifact="s3")
    assert placed.crops == {"verify-property-bottle": "find-bottle"}
    tasks, templates = dag_tasks(text), _templates(text)
    source = templates[tasks["find-bottle"]["template"]]
    assert source["container"]["args"][-4:] == ["--crops-out", CROPS_OUT_PATH, "--crops-indices",
                                                "{{inputs.parameters.crop-indices}}"]
    assert source["outputs"]["artifacts"] == [{"name": "crops", "path": CROPS_OUT_PATH, "optional": True,
                                               "archive": {"none": {}}}]
    assert {"name": "crop-indices", "value": "all"} in tasks["find-bottle"]["arguments"]["parameters"]
    cloud = templates[tasks["verify-property-bottle"]["template"]]
    args = cloud["container"]["args"]
    assert "--image" not in args and args[args.index("--crops") + 1] == CROPS_IN_PATH
    # not the frame's artifact (a fused group also gets its inputs from outside the group as raw data)
    assert [a for a in cloud["inputs"]["artifacts"] if "raw" not in a] == [{"name": "crops", "path": CROPS_IN_PATH}]
    assert [a for a in tasks["verify-property-bottle"]["arguments"]["artifacts"] if "raw" not in a] == [
        {"name": "crops", "from": "{{tasks.find-bottle.outputs.artifacts.crops}}"}]
    assert "when" in tasks["verify-property-bottle"]
    # every other step still reads the frame through its artifact
    others = [t for n, t in templates.items() if "container" in t and t is not cloud]
    assert all(any(a["name"] == "image" for a in t["inputs"]["artifacts"]) for t in others)


def test_only_the_indices_the_consumers_use_are_cropped(builtin_registry, marine_pools):
    program = ("def execute_command(image):\n"
               "    image_patch = ImagePatch(image)\n"
               "    bottles = image_patch.find(\"bottle\")\n"
               "    if len(bottles) < 2:\n"
               "        return \"no\"\n"
               "    return bool_to_yesno(bottles[1].verify_property(\"bottle\", \"floating\"))\n")
    placed, text = _emit(program, builtin_registry, marine_pools)
    assert set(placed.crops.values()) == {"find-bottle"}
    params = {p["name"]: p["value"] for p in dag_tasks(text)["find-bottle"]["arguments"]["parameters"]}
    assert params["crop-indices"] == "1"


def test_an_operator_that_reads_the_frame_is_guarded_but_not_sent_crops(builtin_registry, marine_pools, tmp_path):
    from dicec.cost.edge import LinkModel, plan_figures
    from dicec.timing.model import TimingModel

    assert builtin_registry.get("compute_depth").reads == "frame"
    placed, text = _emit(DEPTH, builtin_registry, marine_pools)
    tasks = dag_tasks(text)
    depth = next(n for n in tasks if n.startswith("compute-depth"))
    assert "when" in tasks[depth] and placed.crops == {}
    assert "--image" in _templates(text)[tasks[depth]["template"]]["container"]["args"]
    assert not any("--crops-out" in t.get("container", {}).get("args", []) for t in _templates(text).values())
    figures = plan_figures(placed, builtin_registry, TimingModel(), LinkModel(), mode="pods", case="found",
                           producers={"find-bottle"}, uplink_mbps=10)
    assert figures.uplink_bytes == LinkModel().frame_bytes  # the frame goes up, no crops


def test_services_mode_on_the_vessel_sends_crops_from_the_step(builtin_registry, marine_pools, tmp_path):
    _, text = _emit(MARINE_FLOATING, builtin_registry, marine_pools, mode="services")
    tasks, templates = dag_tasks(text), _templates(text)
    cloud = templates[tasks["verify-property-bottle"]["template"]]
    assert "--send-crops" in cloud["container"]["args"] and "--image" in cloud["container"]["args"]
    assert "artifacts" not in tasks["verify-property-bottle"].get("arguments", {})
    # without a CPU on the vessel the calling step runs in the cloud: the crops come as an artifact
    _, text = _emit(MARINE_FLOATING, builtin_registry, _without_edge_cpu(marine_pools, tmp_path), mode="services")
    tasks, templates = dag_tasks(text), _templates(text)
    args = templates[tasks["verify-property-bottle"]["template"]]["container"]["args"]
    assert "--crops" in args and "--image" not in args and "--send-crops" not in args


MARINE_FLOATING = generate((MARINE / "questions" / "floating-bottles.txt").read_text().strip(),
                           __import__("dicec.tools", fromlist=["discover"]).discover()).code


@pytest.mark.parametrize("setting", ["pods-process", "pods-nofuse", "services-edge", "services-cloud"])
def test_run_with_crops_is_exactly_exec(setting, builtin_registry, marine_pools, tmp_path):
    """The cloud step really reads the bundle (no --image), and the answer is the serial program's."""
    from runtime.helpers import exec_answer, write_image

    from dicec.runner.workflow import RunOptions, run_workflow

    mode = "services" if setting.startswith("services") else "pods"
    pools = _without_edge_cpu(marine_pools, tmp_path) if setting == "services-cloud" else marine_pools
    _, text = _emit(MARINE_FLOATING, builtin_registry, pools, mode=mode, fuse=setting != "pods-nofuse")
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    for seed in (27, 0, 2):
        image = write_image(tmp_path / f"frame-{seed}.png", seed=seed)
        keep = tmp_path / f"keep-{seed}"
        result = run_workflow(str(wf), RunOptions(
            parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"}, keep_dir=str(keep),
            isolation="process" if setting == "pods-process" else "thread"))
        assert json.loads(result.outputs["answer-json"]) == exec_answer(MARINE_FLOATING, image)["answer"], seed
        bundles = list(keep.glob("find-bottle/**/crops.zip"))
        assert len(bundles) == (0 if seed == 27 or setting == "services-edge" else 1), seed


def test_the_builtin_scene_models_answer_the_same_on_crops(builtin_registry, marine_pools, tmp_path):
    """Real pixels: the scene models on crops (and the frame's border ring) == on the frame."""
    from runtime.helpers import exec_answer

    from dicec.runtime.images import encode_png
    from dicec.runtime.scene.generate import make_scene, render
    from dicec.runner.workflow import RunOptions, run_workflow

    placed, text = _emit(CIRCLES, builtin_registry, marine_pools)
    assert placed.crops and all(s.startswith("find-") for s in placed.crops.values())
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    sent = 0
    for seed in range(6):
        image = tmp_path / f"scene-{seed}.png"
        image.write_bytes(encode_png(render(make_scene(seed))))
        keep = tmp_path / f"keep-{seed}"
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "builtin"},
                                                  keep_dir=str(keep)))
        assert json.loads(result.outputs["answer-json"]) == exec_answer(CIRCLES, image, models="builtin")["answer"], seed
        sent += len(list(keep.glob("**/crops.zip")))
    assert sent >= 3  # most scenes have circles: their crops were really sent


def test_a_batch_workflow_passes_each_images_crops_within_its_query(builtin_registry, marine_pools, tmp_path):
    from runtime.helpers import exec_answer, write_image

    from dicec.runner.workflow import RunOptions, run_workflow

    _, text = _emit(MARINE_FLOATING, builtin_registry, marine_pools, batch=True)
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    images = [write_image(tmp_path / f"frame-{seed}.png", seed=seed) for seed in (27, 0, 2)]
    keep = tmp_path / "keep"
    result = run_workflow(str(wf), RunOptions(parameters={"images": json.dumps([str(i) for i in images])},
                                              env={"DICEC_MODELS": "seeded"}, keep_dir=str(keep)))
    answers = decode_answers(json.loads(result.outputs["answers"]), where="answers")
    assert answers == [exec_answer(MARINE_FLOATING, i)["answer"] for i in images]
    assert len(list(keep.glob("**/crops.zip"))) == 2 * 2  # two frames with bottles: written once, staged once


NESTED = ("def execute_command(image):\n"
          "    image_patch = ImagePatch(image)\n"
          "    circles = image_patch.find(\"circle\")\n"
          "    out = []\n"
          "    for c in circles:\n"
          "        for s in c.find(\"square\"):\n"
          "            out.append(s.verify_property(\"square\", \"blue\"))\n"
          "    return str(out)\n")


@pytest.mark.parametrize("mode, fuse", [("pods", False), ("services", False), ("pods", True)])
def test_a_nested_fan_out_over_an_empty_detection_runs_as_exec(mode, fuse, builtin_registry, marine_pools, tmp_path):
    """Scene 7 has no circle: the inner fan-outs expand over the outer one's declared default, []."""
    from runtime.helpers import exec_answer

    from dicec.runtime.images import encode_png
    from dicec.runtime.scene.generate import make_scene, render
    from dicec.runner.workflow import RunOptions, run_workflow

    _, text = _emit(NESTED, builtin_registry, marine_pools, mode=mode, fuse=fuse)
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    for seed in (7, 0):
        image = tmp_path / f"scene-{seed}.png"
        image.write_bytes(encode_png(render(make_scene(seed))))
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "builtin"}))
        assert json.loads(result.outputs["answer-json"]) == exec_answer(NESTED, image, models="builtin")["answer"], seed


def test_every_step_output_declares_the_default_a_skipped_step_gets(builtin_registry, marine_pools):
    from dicec.emit.steps import RECORD_DEFAULT, VALUE_DEFAULT

    for mode, fuse in (("pods", True), ("pods", False), ("services", False)):
        _, text = _emit(NESTED, builtin_registry, marine_pools, mode=mode, fuse=fuse)
        for t in _templates(text).values():
            if "container" not in t or t["name"] == "answer":
                continue
            for p in t["outputs"]["parameters"]:
                assert p["valueFrom"]["default"] == (VALUE_DEFAULT if p["name"].startswith("value") else RECORD_DEFAULT)
