"""Issue 14, item 9: a workflow's ``answer`` output is the answer as text (a string without JSON quotes) and
``answer-json`` its canonical JSON, in pods mode (the answer step's two files), services mode (taken out of the
answer server's reply by Argo's ``jsonpath``) and batches (``answers`` aggregated from ``answer-json``, read
back unambiguously); ``dicec run`` prints what it printed before."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from helpers import exec_answer, write_image  # noqa: E402

from dicec.cli import cli  # noqa: E402

#: A string answer that is also valid JSON (a number's digits): the case a JSON-quoted output got wrong.
COUNT = '''def execute_command(image):
    image_patch = ImagePatch(image)
    return str(len(image_patch.find("circle")) + 10)
'''
#: A list answer: its text is its JSON.
FLAGS = '''def execute_command(image):
    image_patch = ImagePatch(image)
    return [image_patch.exists("circle"), "a<b"]
'''


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("answer-text")
    return [write_image(tmp / f"i{s}.png", width=200 + 30 * s, height=150, seed=40 + s) for s in range(2)]


def compiled(program: str, tmp: Path, **options):
    from dicec.emit import EmitOptions
    from dicec.pipeline import compile_path
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    path = tmp / "prog.py"
    path.write_text(program)
    result = compile_path(str(path), registry=registry_for(), catalogue=load_pools(), options=EmitOptions(**options))
    wf = tmp / "wf.yaml"
    wf.write_text(result.yaml)
    return wf


def run(wf: Path, **parameters):
    from dicec.runner.workflow import RunOptions, run_workflow

    return run_workflow(str(wf), RunOptions(parameters=parameters, env={"DICEC_MODELS": "seeded"}))


@pytest.mark.parametrize("mode", ["pods", "services"])
def test_a_string_answer_is_plain_and_its_json_is_kept(mode, images, tmp_path):
    wf = compiled(COUNT, tmp_path, mode=mode)
    expected = exec_answer(COUNT, images[0])["answer"]
    assert isinstance(expected, str) and expected.isdigit()
    outputs = run(wf, image=str(images[0])).outputs
    assert outputs["answer"] == expected  # "12", not "\"12\""
    assert outputs["answer-json"] == json.dumps(expected)
    text = CliRunner().invoke(cli,
                              ["run", str(wf), "-p", f"image={images[0]}", "--models", "seeded"])
    assert text.exit_code == 0 and text.stdout == expected + "\n"  # what dicec run printed before
    as_json = CliRunner().invoke(cli,
                                 ["run", str(wf), "-p", f"image={images[0]}", "--models", "seeded", "--format", "json"])
    assert json.loads(as_json.stdout)["answer"] == expected  # still the string, not the number 12


@pytest.mark.parametrize("mode", ["pods", "services"])
def test_a_list_answers_text_is_its_json(mode, images, tmp_path):
    wf = compiled(FLAGS, tmp_path, mode=mode)
    expected = exec_answer(FLAGS, images[1])["answer"]
    outputs = run(wf, image=str(images[1])).outputs
    assert json.loads(outputs["answer-json"]) == expected and outputs["answer"] == outputs["answer-json"]
    assert "a<b" in outputs["answer"]  # canonical JSON, not Go's HTML escaping


def test_the_pods_answer_step_writes_text_and_json_and_argo_reads_both(tmp_path):
    wf = compiled(COUNT, tmp_path)
    import yaml

    answer = next(t for t in yaml.safe_load(wf.read_text())["spec"]["templates"] if t["name"] == "answer")
    assert answer["container"]["args"][-4:] == ["--out", "/tmp/dicec/answer.json", "--text-out", "/tmp/dicec/answer.txt"]
    assert answer["outputs"]["parameters"] == [
        {"name": "answer", "valueFrom": {"path": "/tmp/dicec/answer.txt"}},
        {"name": "answer-json", "valueFrom": {"path": "/tmp/dicec/answer.json"}}]


@pytest.mark.parametrize("program", [COUNT, FLAGS], ids=["strings", "lists"])
def test_batch_answers_read_back_unambiguously(program, images, tmp_path):
    """A fan-out batch's ``answers`` is Argo's aggregation of ``answer-json``: strings answers stay strings (Argo
    keeps each one's JSON text), list answers are parsed into the list; either reads back as the answers."""
    from dicec.runner.batch import batch_answers

    wf = compiled(program, tmp_path, mode="services", batch=True)
    params = {"images": json.dumps([str(i) for i in images])}
    outputs = run(wf, **params).outputs
    expected = [exec_answer(program, i)["answer"] for i in images]
    aggregated = json.loads(outputs["answers"])
    if program is COUNT:
        assert aggregated == [json.dumps(e) for e in expected]  # ["\"12\"", ...]: Argo kept the JSON texts
    else:
        assert aggregated == expected  # every answer a list: Argo parsed them
    assert batch_answers(outputs["answers"], params, "wf")[1] == expected
