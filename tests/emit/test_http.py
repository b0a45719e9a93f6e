"""Services mode's HTTP steps (dicec/emit/http.py) and the agent's RBAC (dicec/emit/agent.py): the shape Argo's
agent runs, bodies that are JSON once substituted, timeouts from the stated formula, what stays a container."""

from __future__ import annotations

import json
import math
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from dicec.emit import EmitOptions
from dicec.emit.agent import AGENT_RULES
from dicec.emit.http import FANOUT_ELEMENTS, QUEUE_FACTOR, TIMEOUT_BASE_S, answer_timeout, operator_timeout
from dicec.errors import DicecError

REPO = Path(__file__).resolve().parents[2]
NESTED = '''def execute_command(image):
    image_patch = ImagePatch(image)
    name = image_patch.simple_query("what vehicle is this?")
    cars = image_patch.find(name)
    wheels = [[w.exists("flat tyre") for w in c.find("wheel")] for c in cars]
    first = cars[0].verify_property("car", "red") if cars else False
    return [wheels, first]
'''


@pytest.fixture(scope="module")
def setup():
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    return {"registry": registry_for(), "pools": load_pools()}


def compiled_of(source: str, setup, catalogue=None, **options):
    from dicec.pipeline import compile_text

    return compile_text(source, "program", path="p.py", registry=setup["registry"],
                        catalogue=catalogue or setup["pools"], options=EmitOptions(mode="services", **options))


def parts(compiled) -> tuple[list[dict], dict, dict[str, dict], list[dict]]:
    docs = [d for d in yaml.safe_load_all(compiled.yaml) if d is not None]
    wf = docs[-1]
    templates = {t["name"]: t for t in wf["spec"]["templates"]}
    return docs, wf, templates, templates["main"]["dag"]["tasks"]


def test_a_fan_out_is_one_request_with_the_whole_list_and_refs_are_results(setup):
    compiled = compiled_of(NESTED, setup)
    _, wf, templates, tasks = parts(compiled)
    graph = compiled.graph
    by_name = {t["name"]: t for t in tasks}
    assert set(by_name) == {t.id for t in graph.tasks} | {"answer"}
    assert all("withParam" not in t and "when" not in t for t in tasks)
    for task in graph.tasks:
        args = {p["name"]: p["value"] for p in by_name[task.id]["arguments"]["parameters"]}
        assert "http" in templates[by_name[task.id]["template"]]
        if task.patch is not None and task.patch.kind != "image":
            assert args["patch"] == "{{tasks.%s.outputs.result}}" % task.patch.task  # the producer's whole answer
            want = "none" if task.patch.kind == "each" or task.patch.index is None else str(task.patch.index)
            assert args["index"] == want
        for ref in {r for a in task.args for r in ([a.task] if hasattr(a, "task") else [])}:
            assert '"%s": {{tasks.%s.outputs.result}}' % (ref, ref) in args["refs"]
        assert by_name[task.id].get("dependencies", []) == list(task.depends)
    fans = [t for t in graph.tasks if t.fanout is not None]
    assert len(fans) == 2  # the wheels of each car, and their check: nested fan-outs, one request each
    records = {p["name"]: p["value"] for p in by_name["answer"]["arguments"]["parameters"]}["records"]
    assert records == "[" + ", ".join("{{tasks.%s.outputs.result}}" % t.id for t in graph.tasks) + "]"


def test_bodies_are_json_once_argo_substitutes_them(setup):
    """Every body, with its parameters substituted as Argo does (plain text), is JSON with the fixed keys."""
    compiled = compiled_of(NESTED, setup)
    _, wf, templates, tasks = parts(compiled)
    results = {t.id: json.dumps({"record": None, "value": []}) for t in compiled.graph.tasks}
    for task in tasks:
        template = templates[task["template"]]
        values = {p["name"]: p.get("default") for p in template["inputs"]["parameters"]}
        values.update({p["name"]: p["value"] for p in task["arguments"]["parameters"]})
        text = template["http"]["body"].replace("{{workflow.parameters.image}}", "s3://bucket/car.jpg")
        for name, value in values.items():
            for tid, result in results.items():
                value = value.replace("{{tasks.%s.outputs.result}}" % tid, result)
            text = text.replace("{{inputs.parameters.%s}}" % name, value)
        assert "{{" not in text
        body = json.loads(text)
        if task["name"] == "answer":
            assert list(body) == ["image", "program", "services", "results"] and len(body["results"]) == len(results)
        else:
            assert list(body) == ["call", "image", "index", "patch", "refs"] and body["image"] == "s3://bucket/car.jpg"


