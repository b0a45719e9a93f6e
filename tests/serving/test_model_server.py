"""The model server (dicec op serve) on loopback: answers, concurrency, batching, errors, shutdown."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

from helpers import write_image  # noqa: E402

from dicec.errors import DicecError  # noqa: E402
from dicec.serving.model_server import ModelServer, ServeOptions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    from dicec.runtime.images import load_image

    return load_image(str(write_image(tmp_path_factory.mktemp("serve") / "a.png", seed=7)))


@pytest.fixture
def server():
    s = ModelServer(ServeOptions(operators=("find", "exists", "llm_query"), port=0, max_batch=8, max_wait_ms=60,
                                 models="seeded"))
    s.start()
    s.wait_ready(30)
    yield s
    s.stop(delay_s=0)


def request(url: str, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return resp.status, (json.loads(text) if resp.getheader("Content-Type", "").startswith("application/json") else text)


def call_body(image, operator="exists", args=("dog",), patch=None, form="method", data=True):
    ref = {"sha256": image.digest}
    if data:
        ref["data"] = base64.b64encode(image.data).decode()
    whole = {"left": 0, "lower": 0, "right": image.width, "upper": image.height}
    return {"operator": operator, "form": form, "patch": whole if patch is None and form == "method" else patch,
            "args": list(args), "image": ref}


def expected(image, body):
    """What dicec op computes for the same call in this process (the seeded backend)."""
    from dicec.runtime.backend import evaluate, get_backend, registry_for
    from dicec.runtime.calls import Call

    spec = registry_for().get(body["operator"])
    call = Call(operator=body["operator"], form=body["form"], patch=body["patch"], args=tuple(body["args"]))
    return evaluate(get_backend("seeded"), spec, spec.form(body["form"]), image, call)


def metric(text: str, name: str, operator: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'dicec_serve_{name}{{operator="{operator}"}} '):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} for {operator} in {text}")


def test_health_readiness_and_a_call(server, image):
    assert request(server.url, "GET", "/healthz") == (200, {"status": "alive"})
    status, ready = request(server.url, "GET", "/readyz")
    assert status == 200 and ready["status"] == "ready" and ready["operators"] == ["find", "exists", "llm_query"]
    body = call_body(image, "find", ["car"])
    status, answer = request(server.url, "POST", "/v1/call", body)
    assert status == 200 and answer["backend"] == "seeded"
    value, error = expected(image, body)
    assert (answer["value"], answer["error"]) == (value, error) and isinstance(value, list)
    fn = call_body(image, "llm_query", ["what is this?", None, True], form="function")
    status, answer = request(server.url, "POST", "/v1/call", fn)
    assert status == 200 and answer["value"] == expected(image, fn)[0]


def test_concurrent_requests_are_answered_correctly_and_batched(server, image):
    request(server.url, "POST", "/v1/call", call_body(image))  # the image is now held: later calls omit it
    bodies = [call_body(image, "exists", [f"thing {i}"], data=False) for i in range(48)]
    barrier = threading.Barrier(16)

    def send(body):
        if bodies.index(body) < 16:
            barrier.wait()
        return request(server.url, "POST", "/v1/call", body)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, bodies))
    for body, (status, answer) in zip(bodies, answers):
        assert status == 200
        assert answer["value"] == expected(image, body)[0]
    assert max(a["batch_size"] for _, a in answers) > 1
    status, text = request(server.url, "GET", "/metrics")
    assert status == 200
    assert metric(text, "requests_total", "exists") == 49
    assert metric(text, "batch_size_max", "exists") > 1
    assert metric(text, "batches_total", "exists") < 49  # fewer batches than requests: batching happened
    assert metric(text, "batch_size_sum", "exists") == 49
    assert metric(text, "requests_total", "find") == 0


def test_max_batch_bounds_a_batch(image):
    s = ModelServer(ServeOptions(operators=("exists",), port=0, max_batch=3, max_wait_ms=100, models="seeded"))
    s.start()
    try:
        s.wait_ready(30)
        request(s.url, "POST", "/v1/call", call_body(image))
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda i: request(s.url, "POST", "/v1/call",
                                                      call_body(image, args=[str(i)], data=False)), range(12)))
        assert all(st == 200 for st, _ in answers)
        assert max(a["batch_size"] for _, a in answers) == 3
    finally:
        s.stop(delay_s=0)


@pytest.mark.parametrize("mutate, status, words", [
    (lambda b: {**b, "operator": "compute_depth"}, 404, "not served here"),
    (lambda b: {**b, "form": "function"}, 400, "'form'"),
    (lambda b: {**b, "args": "dog"}, 400, "'args' must be a list"),
    (lambda b: {**b, "args": []}, 400, "takes 1 to 1 arguments"),
    (lambda b: {**b, "patch": {"left": 0}}, 400, "'patch' must be a box"),
    (lambda b: {**b, "extra": 1}, 400, "unknown field 'extra'"),
    (lambda b: {**b, "image": {"sha256": "x"}}, 400, "64 lower-case hex"),
    (lambda b: {**b, "image": {"sha256": "0" * 64}}, 409, "send it again with 'data'"),
    (lambda b: {**b, "image": {"sha256": "0" * 64, "data": b["image"]["data"]}}, 400, "does not match"),
    (lambda b: {**b, "image": {"sha256": "0" * 64, "data": "***"}}, 400, "not valid base64"),
    (lambda b: [b], 400, "JSON object"),
])
def test_bad_calls_get_a_clear_4xx(server, image, mutate, status, words):
    got, body = request(server.url, "POST", "/v1/call", mutate(call_body(image)))
    assert got == status and words in body["error"], body


def test_a_bad_image_is_a_400(server):
    data = b"not an image at all"
    ref = {"sha256": hashlib.sha256(data).hexdigest(), "data": base64.b64encode(data).decode()}
    body = {"operator": "exists", "form": "method", "patch": {"left": 0, "lower": 0, "right": 1, "upper": 1},
            "args": ["x"], "image": ref}
    status, answer = request(server.url, "POST", "/v1/call", body)
    assert status == 400 and "image" in answer["error"]


def test_transport_errors(server):
    assert request(server.url, "POST", "/v1/call", raw=b"{not json")[0] == 400
    assert request(server.url, "POST", "/v1/call", raw=b"{}", headers={"Content-Type": "text/plain"})[0] == 415
    assert request(server.url, "GET", "/v1/call")[0] == 405
    assert request(server.url, "POST", "/healthz", {})[0] == 405
    assert request(server.url, "GET", "/nope")[0] == 404
    big = server.options.max_body_bytes + 1
    status, body = request(server.url, "POST", "/v1/call", raw=b"x", headers={"Content-Length": str(big)})
    assert status == 413 and "limit" in body["error"]
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/v1/call")
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()


def test_not_ready_is_a_503_and_draining_too(image):
    s = ModelServer(ServeOptions(operators=("exists",), port=0, models="seeded"))
    s.start(load_in_background=True)
    with s.lock:
        s.state = "loading"  # as while a model loads
    status, body = request(s.url, "GET", "/readyz")
    assert status == 503 and body["status"] == "loading"
    assert request(s.url, "GET", "/healthz")[0] == 200  # liveness holds while loading
    status, body = request(s.url, "POST", "/v1/call", call_body(image))
    assert status == 503 and "loading" in body["error"]
    with s.lock:
        s.state = "draining"
    assert request(s.url, "GET", "/readyz")[0] == 503
    s.stop(delay_s=0)


def test_a_backend_that_cannot_load_fails_readiness(tmp_path):
    s = ModelServer(ServeOptions(operators=("find",), port=0, models="onnx"))
    s.start()
    try:
        with pytest.raises(DicecError, match="failed to load"):
            s.wait_ready(30)
        status, body = request(s.url, "GET", "/readyz")
        assert status == 503 and body["status"] == "failed" and body["error"]
    finally:
        s.stop(delay_s=0)


def test_options_are_checked():
    with pytest.raises(DicecError, match="at least one operator"):
        ServeOptions(operators=())
    with pytest.raises(DicecError, match="max-batch"):
        ServeOptions(operators=("find",), max_batch=0)
    with pytest.raises(DicecError, match="no operator|unknown operator|find_all"):
        ModelServer(ServeOptions(operators=("find_all",), models="seeded"))


def test_serve_subprocess_drains_on_sigterm(image):
    """dicec op serve as a pod runs it: URL on stdout, a request in flight when SIGTERM lands is answered, exit 0."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "dicec", "op", "serve", "exists", "--port", "0", "--models", "seeded",
                             "--max-wait-ms", "1500", "--shutdown-delay-s", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split("listening on ", 1)[1].split()[0]
        for _ in range(200):
            if request(url, "GET", "/readyz")[0] == 200:
                break
            threading.Event().wait(0.05)
        result = {}
        sender = threading.Thread(target=lambda: result.update(r=request(url, "POST", "/v1/call", call_body(image))))
        sender.start()
        threading.Event().wait(0.5)  # the request waits in its batch (max-wait 1.5 s) when SIGTERM arrives
        proc.send_signal(signal.SIGTERM)
        sender.join(30)
        assert result["r"][0] == 200 and result["r"][1]["value"] == expected(image, call_body(image))[0]
        assert proc.wait(30) == 0
        assert "shutting down" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_an_unknown_operator_in_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "dicec", "op", "serve", "no_such_op", "--port", "0"], capture_output=True,
                         text=True, env=env, cwd=REPO, timeout=60)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_batch_is_one_backend_computation_with_per_call_errors(tmp_path, monkeypatch):
    """compute_depth on the onnx backend: concurrent clients form batches >1, each run by compute_batch once,
    with answers (and one call's error) those of the same calls computed alone: exactly on the CPU, to float
    rounding on a GPU (on an H200 a stacked run once differed by 3e-8)."""
    pytest.importorskip("onnx")
    from test_batching import dpt_batch_model
    from test_onnx_backend import operator_dir

    from dicec.runtime.backend import evaluate
    from dicec.runtime.calls import Call
    from dicec.runtime.images import load_image
    from dicec.runtime.onnxops import OnnxBackend

    ops = operator_dir(tmp_path / "ops", "compute_depth", dpt_batch_model(tmp_path / "dpt.onnx"))
    s = ModelServer(ServeOptions(operators=("compute_depth",), port=0, max_batch=8, max_wait_ms=300, models="onnx",
                                 operator_dirs=(str(ops),)))
    batches: list[int] = []
    original = s.backend.compute_batch

    def counted(spec, form, items):
        batches.append(len(items))
        return original(spec, form, items)

    monkeypatch.setattr(s.backend, "compute_batch", counted)
    s.start()
    try:
        s.wait_ready(30)
        images = [load_image(str(write_image(tmp_path / f"{i}.png", 64, 48, seed=i))) for i in range(3)]
        for img in images:  # the server now holds them: the calls below omit the data
            request(s.url, "POST", "/v1/call", call_body(img, "compute_depth", []))
        boxes = [{"left": i, "lower": 0, "right": i + 20, "upper": 40} for i in range(15)]
        boxes.append({"left": 900, "lower": 0, "right": 950, "upper": 9})  # outside the image: no depth crop
        bodies = [call_body(images[i % 3], "compute_depth", [], patch=b, data=False) for i, b in enumerate(boxes)]
        barrier = threading.Barrier(len(bodies))

        def send(body):
            barrier.wait()
            return request(s.url, "POST", "/v1/call", body)

        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = list(pool.map(send, bodies))
        spec = s.specs["compute_depth"]
        provider_lines: list[str] = []
        alone = OnnxBackend(log=provider_lines.append)  # a separate operator instance, one call at a time
        for body, (status, answer) in zip(bodies, answers):
            image = images[[img.digest for img in images].index(body["image"]["sha256"])]
            want = evaluate(alone, spec, spec.form("method"), image,
                            Call(operator="compute_depth", form="method", patch=body["patch"], args=()))
            assert status == 200 and answer["error"] == want[1]
            on_cuda = any("runs on CUDA" in line for line in provider_lines)
            if on_cuda and want[0] is not None:  # a stacked run on a GPU may sum in another order
                assert answer["value"] == pytest.approx(want[0], rel=1e-5, abs=1e-6)
            else:  # on the CPU the stacked run and the single ones agree bit for bit
                assert answer["value"] == want[0]
        assert answers[-1][1]["error"] == "compute_depth: ValueError: the depth crop has no area"
        sizes = [a["batch_size"] for _, a in answers]
        # every batch of 2 or more went to compute_batch once; a call that came alone was evaluated alone
        assert max(batches) > 1 and sum(batches) + sizes.count(1) == len(bodies)
        assert sorted(set(sizes) - {1}) == sorted(set(batches))
        status, text = request(s.url, "GET", "/metrics")
        assert metric(text, "requests_total", "compute_depth") == len(bodies) + 3
        assert metric(text, "batches_total", "compute_depth") == 3 + len(batches) + sizes.count(1)
        assert metric(text, "batch_size_max", "compute_depth") == max(sizes)
        assert metric(text, "operator_errors_total", "compute_depth") == 1
    finally:
        s.stop(delay_s=0)


