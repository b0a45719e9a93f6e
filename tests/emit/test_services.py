"""Services mode: the agent's RBAC, the model servers' and the answer server's Deployments and Services beside the
Workflow of HTTP steps, valid, hardened, sized."""

from __future__ import annotations

import json
import math
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from dicec.emit import EmitOptions
from dicec.emit.hardening import is_hardened_container
from dicec.emit.services import TARGET_UTILISATION, plan_answer_server, plan_servers, server_name
from dicec.errors import DicecError

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "questions").glob("*.txt"))
#: A Kubernetes version kubernetes-validate ships schemas for (1.25 to 1.37 in the pinned range).
K8S_VERSION = "1.30.0"

PROGRAM = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    dog = image_patch.exists("dog")
    red = image_patch.verify_property("car", "red")
    depth = image_patch.compute_depth()
    return [len(cars), dog, red, depth]
'''


@pytest.fixture(scope="module")
def setup():
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    return {"registry": registry_for(), "pools": load_pools()}


def compile_services(path_or_source, registry, pools, **options):
    from dicec.pipeline import compile_path, compile_text

    opts = EmitOptions(mode="services", **options)
    if isinstance(path_or_source, Path):
        return compile_path(str(path_or_source), registry=registry, catalogue=pools, options=opts)
    return compile_text(path_or_source, "program", path="p.py", registry=registry, catalogue=pools, options=opts)


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def servers_of(docs: list[dict]) -> list[dict]:
    """The Deployments and Services of a stream (the model servers' and the answer server's)."""
    return [d for d in docs if d["kind"] in ("Deployment", "Service")]


@pytest.mark.parametrize("question", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_stream_is_valid_hardened_and_wired(question, setup):
    from dicec.validate import validate_text

    compiled = compile_services(question, setup["registry"], setup["pools"])
    docs = documents(compiled.yaml)
    assert docs[-1]["kind"] == "Workflow" and compiled.workflow == docs[-1]
    assert [d["kind"] for d in docs[:4]] == ["ServiceAccount", "Secret", "Role", "RoleBinding"]
    manifests = docs[4:-1]
    assert manifests and [d["kind"] for d in manifests] == ["Deployment", "Service"] * (len(manifests) // 2)
    names = [d["metadata"]["name"] for d in manifests[::2]]
    assert names == sorted(names) and [d["metadata"]["name"] for d in manifests[1::2]] == names
    assert "dicec-answer" in names
    for doc in docs[:-1]:
        assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        assert len(doc["metadata"]["name"]) <= 63
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "dicec-services"
    assert validate_text(compiled.yaml, path=question.name) == []

    served = {}
    for dep in manifests[::2]:
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert is_hardened_container(container, pod["securityContext"]) == []
        assert pod["automountServiceAccountToken"] is False
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        assert dep["spec"]["replicas"] >= 1
        if dep["metadata"]["name"] == "dicec-answer":
            assert container["command"] == ["dicec", "answer", "serve"]
            assert "nvidia.com/gpu" not in container["resources"]["limits"]
            continue
        assert container["command"] == ["dicec", "op", "serve"]
        pool = setup["pools"].get(dep["metadata"]["labels"]["dicec.dev/pool"])
        if pool.has_gpu:
            assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
            assert pod["nodeSelector"] == {**pool.node_labels, "kubernetes.io/arch": "amd64"}
            assert [t["key"] for t in pod["tolerations"]] == [t["key"] for t in pool.taints]
        ops = container["args"][:container["args"].index("--host")]
        assert dep["metadata"]["annotations"]["dicec.dev/operators"] == ",".join(ops)
        assert sum(setup["registry"].get(o).profile.gpu_memory_gb for o in ops) <= (pool.gpu_memory_gb or math.inf)
        for o in ops:
            served[(o, pool.name)] = f"http://{dep['metadata']['name']}"
    for svc in manifests[1::2]:
        assert svc["spec"]["ports"][0]["targetPort"] == "http"

    wf = docs[-1]
    assert wf["spec"]["serviceAccountName"] == "dicec-agent"
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    assert not [t for t in templates.values() if "container" in t]  # no step pod: every step is an HTTP request
    dag = templates["main"]["dag"]["tasks"]
    for task in dag:
        t = templates[task["template"]]
        assert "withParam" not in task and "when" not in task
        assert t["http"]["method"] == "POST" and t["http"]["successCondition"] == "response.statusCode == 200"
        assert t["retryStrategy"]["limit"] == 2
        if task["name"] == "answer":
            assert t["http"]["url"] == "http://dicec-answer/v1/answer"
            continue
        placement = compiled.placed.placements[task["name"]]
        operator = compiled.graph.task(task["name"]).operator
        assert t["http"]["url"] == served[(operator, placement.pool)] + "/v1/step"
    assert [p["valueFrom"]["expression"] for p in wf["spec"]["templates"][0]["outputs"]["parameters"]] == [
        "jsonpath(tasks.answer.outputs.result, '$.text')", "jsonpath(tasks.answer.outputs.result, '$.json')"]


def test_the_stream_is_deterministic(setup):
    a = compile_services(EXAMPLES[0], setup["registry"], setup["pools"]).yaml
    b = compile_services(EXAMPLES[0], setup["registry"], setup["pools"]).yaml
    assert a == b


def test_small_models_share_a_gpu_first_fit_largest_first(registry, setup):
    """find (6 GB) + exists (6) + verify_property (4) fill a 16 GB A4000; compute_depth (3) needs a second GPU."""
    compiled = compile_services(PROGRAM, registry, setup["pools"])
    servers = plan_servers(compiled.placed)
    assert [s.operators for s in servers] == [("compute_depth",), ("exists", "find", "verify_property")]
    assert [s.gpu_memory_gb for s in servers] == [3, 16]
    assert all(s.pool.name == "a4000" for s in servers)
    assert servers[1].name == "dicec-exists-find-verify-property-a4000"
    kinds = [(d["kind"], d["metadata"]["name"]) for d in servers_of(documents(compiled.yaml))]
    assert kinds == [("Deployment", "dicec-answer"), ("Service", "dicec-answer"),
                     ("Deployment", "dicec-compute-depth-a4000"), ("Service", "dicec-compute-depth-a4000"),
                     ("Deployment", servers[1].name), ("Service", servers[1].name)]


def test_replicas_follow_the_query_rate(registry, setup):
    placed = compile_services(PROGRAM, registry, setup["pools"]).placed
    busy = {s.name: s.busy_s for s in plan_servers(placed)}
    # synthetic latency on an A4000 is 0.5 s per call (tests/support.py), and a request's overhead 0.01 s;
    # services mode: no model load
    assert busy == {"dicec-compute-depth-a4000": 0.51, "dicec-exists-find-verify-property-a4000": 1.53}
    for qps in (0.01, 1, 3, 10):
        got = {s.name: s.replicas for s in plan_servers(placed, qps=qps)}
        assert got == {n: max(1, math.ceil(qps * b / TARGET_UTILISATION - 1e-9)) for n, b in busy.items()}
    compiled = compile_services(PROGRAM, registry, setup["pools"], qps=10)
    deps = {d["metadata"]["name"]: d for d in documents(compiled.yaml) if d["kind"] == "Deployment"}
    dep = deps["dicec-exists-find-verify-property-a4000"]
    assert dep["spec"]["replicas"] == 22 and dep["metadata"]["annotations"]["dicec.dev/qps"] == "10"
    # the answer service: the timing model's 0.21 s a request (the program's 0.2 s run and a request's 0.01 s)
    assert deps["dicec-answer"]["spec"]["replicas"] == 3  # ceil(10 x 0.21 / 0.7)
    assert plan_answer_server(placed, EmitOptions(mode="services", qps=100), "img").replicas == 30


def test_replicas_stop_at_the_pools_node_limit(registry, setup):
    from dataclasses import replace

    placed = compile_services(PROGRAM, registry, setup["pools"]).placed
    pools = {k: replace(p, max_nodes=4) if p.has_gpu else p for k, p in placed.pools.items()}
    servers = plan_servers(replace(placed, pools=pools), qps=100)
    assert [s.replicas for s in servers] == [4, 4]


def test_a_fan_out_counts_its_assumed_elements(registry, setup):
    source = '''def execute_command(image):
    image_patch = ImagePatch(image)
    return [p.exists("dent") for p in image_patch.find("car")]
