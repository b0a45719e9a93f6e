"""Kubernetes manifests beside a workflow: checked against Kubernetes' schema, or skipped."""

from __future__ import annotations

import sys

from dicec.validate import validate_text

WORKFLOW = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: w-
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: dicec-find-a4000
  labels:
    app.kubernetes.io/managed-by: dicec
spec:
  selector:
    app.kubernetes.io/name: dicec-find-a4000
  ports:
  - name: http
    port: 80
    targetPort: http
"""


def test_a_valid_service_beside_a_workflow_is_clean():
    assert validate_text(SERVICE + "---\n" + WORKFLOW, path="s.yaml") == []


def test_a_broken_manifest_is_reported_at_its_line():
    broken = SERVICE.replace("    port: 80\n", "    port: eighty\n")
    (d,) = validate_text(WORKFLOW + "---\n" + broken, path="s.yaml")
    assert d.line == WORKFLOW.count("\n") + 1 + broken.splitlines().index("    port: eighty") + 1
    assert "Kubernetes" in str(d) and "Service" in str(d) and "spec.ports[0].port" in str(d)
    (d,) = validate_text(SERVICE.replace("  selector:", "  selectr:"), path="s.yaml")
    assert "selectr" in str(d)


def test_manifests_dicec_did_not_write_are_skipped():
    theirs = SERVICE.replace("    app.kubernetes.io/managed-by: dicec\n", "    team: vision\n").replace("port: 80", "port: x")
    assert validate_text(theirs + "---\n" + WORKFLOW, path="s.yaml") == []


def test_custom_resources_and_a_missing_package_are_skipped(monkeypatch):
    custom = ("apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  labels:\n"
              "    app.kubernetes.io/managed-by: dicec\nspec:\n  anything: 1\n")
    assert validate_text(custom + "---\n" + WORKFLOW, path="c.yaml") == []
    monkeypatch.setitem(sys.modules, "kubernetes_validate", None)  # as if not installed
    assert validate_text(SERVICE.replace("port: 80", "port: eighty") + "---\n" + WORKFLOW, path="s.yaml") == []


def test_validate_says_plainly_when_the_manifest_checks_were_skipped(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from dicec.cli import cli

    path = tmp_path / "s.yaml"
    path.write_text(SERVICE + "---\n" + WORKFLOW)
    plain = tmp_path / "w.yaml"
    plain.write_text(WORKFLOW)
    checked = CliRunner().invoke(cli, ["validate", str(path), str(plain)])
    assert checked.exit_code == 0 and "not checked" not in checked.output
    monkeypatch.setitem(sys.modules, "kubernetes_validate", None)  # as if not installed
    skipped = CliRunner().invoke(cli, ["validate", str(path), str(plain)])
    assert skipped.exit_code == 0  # unchanged: the note is not a problem
    (note,) = [line for line in skipped.output.splitlines() if "not checked" in line]
    assert note == (f"dicec validate: note: the Kubernetes manifests (Deployments, Services) in {path} were not "
                    "checked against Kubernetes' schema, because kubernetes-validate is not installed "
                    "(pip install kubernetes-validate)")
    pods_only = CliRunner().invoke(cli, ["validate", str(plain)])
    assert pods_only.exit_code == 0 and "not checked" not in pods_only.output  # nothing was skipped


def test_the_agents_rbac_in_a_services_stream_is_checked_too(tmp_path):
    """dicec validate checks every document of a services-mode stream, the agent's ServiceAccount, Secret,
    Role and RoleBinding included: each kind is one kubernetes-validate has a schema for, so a broken one is
    reported, not skipped."""
    from dicec.emit import EmitOptions
    from dicec.pipeline import compile_text
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    program = "def execute_command(image):\n    return ImagePatch(image).exists('dog')\n"
    text = compile_text(program, "program", path="p.py", registry=registry_for(), catalogue=load_pools(),
                        options=EmitOptions(mode="services")).yaml
    assert validate_text(text, path="s.yaml") == []
    for good, bad, kind in (("  - watch\n", "  - watch\n  verbz: []\n", "Role"),
                            ("\ntype: kubernetes.io/service-account-token\n", "\ntypo: 1\n", "Secret"),
                            ("\nautomountServiceAccountToken: false\n", "\nautomountServiceAccountToken: 'no'\n",
                             "ServiceAccount"),
                            ("\nroleRef:\n", "\nroleReff: {}\nroleRef:\n", "RoleBinding")):
        assert good in text, good
        problems = validate_text(text.replace(good, bad, 1), path="s.yaml")
        assert len(problems) == 1 and f"Kubernetes 1.30.0 {kind}" in str(problems[0]), (kind, problems)
