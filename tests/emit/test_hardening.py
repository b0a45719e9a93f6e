"""Every pod of every emitted workflow is locked down and bounded, in every shape dicec emits.

The example questions are compiled as a plain Workflow, a batch, a WorkflowTemplate and with the image
as an S3, GCS or HTTP input artifact; each result must validate, and every pod template in it must
carry the whole lock-down (not just the first one: a template added later without it fails here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dicec.emit import EmitOptions
from dicec.emit.hardening import (GPU_RESOURCE, Hardening, ResourceSpec, container_security_context,
                                  is_hardened_container, pod_security_context, quantity, tmp_volume,
                                  tmp_volume_mount)
from dicec.errors import DicecError

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "questions").glob("*.txt"))
VARIANTS = {
    "pods": {},
    "batch": {"batch": True, "parallelism": 4},
    "template": {"kind": "WorkflowTemplate"},
    "s3": {"input_artifact": "s3"},
    "gcs-batch-template": {"input_artifact": "gcs", "batch": True, "kind": "WorkflowTemplate"},
    "http": {"input_artifact": "http"},
}
POD_TYPES = ("container", "script", "containerSet")


@pytest.fixture(scope="module")
def compiled(builtin_registry, pools):
    from dicec.pipeline import compile_path

    return {(q.name, v): compile_path(str(q), registry=builtin_registry, catalogue=pools, options=EmitOptions(**o))
            for q in EXAMPLES for v, o in VARIANTS.items()}


def pod_templates(wf: dict) -> list[dict]:
    return [t for t in wf["spec"]["templates"] if any(k in t for k in POD_TYPES)]


def pod_problems(t: dict) -> list[str]:
    """What a pod template lacks, as phrases (empty: fully hardened)."""
    problems = []
    pod = t.get("securityContext") or {}
    if pod.get("runAsNonRoot") is not True or not pod.get("runAsUser"):
        problems.append("pod securityContext runAsNonRoot/runAsUser")
    if (pod.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("pod seccompProfile")
    containers = [t["container"]] if "container" in t else [t["script"]] if "script" in t else \
        t["containerSet"]["containers"]
    for c in containers:
        problems += [f"{c.get('name', 'main')}: {p}" for p in is_hardened_container(c, pod)]
    mounts = {m["name"] for c in containers for m in c.get("volumeMounts") or [] if m["mountPath"] == "/tmp"}
    volumes = {v["name"]: v for v in t.get("volumes") or []}
    if not mounts or any("emptyDir" not in volumes.get(n, {}) for n in mounts):
        problems.append("/tmp is not an emptyDir volume of the template")
    if t.get("automountServiceAccountToken") is not False:
        problems.append("automountServiceAccountToken: false")
    if not isinstance(t.get("activeDeadlineSeconds"), int) or t["activeDeadlineSeconds"] <= 0:
        problems.append("activeDeadlineSeconds")
    retry = t.get("retryStrategy") or {}
    backoff = retry.get("backoff") or {}
    if not (int(retry.get("limit", 0)) >= 1 and retry.get("retryPolicy") and backoff.get("duration")
            and backoff.get("factor") and backoff.get("maxDuration")):
        problems.append("retryStrategy with limit, retryPolicy and backoff")
    return problems


def test_every_pod_template_of_every_example_is_hardened_and_every_workflow_valid(compiled):
    from dicec.validate import validate_text

    checked = 0
    for (name, variant), result in compiled.items():
        where = f"{name} [{variant}]"
        assert validate_text(result.yaml, path=where) == [], where
        wf = result.workflow
        assert wf["kind"] == VARIANTS[variant].get("kind", "Workflow")
        spec = wf["spec"]
        assert spec["automountServiceAccountToken"] is False and spec["executor"]["serviceAccountName"], where
        assert spec["podGC"]["strategy"] == "OnPodSuccess", where
        assert spec["ttlStrategy"]["secondsAfterSuccess"] > 0 and spec["ttlStrategy"]["secondsAfterFailure"] > 0
        assert spec["activeDeadlineSeconds"] > 0, where
        templates = pod_templates(wf)
        assert len(templates) >= 2, where
        for t in templates:
            assert pod_problems(t) == [], (where, t["name"])
            checked += 1
    # the figures docs/production.md and the README state (issue 14, item 11): exactly these, not a floor
    assert (len(compiled), checked) == (198, 520), (len(compiled), checked)


def test_gpu_steps_have_equal_gpu_limits_and_requests_and_cpu_steps_none(compiled):
    for (name, variant), result in compiled.items():
        for t in pod_templates(result.workflow):
            res = t["container"]["resources"]
            assert set(res) == {"requests", "limits"}
            if set(t.get("nodeSelector") or {}) - {"kubernetes.io/arch"}:  # a GPU pool's labels
                assert res["limits"][GPU_RESOURCE] == res["requests"][GPU_RESOURCE] == "1", (name, t["name"])
            else:
                assert GPU_RESOURCE not in res["limits"] and GPU_RESOURCE not in res["requests"]


def test_the_check_finds_what_is_missing(compiled):
    """pod_problems is not vacuous: removing any one field of a hardened template is reported."""
    import copy

    t = pod_templates(compiled[(EXAMPLES[0].name, "pods")].workflow)[0]
    assert pod_problems(t) == []
    removals = [("securityContext", "runAsNonRoot"), ("container", "securityContext", "readOnlyRootFilesystem"),
                ("container", "securityContext", "allowPrivilegeEscalation"),
                ("container", "securityContext", "capabilities"), ("container", "resources", "limits"),
                ("automountServiceAccountToken",), ("activeDeadlineSeconds",), ("retryStrategy", "backoff"),
                ("volumes",), ("container", "volumeMounts")]
    for path in removals:
        broken = copy.deepcopy(t)
        node = broken
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        assert pod_problems(broken), path
    seccomp = copy.deepcopy(t)
    del seccomp["securityContext"]["seccompProfile"]
    del seccomp["container"]["securityContext"]["seccompProfile"]
    assert "pod seccompProfile" in pod_problems(seccomp)
    root = copy.deepcopy(t)
    root["container"]["securityContext"]["runAsUser"] = 0
    assert any("runAsUser" in p for p in pod_problems(root))


def test_options_change_the_pod_fields(builtin_registry, pools):
    from dicec.pipeline import compile_path

    options = EmitOptions(hardening=Hardening(run_as_user=2000, run_as_group=2000, fs_group=2000, tmp_size_limit="512Mi",
                                              automount_service_account_token=True),
                          service_account="dicec-runner", retry_limit=5, retry_policy="OnTransientError",
                          step_deadline_seconds=60, workflow_deadline_seconds=600, pod_gc=None,
                          gpu_memory_request="12Gi", gpu_memory_limit="24Gi", parallelism=3)
    wf = compile_path(str(EXAMPLES[0]), registry=builtin_registry, catalogue=pools, options=options).workflow
    spec = wf["spec"]
    assert spec["automountServiceAccountToken"] is True and "executor" not in spec
    assert spec["serviceAccountName"] == "dicec-runner" and "podGC" not in spec and spec["parallelism"] == 3
    assert spec["activeDeadlineSeconds"] == 600
    for t in pod_templates(wf):
        assert t["securityContext"]["runAsUser"] == 2000 and t["container"]["securityContext"]["runAsUser"] == 2000
        assert t["volumes"][0]["emptyDir"]["sizeLimit"] == "512Mi" and t["automountServiceAccountToken"] is True
        assert t["retryStrategy"]["limit"] == 5 and t["retryStrategy"]["retryPolicy"] == "OnTransientError"
        assert t["activeDeadlineSeconds"] == 60
        if GPU_RESOURCE in t["container"]["resources"]["limits"]:
            assert t["container"]["resources"]["limits"]["memory"] == "24Gi"
    assert EmitOptions(executor_service_account="argo-exec").executor_service_account == "argo-exec"


@pytest.mark.parametrize("kwargs, message", [
    ({"gpu_memory_request": "16Gi", "gpu_memory_limit": "8Gi"}, "memory limit 8Gi is below its request 16Gi"),
    ({"cpu_step_cpu_request": "two"}, "is not a Kubernetes quantity"),
    ({"retry_policy": "Sometimes"}, "--retry-policy"),
    ({"pod_gc": "Never"}, "--pod-gc"),
    ({"kind": "CronWorkflow"}, "--kind"),
    ({"input_artifact": "ftp"}, "--input-artifact"),
    ({"parallelism": 0}, "--parallelism"),
    ({"retry_limit": -1}, "--retry-limit"),
    ({"service_account": "Bad_SA"}, "--service-account"),
    ({"hardening": None}, None),
])
def test_bad_options_are_refused_where_made(kwargs, message):
    if message is None:
        with pytest.raises(DicecError, match="run-as-user"):
            Hardening(run_as_user=0)
        return
    with pytest.raises(DicecError, match=message.replace("-", r"\-")):
        EmitOptions(**kwargs)


def test_quantities():
    assert quantity("500m", what="cpu") == quantity("0.5", what="cpu")
    assert quantity("1Gi", what="m") == 2**30 and quantity("1G", what="m") == 10**9
    assert quantity("1e3", what="cpu") == 1000  # Kubernetes' exponent form (dicec.quantities)
    for bad in ("", "1.5.2", "-1", "0", "1e1.5", "8 Gi", "8gi"):
        with pytest.raises(DicecError):
            quantity(bad, what="memory")
    spec = ResourceSpec(cpu_request="1", memory_request="1Gi", cpu_limit="1000m", memory_limit="1024Mi", gpus=2)
    assert spec.to_json() == {"requests": {"cpu": "1", "memory": "1Gi", GPU_RESOURCE: "2"},
                              "limits": {"cpu": "1000m", "memory": "1024Mi", GPU_RESOURCE: "2"}}


def test_the_builders_are_plain_kubernetes_json():
    """What services mode reuses: core/v1 field names, checked against the schema's definitions."""
    import json

    schema = json.loads((REPO / "dicec" / "validate" / "data" / "argo-workflows-schema.json").read_text())
    defs = schema["definitions"]
    for built, name in ((container_security_context(), "SecurityContext"), (pod_security_context(), "PodSecurityContext"),
                        (tmp_volume(), "Volume"), (tmp_volume_mount(), "VolumeMount")):
        assert set(built) <= set(defs[f"io.k8s.api.core.v1.{name}"]["properties"]), name
    assert container_security_context()["readOnlyRootFilesystem"] is True
    assert pod_security_context()["runAsUser"] == 10001  # images/Dockerfile.vision's user
    assert "USER 10001" in (REPO / "images" / "Dockerfile.vision").read_text()
