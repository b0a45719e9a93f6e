"""Serial == services mode: ``dicec run`` of a services-mode stream, against the model servers and the answer
server it starts on loopback, returns exactly what ``dicec exec`` returns (``--models seeded``), for every
example question.

The pods-mode counterpart is tests/test_equivalence.py; the step contract is the same, only each operator
step is an HTTP request to a model server (POST /v1/step) and the answer one to the answer server
(POST /v1/answer), as Argo's agent sends them, instead of a pod. The answer server's counts (its
``Dicec-Answer-Counts`` header) are checked against the compiled plan as in pods mode (tests/plan_checks.py).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent / "runtime"))

from helpers import exec_answer, run_and_count, run_answer_of, write_image  # noqa: E402
from plan_checks import assert_plans_were_right  # noqa: E402
from programs import programs  # noqa: E402
from support import REPO  # noqa: E402

EXAMPLES = sorted((REPO / "examples" / "questions").glob("*.txt"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    tmp = tmp_path_factory.mktemp("eqs")
    images = [write_image(tmp / f"image{s}.png", width=300 + 40 * s, height=220, seed=20 + s) for s in range(2)]
    return {"registry": registry_for(), "pools": load_pools(), "images": images}


def _compile(question, setup, mode="services"):
    from dicec.emit import EmitOptions
    from dicec.pipeline import compile_path

    return compile_path(str(question), registry=setup["registry"], catalogue=setup["pools"],
                        options=EmitOptions(mode=mode))


def _agree(e: dict, r: dict) -> bool:
    if "answer" in e:
        return e == r
    kind, detail, line = e["error"]
    expected = f"<program>:{line}: {kind}: {' '.join(detail.split())}" if line else f"{kind}: {' '.join(detail.split())}"
    return r.get("failed") == "answer" and any(expected in entry for entry in r["log"])


@pytest.mark.parametrize("question", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_runs_in_services_mode_as_it_executes(question, setup, tmp_path):
    compiled = _compile(question, setup)
    assert "kind: Deployment" in compiled.yaml
    image = setup["images"][EXAMPLES.index(question) % len(setup["images"])]  # one each, both images covered
    e = exec_answer(compiled.program, image)
    r, counts = run_and_count(compiled.yaml, tmp_path, image)
    assert _agree(e, r), (question.name, image.name, e, r)
    assert_plans_were_right(compiled.graph, counts, question.name, answers="answer" in r)


def test_the_calls_went_through_the_servers_and_the_answer_step_used_them(setup, tmp_path):
    """No step pod: every operator call is one HTTP step to a model server, the answer one to the answer
    server, which answered every call the program made from the steps' results (none on demand)."""
    from dicec.runner.workflow import RunOptions, run_workflow

    question = REPO / "examples" / "questions" / "damage-parts.txt"
    compiled = _compile(question, setup)
    wf = tmp_path / "wf.yaml"
    wf.write_text(compiled.yaml)
    before = {t.name for t in threading.enumerate()}
    keep = tmp_path / "keep"
    result = run_workflow(str(wf), RunOptions(parameters={"image": str(setup["images"][0])}, keep_dir=str(keep),
                                              env={"DICEC_MODELS": "seeded"}))
    assert result.outputs["answer"]
    assert result.steps == 0 and result.requests == len(compiled.graph.tasks) + 1 == 25
    step_logs = [p.read_text() for p in keep.glob("*/step.log") if p.parent.name != "answer"]
    assert len(step_logs) == 24
    assert all(re.match(r"POST http://dicec-[-a-z0-9]+/v1/step -> HTTP 200: \{", log) for log in step_logs)
    answer_log = (keep / "answer" / "step.log").read_text()
    assert answer_log.startswith("POST http://dicec-answer/v1/answer -> HTTP 200: ")
    m = re.search(r"Dicec-From-Records: (\d+), Dicec-On-Demand: (\d+), Dicec-Operator-Calls: (\d+)", answer_log)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) == int(m.group(3)) > 0, answer_log
    leftover = {t.name for t in threading.enumerate()} - before
    assert not {n for n in leftover if n.startswith("dicec-serve")}, leftover  # the servers were stopped


@pytest.mark.parametrize("stem", ["existence-dog", "logic-cat-or-dog"])
def test_process_isolation_starts_dicec_op_serve_subprocesses(stem, setup, tmp_path):
    """Servers as `dicec op serve` subprocesses and steps as `dicec op call` subprocesses, as on a cluster."""
    question = REPO / "examples" / "questions" / f"{stem}.txt"
    if not question.exists():
        pytest.skip(f"no example {stem}")
    compiled = _compile(question, setup)
    image = setup["images"][1]
    assert run_answer_of(compiled.yaml, tmp_path, image, isolation="process") == exec_answer(compiled.program, image)