def test_timeouts_follow_the_stated_formula(setup):
    assert operator_timeout(0.3, fanout=False) == math.ceil(TIMEOUT_BASE_S + QUEUE_FACTOR * 0.3) == 32
    assert operator_timeout(0.3, fanout=True) == math.ceil(TIMEOUT_BASE_S + QUEUE_FACTOR * 0.3 * FANOUT_ELEMENTS) == 107
    assert answer_timeout(300) == 330
    compiled = compiled_of(NESTED, setup)
    _, _, templates, tasks = parts(compiled)
    for task in compiled.graph.tasks:
        same = [t for t in compiled.graph.tasks if t.operator == task.operator]
        expected = operator_timeout(max(compiled.placed.placements[t.id].seconds for t in same),
                                    fanout=any(t.fanout is not None for t in same))
        name = next(t["template"] for t in tasks if t["name"] == task.id)
        assert templates[name]["http"]["timeoutSeconds"] == expected
    assert templates["answer"]["http"]["timeoutSeconds"] == 330


def test_the_agents_account_and_role(setup):
    compiled = compiled_of(NESTED, setup)
    docs, wf, _, _ = parts(compiled)
    account, secret, role, binding = docs[:4]
    assert account == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account["metadata"],
                       "automountServiceAccountToken": False}
    assert account["metadata"]["name"] == "dicec-agent" and wf["spec"]["serviceAccountName"] == "dicec-agent"
    assert secret["metadata"]["name"] == "dicec-agent.service-account-token"  # what Argo's controller mounts
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "dicec-agent"}
    # exactly manifests/quick-start/base/agent-role.yaml of Argo v4.1.2: what its agent calls
    assert role["rules"] == [{"apiGroups": ["argoproj.io"], "resources": ["workflowtasksets"], "verbs": ["list", "watch"]},
                             {"apiGroups": ["argoproj.io"], "resources": ["workflowtasksets/status"], "verbs": ["patch"]}]
    assert role["rules"] == [dict(r) for r in AGENT_RULES]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dicec-agent"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "dicec-agent"}]
    assert wf["spec"]["executor"] == {"serviceAccountName": "default"}  # the agent's rights reach no step container
    for doc in docs[:4]:
        assert kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_a_service_account_of_ones_own(setup):
    docs, wf, _, _ = parts(compiled_of(NESTED, setup, service_account="vision-runner"))
    assert [d["metadata"]["name"] for d in docs[:4]] == ["vision-runner", "vision-runner.service-account-token",
                                                       "dicec-agent", "dicec-agent-vision-runner"]
    assert docs[3]["subjects"] == [{"kind": "ServiceAccount", "name": "vision-runner"}]
    assert wf["spec"]["serviceAccountName"] == "vision-runner"
    with pytest.raises(DicecError, match="too long for its token Secret"):
        compiled_of(NESTED, setup, service_account="a" * 240)


def test_input_artifacts_are_for_pods_mode():
    with pytest.raises(DicecError, match="--input-artifact is for pods mode"):
        EmitOptions(mode="services", input_artifact="s3")


def test_a_workflow_template_and_a_batch_are_http_too(setup):
    from dicec.validate import validate_text

    compiled = compiled_of(NESTED, setup, kind="WorkflowTemplate", batch=True, parallelism=4)
    assert validate_text(compiled.yaml, path="t.yaml") == []
    _, wf, templates, _ = parts(compiled)
    query = templates["query"]
    assert {p["name"]: p["valueFrom"]["expression"] for p in query["outputs"]["parameters"]} == {
        "answer": "jsonpath(tasks.answer.outputs.result, '$.text')",
        "answer-json": "jsonpath(tasks.answer.outputs.result, '$.json')"}
    for task in query["dag"]["tasks"]:
        template = templates[task["template"]]
        assert '"image":"{{inputs.parameters.image}}"' in template["http"]["body"]
        assert {"name": "image", "value": "{{inputs.parameters.image}}"} in task["arguments"]["parameters"]


