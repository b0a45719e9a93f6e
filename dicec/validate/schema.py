"""Argo's JSON schema, loaded once and patched in memory so that it judges what Argo's parser would.

The shipped file, ``data/argo-workflows-schema.json``, is Argo Workflows v4.1.2's
``api/jsonschema/schema.json`` unchanged in content (see ``data/SOURCE.md``). It declares JSON Schema
draft 2020-12. :func:`patched_schema` applies two patches when it loads it:

1. **Numbers where Argo's Go types accept them.** The schema types these as plain strings, but Argo's
   (and Kubernetes') decoders also take YAML numbers, and every hand-written workflow uses them:

   - ``io.k8s.apimachinery.pkg.util.intstr.IntOrString`` (``retryStrategy.limit: 3``,
     ``activeDeadlineSeconds: 60``, ``withSequence.count: 5``, probe ports): string or integer;
   - ``io.k8s.apimachinery.pkg.api.resource.Quantity`` (``cpu: 1``, ``nvidia.com/gpu: 1``,
     ``memory: 0.5``): string or number, a string only of Kubernetes' quantity grammar
     (:data:`dicec.quantities.QUANTITY_PATTERN`: ``memory: 16 gigs`` and ``nvidia.com/gpu: one`` are
     refused, as the API server would refuse the pod);
   - Argo's ``AnyString`` fields, ``Parameter.value``/``default``/``description``/``enum[]`` and
     ``ValueFrom.default`` (``value: 3``, ``enum: [1, 2]``): string, number or boolean.

2. **Unknown keys are refused.** Argo's schema never sets ``additionalProperties``, so a typo such as
   ``nodeSelecter:`` passes and the controller silently drops the field. Every object schema that lists
   its ``properties`` and says nothing about ``additionalProperties`` gets ``additionalProperties:
   false``. Free-form schemas are left alone: those without ``properties`` (``Item``, ``Plugin``,
   ``FieldsV1``, ``RetryNodeAntiAffinity``...), string maps such as ``metadata.labels`` and resource
   maps (which already have an ``additionalProperties`` schema), and any schema marked
   ``x-kubernetes-preserve-unknown-fields``.

Validators are compiled once per kind and cached (:func:`validator`).
"""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import json
from dataclasses import dataclass
from typing import Any, Iterator

from dicec.errors import one_line
from dicec.quantities import EXAMPLES, QUANTITY_PATTERN
from dicec.validate.semantic import _suggest

SCHEMA_FILE = "argo-workflows-schema.json"

#: Resource kinds validated, and their definitions in the schema.
KINDS: dict[str, str] = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
    "ClusterWorkflowTemplate": "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate",
    "CronWorkflow": "io.argoproj.workflow.v1alpha1.CronWorkflow",
}

#: Patch 1: definition -> the JSON types it accepts instead of ``string``.
LOOSE_DEFINITIONS: dict[str, list[str]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": ["string", "integer"],
    "io.k8s.apimachinery.pkg.api.resource.Quantity": ["string", "number"],
}
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
#: Patch 1: (definition, property) -> the JSON types it accepts; ``[]`` after a name means its items.
LOOSE_PROPERTIES: dict[tuple[str, str], list[str]] = {
    ("io.argoproj.workflow.v1alpha1.Parameter", "value"): ["string", "number", "boolean"],
    ("io.argoproj.workflow.v1alpha1.Parameter", "default"): ["string", "number", "boolean"],
    ("io.argoproj.workflow.v1alpha1.Parameter", "description"): ["string", "number", "boolean"],
    ("io.argoproj.workflow.v1alpha1.Parameter", "enum[]"): ["string", "number", "boolean"],
    ("io.argoproj.workflow.v1alpha1.ValueFrom", "default"): ["string", "number", "boolean"],
}

PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"


@dataclass(frozen=True, kw_only=True)
class SchemaError:
    """One schema failure, before it is given a line.

    Attributes:
        location: the path inside the document (keys and list indices).
        message: the failure, one line.
        unknown_field: the offending key when the failure is an unknown field, else ``None``.
        suggestion: for an unknown field, the closest allowed key (or ``None``).
    """

    location: tuple[Any, ...]
    message: str
    unknown_field: str | None = None
    suggestion: str | None = None


