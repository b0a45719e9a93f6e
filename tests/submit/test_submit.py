"""``dicec submit`` through the real kubernetes client against the loopback stand-in API server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli
from kube_standin import KubeStandIn

WF_PATH = "/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows"


@pytest.fixture()
def standin():
    with KubeStandIn() as s:
        yield s


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["submit", *args], env=env)


def one_line_error(r, *needles: str) -> None:
    assert r.exit_code == 1, (r.exit_code, r.output)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicec: ") and "Traceback" not in r.output, r.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_a_workflow_is_created_and_its_generated_name_printed(standin, compiled, tmp_path):
    cfg = standin.kubeconfig(tmp_path / "kc", namespace="team")
    r = invoke(str(compiled["Workflow"]), "--kubeconfig", cfg, "-p", "image=uploads/car.png")
    assert r.exit_code == 0, r.output
    name = r.stdout.strip()
    wf = yaml.safe_load(compiled["Workflow"].read_text())
    assert name.startswith(wf["metadata"]["generateName"]) and len(name) == len(wf["metadata"]["generateName"]) + 5
    post = standin.requests[0]
    assert (post.method, post.path) == ("POST", WF_PATH.format(ns="team"))
    assert post.authorization == f"Bearer {standin.token}"
    assert post.body["metadata"]["namespace"] == "team" and post.body["spec"]["templates"] == wf["spec"]["templates"]
    assert post.body["spec"]["arguments"]["parameters"][0]["value"] == "uploads/car.png"
    assert ("workflows", "team", name) in standin.objects
    assert f"created Workflow team/{name}" in r.stderr


def test_namespace_comes_from_the_flag_then_the_file_then_the_context(standin, compiled, tmp_path):
    cfg = standin.kubeconfig(tmp_path / "kc", namespace="team")
    assert invoke(str(compiled["Workflow"]), "--kubeconfig", cfg, "-n", "flag-ns").exit_code == 0
    assert invoke(str(compiled["Workflow"]), "--kubeconfig", cfg, "--context", "other").exit_code == 0
    doc = yaml.safe_load(compiled["Workflow"].read_text())
    doc["metadata"]["namespace"] = "file-ns"
    (tmp_path / "ns.yaml").write_text(yaml.safe_dump(doc))
    assert invoke(str(tmp_path / "ns.yaml"), "--kubeconfig", cfg).exit_code == 0
    plain = standin.kubeconfig(tmp_path / "kc2")
    assert invoke(str(compiled["Workflow"]), "--kubeconfig", plain).exit_code == 0
    assert [q.path for q in standin.requests] == [WF_PATH.format(ns=n) for n in ("flag-ns", "other-ns", "file-ns",
                                                                               "default")]


def test_a_workflow_template_is_created_as_such_and_twice_is_409(standin, compiled, tmp_path):
    cfg = standin.kubeconfig(tmp_path / "kc")
    r = invoke(str(compiled["WorkflowTemplate"]), "--kubeconfig", cfg, "--format", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    name = yaml.safe_load(compiled["WorkflowTemplate"].read_text())["metadata"]["name"]
    assert body["kind"] == "WorkflowTemplate" and body["name"] == name and body["namespace"] == "default"
    assert standin.requests[0].path == "/apis/argoproj.io/v1alpha1/namespaces/default/workflowtemplates"
    again = invoke(str(compiled["WorkflowTemplate"]), "--kubeconfig", cfg)
    one_line_error(again, "409 AlreadyExists", f'"{name}" already exists')


def test_watch_follows_the_phase_and_prints_the_answer(compiled, tmp_path):
    statuses = [{"phase": "Pending"}, {"phase": "Running", "progress": "3/25"},
                {"phase": "Succeeded", "progress": "25/25", "nodes": {}}]
    with KubeStandIn(statuses=statuses) as s:
        cfg = s.kubeconfig(tmp_path / "kc")
        s.statuses[-1]["nodes"] = {"x": {"name": "PLACEHOLDER", "outputs": {"parameters": [
            {"name": "answer", "value": '"front bumper"'}]}}}
        r = invoke(str(compiled["Workflow"]), "--kubeconfig", cfg, "--watch", "--interval", "0.01")
        assert r.exit_code == 0, r.output
        name = r.stdout.splitlines()[0]
        assert [q.method for q in s.requests] == ["POST", "GET", "GET", "GET"]
        assert all(q.path.endswith(f"/workflows/{name}") for q in s.requests[1:])
    progress = [line for line in r.stderr.splitlines() if line.startswith(name)]
    assert progress == [f"{name}: Pending", f"{name}: Running 3/25", f"{name}: Succeeded 25/25"]


def test_watch_reads_the_answer_from_the_root_node(compiled, tmp_path):
    class Named(KubeStandIn):
        def _get(self, h, plural, ns, name, qualified):  # the root node is keyed by the workflow's name
            self.statuses = [{"phase": "Succeeded", "nodes": {name: {"name": name, "outputs": {"parameters": [
                {"name": "answer", "value": '"rear bumper"'}]}}}}]
            return super()._get(h, plural, ns, name, qualified)

    with Named() as s:
        r = invoke(str(compiled["Workflow"]), "--kubeconfig", s.kubeconfig(tmp_path / "kc"), "--watch",
                   "--interval", "0.01", "--format", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["phase"] == "Succeeded" and body["outputs"] == {"answer": '"rear bumper"'}


@pytest.mark.parametrize("phase", ["Failed", "Error"])
def test_watch_exits_1_when_the_workflow_fails(compiled, tmp_path, phase):
    with KubeStandIn(statuses=[{"phase": "Running"}, {"phase": phase, "message": "child 'find-hood' failed"}]) as s:
        r = invoke(str(compiled["Workflow"]), "--kubeconfig", s.kubeconfig(tmp_path / "kc"), "--watch",
                   "--interval", "0.01")
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines()[-1].endswith(f"{phase}: child 'find-hood' failed")


def test_watch_gives_up_after_its_timeout(compiled, tmp_path):
    with KubeStandIn(statuses=[{"phase": "Running"}]) as s:
        r = invoke(str(compiled["Workflow"]), "--kubeconfig", s.kubeconfig(tmp_path / "kc"), "--watch",
                   "--interval", "0.01", "--timeout", "0.05")
    assert r.exit_code == 1 and "is still Running after 0.05 s" in r.stderr


def test_watch_needs_a_workflow(standin, compiled, tmp_path):
    r = invoke(str(compiled["WorkflowTemplate"]), "--kubeconfig", standin.kubeconfig(tmp_path / "kc"), "--watch")
    one_line_error(r, "--watch follows one Workflow", "argo submit --from workflowtemplate/NAME")
    assert standin.requests == []


def test_a_wrong_token_is_401(standin, compiled, tmp_path):
    r = invoke(str(compiled["Workflow"]), "--kubeconfig", standin.kubeconfig(tmp_path / "kc", token="wrong"))
    one_line_error(r, "401 Unauthorized", "credentials")


def test_a_forbidden_namespace_is_403_with_the_servers_message(standin, compiled, tmp_path):
    standin.forbidden.add("locked")
    r = invoke(str(compiled["Workflow"]), "--kubeconfig", standin.kubeconfig(tmp_path / "kc"), "-n", "locked")
    one_line_error(r, "403 Forbidden", 'cannot create resource "workflows"', "in locked")


def test_a_cluster_without_argo_is_404(compiled, tmp_path):
    with KubeStandIn(argo_installed=False) as s:
        r = invoke(str(compiled["Workflow"]), "--kubeconfig", s.kubeconfig(tmp_path / "kc"))
    one_line_error(r, "404 NotFound", "is Argo Workflows installed")


def test_an_invalid_object_is_422(standin, compiled, tmp_path):
    doc = yaml.safe_load(compiled["Workflow"].read_text())
    doc["metadata"]["generateName"] = "Not_A_Name-"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc))
    r = invoke(str(tmp_path / "bad.yaml"), "--kubeconfig", standin.kubeconfig(tmp_path / "kc"))
    one_line_error(r, "422 Invalid", "metadata.name: Invalid value")


def test_no_kubeconfig_and_no_cluster_is_one_line(compiled, tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    one_line_error(invoke(str(compiled["Workflow"])), "no kubeconfig found")
    one_line_error(invoke(str(compiled["Workflow"]), "--kubeconfig", str(tmp_path / "nope")), "no such file")


def test_kubeconfig_from_the_environment(standin, compiled, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", standin.kubeconfig(tmp_path / "kc", namespace="env-ns"))
    assert invoke(str(compiled["Workflow"])).exit_code == 0
    assert standin.requests[0].path == WF_PATH.format(ns="env-ns")


def test_an_unreachable_api_server_is_one_line(standin, compiled, tmp_path):
    cfg = standin.kubeconfig(tmp_path / "kc", server="http://127.0.0.1:9")
    one_line_error(invoke(str(compiled["Workflow"]), "--kubeconfig", cfg), "cannot reach the Kubernetes API at "
                                                                         "http://127.0.0.1:9")


def test_bad_input_is_refused_before_anything_is_sent(standin, compiled, tmp_path):
    cfg = standin.kubeconfig(tmp_path / "kc")
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "x"}}))
    one_line_error(invoke(str(tmp_path / "cm.yaml"), "--kubeconfig", cfg), "is a ConfigMap")
    one_line_error(invoke(str(compiled["Workflow"]), "--kubeconfig", cfg, "-p", "nope=1"),
                   "has no parameter 'nope'")
    (tmp_path / "bad.yaml").write_text("kind: [\n")
    r = invoke(str(tmp_path / "bad.yaml"), "--kubeconfig", cfg)
    assert r.exit_code == 1 and "not valid YAML" in r.stderr
    assert standin.requests == []


def test_model_servers_are_created_first_and_an_existing_one_is_left_alone(standin, compiled, tmp_path):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dicec-find"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "dicec-find"}},
                           "template": {"metadata": {"labels": {"app": "dicec-find"}},
                                        "spec": {"containers": [{"name": "server", "image": "x"}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dicec-find"},
               "spec": {"selector": {"app": "dicec-find"}, "ports": [{"port": 8080}]}}
    wf = yaml.safe_load(compiled["Workflow"].read_text())
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all([wf, deployment, service]))
    cfg = standin.kubeconfig(tmp_path / "kc")
    r = invoke(str(tmp_path / "all.yaml"), "--kubeconfig", cfg)
    assert r.exit_code == 0, r.output
    assert [q.path for q in standin.requests] == ["/apis/apps/v1/namespaces/default/deployments",
                                                  "/api/v1/namespaces/default/services", WF_PATH.format(ns="default")]
    assert r.stdout.strip().startswith(wf["metadata"]["generateName"])
    again = invoke(str(tmp_path / "all.yaml"), "--kubeconfig", cfg)
    assert again.exit_code == 0 and "Deployment default/dicec-find exists already; left unchanged" in again.stderr
    assert len([k for k in standin.objects if k[0] == "workflows"]) == 2


def test_a_services_mode_stream_creates_the_agents_rbac_and_the_servers_first(standin, tmp_path):
    """Every document dicec compile --mode services writes: the agent's ServiceAccount, Secret, Role and
    RoleBinding, the servers, then the Workflow, each through its own API."""
    out = tmp_path / "services.yaml"
    question = Path(__file__).resolve().parents[2] / "examples" / "questions" / "existence-dog.txt"
    assert CliRunner().invoke(cli, ["compile", str(question), "--mode", "services", "-o", str(out)]).exit_code == 0
    cfg = standin.kubeconfig(tmp_path / "kc")
    r = invoke(str(out), "--kubeconfig", cfg)
    assert r.exit_code == 0, r.output
    paths = [q.path for q in standin.requests]
    ns = "/api/v1/namespaces/default"
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
    assert paths[:4] == [f"{ns}/serviceaccounts", f"{ns}/secrets", f"{rbac}/roles", f"{rbac}/rolebindings"]
    assert paths[-1] == WF_PATH.format(ns="default")
    kinds = [d["kind"] for d in yaml.safe_load_all(out.read_text())]
    assert len(paths) == len(kinds) and "/apis/apps/v1/namespaces/default/deployments" in paths
    again = invoke(str(out), "--kubeconfig", cfg)
    assert again.exit_code == 0 and "ServiceAccount default/dicec-agent exists already; left unchanged" in again.stderr


def test_a_kubeconfig_with_a_certificate_authority_submits_over_https(compiled, tmp_path, tls):
    with KubeStandIn(tls=tls) as s:
        cfg = s.kubeconfig(tmp_path / "kc", namespace="team")
        r = invoke(str(compiled["Workflow"]), "--kubeconfig", cfg, "--format", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["server"] == s.url and s.url.startswith("https://127.0.0.1:")
    assert yaml.safe_load((tmp_path / "kc").read_text())["clusters"][0]["cluster"]["certificate-authority"] == \
        str(tls.ca_cert)
    assert [(q.path, q.bearer) for q in s.requests] == [(WF_PATH.format(ns="team"), s.token)]
    assert ("workflows", "team", body["name"]) in s.objects and s.handshake_failures == []


def test_a_kubeconfig_with_the_wrong_certificate_authority_is_a_one_line_tls_error(compiled, tmp_path, tls,
                                                                                 other_ca):
    with KubeStandIn(tls=tls) as s:
        r = invoke(str(compiled["Workflow"]), "--kubeconfig", s.kubeconfig(tmp_path / "kc", ca_cert=other_ca))
        one_line_error(r, f"the TLS certificate of the Kubernetes API at {s.url} did not verify",
                       "unable to get local issuer certificate", "certificate-authority")
    assert s.requests == []
