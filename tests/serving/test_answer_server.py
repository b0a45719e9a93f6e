"""The answer server (dicec answer serve) on loopback: the replay of dicec answer, lenient results, the
allow-list of model servers, errors, probes and the SIGTERM drain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).parent))

from helpers import exec_answer, write_image  # noqa: E402
from test_model_server import request, step_payload  # noqa: E402

from dicec.errors import DicecError  # noqa: E402
from dicec.runtime.contract import b64  # noqa: E402
from dicec.serving.answer_server import DEFAULT_ALLOW_SERVICES, AnswerOptions, AnswerServer  # noqa: E402
from dicec.serving.model_server import ModelServer, ServeOptions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PROGRAM = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    if len(cars) == 0:
        return image_patch.simple_query("what is this?")
    return [c.exists("dent") for c in cars]
'''


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    return str(write_image(tmp_path_factory.mktemp("answer") / "a.png", seed=12))


@pytest.fixture(scope="module")
def servers():
    model = ModelServer(ServeOptions(operators=("find", "exists", "simple_query"), port=0, models="seeded"))
    model.start()
    model.wait_ready(30)
    answer = AnswerServer(AnswerOptions(port=0, services={"dicec-models": model.url}))
    answer.start()
    answer.wait_ready(5)
    yield model, answer
    answer.stop(delay_s=0)
    model.stop(delay_s=0)


SERVICES = {"find": "http://dicec-models", "exists": "http://dicec-models", "simple_query": "http://dicec-models"}


def step_results(model, image_path: str) -> tuple[str, str]:
    """The two HTTP steps' answers (find, then the fan-out of exists), as Argo passes them on: raw text."""
    find = {"call": step_payload("find", ["car"]), "image": image_path, "patch": "image"}
    _, found = request(model.url, "POST", "/v1/step", find)
    _, checked = request(model.url, "POST", "/v1/step", {**find, "call": step_payload("exists", ["dent"]),
                                                         "patch": found})
    return json.dumps(found), json.dumps(checked)


def body_text(image_path: str, results: str, program: str = PROGRAM, services: dict | None = None) -> bytes:
    """The body as the emitted template writes it (dicec.emit.http.answer_body), with ``results`` substituted."""
    from dicec.emit.http import answer_body

    text = answer_body(image_path, SERVICES if services is None else services)
    return (text.replace("{{inputs.parameters.program}}", b64(program))
            .replace("{{inputs.parameters.records}}", results).encode())


def test_the_answer_is_the_serial_programs_from_the_results(servers, image_path):
    model, answer = servers
    found, checked = step_results(model, image_path)
    status, got = request(answer.url, "POST", "/v1/answer", raw=body_text(image_path, f"[{found}, {checked}]"))
    assert status == 200 and json.loads(got["json"]) == exec_answer(PROGRAM, Path(image_path))["answer"]
    assert isinstance(json.loads(got["json"]), list) and len(json.loads(got["json"])) == 3
    _, text = request(answer.url, "GET", "/metrics")
    assert "dicec_answer_answers_total 1" in text and "dicec_answer_on_demand_calls_total 0" in text