# -- POST /v1/step: a workflow's HTTP step -------------------------------------------------------------------
def step_payload(operator: str, args: list, task: str = "t") -> str:
    from dicec.runtime.contract import b64

    return b64(json.dumps({"task": task, "operator": operator, "form": "method",
                           "args": [{"literal": a} if not isinstance(a, dict) else a for a in args]}))


def op_files(tmp_path, image_path: str, operator: str, args: list, patch: str, index: str = "none",
             refs: str = "{}") -> dict:
    """What ``dicec op`` (a pod step) writes for the same inputs: {"value", "record"}."""
    from dicec.runtime.step import run_op

    out = tmp_path / f"op-{len(list(tmp_path.iterdir()))}"
    run_op(name=operator, image_uri=image_path, call_payload=step_payload(operator, args), patch_json=patch,
           index=index, refs_json=refs, value_out=str(out / "v"), record_out=str(out / "r"), models="seeded")
    return {"value": json.loads((out / "v").read_text()), "record": json.loads((out / "r").read_text())}


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    return str(write_image(tmp_path_factory.mktemp("step") / "s.png", seed=12))  # find("car"): 3 boxes


def test_a_step_answers_what_a_pod_step_writes(server, image_path, tmp_path):
    body = {"call": step_payload("find", ["car"]), "image": image_path, "patch": "image", "index": "none", "refs": {}}
    status, found = request(server.url, "POST", "/v1/step", body)
    assert status == 200 and set(found) == {"value", "record"}
    assert found == op_files(tmp_path, image_path, "find", ["car"], '"image"')
    assert len(found["value"]) >= 2  # a fan-out below has several elements
    # a fan-out: ONE step carrying the whole list (the previous answer, a result object), lists back
    status, checked = request(server.url, "POST", "/v1/step", {**body, "call": step_payload("exists", ["dent"]),
                                                               "patch": found})
    assert status == 200
    assert checked == op_files(tmp_path, image_path, "exists", ["dent"], json.dumps(found["value"]))
    assert len(checked["value"]) == len(found["value"]) and len(checked["record"]) == len(found["value"])
    # an element, and one out of range (what an edge detection that found nothing gives): empty value, null record
    for index in ("1", "-1", "99"):
        status, one = request(server.url, "POST", "/v1/step", {**body, "call": step_payload("exists", ["dent"]),
                                                               "patch": found, "index": index})
        assert status == 200 and one == op_files(tmp_path, image_path, "exists", ["dent"],
                                                 json.dumps(found["value"]), index=index)
    assert one == {"value": None, "record": None}
    # a nested fan-out's list of lists stays nested
    nested = {"value": [found["value"][:2], [], found["value"][:1]], "record": None}
    status, deep = request(server.url, "POST", "/v1/step", {**body, "call": step_payload("exists", ["x"]),
                                                            "patch": nested})
    assert status == 200 and [len(v) for v in deep["value"]] == [2, 0, 1]
    assert deep == op_files(tmp_path, image_path, "exists", ["x"], json.dumps(nested["value"]))


