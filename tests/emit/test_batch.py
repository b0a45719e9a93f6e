"""A pods-mode batch as emitted: shards of stage pods over a raw images artifact, records as artifacts.

What runs it and gives the same answers as ``dicec exec`` is tests/test_equivalence_batch.py; here the
workflow's shape, its validity, its determinism, what untrusted text can reach, and the fallbacks.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli
from dicec.emit import EmitOptions
from dicec.emit.batch import IMAGES_PATH, RECORDS_IN_PATH, RECORDS_OUT_PATH
from dicec.errors import DicecError
from dicec.placement.stages import PLAN_ANNOTATION, plan_of_workflow
from dicec.runtime.contract import unb64

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = REPO / "examples" / "questions"
COLOUR = QUESTIONS / "attribute-car-colour.txt"  # find on a4000, then simple_query on a6000
DAMAGE = QUESTIONS / "damage-parts.txt"          # find and a fan-out of verify_property, all on a4000


def compile_(registry, pools, *paths, **options):
    from dicec.pipeline import compile_paths

    return compile_paths([str(p) for p in paths], registry=registry, catalogue=pools,
                         options=EmitOptions(batch=True, **options))


def templates(wf: dict) -> dict[str, dict]:
    return {t["name"]: t for t in wf["spec"]["templates"]}


def test_shards_fan_out_a_chain_of_stage_pods(builtin_registry, pools):
    result = compile_(builtin_registry, pools, COLOUR, shards=5, parallelism=3)
    wf, plan = result.workflow, result.plan
    assert [s.pool for s in plan.stages] == ["a4000", "a6000"] and plan.shards == 5
    t = templates(wf)
    (shard,) = t["main"]["dag"]["tasks"]
    assert shard["withSequence"] == {"count": "5"} and t["main"]["parallelism"] == 3 and "parallelism" not in wf["spec"]
    assert shard["arguments"]["parameters"] == [{"name": "shard", "value": "{{item}}"}]
    assert t["main"]["outputs"]["parameters"] == [{"name": "answers", "valueFrom": {
        "parameter": "{{tasks.shard.outputs.parameters.answers}}"}}]
    first, second, answer = t["shard"]["dag"]["tasks"]
    assert [first["name"], second["name"], answer["name"]] == [*(s.name for s in plan.stages), "answer"]
    assert "dependencies" not in first and second["dependencies"] == [first["name"]]
    assert answer["dependencies"] == [second["name"]]
    assert second["arguments"]["artifacts"] == [{"name": "records",
                                                 "from": "{{tasks.%s.outputs.artifacts.records}}" % first["name"]}]
    answer_args = t["answer"]["container"]["args"]
    assert answer_args[:1] == ["--program"] and unb64(answer_args[1]) == result.program
    for stage, pool in zip(plan.stages, ("a4000", "a6000")):
        pod = t[stage.name]
        assert pod["container"]["command"] == ["dicec", "op", "stage"]
        assert pod["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert pod["nodeSelector"] == {**pools.get(pool).node_labels, "kubernetes.io/arch": "amd64"}
        args = pod["container"]["args"]
        assert args[args.index("--shard") + 1] == "{{inputs.parameters.shard}}" and args[args.index("--shards") + 1] == "5"
        assert args[args.index("--records-out") + 1] == RECORDS_OUT_PATH
        body = json.loads(unb64(args[args.index("--stage") + 1]))
        assert body["stage"] == stage.name and [c["task"] for c in body["calls"][0]] == [x.task for x in stage.tasks]
        assert pod["outputs"]["artifacts"] == [{"name": "records", "path": RECORDS_OUT_PATH, "archive": {"none": {}}}]
    assert "--records-in" not in t[plan.stages[0].name]["container"]["args"]
    assert t[plan.stages[1].name]["inputs"]["artifacts"][1] == {"name": "records", "path": RECORDS_IN_PATH}
    cpu = t["answer"]
    assert "nvidia.com/gpu" not in cpu["container"]["resources"]["limits"]
    assert cpu["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert cpu["outputs"]["parameters"] == [{"name": "answers", "valueFrom": {"path": "/tmp/dicec/answers.json"}}]
    assert cpu["outputs"]["artifacts"][0]["name"] == "answers"
    assert plan_of_workflow(wf) == plan


def test_the_image_list_reaches_every_pod_as_a_raw_artifact_never_through_argv(builtin_registry, pools):
    wf = compile_(builtin_registry, pools, COLOUR).workflow
    pods = [t for t in wf["spec"]["templates"] if "container" in t]
    for pod in pods:
        assert pod["inputs"]["artifacts"][0] == {"name": "images", "path": IMAGES_PATH,
                                                 "raw": {"data": "{{workflow.parameters.images}}"}}
        assert pod["container"]["args"][pod["container"]["args"].index("--images") + 1] == IMAGES_PATH
        assert not IMAGES_PATH.startswith("/tmp/")
    text = yaml.safe_dump(wf)
    assert text.count("{{workflow.parameters.images}}") == len(pods)


def test_valid_hardened_and_the_same_bytes_every_time(builtin_registry, pools):
    import sys

    from dicec.validate import validate_text

    sys.path.insert(0, str(Path(__file__).parent))
    from test_hardening import pod_problems

    for question in (COLOUR, DAMAGE):
        a, b = compile_(builtin_registry, pools, question), compile_(builtin_registry, pools, question)
        assert a.yaml == b.yaml and validate_text(a.yaml, path=question.name) == []
        for t in a.workflow["spec"]["templates"]:
            if "container" in t:
                assert pod_problems(t) == [], (question.name, t["name"])
    many = compile_(builtin_registry, pools, COLOUR, DAMAGE, kind="WorkflowTemplate")
    assert validate_text(many.yaml, path="many") == [] and many.workflow["kind"] == "WorkflowTemplate"


def test_deadlines_grow_with_the_largest_shard(builtin_registry, pools):
    result = compile_(builtin_registry, pools, COLOUR, shards=4, max_batch=1000, image_deadline_seconds=20,
                      step_deadline_seconds=600, parallelism=2)
    per_pod = 600 + 20 * math.ceil(1000 / 4)
    pods = [t for t in result.workflow["spec"]["templates"] if "container" in t]
    assert {t["activeDeadlineSeconds"] for t in pods} == {per_pod}
    assert {t["container"]["args"][t["container"]["args"].index("--max-images") + 1] for t in pods} == {"1000"}
    # 4 shards at most 2 at once: 2 waves of 3 pods one after another
    assert result.workflow["spec"]["activeDeadlineSeconds"] == 2 * 3 * per_pod


def test_several_questions_share_the_stage_pods(builtin_registry, pools):
    result = compile_(builtin_registry, pools, COLOUR, DAMAGE, QUESTIONS / "count-dogs.txt", shards=2)
    plan = result.plan
    assert [q.name for q in plan.queries] == ["q1", "q2", "q3"] and len(result.inputs) == 3
    assert [s.pool for s in plan.stages] == ["a4000", "a6000"]  # every detector in one pod, one load of GLIP
    assert len(plan.stages[0].models) == len({m.key for m in plan.stages[0].models})
    assert {t.query for t in plan.stages[0].tasks} == {0, 1, 2}
    answer = templates(result.workflow)["shard"]["dag"]["tasks"][-1]
    assert [p["name"] for p in answer["arguments"]["parameters"]] == ["shard"]  # no program in any node's status
    args = templates(result.workflow)["answer"]["container"]["args"]
    assert [unb64(args[i + 1]) for i, a in enumerate(args) if a == "--program"] == [p.program for p in result.inputs]
    assert [p["name"] for p in templates(result.workflow)["answer"]["inputs"]["parameters"]] == ["shard"]
    stage = templates(result.workflow)[plan.stages[0].name]["container"]["args"]
    calls = json.loads(unb64(stage[stage.index("--stage") + 1]))["calls"]
    assert [len(c) for c in calls] == [sum(1 for t in plan.stages[0].tasks if t.query == q) for q in range(3)]


def test_untrusted_question_text_stays_base64(builtin_registry, pools, tmp_path):
    q = tmp_path / "hostile.txt"
    q.write_text('Is there a "{{workflow.name}}" or a \'}}\' or a $(rm -rf /) on the table?\n')
    result = compile_(builtin_registry, pools, q, COLOUR)
    allowed = {"item", "inputs.parameters.shard", "workflow.parameters.images", "tasks.shard.outputs.parameters.answers",
               "tasks.answer.outputs.parameters.answers"} | {f"tasks.{s.name}.outputs.artifacts.records" for s in result.plan.stages}
    found = set(re.findall(r"\{\{([^{}]*)\}\}", result.yaml))
    assert found <= allowed, found - allowed
    assert "rm -rf" not in result.yaml and "workflow.name" not in result.yaml


def test_batches_that_cannot_run_as_stage_pods_keep_one_query_per_image(builtin_registry, pools):
    for options in ({"input_artifact": "s3"}, {"mode": "services"}):
        result = compile_(builtin_registry, pools, COLOUR, **options)
        assert result.plan is None and PLAN_ANNOTATION not in result.workflow["metadata"]["annotations"]
        assert "query" in templates(result.workflow)
    with pytest.raises(DicecError, match="several questions are answered together only by a pods-mode --batch"):
        compile_(builtin_registry, pools, COLOUR, DAMAGE, mode="services")
    from dicec.placement import load_pools

    marine = load_pools(REPO / "examples" / "marine" / "pools.yaml")
    bottles = REPO / "examples" / "marine" / "questions" / "floating-bottles.txt"
    edge = compile_(builtin_registry, marine, bottles)
    assert edge.plan is None and "query" in templates(edge.workflow)  # the edge sends crops per frame
    with pytest.raises(DicecError, match="--shards: this batch runs one query per image"):
        compile_(builtin_registry, marine, bottles, shards=2)
    with pytest.raises(DicecError, match="--shards goes with --batch"):
        EmitOptions(shards=3)
    with pytest.raises(DicecError, match="--shards needs a pods-mode batch"):
        EmitOptions(batch=True, shards=3, input_artifact="http")
    with pytest.raises(DicecError, match="--max-batch must be a whole number"):
        EmitOptions(batch=True, max_batch=0)


def test_compile_on_the_command_line(tmp_path):
    out = tmp_path / "wf.yaml"
    r = CliRunner().invoke(cli, ["compile", str(COLOUR), str(DAMAGE), "--batch", "--shards", "3", "--max-batch", "500",
                                 "-o", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["batch"]["shards"] == 3 and summary["batch"]["questions"] == {"q1": str(COLOUR), "q2": str(DAMAGE)}
    assert summary["stats"]["tasks"] == 3 + 24 and summary["fused"] == []
    wf = yaml.safe_load(out.read_text())
    assert plan_of_workflow(wf).shards == 3
    r = CliRunner().invoke(cli, ["compile", str(COLOUR), str(DAMAGE), "-o", str(out)])
    assert r.exit_code == 1 and "only with --batch" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = CliRunner().invoke(cli, ["compile", str(COLOUR), "--shards", "3", "-o", str(out)])
    assert r.exit_code == 1 and "--shards goes with --batch" in r.stderr
    r = CliRunner().invoke(cli, ["compile", str(COLOUR), "--batch", "-o", str(out)])
    assert r.exit_code == 0 and "in 8 shards, each a chain of 3 pods" in r.stderr


def test_a_workflow_too_big_for_one_argument_or_annotation_is_refused(builtin_registry, pools, monkeypatch):
    import dicec.emit.batch as batch

    result = compile_(builtin_registry, pools, DAMAGE, COLOUR)
    longest = max(len(a) for t in result.workflow["spec"]["templates"] if "container" in t for a in t["container"]["args"])
    monkeypatch.setattr(batch, "MAX_ARGUMENT_BYTES", longest)
    with pytest.raises(DicecError, match="bytes of one argument, over Linux's"):
        compile_(builtin_registry, pools, DAMAGE, COLOUR)
    monkeypatch.setattr(batch, "MAX_ARGUMENT_BYTES", longest + 1)
    monkeypatch.setattr(batch, "MAX_PLAN_BYTES", len(result.workflow["metadata"]["annotations"][PLAN_ANNOTATION]) - 1)
    with pytest.raises(DicecError, match="a Workflow annotation may hold"):
        compile_(builtin_registry, pools, DAMAGE, COLOUR)