def test_the_reply_holds_the_answers_canonical_json_and_text_with_the_counts_in_headers(servers, image_path):
    import http.client

    model, answer = servers
    found, checked = step_results(model, image_path)
    host, port = answer.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/v1/answer", body=body_text(image_path, f"[{found}, {checked}]"),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    reply = json.loads(text)
    assert text == json.dumps(reply, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert set(reply) == {"json", "text"}  # what answer.json and answer.txt hold: a list's text is its JSON
    assert reply["json"] == reply["text"] == json.dumps(json.loads(reply["json"]), separators=(",", ":"))
    assert (response.getheader("Dicec-Operator-Calls"), response.getheader("Dicec-From-Records"),
            response.getheader("Dicec-On-Demand")) == ("4", "4", "0")


def test_results_that_are_not_json_are_skipped_and_answered_on_demand(servers, image_path):
    model, answer = servers
    _, checked = step_results(model, image_path)
    text = body_text(image_path, "[{{tasks.find-car.outputs.result}}, %s]" % checked)
    status, got = request(answer.url, "POST", "/v1/answer", raw=text)
    assert status == 200 and json.loads(got["json"]) == exec_answer(PROGRAM, Path(image_path))["answer"]
    assert request(answer.url, "POST", "/v1/answer", raw=body_text(image_path, "[]"))[1] == got  # all on demand


def test_a_program_that_raises_is_a_422_with_its_line(servers, image_path):
    _, answer = servers
    bad = "def execute_command(image):\n    x = 1\n    return x // 0\n"
    status, got = request(answer.url, "POST", "/v1/answer", raw=body_text(image_path, "[]", program=bad))
    assert status == 422 and got == {"error": "<program>:3: ZeroDivisionError: integer division or modulo by zero"}
    assert got["error"] == dicec_answer_error(bad, image_path)  # what the pods-mode answer step says
    unchecked = "def execute_command(image):\n    import os\n    return 1\n"
    status, got = request(answer.url, "POST", "/v1/answer", raw=body_text(image_path, "[]", program=unchecked))
    assert status == 422 and "import" in got["error"] and got["error"] == dicec_answer_error(unchecked, image_path)


def dicec_answer_error(program: str, image_path: str) -> str:
    """What the pods-mode answer step says for the same program (the same replay)."""
    from dicec.runtime.answer import run_answer

    try:
        run_answer(image_uri=image_path, program_payload=b64(program), records_json="[]", out=None, models="seeded")
    except DicecError as exc:
        return str(exc)
    return ""


def test_model_server_urls_outside_the_allow_list_are_refused(servers, image_path):
    _, answer = servers
    for url in ("http://evil.example", "http://dicec-x.other.svc", "http://127.0.0.1:9", "https://dicec-models",
                "http://dicec-models/../admin", "http://dicec-models:80@evil"):
        status, got = request(answer.url, "POST", "/v1/answer",
                              raw=body_text(image_path, "[]", services={**SERVICES, "find": url}))
        assert status == 403 and "'find' is not allowed" in got["error"], url
    _, text = request(answer.url, "GET", "/metrics")
    assert "dicec_answer_refused_total 6" in text


@pytest.mark.parametrize("mutate, words", [
    (lambda b: b.replace(b'"program":"', b'"program":"!!'), "'program' is not base64url"),
    (lambda b: b.replace(b'"results":[]', b'"results":{}'), "'results' must be a JSON list"),
    (lambda b: b.replace(b'"services":{', b'"extra":1,"services":{'), "unknown field 'extra'"),
    (lambda b: b.replace(b'"image":"', b'"image":"x","image":"'), "repeats the key 'image'"),
    (lambda b: b.replace(b'"results":[]', b'"results":[],"services":{}'), "repeats the key 'services'"),
    (lambda b: b.replace(b'"image":"', b'"image":"/no/such/file'), "cannot read the image"),
    (lambda b: b"[1, 2]", "JSON object"),
    (lambda b: b"{not json", "not valid JSON"),
])
def test_bad_requests_are_a_400(servers, image_path, mutate, words):
    _, answer = servers
    status, got = request(answer.url, "POST", "/v1/answer", raw=mutate(body_text(image_path, "[]")))
    assert status == 400 and words in got["error"], got


def test_an_unreachable_model_server_is_a_500_in_one_line(image_path):
    answer = AnswerServer(AnswerOptions(port=0, services={"dicec-models": "http://127.0.0.1:9"}, wait_s=0.2))
    answer.start()
    try:
        status, got = request(answer.url, "POST", "/v1/answer", raw=body_text(image_path, "[]"))
        assert status == 500 and "cannot be reached" in got["error"]
    finally:
        answer.stop(delay_s=0)


def test_options_are_checked():
    with pytest.raises(DicecError, match="--allow-services"):
        AnswerOptions(allow_services="(")
    with pytest.raises(DicecError, match="positive"):
        AnswerOptions(max_seconds=0)
    with pytest.raises(DicecError, match="--wait"):
        AnswerOptions(wait_s=-1)
    assert AnswerOptions().allow_services == DEFAULT_ALLOW_SERVICES


def test_a_program_past_its_budget_is_stopped(servers, image_path):
    model, _ = servers
    answer = AnswerServer(AnswerOptions(port=0, max_lines=1000, services={"dicec-models": model.url}))
    answer.start()
    try:
        loop = ("def execute_command(image):\n    n = 0\n    for i in range(9000):\n        for j in range(9000):\n"
            "            n += j\n    return n\n")
        status, got = request(answer.url, "POST", "/v1/answer", raw=body_text(image_path, "[]", program=loop))
        assert status == 422 and "BudgetExceeded" in got["error"]
    finally:
        answer.stop(delay_s=0)


def test_answer_serve_subprocess_answers_and_drains_on_sigterm(servers, image_path):
    """dicec answer serve as a pod runs it: URL on stdout, readiness, an answer, SIGTERM -> exit 0."""
    model, _ = servers
    env = {**os.environ, "PYTHONPATH": str(REPO), "DICEC_SERVICES": json.dumps({"dicec-models": model.url})}
    proc = subprocess.Popen([sys.executable, "-m", "dicec", "answer", "serve", "--port", "0", "--shutdown-delay-s", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split("listening on ", 1)[1].split()[0]
        for _ in range(200):
            if request(url, "GET", "/readyz")[0] == 200:
                break
            threading.Event().wait(0.05)
        found, checked = step_results(model, image_path)
        status, got = request(url, "POST", "/v1/answer", raw=body_text(image_path, f"[{found}, {checked}]"))
        assert status == 200 and json.loads(got["json"]) == exec_answer(PROGRAM, Path(image_path))["answer"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "shutting down" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