def test_a_steps_elements_are_batched_together(image_path):
    s = ModelServer(ServeOptions(operators=("find", "exists"), port=0, max_batch=8, models="seeded"))
    s.start()
    try:
        s.wait_ready(30)
        boxes = [{"left": i, "lower": i, "right": 40 + i, "upper": 30 + i} for i in range(11)]
        status, answer = request(s.url, "POST", "/v1/step", {"call": step_payload("exists", ["dog"]),
                                                             "image": image_path, "patch": boxes})
        assert status == 200 and len(answer["value"]) == 11
        _, text = request(s.url, "GET", "/metrics")
        assert metric(text, "requests_total", "exists") == 11 and metric(text, "steps_total", "exists") == 1
        assert metric(text, "batch_size_max", "exists") == 8 and metric(text, "batches_total", "exists") == 2
    finally:
        s.stop(delay_s=0)


def test_references_are_result_objects_or_values(server, image_path, tmp_path):
    """A ref carried as a result object counts by its value, exactly as the value itself; a formatted argument too."""
    from dicec.runtime.contract import b64

    args = [{"format": ["is there a ", {"ref": "q"}, "?"]}, {"literal": None}, {"literal": True}]
    call = b64(json.dumps({"task": "t", "operator": "llm_query", "form": "function", "args": args}))
    base = {"call": call, "image": image_path, "patch": None}
    _, a = request(server.url, "POST", "/v1/step", {**base, "refs": {"q": {"value": "dog", "record": {"x": 1}}}})
    _, b = request(server.url, "POST", "/v1/step", {**base, "refs": {"q": "dog"}})
    assert a == b and a["record"]["args"][0] == "is there a dog?"