def raw_schema() -> dict[str, Any]:
    """The shipped schema as published (a fresh copy each call)."""
    text = (importlib.resources.files("dicec.validate") / "data" / SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def patched_schema() -> dict[str, Any]:
    """The schema with both patches applied (loaded on first use, then cached; do not mutate it)."""
    schema = raw_schema()
    definitions = schema["definitions"]
    for name, types in LOOSE_DEFINITIONS.items():
        definitions[name] = {**definitions[name], "type": types}
    definitions[QUANTITY]["pattern"] = QUANTITY_PATTERN  # applies to strings only: numbers stay numbers
    for (name, prop), types in LOOSE_PROPERTIES.items():
        properties = definitions[name]["properties"]
        if prop.endswith("[]"):
            properties[prop[:-2]] = {**properties[prop[:-2]], "items": {"type": types}}
        else:
            properties[prop] = {**properties[prop], "type": types}
    for definition in definitions.values():
        _close(definition)
    return schema


def _close(node: Any) -> None:
    """Patch 2 on one schema and every schema nested in it."""
    if isinstance(node, dict):
        if ("properties" in node and "additionalProperties" not in node and not node.get(PRESERVE_UNKNOWN)
                and node.get("type", "object") == "object"):
            node["additionalProperties"] = False
        for key, value in node.items():
            if key == "properties":
                for sub in value.values():
                    _close(sub)
            elif key not in ("enum", "const", "default", "description") and not key.startswith("x-"):
                _close(value)
    elif isinstance(node, list):
        for item in node:
            _close(item)


def closed_definitions() -> list[str]:
    """Names of the definitions patch 2 closed (for tests and documentation)."""
    raw = raw_schema()["definitions"]
    patched = patched_schema()["definitions"]
    return sorted(n for n in raw if patched[n].get("additionalProperties") is False
                  and raw[n].get("additionalProperties") is not False)


@functools.lru_cache(maxsize=None)
def validator(kind: str):
    """A compiled Draft 2020-12 validator for documents of ``kind`` (one of :data:`KINDS`), cached."""
    schema = patched_schema()
    root = {"$schema": schema["$schema"], "$ref": f"#/definitions/{KINDS[kind]}", "definitions": schema["definitions"]}
    return _validator_class()(root)


@functools.lru_cache(maxsize=1)
def _validator_class():
    """Draft 2020-12, where a date or timestamp (as ``yaml.safe_load`` builds them) counts as a string."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "string", lambda _, value: isinstance(value, (str, datetime.date)))
    return validators.extend(Draft202012Validator, type_checker=checker)


def schema_errors(document: dict[str, Any], kind: str) -> list[SchemaError]:
    """Every schema failure of ``document`` (of ``kind``), one per location, in document order."""
    out: dict[tuple, SchemaError] = {}
    for error in validator(kind).iter_errors(document):
        for leaf in _leaves(error):
            location = tuple(leaf.absolute_path)
            closed = leaf.validator == "additionalProperties" and leaf.validator_value is False
            if closed and isinstance(leaf.instance, dict):
                allowed = list(leaf.schema.get("properties", {}))
                for key in leaf.instance:
                    if key not in allowed:
                        where = location + (key,)
                        out.setdefault(where, SchemaError(location=where, message="unknown field", unknown_field=str(key),
                                                          suggestion=_suggest(str(key), allowed)))
                continue
            if leaf.validator == "pattern" and leaf.validator_value == QUANTITY_PATTERN:
                message = f"{one_line(repr(leaf.instance), 60)} is not a Kubernetes quantity ({EXAMPLES})"
            elif leaf.validator == "required" and isinstance(leaf.instance, dict):
                missing = [k for k in leaf.validator_value if k not in leaf.instance]
                message = f"required field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} missing"
            else:
                message = one_line(leaf.message)
            out.setdefault(location, SchemaError(location=location, message=message))
    return list(out.values())


def _leaves(error) -> Iterator:
    """The most specific errors under ``error`` (oneOf/anyOf branches narrowed to the best match)."""
    if not error.context:
        yield error
        return
    from jsonschema.exceptions import best_match

    yield from _leaves(best_match(error.context))


def _one_line(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= 160 else text[:157] + "..."
