"""Argo's schema as shipped, and the two patches dicec applies when it loads it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dicec.validate import messages as m
from dicec.validate import schema, validate_document

SHARED_SCHEMA = Path(__file__).resolve().parents[2].parent / "shared" / "argo" / "schema.json"
DATA = Path(schema.__file__).parent / "data"


def workflow(**template) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "t-"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", **template}]}}


def kinds(doc: dict) -> list[str]:
    return [type(d).__name__ for d in validate_document(doc)]


def test_shipped_schema_is_argos_file_unchanged():
    if not SHARED_SCHEMA.is_file():
        pytest.skip(f"{SHARED_SCHEMA} is absent (a user's clone has no ../shared folder beside it)")
    assert json.loads((DATA / schema.SCHEMA_FILE).read_text()) == json.loads(SHARED_SCHEMA.read_text())


def test_source_names_where_the_schema_comes_from_and_the_patches():
    source = (DATA / "SOURCE.md").read_text()
    for fact in ("argoproj/argo-workflows", "v4.1.2", "16a52d67daf2f4a8a76fa8bec02a76a46aa46257",
                 "api/jsonschema/schema.json", "Apache", schema.SCHEMA_FILE, "IntOrString", "additionalProperties"):
        assert fact in source, fact


def test_schema_is_draft_2020_12_and_stays_valid_once_patched():
    from jsonschema import Draft202012Validator

    assert schema.raw_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema.patched_schema())
    assert set(schema.KINDS.values()) <= set(schema.patched_schema()["definitions"])


def test_loaded_once_and_validators_cached():
    assert schema.patched_schema() is schema.patched_schema()
    assert schema.validator("Workflow") is schema.validator("Workflow")


def test_patches_are_in_memory_only():
    raw = schema.raw_schema()["definitions"]
    assert raw["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {"type": "string"}
    assert not any("additionalProperties" in d and d["additionalProperties"] is False for d in raw.values())


def test_importing_the_package_stays_light():
    code = ("import sys, dicec.validate; bad = [m for m in ('jsonschema', 'hera', 'kubernetes') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- patch 1: numbers where Argo's decoders take them ----------------------------------------------------------


@pytest.mark.parametrize("template", [
    {"container": {"image": "b"}, "retryStrategy": {"limit": 3}},
    {"container": {"image": "b"}, "retryStrategy": {"limit": "3"}},
    {"container": {"image": "b"}, "activeDeadlineSeconds": 60},
    {"container": {"image": "b", "resources": {"limits": {"cpu": 1, "memory": "1Gi", "nvidia.com/gpu": 1}}}},
    {"container": {"image": "b", "resources": {"requests": {"cpu": 0.5}}}},
    {"container": {"image": "b", "livenessProbe": {"tcpSocket": {"port": 8080}}}},
    {"container": {"image": "b"}, "inputs": {"parameters": [{"name": "n", "value": 3}, {"name": "f", "default": True},
                                                             {"name": "e", "enum": [1, 2], "value": 1}]}},
])
def test_numbers_are_accepted_where_argo_accepts_them(template):
    assert kinds(workflow(**template)) == []


@pytest.mark.parametrize("template, where", [
    ({"container": {"image": "b"}, "retryStrategy": {"limit": 2.5}}, "spec.templates[0].retryStrategy.limit"),
    ({"container": {"image": "b"}, "retryStrategy": {"limit": [3]}}, "spec.templates[0].retryStrategy.limit"),
    ({"container": {"image": "b", "resources": {"limits": {"cpu": [1]}}}},
     'spec.templates[0].container.resources.limits.cpu'),
    ({"container": {"image": "b"}, "retryStrategy": {"backoff": {"duration": 5}}},
     "spec.templates[0].retryStrategy.backoff.duration"),  # a Go string: Argo refuses a number here
    ({"container": {"image": "b"}, "inputs": {"parameters": [{"name": "n", "value": {"a": 1}}]}},
     "spec.templates[0].inputs.parameters[0].value"),
])
def test_other_types_are_still_refused(template, where):
    problems = validate_document(workflow(**template))
    assert [(type(p), p.where) for p in problems] == [(m.SchemaViolation, where)], [str(p) for p in problems]


# --- patch 2: unknown keys refused, free-form places left open --------------------------------------------------


def test_closed_definitions():
    closed = set(schema.closed_definitions())
    prefix = "io.argoproj.workflow.v1alpha1."
    assert {prefix + n for n in ("Workflow", "WorkflowSpec", "Template", "WorkflowStep", "DAGTask", "Parameter",
                                 "RetryStrategy", "CronWorkflowSpec")} <= closed
    assert {"io.k8s.api.core.v1.Container", "io.k8s.api.core.v1.Toleration",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"} <= closed
    open_ = {prefix + "Item", prefix + "Plugin", "io.k8s.apimachinery.pkg.api.resource.Quantity",
             "io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"}
    assert not open_ & closed


@pytest.mark.parametrize("doc_patch, where", [
    ({"spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "b"}}], "parallelizm": 2}},
     "spec.parallelizm"),
    ({"metadata": {"generateName": "t-", "label": {"a": "b"}}}, "metadata.label"),
    ({"status": {"phase": "Running", "phaze": "x"}}, "status.phaze"),
])
def test_unknown_keys_are_reported_at_their_place(doc_patch, where):
    doc = {**workflow(container={"image": "b"}), **doc_patch}
    problems = validate_document(doc)
    assert [(type(p), p.where) for p in problems] == [(m.UnknownField, where)], [str(p) for p in problems]


def test_free_form_places_accept_any_key():
    doc = workflow(
        steps=[[{"name": "each", "template": "leaf", "withItems": [{"any": 1, "key": {"deep": [1]}}, "x", 3],
                 "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]}}]],
        metadata={"labels": {"app.kubernetes.io/name": "x"}, "annotations": {"anything/goes": "here"}},
    )
    doc["metadata"]["labels"] = {"example.com/any-key": "v"}
    doc["spec"]["templates"].append({"name": "leaf", "inputs": {"parameters": [{"name": "x"}]},
                                     "plugin": {"hello": {"args": ["{{inputs.parameters.x}}"], "whatever": True}}})
    assert kinds(doc) == []