def test_the_image_is_read_only_when_a_call_needs_it(server, tmp_path):
    missing = str(tmp_path / "nowhere.png")
    body = {"call": step_payload("exists", ["dent"]), "image": missing, "patch": [], "index": "none"}
    assert request(server.url, "POST", "/v1/step", body) == (200, {"value": [], "record": []})
    status, answer = request(server.url, "POST", "/v1/step", {**body, "patch": "image"})
    assert status == 400 and "image not found" in answer["error"]


@pytest.mark.parametrize("mutate, status, words", [
    (lambda b: {**b, "call": "!!"}, 400, "'call' is not base64url"),
    (lambda b: {**b, "call": step_payload("compute_depth", [])}, 404, "not served here"),
    (lambda b: {**b, "call": step_payload("no_such_op", [])}, 400, "unknown operator"),
    (lambda b: {**b, "refs": []}, 400, "'refs' must be a JSON object"),
    (lambda b: {**b, "call": step_payload("exists", [{"ref": "t0"}])}, 400, "'refs' has no value for task 't0'"),
    (lambda b: {**b, "index": 3}, 400, "'index' must be an integer or none"),
    (lambda b: {**b, "patch": {"left": 1}}, 400, "a box, or a list of boxes"),
    (lambda b: {**b, "image": 7}, 400, "'image' must be the image's URI"),
    (lambda b: {**b, "extra": 1}, 400, "unknown field 'extra'"),
    (lambda b: {k: v for k, v in b.items() if k != "call"}, 400, "missing field 'call'"),
])
def test_bad_steps_get_a_clear_4xx(server, image_path, mutate, status, words):
    body = {"call": step_payload("exists", ["dent"]), "image": image_path, "patch": "image", "index": "none", "refs": {}}
    got, answer = request(server.url, "POST", "/v1/step", mutate(body))
    assert got == status and words in answer["error"], answer


