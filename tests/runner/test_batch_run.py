"""``dicec run`` on batch and artifact-input workflows: nested DAGs, parallelism caps, local artifacts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

from dicec.cli import cli  # noqa: E402
from dicec.errors import DicecError  # noqa: E402
from dicec.runner.workflow import RunOptions, StepFailed, run_workflow  # noqa: E402
from helpers import write_image  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
QUESTION = REPO / "examples" / "questions" / "damage-parts.txt"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    images = [write_image(tmp / f"img{s}.png", width=300 + 20 * s, seed=s) for s in range(3)]
    out = {"images": images, "tmp": tmp}
    for name, flags in (("single", []), ("batch", ["--batch", "--parallelism", "2"]),
                        ("s3", ["--input-artifact", "s3"]), ("http-batch", ["--input-artifact", "http", "--batch"])):
        path = tmp / f"{name}.yaml"
        r = CliRunner().invoke(cli, ["compile", str(QUESTION), "-o", str(path), *flags])
        assert r.exit_code == 0, r.output
        out[name] = path
    return out


def run(*args):
    return CliRunner().invoke(cli, ["run", "--models", "seeded", *map(str, args)])


def test_batch_prints_one_answer_per_image_equal_to_single_runs(files):
    images = files["images"]
    singles = [run(files["single"], "-p", f"image={i}").stdout.strip() for i in images]
    r = run(files["batch"], "-p", "images=" + json.dumps([str(i) for i in images]))
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [f"{i}: {a}" for i, a in zip(images, singles)]
    assert len(set(singles)) > 1  # the images differ, so a mixed-up order would show
    j = run(files["batch"], "-p", "images=" + json.dumps([str(i) for i in images[::-1]]), "--format", "json")
    body = json.loads(j.stdout)
    assert body["images"] == [str(i) for i in images[::-1]]
    assert [a if isinstance(a, str) else json.dumps(a) for a in body["answers"]] == singles[::-1]


def test_an_empty_batch_has_no_answers_and_a_bad_list_is_one_line(files):
    r = run(files["batch"], "-p", "images=[]", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["answers"] == []
    r = run(files["batch"], "-p", "images=car.png")
    assert r.exit_code == 1 and "the images parameter must be a JSON list" in r.stderr and "Traceback" not in r.output
    r = run(files["http-batch"], "-p", "images=car.png")  # a batch fanned out per image (artifact inputs)
    assert r.exit_code == 1 and "withParam is not a JSON list" in r.stderr and "Traceback" not in r.output


def test_artifact_input_reads_local_paths_and_file_uris(files):
    image = files["images"][1]
    expected = run(files["single"], "-p", f"image={image}").stdout
    assert run(files["s3"], "-p", f"image={image}").stdout == expected
    assert run(files["s3"], "-p", f"image={image.as_uri()}").stdout == expected
    r = run(files["http-batch"], "-p", "images=" + json.dumps([image.as_uri(), str(files["images"][0])]))
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == f"{image.as_uri()}: {expected.strip()}"


@pytest.mark.parametrize("source", ["s3://bucket/car.png", "https://example.com/car.png", "gs://b/k"])
def test_remote_artifacts_are_not_supported_here(files, source):
    r = run(files["s3"], "-p", f"image={source}")
    assert r.exit_code == 1 and "is not supported here" in r.stderr and "local paths and file://" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_missing_artifact_file_is_one_line(files):
    r = run(files["s3"], "-p", "image=uploads/none.png")
    assert r.exit_code == 1 and "uploads/none.png: no such file" in r.stderr


def _timing_workflow(tmp: Path, cap: int) -> Path:
    """main (parallelism cap) fans out over 3 items to DAG 'one', whose container sleeps and logs its times."""
    log = tmp / f"log-{cap}.txt"
    code = ("import os,sys,time; t=time.time(); time.sleep(0.4); os.makedirs(os.path.dirname(sys.argv[2])); "
            f"open({str(log)!r},'a').write(f'{{t}} {{time.time()}}\\n'); "
            "open(sys.argv[2],'w').write(sys.argv[1].upper())")
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "t-"},
          "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": "items", "value": '["a","b","c"]'}]},
                   "templates": [
                       {"name": "main", "parallelism": cap, "dag": {"tasks": [
                           {"name": "each", "template": "one", "withParam": "{{workflow.parameters.items}}",
                            "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]}}]},
                        "outputs": {"parameters": [{"name": "all", "valueFrom": {
                            "parameter": "{{tasks.each.outputs.parameters.y}}"}}]}},
                       {"name": "one", "inputs": {"parameters": [{"name": "x"}]}, "dag": {"tasks": [
                           {"name": "step", "template": "leaf",
                            "arguments": {"parameters": [{"name": "x", "value": "{{inputs.parameters.x}}"}]}}]},
                        "outputs": {"parameters": [{"name": "y", "valueFrom": {
                            "parameter": "{{tasks.step.outputs.parameters.y}}"}}]}},
                       {"name": "leaf", "inputs": {"parameters": [{"name": "x"}]},
                        "container": {"image": "python", "command": [sys.executable, "-c", code],
                                      "args": ["{{inputs.parameters.x}}", "/tmp/dicec/out"]},
                        "outputs": {"parameters": [{"name": "y", "valueFrom": {"path": "/tmp/dicec/out"}}]}}]}}
    path = tmp / f"wf-{cap}.yaml"
    path.write_text(yaml.safe_dump(wf))
    return path


def _max_overlap(log: Path) -> int:
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


def test_nested_dags_run_with_their_inputs_under_the_parallelism_cap(tmp_path):
    serial = run_workflow(str(_timing_workflow(tmp_path, 1)), RunOptions(parallelism=8, run_any_command=True))
    assert json.loads(serial.outputs["all"]) == ["A", "B", "C"]
    assert _max_overlap(tmp_path / "log-1.txt") == 1
    run_workflow(str(_timing_workflow(tmp_path, 3)), RunOptions(parallelism=8, run_any_command=True))
    assert _max_overlap(tmp_path / "log-3.txt") >= 2


def test_raw_artifacts_and_unsupported_sources(tmp_path):
    from dicec.runner.artifacts import local_source, resolve_inputs

    (tmp_path / "f.txt").write_text("x")
    arts = resolve_inputs({"inputs": {"artifacts": [
        {"name": "a", "path": "/in/a", "raw": {"data": "hello {{workflow.parameters.w}}"}},
        {"name": "b", "path": "/in/b", "http": {"url": (tmp_path / "f.txt").as_uri()}}]}},
        lambda s: s.replace("{{workflow.parameters.w}}", "world"))
    assert arts[0].data == "hello world" and arts[1].local == (tmp_path / "f.txt").resolve()
    with pytest.raises(DicecError, match="only s3, gcs, http and raw"):
        resolve_inputs({"inputs": {"artifacts": [{"name": "g", "path": "/x", "git": {"repo": "r"}}]}}, str)
    with pytest.raises(DicecError, match="names another host"):
        local_source("file://elsewhere/x.png", artifact="image", kind="http")
    with pytest.raises(StepFailed):
        raise StepFailed("s", "r", [])


@pytest.mark.parametrize("sequence, items", [
    ({"count": "3"}, ["0", "1", "2"]),
    ({"count": 0}, []),
    ({"start": "100", "end": "102"}, ["100", "101", "102"]),
    ({"start": "5", "end": "3"}, ["5", "4", "3"]),
    ({"start": "2", "count": "{{workflow.parameters.n}}"}, ["2", "3"]),
    ({"count": "2", "format": "user%02X"}, ["user00", "user01"]),
])
def test_with_sequence_gives_argos_items(sequence, items):
    from dicec.runner.workflow import sequence_items

    assert sequence_items(sequence, lambda s: s.replace("{{workflow.parameters.n}}", "2"), "t") == items


@pytest.mark.parametrize("sequence, message", [
    ({"count": "many"}, "count is not a whole number"), ({"start": "1"}, "needs count or end"),
    ({"count": "-1"}, "count is negative"), ({"count": "2", "format": "%s%s"}, "not an integer format"),
    ("3", "must be a map"),
])
def test_a_bad_sequence_fails_its_task(sequence, message):
    from dicec.runner.workflow import sequence_items

    with pytest.raises(StepFailed, match=message):
        sequence_items(sequence, str, "t")


def test_stage_answers_must_cover_every_image_once_in_order():
    from dicec.runner.batch import stage_answers, stage_report

    params = {"images": json.dumps(["a.png", "b.png", "c.png"])}
    ok = [[{"index": 0, "answers": [{"answer": "yes"}]}], [],
          [{"index": 1, "answers": [{"answer": [1, 2]}]}, {"index": 2, "answers": [{"error": "c.png: image not found"}]}]]
    images, outcomes = stage_answers(json.dumps(ok), params, 1, "wf.yaml")
    lines, body, errors = stage_report(images, outcomes, ["q1"])
    assert lines == ["a.png: yes", "b.png: [1,2]", "c.png: error: c.png: image not found"]
    assert body == {"answers": ["yes", [1, 2], None], "errors": [
        {"index": 2, "image": "c.png", "question": "q1", "error": "c.png: image not found"}]}
    lines, body, _ = stage_report(images[:1], [[{"answer": "yes"}, {"answer": 3}]], ["q1", "q2"])
    assert lines == ["a.png [q1]: yes", "a.png [q2]: 3"] and body["answers"] == [["yes", 3]]
    assert body["questions"] == ["q1", "q2"]
    for bad, message in ((ok[:2], "expected 3 answers"), ([ok[2], ok[0]], "answer 0 is not the answers of image 0"),
                         ([[{"index": 0, "answers": []}]] + ok[2:], "to 1 question"), ({"a": 1}, "per-shard lists")):
        with pytest.raises(DicecError, match=message):
            stage_answers(json.dumps(bad), params, 1, "wf.yaml")
    assert stage_answers("[[], []]", {"images": "[]"}, 2, "wf.yaml") == ([], [])
