"""``dicec submit`` inside a pod: the in-cluster service-account login, over HTTPS, end to end.

A fake service-account folder (``token``, ``ca.crt``, ``namespace``) named by ``DICEC_SERVICEACCOUNT_DIR``,
``KUBERNETES_SERVICE_HOST``/``_PORT`` pointing at the loopback stand-in serving TLS with a certificate
made at run time, and no kubeconfig anywhere (``HOME`` is empty, ``KUBECONFIG`` unset).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli
from dicec.submit.connection import SERVICEACCOUNT_DIR, SERVICEACCOUNT_DIR_ENV
from kube_standin import KubeStandIn, make_tls

WF_PATH = "/apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows"
SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.service-account.token"


@pytest.fixture()
def pod(tmp_path, monkeypatch, tls):
    """pod(**standin_args, namespace=, token=, ca_cert=) -> a TLS stand-in this process reaches as a pod would."""
    standins = []
    monkeypatch.delenv("KUBECONFIG", raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def make(*, namespace="pod-ns", token=None, ca_cert=None, **kwargs):
        s = KubeStandIn(tls=kwargs.pop("tls", tls), token=SA_TOKEN, **kwargs).start()
        standins.append(s)
        folder = s.service_account(tmp_path / "serviceaccount", namespace=namespace, token=token, ca_cert=ca_cert)
        monkeypatch.setenv(SERVICEACCOUNT_DIR_ENV, str(folder))
        for key, value in s.incluster_env().items():
            monkeypatch.setenv(key, value)
        return s

    yield make
    for s in standins:
        s.stop()


def invoke(*args: str):
    return CliRunner().invoke(cli, ["submit", *args])


def one_line_error(r, *needles: str) -> str:
    assert r.exit_code == 1, (r.exit_code, r.output)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicec: ") and "Traceback" not in r.output, r.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def handshake_failures(standin: KubeStandIn) -> list[str]:
    """The stand-in's failed handshakes, once its connection thread has seen the client's alert."""
    deadline = time.monotonic() + 5
    while not standin.handshake_failures and time.monotonic() < deadline:
        time.sleep(0.01)
    return standin.handshake_failures


def test_submit_in_a_pod_uses_the_service_account_over_https(pod, compiled, tmp_path):
    """The real ``dicec`` process: HTTPS to KUBERNETES_SERVICE_HOST:PORT, the token, the folder's namespace."""
    s = pod(namespace="pod-ns")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT", SERVICEACCOUNT_DIR_ENV)
           or k.startswith("KUBERNETES_SERVICE_")}
    assert "KUBECONFIG" not in env and not (Path(env["HOME"]) / ".kube").exists()
    done = subprocess.run([sys.executable, "-m", "dicec", "submit", str(compiled["Workflow"]), "--format", "json",
                           "-p", "image=uploads/car.png"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["server"] == s.url and s.url.startswith("https://127.0.0.1:")
    assert body["namespace"] == "pod-ns" and body["kind"] == "Workflow"
    post = s.requests[0]
    assert (post.method, post.path) == ("POST", WF_PATH.format(ns="pod-ns"))
    assert post.bearer == SA_TOKEN
    assert post.body["spec"]["arguments"]["parameters"][0]["value"] == "uploads/car.png"
    assert ("workflows", "pod-ns", body["name"]) in s.objects
    assert s.handshake_failures == [] and len(s.requests) == 1
    assert f"created Workflow pod-ns/{body['name']}" in done.stderr


def test_the_namespace_flag_overrides_the_service_accounts(pod, compiled):
    s = pod(namespace="pod-ns")
    r = invoke(str(compiled["Workflow"]), "-n", "flag-ns")
    assert r.exit_code == 0, r.output
    assert [q.path for q in s.requests] == [WF_PATH.format(ns="flag-ns")]


def test_an_empty_namespace_file_means_default(pod, compiled):
    s = pod(namespace="")
    assert invoke(str(compiled["Workflow"])).exit_code == 0
    assert [q.path for q in s.requests] == [WF_PATH.format(ns="default")]


def test_watch_follows_the_workflow_in_a_pod(pod, compiled):
    s = pod(statuses=[{"phase": "Running", "progress": "1/25"},
                      {"phase": "Succeeded", "progress": "25/25", "nodes": {}}])
    s.statuses[-1]["nodes"] = {"root": {"name": "PLACEHOLDER", "outputs": {"parameters": [
        {"name": "answer", "value": '"front bumper"'}]}}}
    r = invoke(str(compiled["Workflow"]), "--watch", "--interval", "0.01")
    assert r.exit_code == 0, r.output
    name = r.stdout.splitlines()[0]
    assert [(q.method, q.bearer) for q in s.requests] == [("POST", SA_TOKEN), ("GET", SA_TOKEN), ("GET", SA_TOKEN)]
    assert all(q.path == WF_PATH.format(ns="pod-ns") + f"/{name}" for q in s.requests[1:])
    assert [ln for ln in r.stderr.splitlines() if ln.startswith(name)] == [f"{name}: Running 1/25",
                                                                         f"{name}: Succeeded 25/25"]


def test_a_token_the_server_does_not_accept_is_a_one_line_401(pod, compiled):
    s = pod(token="expired-token")
    one_line_error(invoke(str(compiled["Workflow"])), "401 Unauthorized", "service account's token")
    assert [q.bearer for q in s.requests] == ["expired-token"] and s.objects == {}


def test_a_ca_that_did_not_sign_the_servers_certificate_is_a_one_line_tls_error(pod, compiled, other_ca):
    s = pod(ca_cert=other_ca)
    line = one_line_error(invoke(str(compiled["Workflow"])), "TLS certificate of the Kubernetes API at "
                          f"{s.url} did not verify", "unable to get local issuer certificate", "ca.crt")
    assert "\n" not in line
    assert handshake_failures(s) == ["TLSV1_ALERT_UNKNOWN_CA"] and s.requests == []


def test_a_certificate_for_another_name_is_a_one_line_tls_error(pod, compiled, tmp_path):
    s = pod(tls=make_tls(tmp_path / "elsewhere", sans="DNS:api.elsewhere.example"))
    one_line_error(invoke(str(compiled["Workflow"])), "did not verify", "IP address mismatch",
                   "not valid for '127.0.0.1'")
    assert s.requests == []


def test_a_broken_service_account_is_one_line(pod, compiled, monkeypatch):
    s = pod()
    folder = Path(os.environ[SERVICEACCOUNT_DIR_ENV])
    (folder / "token").write_text("")
    one_line_error(invoke(str(compiled["Workflow"])), f"in-cluster service account ({folder})", "empty")
    (folder / "token").write_text(SA_TOKEN)
    (folder / "ca.crt").unlink()
    one_line_error(invoke(str(compiled["Workflow"])), "certification file does not exist")
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT")
    one_line_error(invoke(str(compiled["Workflow"])), "host/port is not set")
    one_line_error(invoke(str(compiled["Workflow"]), "--context", "x"), "--context needs a kubeconfig")
    assert s.requests == []


def test_without_the_override_the_standard_folder_is_read(pod, compiled, monkeypatch):
    if Path(SERVICEACCOUNT_DIR).exists():
        pytest.skip(f"this machine has a real service account at {SERVICEACCOUNT_DIR}")
    s = pod()
    monkeypatch.delenv(SERVICEACCOUNT_DIR_ENV)
    assert SERVICEACCOUNT_DIR == "/var/run/secrets/kubernetes.io/serviceaccount"
    one_line_error(invoke(str(compiled["Workflow"])), f"in-cluster service account ({SERVICEACCOUNT_DIR})",
                   "token file does not exist")
    assert s.requests == []


def test_a_kubeconfig_still_wins_over_the_service_account(pod, compiled, tmp_path, monkeypatch):
    s = pod(namespace="pod-ns")
    monkeypatch.setenv("KUBECONFIG", s.kubeconfig(tmp_path / "kc", namespace="kc-ns", token=SA_TOKEN))
    r = invoke(str(compiled["Workflow"]), "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["namespace"] == "kc-ns" and s.requests[0].path == WF_PATH.format(ns="kc-ns")
    assert yaml.safe_load((tmp_path / "kc").read_text())["clusters"][0]["cluster"]["certificate-authority"]
