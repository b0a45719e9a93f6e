"""dicec run of Argo http templates, against a scripted server on loopback: substitution, outputs.result, the
successCondition subset, retries, timeouts, the agent's workers, and refusals."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from dicec.errors import DicecError
from dicec.runner.expr import ExprError, evaluate_condition
from dicec.runner.workflow import RunOptions, StepFailed, run_workflow

EXAMPLES = Path("/work/shared/argo/examples") if Path("/work/shared/argo/examples").is_dir() else \
    Path(__file__).resolve().parents[3] / "shared" / "argo" / "examples"


class Scripted(ThreadingHTTPServer):
    """A loopback server: answers each request with the next scripted (status, body, delay), else the last;
    records every request and the most requests in flight at once."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, str, float]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script, self.seen, self.lock = list(script), [], threading.Lock()
        self.in_flight = self.most_in_flight = 0
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (the timeout test) leaves a broken pipe: expected

    def next(self) -> tuple[int, str, float]:
        with self.lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self) -> None:
        server: Scripted = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        with server.lock:
            server.seen.append({"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)})
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        status, text, delay = server.next()
        time.sleep(delay)
        with server.lock:
            server.in_flight -= 1
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Server", "scripted")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer


@pytest.fixture
def scripted():
    servers = []

    def make(*script):
        s = Scripted(list(script))
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.shutdown()
        s.server_close()


def http_template(name: str, url: str, **fields) -> dict:
    return {"name": name, "inputs": {"parameters": [{"name": "x", "default": "none"}]},
            "http": {"url": url, **fields}}


def workflow(templates: list[dict], tasks: list[dict], output: str | None = None) -> dict:
    main: dict = {"name": "main", "dag": {"tasks": tasks}}
    if output:
        main["outputs"] = {"parameters": [{"name": "answer", "valueFrom": {"parameter": output}}]}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "t-"},
            "spec": {"entrypoint": "main", "arguments": {"parameters": [{"name": "image", "value": "a.png"}]},
                     "templates": [main, *templates]}}


def run(tmp_path: Path, wf: dict, **options):
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(wf))
    return run_workflow(str(path), RunOptions(keep_dir=str(tmp_path / "keep"), **options))


def test_a_request_is_substituted_sent_and_its_body_is_the_result(tmp_path, scripted):
    server = scripted((200, '{"n": 7}', 0))
    first = http_template("first", server.url + "/v1/{{inputs.parameters.x}}?w={{workflow.parameters.image}}",
                          method="POST", body='{"image": "{{workflow.parameters.image}}", "x": {{inputs.parameters.x}}}',
                          headers=[{"name": "X-Who", "value": "{{inputs.parameters.x}}"}])
    second = http_template("second", server.url + "/next", method="PUT", body="{{inputs.parameters.x}}")
    tasks = [{"name": "a", "template": "first", "arguments": {"parameters": [{"name": "x", "value": "42"}]}},
             {"name": "b", "template": "second", "dependencies": ["a"],
              "arguments": {"parameters": [{"name": "x", "value": "got {{tasks.a.outputs.result}}"}]}}]
    result = run(tmp_path, workflow([first, second], tasks, "{{tasks.b.outputs.result}}"))
    assert result.outputs == {"answer": '{"n": 7}'} and result.requests == 2 and result.steps == 0
    a, b = server.seen
    assert (a["method"], a["path"], json.loads(a["body"])) == ("POST", "/v1/42?w=a.png", {"image": "a.png", "x": 42})
    assert a["headers"]["X-Who"] == "42"
    assert (b["method"], b["path"], b["body"]) == ("PUT", "/next", 'got {"n": 7}')
    log = (tmp_path / "keep" / "a" / "step.log").read_text()
    assert log.startswith(f"POST {server.url}/v1/42?w=a.png -> HTTP 200: ")


def test_the_method_defaults_to_get_and_success_to_2xx(tmp_path, scripted):
    server = scripted((204, "", 0), (404, '{"error": "no"}', 0))
    tasks = [{"name": "a", "template": "h"}]
    run(tmp_path, workflow([http_template("h", server.url + "/x")], tasks))
    assert server.seen[0]["method"] == "GET"
    with pytest.raises(StepFailed) as failed:
        run(tmp_path, workflow([http_template("h", server.url + "/x")], tasks))
    assert failed.value.reason == "HTTP 404" and any("non-2xx response code: 404" in line for line in failed.value.log_tail)


def test_retries_follow_the_retry_strategy(tmp_path, scripted):
    server = scripted((503, '{"error": "loading"}', 0), (503, '{"error": "loading"}', 0), (200, "ok", 0))
    template = {**http_template("h", server.url + "/x", successCondition="response.statusCode == 200"),
                "retryStrategy": {"limit": 2}}
    result = run(tmp_path, workflow([template], [{"name": "a", "template": "h"}], "{{tasks.a.outputs.result}}"))
    assert result.outputs["answer"] == "ok" and result.requests == 3
    server.script = [(503, "still", 0)]
    with pytest.raises(StepFailed) as failed:
        run(tmp_path, workflow([template], [{"name": "a", "template": "h"}]))
    assert failed.value.reason == "HTTP 503 after 3 attempts"
    assert "successCondition 'response.statusCode == 200' evaluated false" in failed.value.log_tail