def test_local_servers_reads_the_manifests(setup, tmp_path):
    from dicec.runner.localservices import local_servers

    compiled = _compile(REPO / "examples" / "questions" / "damage-parts.txt", setup)
    wf = tmp_path / "wf.yaml"
    wf.write_text(compiled.yaml)
    servers = local_servers(str(wf))
    assert servers and all(s.services == (s.deployment,) for s in servers)
    (answer,) = [s for s in servers if s.kind == "answer"]
    assert answer.deployment == "dicec-answer" and dict(answer.flags)["--max-seconds"] == "300"
    assert dict(answer.flags)["--allow-services"].startswith("^http://dicec-")
    models = [s for s in servers if s.kind == "model"]
    assert models and all(s.operators and s.max_batch == 8 for s in models)
    pods = tmp_path / "pods.yaml"
    pods.write_text(_compile(REPO / "examples" / "questions" / "damage-parts.txt", setup, mode="pods").yaml)
    assert local_servers(str(pods)) == ()
    orphan = tmp_path / "orphan.yaml"
    orphan.write_text("---\n".join(part for part in compiled.yaml.split("---\n") if "kind: Service\n" not in part))
    from dicec.errors import DicecError

    with pytest.raises(DicecError, match="no Service selects its pods"):
        local_servers(str(orphan))


def test_a_server_that_cannot_load_stops_the_run_in_one_line(setup, tmp_path):
    from dicec.errors import DicecError
    from dicec.runner.workflow import RunOptions, run_workflow

    compiled = _compile(REPO / "examples" / "questions" / "existence-dog.txt", setup)
    wf = tmp_path / "wf.yaml"
    wf.write_text(compiled.yaml)
    with pytest.raises(DicecError, match="failed to load"):
        run_workflow(str(wf), RunOptions(parameters={"image": str(setup["images"][0])}, env={"DICEC_MODELS": "onnx"}))
    with socket.socket() as s:  # nothing left listening on a port we could not clean up: a smoke check
        s.bind(("127.0.0.1", 0))