def test_on_a_vessel_every_step_stays_a_container(setup):
    """The steps' CPU pool is the vessel's: the frame is there, so the steps run beside it, as before."""
    from dicec.placement import load_pools

    marine = load_pools(REPO / "examples" / "marine" / "pools.yaml")
    question = (REPO / "examples" / "marine" / "questions" / "floating-bottles.txt").read_text()
    from dicec.pipeline import compile_text

    compiled = compile_text(question, "question", path="q.txt", registry=setup["registry"], catalogue=marine,
                            options=EmitOptions(mode="services"))
    docs, wf, templates, tasks = parts(compiled)
    assert not any("http" in t for t in templates.values())
    assert [d["kind"] for d in docs[:-1]] == ["Deployment", "Service"] * (len(docs[:-1]) // 2)  # no agent, no answer server
    assert "serviceAccountName" not in wf["spec"]


def test_with_cloud_steps_edge_roles_and_what_they_read_stay_containers(setup, tmp_path):
    """The steps run in the cloud (the vessel's CPU pool is removed): an edge detection that writes its crops,
    the cloud step reading them, and every task an edge-pool step depends on stay containers; the rest,
    the answer included, are HTTP steps, and the stream is valid."""
    from dicec.pipeline import compile_text
    from dicec.placement import load_pools
    from dicec.validate import validate_text

    text = (REPO / "examples" / "marine" / "pools.yaml").read_text()
    start = text.index("  - name: vessel-cpu")
    end = text.index("  - name: cpu\n")
    (tmp_path / "pools.yaml").write_text(text[:start] + text[end:])
    catalogue = load_pools(tmp_path / "pools.yaml")
    program = '''def execute_command(image):
    image_patch = ImagePatch(image)
    bottles = image_patch.find("bottle")
    checked = [b.verify_property("bottle", "plastic") for b in bottles]
    story = image_patch.simple_query("is there litter near a boat?")
    return [checked, story]
'''
    compiled = compiled_of(program, setup, catalogue=catalogue)
    assert validate_text(compiled.yaml, path="edge.yaml") == []
    docs, wf, templates, tasks = parts(compiled)
    kinds = {t["name"]: ("http" if "http" in templates[t["template"]] else templates[t["template"]]["name"])
             for t in tasks}
    placed = compiled.placed
    on_edge = {t.id for t in compiled.graph.tasks if placed.pools[placed.placements[t.id].pool].edge}
    assert on_edge and all(kinds[t] != "http" for t in on_edge)
    assert kinds["answer"] == "http" and any(k == "http" for k in kinds.values())
    containers = {t for t, k in kinds.items() if k != "http"}
    for t in compiled.graph.tasks:  # a container step never reads an HTTP task's result
        if t.id in containers:
            assert set(t.depends) <= containers, (t.id, t.depends)
    answer = next(t for t in tasks if t["name"] == "answer")
    records = next(p["value"] for p in answer["arguments"]["parameters"] if p["name"] == "records")
    for t in compiled.graph.tasks:
        want = "{{tasks.%s.outputs.%s}}" % (t.id, "result" if kinds[t.id] == "http" else "parameters.record")
        assert want in records
    assert wf["spec"]["serviceAccountName"] == "dicec-agent"
    assert kinds == {"find-bottle": "find-vessel-orin-crops-out", "verify-property-bottle": "verify-property-a4000-crops-in",
                     "simple-query-is-there-litter": "http", "answer": "http"}
    import sys

    sys.path.insert(0, str(REPO / "tests" / "runtime"))
    from helpers import exec_answer, run_answer_of, write_image

    for seed in (1, 2):  # dicec run of the mixed workflow: containers and HTTP steps, answers as exec
        image = write_image(tmp_path / f"frame{seed}.png", seed=seed)
        assert run_answer_of(compiled.yaml, tmp_path, image) == exec_answer(program, image)
