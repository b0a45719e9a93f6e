"""Emission: the workflow's shape, GPU placement fields, determinism, and untrusted text kept inert."""

from __future__ import annotations

import textwrap

import yaml

from dicec.analysis import analyse
from dicec.emit import EmitOptions, dump_yaml, emit_workflow
from dicec.placement import place
from dicec.runtime.contract import unb64

PROGRAM = textwrap.dedent('''
    def execute_command(image):
        image_patch = ImagePatch(image)
        cars = image_patch.find("car")
        trucks = image_patch.find("truck")
        for car in cars:
            car.simple_query("Is it damaged?")
        color = image_patch.simple_query("What color is the sky?")
        return image_patch.find(color + " bird")
''')


def build(registry, pools, src=PROGRAM, **opts):
    """Placed without fusion: one step per task (tests/emit/test_fused.py covers fused groups)."""
    placed = place(analyse(src, registry, path="p.py"), registry, pools, fuse=False)
    return placed, emit_workflow(placed, EmitOptions(**opts))


def test_workflow_shape(registry, pools):
    placed, wf = build(registry, pools)
    assert wf["apiVersion"] == "argoproj.io/v1alpha1" and wf["kind"] == "Workflow"
    assert wf["metadata"]["generateName"] == "dicec-p-"
    spec = wf["spec"]
    assert spec["entrypoint"] == "main"
    assert spec["arguments"]["parameters"][0]["name"] == "image"
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    assert set(tasks) == {t.id for t in placed.graph.tasks} | {"answer"}
    fan = next(t for t in tasks.values() if "withParam" in t)
    assert fan["withParam"] == "{{tasks.find-car.outputs.parameters.value}}"
    assert fan["dependencies"] == ["find-car"]
    assert {p["name"]: p["value"] for p in fan["arguments"]["parameters"]}["patch"] == "{{item}}"
    assert sorted(tasks["answer"]["dependencies"]) == sorted(t.id for t in placed.graph.tasks)
    assert templates["main"]["outputs"]["parameters"][0]["valueFrom"]["parameter"] == "{{tasks.answer.outputs.parameters.answer}}"


def test_every_operator_step_asks_for_a_gpu_on_its_pool(registry, pools):
    placed, wf = build(registry, pools)
    for t in wf["spec"]["templates"]:
        if "container" not in t or t["name"] == "answer":
            continue
        c = t["container"]
        assert c["command"][:2] == ["dicec", "op"]
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
        pool = placed.pools[t["name"].split("-", 2)[-1] if t["name"].startswith("simple-query") else t["name"].split("-", 1)[1]]
        assert t["nodeSelector"] == {**pool.node_labels, "kubernetes.io/arch": "amd64"}  # the image is amd64
        assert t["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    answer = next(t for t in wf["spec"]["templates"] if t["name"] == "answer")
    assert "nvidia.com/gpu" not in str(answer["container"]["resources"])
    assert answer["nodeSelector"] == {"kubernetes.io/arch": "amd64"}  # any CPU node of the image's architecture


def test_same_input_same_bytes(registry, pools):
    a = dump_yaml([build(registry, pools)[1]])
    b = dump_yaml([build(registry, pools)[1]])
    assert a == b and a.endswith("\n") and a.startswith("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n")


def test_program_text_is_base64_and_never_interpreted(registry, pools):
    hostile = "{{workflow.name}} \"quoted\" '; rm -rf / #\n---\n&anchor *alias {{=sprig.env('X')}}"
    src = ("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
           f"    return image_patch.simple_query({hostile!r})\n")
    placed, wf = build(registry, pools, src=src)
    text = dump_yaml([wf])
    assert "workflow.name" not in text and "sprig" not in text and "rm -rf" not in text
    loaded = yaml.safe_load(text)
    assert loaded == wf
    answer = next(t for t in loaded["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == "answer")
    program = {p["name"]: p["value"] for p in answer["arguments"]["parameters"]}["program"]
    assert unb64(program) == src
    # Every {{...}} in the file is one dicec wrote itself.
    import re
    for ref in re.findall(r"\{\{([^}]*)\}\}", text):
        assert re.fullmatch(r"(workflow\.parameters\.image|inputs\.parameters\.[a-z]+|item|"
                            r"tasks\.[a-z0-9-]+\.outputs\.parameters\.(value|record|answer|answer-json))", ref), ref


def test_name_and_namespace_options(registry, pools):
    _, wf = build(registry, pools, name="car-check", namespace="vision")
    assert wf["metadata"]["name"] == "car-check" and wf["metadata"]["namespace"] == "vision"
    assert "generateName" not in wf["metadata"]


def test_libyaml_and_pure_python_dumpers_write_the_same_bytes(registry, pools):
    import yaml as pyyaml

    from dicec.emit.yamlio import dump_yaml as dump

    hostile = "x: {{y}}\n- '\"\\u202e\u202e\t caf\u00e9"
    src = ("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
           f"    return image_patch.simple_query({hostile!r})\n")
    for program in (PROGRAM, src):
        wf = build(registry, pools, src=program)[1]
        assert dump([wf], dumper=pyyaml.SafeDumper) == dump([wf], dumper=getattr(pyyaml, "CSafeDumper", pyyaml.SafeDumper))