'''
    compiled = compile_services(source, registry, setup["pools"])
    (server,) = plan_servers(compiled.placed)
    assert server.operators == ("exists", "find") and server.busy_s == pytest.approx(0.51 + 3 * 0.5 + 0.01)


def test_namespace_reaches_manifests_and_urls(setup):
    import re

    compiled = compile_services(EXAMPLES[0], setup["registry"], setup["pools"], namespace="vision")
    docs = documents(compiled.yaml)
    assert all(d["metadata"]["namespace"] == "vision" for d in docs)
    urls = [t["http"]["url"] for t in docs[-1]["spec"]["templates"] if "http" in t]
    assert urls and all(re.fullmatch(r"http://dicec-[-a-z0-9]+\.vision\.svc/v1/(step|answer)", u) for u in urls)
    answer = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "dicec-answer")
    args = answer["spec"]["template"]["spec"]["containers"][0]["args"]
    allow = re.compile(args[args.index("--allow-services") + 1])
    services = json.loads(re.search(r'"services":(\{[^}]*\})', next(
        t["http"]["body"] for t in docs[-1]["spec"]["templates"] if t["name"] == "answer")).group(1))
    assert services and all(allow.fullmatch(u) for u in services.values())
    assert allow.fullmatch("http://dicec-find-a4000") and not allow.fullmatch("http://dicec-find-a4000.other.svc")
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "dicec-agent", "namespace": "vision"}]


def test_long_operator_lists_get_a_hashed_name():
    name = server_name(tuple(f"operator_number_{i}" for i in range(6)), "a4000")
    assert name.startswith("dicec-a4000-") and len(name) <= 63
    assert name == server_name(tuple(f"operator_number_{i}" for i in range(6)), "a4000")


def test_kubernetes_validate_would_catch_a_broken_manifest(setup):
    docs = documents(compile_services(EXAMPLES[0], setup["registry"], setup["pools"]).yaml)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["probe"] = {}
    role = next(d for d in docs if d["kind"] == "Role")
    role["rules"][0]["verb"] = ["get"]
    for doc in (dep, role):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_mode_and_qps_are_checked():
    with pytest.raises(DicecError, match="--mode"):
        EmitOptions(mode="serverless")
    with pytest.raises(DicecError, match="--qps"):
        EmitOptions(mode="services", qps=0)


def test_compile_cli_writes_the_stream(tmp_path):
    from click.testing import CliRunner

    from dicec.cli import cli

    out = tmp_path / "wf.yaml"
    result = CliRunner().invoke(cli, ["compile", str(EXAMPLES[0]), "--mode", "services", "--qps", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    kinds = [d["kind"] for d in documents(out.read_text())]
    assert kinds[-1] == "Workflow" and "Deployment" in kinds and "Service" in kinds
    assert CliRunner().invoke(cli, ["validate", str(out)]).exit_code == 0
    bad = CliRunner().invoke(cli, ["compile", str(EXAMPLES[0]), "--mode", "services", "--qps", "0"])
    assert bad.exit_code == 2
    pods = CliRunner().invoke(cli, ["compile", str(EXAMPLES[0]), "-o", str(tmp_path / "p.yaml")])
    assert pods.exit_code == 0, pods.output
    assert [d["kind"] for d in documents((tmp_path / "p.yaml").read_text())] == ["Workflow"]


def test_operators_only_the_answer_step_calls_get_servers_sized_by_their_own_specs(registry, setup):
    """Unpredicted calls (a query and a text match on a crop cut at run time): a server each, with its own
    model's memory, so the small one shares a GPU rather than taking the largest one's size."""
    program = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    best = cars[0] if cars else image_patch
    sub = best.crop(0, 0, best.width // 2, best.height)
    return sub.simple_query("what colour?") + sub.best_text_match(["red", "blue"])
'''
    compiled = compile_services(program, registry, setup["pools"])
    residual = {r.operator for r in compiled.placed.graph.residual}
    assert residual == {"simple_query", "best_text_match"}
    by_operator = {op: s for s in plan_servers(compiled.placed) for op in s.operators}
    for op in residual:
        assert by_operator[op].gpu_memory_gb >= registry.get(op).profile.gpu_memory_gb
    assert by_operator["simple_query"] is by_operator["best_text_match"]  # they fit one GPU together
    assert by_operator["simple_query"].gpu_memory_gb == pytest.approx(
        sum(registry.get(op).profile.gpu_memory_gb for op in residual))


def test_operators_of_one_model_file_share_a_server_counting_it_once(setup):
    """find and exists load one GLIP-L file, verify_property and best_text_match one X-VLM file: one server holds
    both files once (3.9 + 1.9 GB), not four copies."""
    source = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    return [len(cars), image_patch.exists("dog"), image_patch.verify_property("car", "red"),
            image_patch.best_text_match(["day", "night"])]
'''
    compiled = compile_services(source, setup["registry"], setup["pools"])
    (server,) = plan_servers(compiled.placed)
    assert server.operators == ("best_text_match", "exists", "find", "verify_property")
    assert server.gpu_memory_gb == pytest.approx(3.9 + 1.9)
    deployment = next(d for d in documents(compiled.yaml) if d["kind"] == "Deployment" and d["metadata"]["name"] == server.name)
    assert deployment["metadata"]["annotations"]["dicec.dev/gpu-memory-gb"] == "5.8"


def test_a_placed_graph_without_services_figures_is_one_line(registry, setup):
    from dataclasses import replace

    placed = replace(compile_services(PROGRAM, registry, setup["pools"]).placed, services=None)
    with pytest.raises(DicecError, match="no services-mode figures .* place it again with --mode services"):
        plan_servers(placed)
