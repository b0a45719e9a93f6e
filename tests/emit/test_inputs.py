"""Inputs at scale and metadata: artifacts, batch fan-out, WorkflowTemplate names, labels and annotations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli
from dicec.emit import EmitOptions
from dicec.emit.inputs import ARTIFACT_PATH
from dicec.emit.metadata import derived_name, label_value

REPO = Path(__file__).resolve().parents[2]
QUESTION = REPO / "examples" / "questions" / "damage-parts.txt"
LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def compile_(builtin_registry, pools, **options):
    from dicec.pipeline import compile_path

    return compile_path(str(QUESTION), registry=builtin_registry, catalogue=pools, options=EmitOptions(**options))


def steps_of(wf):
    return [t for t in wf["spec"]["templates"] if "container" in t]


@pytest.mark.parametrize("kind, field", [("s3", "key"), ("gcs", "key"), ("http", "url")])
def test_artifact_input_is_key_only_and_the_steps_read_its_path(builtin_registry, pools, kind, field):
    wf = compile_(builtin_registry, pools, input_artifact=kind).workflow
    assert [p["name"] for p in wf["spec"]["arguments"]["parameters"]] == ["image"]
    for t in steps_of(wf):
        # besides the image, only raw data: the answer's records and a fused group's inputs (files, not argv)
        art, *others = t["inputs"]["artifacts"]
        assert all("raw" in o or o["name"] == "records" for o in others)
        # nothing but the key: bucket, endpoint and credentials come from the cluster's artifact repository
        assert art == {"name": "image", "path": ARTIFACT_PATH, kind: {field: "{{workflow.parameters.image}}"}}
        args = t["container"]["args"]
        assert args[args.index("--image") + 1] == ARTIFACT_PATH
        assert not ARTIFACT_PATH.startswith("/tmp/")  # never inside the /tmp emptyDir


def test_batch_fans_out_the_query_dag_over_the_images_with_a_cap(builtin_registry, pools):
    """The per-image shape (a batch in services mode or with --input-artifact; a pods-mode batch read by its pods
    runs as shards of stage pods, tests/emit/test_batch.py)."""
    from dicec.emit.argo import emit_workflow

    result = compile_(builtin_registry, pools)
    single = result.workflow
    wf = emit_workflow(result.placed, EmitOptions(batch=True, parallelism=5))
    assert [p["name"] for p in wf["spec"]["arguments"]["parameters"]] == ["images"]
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    main, query = templates["main"], templates["query"]
    assert main["parallelism"] == 5 and "parallelism" not in wf["spec"]
    (each,) = main["dag"]["tasks"]
    assert each["template"] == "query" and each["withParam"] == "{{workflow.parameters.images}}"
    assert each["arguments"]["parameters"] == [{"name": "image", "value": "{{item}}"}]
    assert main["outputs"]["parameters"] == [{"name": "answers", "valueFrom": {
        "parameter": "{{tasks.each-image.outputs.parameters.answer-json}}"}}]  # unambiguous: JSON, not text
    assert [p["name"] for p in query["outputs"]["parameters"]] == ["answer", "answer-json"]
    assert query["inputs"]["parameters"] == [{"name": "image"}]
    # the per-image DAG is the single-image DAG, each task also handing the image on
    single_tasks = {t["name"]: t for t in single["spec"]["templates"][0]["dag"]["tasks"]}
    for t in query["dag"]["tasks"]:
        params = t["arguments"]["parameters"]
        assert params[0] == {"name": "image", "value": "{{inputs.parameters.image}}"}
        assert params[1:] == single_tasks[t["name"]]["arguments"]["parameters"]
    for t in steps_of(wf):
        args = t["container"]["args"]
        assert args[args.index("--image") + 1] == "{{inputs.parameters.image}}"


def test_single_image_parallelism_caps_pods(builtin_registry, pools):
    assert compile_(builtin_registry, pools, parallelism=7).workflow["spec"]["parallelism"] == 7


def test_workflow_template_gets_a_fixed_deterministic_name(builtin_registry, pools):
    a = compile_(builtin_registry, pools, kind="WorkflowTemplate").workflow
    b = compile_(builtin_registry, pools, kind="WorkflowTemplate").workflow
    assert a["kind"] == "WorkflowTemplate" and "generateName" not in a["metadata"]
    assert a["metadata"]["name"] == b["metadata"]["name"] and len(a["metadata"]["name"]) <= 63
    batch = compile_(builtin_registry, pools, kind="WorkflowTemplate", batch=True).workflow
    assert batch["metadata"]["name"] != a["metadata"]["name"]
    named = compile_(builtin_registry, pools, kind="WorkflowTemplate", name="car-damage").workflow
    assert named["metadata"]["name"] == "car-damage"
    assert derived_name(source="x" * 200, program="p") != derived_name(source="x" * 200, program="q")
    assert len(derived_name(source="x" * 200, program="p")) <= 63


def test_labels_and_annotations_carry_hashes_version_and_cost(builtin_registry, pools):
    import hashlib

    from dicec import __version__

    result = compile_(builtin_registry, pools)
    meta = result.workflow["metadata"]
    labels, notes = meta["labels"], meta["annotations"]
    assert labels["dicec.dev/question"] == hashlib.sha256(result.question.encode()).hexdigest()[:16]
    assert notes["dicec.dev/question-sha256"].startswith(labels["dicec.dev/question"])
    assert labels["dicec.dev/version"] == __version__ == notes["dicec.dev/version"]
    assert float(labels["dicec.dev/estimated-usd-per-query"]) == pytest.approx(result.placed.totals["usd_per_query"], abs=1e-6)
    assert all(LABEL.match(v) and len(v) <= 63 for v in labels.values())
    assert result.workflow["spec"]["podMetadata"]["labels"] == labels
    assert result.question not in yaml.safe_dump(meta)


def test_label_values_are_made_valid():
    assert label_value("0.1.0+local.build") == "0.1.0_local.build"
    assert label_value("-x-") == "x" and label_value("...") == ""
    assert len(label_value("a" * 100)) == 63 and LABEL.match(label_value("a" * 62 + "-b"))


def test_compile_options_on_the_command_line(tmp_path):
    out = tmp_path / "wf.yaml"
    r = CliRunner().invoke(cli, ["compile", str(QUESTION), "-o", str(out), "--kind", "WorkflowTemplate", "--batch",
                                 "--parallelism", "3", "--input-artifact", "s3", "--gpu-step-host-memory", "12Gi:20Gi",
                                 "--retry-limit", "4", "--pod-gc", "none", "--run-as-user", "4242"])
    assert r.exit_code == 0, r.output
    wf = yaml.safe_load(out.read_text())
    assert wf["kind"] == "WorkflowTemplate" and wf["metadata"]["name"].endswith(wf["metadata"]["labels"]["dicec.dev/program"][:8])
    assert "podGC" not in wf["spec"]
    gpu = next(t for t in steps_of(wf) if "nvidia.com/gpu" in t["container"]["resources"]["limits"])
    assert gpu["container"]["resources"]["limits"]["memory"] == "20Gi" and gpu["retryStrategy"]["limit"] == 4
    assert gpu["securityContext"]["runAsUser"] == 4242
    assert CliRunner().invoke(cli, ["validate", str(out)]).exit_code == 0
    bad = CliRunner().invoke(cli, ["compile", str(QUESTION), "--gpu-step-host-memory", "16Gi:8Gi"])
    assert bad.exit_code == 1 and bad.stderr.strip() == "dicec: memory limit 8Gi is below its request 16Gi"
    # the old name still works, and says it is deprecated and what it sets
    old = CliRunner().invoke(cli, ["compile", str(QUESTION), "--gpu-memory", "12Gi:20Gi", "-o", str(tmp_path / "o.yaml")])
    assert old.exit_code == 0 and "--gpu-memory is deprecated: it sets a GPU step's host memory (RAM)" in old.stderr
    gpu = next(t for t in steps_of(yaml.safe_load((tmp_path / "o.yaml").read_text()))
               if "nvidia.com/gpu" in t["container"]["resources"]["limits"])
    assert gpu["container"]["resources"]["requests"]["memory"] == "12Gi"
    bad = CliRunner().invoke(cli, ["compile", str(QUESTION), "--gpu-cpu", "2:"])
    assert bad.exit_code == 1 and "expected REQUEST or REQUEST:LIMIT" in bad.stderr