def test_a_parameter_that_adds_a_key_to_the_body_is_refused(server, image_path):
    """The workflow builds the body by substituting parameters into fixed JSON text: an image URI with a quote
    can only add a key, which repeats a fixed one or is unknown, and is refused."""
    from dicec.emit.http import step_body

    template = step_body("{{workflow.parameters.image}}")
    fill = {"{{inputs.parameters.call}}": step_payload("exists", ["dent"]), "{{inputs.parameters.index}}": "none",
            "{{inputs.parameters.patch}}": '"image"', "{{inputs.parameters.refs}}": "{}"}
    for hostile, words in ((f'{image_path}","patch":null,"x":"', "repeats the key 'patch'"),
                           (f'{image_path}","zzz":"', "unknown field 'zzz'"),
                           (image_path + '\\', "not valid JSON")):
        text = template
        for k, v in {**fill, "{{workflow.parameters.image}}": hostile}.items():
            text = text.replace(k, v)
        status, answer = request(server.url, "POST", "/v1/step", raw=text.encode())
        assert status == 400 and words in answer["error"], (hostile, answer)
    text = template
    for k, v in {**fill, "{{workflow.parameters.image}}": image_path}.items():
        text = text.replace(k, v)
    assert request(server.url, "POST", "/v1/step", raw=text.encode())[0] == 200
