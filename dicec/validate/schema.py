"""Argo's JSON schema, loaded once and patched so that it catches what Argo's server would.

The shipped file is Argo Workflows v4.1.2's ``api/jsonschema/schema.json`` (see ``data/SOURCE.md``).
Two patches, applied in memory: int-or-string fields and quantities accept numbers (Argo types them
as strings, yet every Kubernetes client writes ``cpu: 1``), and object definitions that list their
properties refuse unknown keys (Argo's schema never does, so a misspelt field passes silently and
is dropped by the controller). Validators are compiled once per kind and cached.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from dataclasses import dataclass
from typing import Any

SCHEMA_FILE = "argo-workflows-v4.1.2.schema.json"

#: Resource kinds validated, and their definitions in the schema.
KINDS = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
    "ClusterWorkflowTemplate": "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate",
    "CronWorkflow": "io.argoproj.workflow.v1alpha1.CronWorkflow",
}

_NUMBER_OR_STRING = ("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.api.resource.Quantity")


@dataclass(frozen=True, kw_only=True)
class SchemaError:
    """One schema failure.

    Attributes:
        location: the path inside the document (keys and list indices).
        message: one line.
        unknown_field: the offending key when the failure is an unknown field, else ``None``.
    """

    location: tuple[Any, ...]
    message: str
    unknown_field: str | None = None


@functools.lru_cache(maxsize=1)
def patched_schema() -> dict[str, Any]:
    """The schema with both patches applied (cached; do not mutate)."""
    raw = json.loads((importlib.resources.files("dicec.validate") / "data" / SCHEMA_FILE).read_text(encoding="utf-8"))
    schema = copy.deepcopy(raw)
    definitions = schema["definitions"]
    for name in _NUMBER_OR_STRING:
        definitions[name] = {**definitions[name], "type": ["string", "integer", "number"]}
    for definition in definitions.values():
        if definition.get("type") == "object" and "properties" in definition and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    return schema


@functools.lru_cache(maxsize=None)
def _validator(kind: str):
    from jsonschema import Draft202012Validator

    schema = patched_schema()
    root = {"$schema": schema["$schema"], "$ref": f"#/definitions/{KINDS[kind]}", "definitions": schema["definitions"]}
    return Draft202012Validator(root)


def schema_errors(document: dict[str, Any], kind: str) -> list[SchemaError]:
    """Every schema failure of ``document`` (of ``kind``), most specific first, one per location."""
    out: dict[tuple, SchemaError] = {}
    for error in _validator(kind).iter_errors(document):
        for leaf in _leaves(error):
            location = tuple(leaf.absolute_path)
            if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
                allowed = set(leaf.schema.get("properties", {}))
                for key in sorted(k for k in leaf.instance if k not in allowed):
                    out.setdefault(location + (key,), SchemaError(location=location + (key,), message="unknown field",
                                                                  unknown_field=str(key)))
                continue
            out.setdefault(location, SchemaError(location=location, message=_one_line(leaf.message)))
    return sorted(out.values(), key=lambda e: [str(p) for p in e.location])


def _leaves(error):
    """The most specific errors under ``error`` (oneOf/anyOf branches resolved by best match)."""
    if not error.context:
        return [error]
    from jsonschema.exceptions import best_match

    return _leaves(best_match(error.context))


def _one_line(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= 200 else text[:197] + "..."