def test_timeout_seconds_bounds_a_request(tmp_path, scripted):
    server = scripted((200, "slow", 3.0))
    template = http_template("h", server.url + "/x", timeoutSeconds=1)
    started = time.monotonic()
    with pytest.raises(StepFailed) as failed:
        run(tmp_path, workflow([template], [{"name": "a", "template": "h"}]))
    assert time.monotonic() - started < 2.9
    assert failed.value.reason == "no response" and "timed out" in failed.value.log_tail[0]


def test_at_most_agent_workers_requests_are_in_flight(tmp_path, scripted):
    server = scripted((200, "ok", 0.3))
    tasks = [{"name": f"t{i}", "template": "h"} for i in range(8)]
    run(tmp_path, workflow([http_template("h", server.url + "/x")], tasks), agent_workers=2, parallelism=8)
    assert server.most_in_flight == 2
    server.most_in_flight = 0
    run(tmp_path, workflow([http_template("h", server.url + "/x")], tasks), parallelism=1)  # 16 agent workers
    assert server.most_in_flight >= 4  # the container parallelism does not bound the agent
    with pytest.raises(DicecError, match="agent workers"):
        RunOptions(agent_workers=0)


def test_service_names_go_to_the_local_servers_and_nothing_else_leaves_loopback(tmp_path, scripted):
    server = scripted((200, "here", 0))
    wf = workflow([http_template("h", "http://dicec-answer.ns.svc/v1/answer?q=1")], [{"name": "a", "template": "h"}],
                  "{{tasks.a.outputs.result}}")
    result = run(tmp_path, wf, env={"DICEC_SERVICES": json.dumps({"dicec-answer": server.url})})
    assert result.outputs["answer"] == "here" and server.seen[0]["path"] == "/v1/answer?q=1"
    for url in ("http://dicec-answer/v1/answer", "https://example.com/", "http://10.0.0.1/x"):
        wf = workflow([http_template("h", url)], [{"name": "a", "template": "h"}])
        with pytest.raises(StepFailed, match="only to loopback servers"):
            run(tmp_path, wf)


def test_a_header_from_a_secret_is_refused(tmp_path, scripted):
    server = scripted((200, "", 0))
    template = http_template("h", server.url, headers=[{"name": "Authorization",
                                                        "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
    with pytest.raises(StepFailed, match="comes from a Secret"):
        run(tmp_path, workflow([template], [{"name": "a", "template": "h"}]))
    assert server.seen == []


def test_argos_own_http_examples_are_refused_in_one_line_not_sent(tmp_path):
    """Argo's http examples call the internet; dicec run names the host it will not reach."""
    example = EXAMPLES / "http-success-condition.yaml"
    if not example.exists():
        pytest.skip("no Argo examples here")
    wf = yaml.safe_load(example.read_text())
    steps = wf["spec"]["templates"][0]["steps"][0]
    dag = {"name": "main", "dag": {"tasks": [{"name": s["name"], "template": s["template"],
                                              "arguments": s["arguments"]} for s in steps]}}
    wf["spec"]["templates"][0] = dag
    with pytest.raises(StepFailed, match="only to loopback servers"):
        run(tmp_path, wf)


# -- successCondition: the expr-lang subset -----------------------------------------------------------------
SCOPE = {"response": {"statusCode": 201, "body": "hello google", "headers": {"Server": ["cloudflare"],
                                                                           "Content-Type": ["text/html"]}},
         "request": {"method": "POST", "url": "http://x", "body": "{}", "headers": {}}}


@pytest.mark.parametrize("text, expected", [
    ("response.statusCode == 201", True),  # Argo's examples/http-success-condition.yaml, all three
    ('response.body contains "google"', True),
    ('response.headers["Server"][0] == "cloudflare"', True),
    ("response.statusCode == 200", False),
    ("response.statusCode >= 200 && response.statusCode < 300", True),
    ("response.statusCode in [200, 201]", True),
    ("not (response.statusCode == 201) or request.method == 'POST'", True),
    ("!(response.statusCode != 201)", True),
    ('response.body startsWith "hello" and response.body endsWith `google`', True),
    ('"Server" in response.headers', True),
    ('response.headers["Missing"] == nil', True),
    ("response.statusCode == 201.0", True),
    ("response.status == 201 && response.statusCode", False),  # && stops at false, as expr's does
    ('response.statusCode == "201"', False),
])
def test_conditions_evaluate_as_expr_lang_does(text, expected):
    assert evaluate_condition(text, SCOPE) is expected


@pytest.mark.parametrize("text, words", [
    ("response.statusCode + 1 == 202", "'+' is not supported"),
    ('response.body matches "g.*"', "unexpected 'matches'"),
    ("len(response.body) > 0", "function calls are not supported"),
    ("response.statusCode", "not true or false"),
    ("response.statusCode == 201 && response.statusCode", "not true or false"),
    ('response.body < 3', "cannot compare"),
    ('response.headers["Server"][5] == "x"', "out of range"),
    ("responses.statusCode == 1", "unknown name 'responses'"),
    ("(response.statusCode == 201", "expected ')'"),
])
def test_anything_else_is_refused_in_one_line(text, words):
    with pytest.raises(ExprError) as failed:
        evaluate_condition(text, SCOPE)
    assert words in str(failed.value) and "\n" not in str(failed.value)