RESIDUAL = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    best = cars[0] if cars else image_patch
    for c in cars:
        if c.exists("wheel"):
            best = c
    sub = best.crop(0, 0, best.width // 2, best.height)
    return sub.simple_query("what colour is it?")
'''


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_the_answer_steps_unpredicted_calls_go_to_the_model_servers(setup, tmp_path, isolation):
    """A call no task predicted (simple_query on a crop cut at run time) is answered by a model server the
    stream declares for it, from an answer step on a CPU node, not by a model in that step."""
    import yaml

    from dicec.analysis import analyse
    from dicec.emit import EmitOptions, dump_yaml
    from dicec.emit.argo import emit_documents
    from dicec.placement import place
    from dicec.runner.workflow import RunOptions, run_workflow
    from dicec.validate import validate_text

    graph = analyse(RESIDUAL, setup["registry"], path="r.py")
    assert [r.operator for r in graph.residual] == ["simple_query"]
    placed = place(graph, setup["registry"], setup["pools"], mode="services")
    text = dump_yaml(emit_documents(placed, EmitOptions(mode="services")))
    assert validate_text(text, path="r.yaml") == []
    docs = list(yaml.safe_load_all(text))
    servers = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert any("simple_query" in d["spec"]["template"]["spec"]["containers"][0]["args"] for d in servers.values())
    answer = next(t for t in docs[-1]["spec"]["templates"] if t["name"] == "answer")
    assert answer["http"]["url"] == "http://dicec-answer/v1/answer"
    urls = json.loads(re.search(r'"services":(\{[^}]*\})', answer["http"]["body"]).group(1))
    assert set(urls) == {"find", "exists", "simple_query"}
    assert all(u.split("//")[1] in servers for u in urls.values())
    answer_server = servers["dicec-answer"]["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in answer_server["resources"]["limits"]  # the models are in the model servers
    wf = tmp_path / "wf.yaml"
    wf.write_text(text)
    for image in setup["images"]:
        keep = tmp_path / f"keep-{image.stem}"
        result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, keep_dir=str(keep),
                                                  isolation=isolation, env={"DICEC_MODELS": "seeded"}))
        assert json.loads(result.outputs["answer-json"]) == exec_answer(RESIDUAL, image)["answer"]
        log = (keep / "answer" / "step.log").read_text()
        assert re.search(r"\bDicec-On-Demand: 1\b", log), log


def test_a_bad_services_map_is_one_line(setup, tmp_path):
    from dicec.errors import DicecError
    from dicec.runtime.answer import run_answer
    from dicec.runtime.contract import b64

    for text, message in (("[1]", "JSON object of operator names"), ("{", "not valid JSON"),
                          ('{"exists": "http://127.0.0.1:9"}', "no model server for operator 'find'")):
        with pytest.raises(DicecError, match=message):
            run_answer(image_uri=str(setup["images"][0]), program_payload=b64(RESIDUAL), records_json="[]",
                       out=None, services_json=text)


# -- the equivalence corpora, in services mode (tests/test_equivalence.py has them in pods mode) --------------
def test_viper_programs_that_exec_completes(setup, tmp_path):
    from dicec.errors import DicecError
    from support import viper_programs

    compared = 0
    image = setup["images"][1]
    for i, row in enumerate(viper_programs()):
        try:
            compiled = _compile_text(row["code"], setup)
        except DicecError:
            continue  # does not parse or fails the checker: neither exec nor run accepts it
        e = exec_answer(compiled.program, image)
        if "error" in e:
            continue
        r, counts = run_and_count(compiled.yaml, tmp_path, image)
        assert e == r, (i, row["code"], e, r)
        assert_plans_were_right(compiled.graph, counts, (i, row["code"]), answers=1)
        compared += 1
    assert compared >= 600, compared


def _compile_text(source: str, setup):
    from dicec.emit import EmitOptions
    from dicec.pipeline import compile_text

    return compile_text(source, "program", path="generated.py", registry=setup["registry"], catalogue=setup["pools"],
                        options=EmitOptions(mode="services"))


_COUNT = {"n": 0}


@settings(max_examples=520, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(source=programs())
def test_generated_programs_run_as_they_execute(source, setup, tmp_path):
    compiled = _compile_text(source, setup)
    image = setup["images"][_COUNT["n"] % len(setup["images"])]
    _COUNT["n"] += 1
    e = exec_answer(compiled.program, image)
    r, counts = run_and_count(compiled.yaml, tmp_path, image)
    assert _agree(e, r), (source, e, r)
    assert_plans_were_right(compiled.graph, counts, source, answers="answer" in r)


def test_enough_generated_programs_were_compared():
    if _COUNT["n"] == 0:
        pytest.skip("run together with test_generated_programs_run_as_they_execute")
    assert _COUNT["n"] >= 500


@pytest.mark.parametrize("question", EXAMPLES[::3], ids=lambda p: p.stem)
def test_a_batch_answers_each_image_as_exec_does(question, setup, tmp_path):
    """One services-mode batch workflow over both images: answer i equals ``dicec exec`` on image i."""
    from dicec.emit import EmitOptions
    from dicec.pipeline import compile_path
    from dicec.runner.batch import batch_answers
    from dicec.runner.workflow import RunOptions, StepFailed, run_workflow

    compiled = compile_path(str(question), registry=setup["registry"], catalogue=setup["pools"],
                            options=EmitOptions(mode="services", batch=True, parallelism=2))
    expected = [exec_answer(compiled.program, image) for image in setup["images"]]
    wf = tmp_path / "batch.yaml"
    wf.write_text(compiled.yaml)
    params = {"images": json.dumps([str(i) for i in setup["images"]])}
    try:
        result = run_workflow(str(wf), RunOptions(parameters=params, env={"DICEC_MODELS": "seeded"}))
    except StepFailed as exc:
        assert any("error" in e for e in expected), (exc.step, exc.log_tail)
        return
    assert result.steps == 0 and result.requests > 0
    assert batch_answers(result.outputs["answers"], params, str(wf))[1] == [e["answer"] for e in expected]
    assert sorted(c.indices for c in result.answer_counts) == [(0,), (1,)]  # one replay per image, by index
    assert_plans_were_right(compiled.graph, result.answer_counts, question.name, answers=len(expected))


@pytest.mark.parametrize("models", ["seeded", "builtin"])
def test_drawn_scenes_answer_as_exec_does(models, setup, tmp_path):
    """Scenes drawn by examples/scenes/generate.py, every question they come with, compiled in services mode: dicec
    run answers as dicec exec on the same models (the built-in ONNX scene models, or seeded answers)."""
    sys.path.insert(0, str(REPO / "examples" / "scenes"))
    from generate import generate

    from dicec.pipeline import compile_text
    from dicec.emit import EmitOptions

    records = generate(tmp_path / "scenes", 4)
    compiled: dict[str, Any] = {}
    compared = 0
    for rec in records:
        image = tmp_path / "scenes" / rec["image"]
        for q in rec["questions"]:
            if q["question"] not in compiled:
                compiled[q["question"]] = compile_text(q["question"], "question", path="q.txt",
                                                       registry=setup["registry"], catalogue=setup["pools"],
                                                       options=EmitOptions(mode="services"))
            c = compiled[q["question"]]
            e = exec_answer(c.program, image, models=models)
            r, counts = run_and_count(c.yaml, tmp_path, image, models=models)
            assert _agree(e, r), (q["question"], rec["image"], e, r)
            assert_plans_were_right(c.graph, counts, (q["question"], rec["image"]), answers="answer" in r)
            compared += 1
    assert compared >= 12
