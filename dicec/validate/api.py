"""Validating a workflow file: YAML parsing with line numbers, then schema and semantic checks.

Each YAML document is checked on its own. Argo kinds (Workflow, WorkflowTemplate,
ClusterWorkflowTemplate, CronWorkflow) get the schema and semantic checks; plain Kubernetes manifests
(any other kind with an ``apiVersion`` outside ``argoproj.io``, such as the Deployments and Services
emitted beside a workflow) are skipped; any other ``argoproj.io`` kind or a document without a kind
is reported. Every diagnostic carries the line of the node it is about.
"""

from __future__ import annotations

from typing import Any

import yaml

from dicec.files import read_text
from dicec.validate import messages as m
from dicec.validate.schema import KINDS, schema_errors
from dicec.validate.semantic import semantic_problems


def validate_path(path: str) -> list[m.Diagnostic]:
    """Validate the workflow file at ``path`` (unreadable input raises :class:`dicec.errors.DicecError`)."""
    return validate_text(read_text(path, what="workflow"), path=path)


def validate_text(text: str, *, path: str = "<string>") -> list[m.Diagnostic]:
    """Validate every document in a YAML text."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [m.YamlError(path, line, "", getattr(exc, "problem", None) or str(exc).splitlines()[0])]
    out: list[m.Diagnostic] = []
    for node, doc in zip(nodes, documents):
        if node is None:
            continue
        lines = _line_index(node)
        out += validate_document(doc, path=path, lines=lines, first_line=node.start_mark.line + 1)
    return out


def validate_document(doc: Any, *, path: str = "<string>", lines: dict[tuple, int] | None = None,
                      first_line: int = 1) -> list[m.Diagnostic]:
    """Validate one decoded document; ``lines`` maps document paths to lines when known."""
    lines = lines or {}

    def line_of(location: tuple) -> int:
        for cut in range(len(location), -1, -1):
            if location[:cut] in lines:
                return lines[location[:cut]]
        return first_line

    if not isinstance(doc, dict):
        return [m.NotAMapping(path, first_line, "", type(doc).__name__ if doc is not None else "an empty document")]
    kind = doc.get("kind")
    if kind not in KINDS:
        api = str(doc.get("apiVersion", ""))
        if kind and api and not api.startswith("argoproj.io/"):
            return []  # a plain Kubernetes manifest beside the workflow
        return [m.NotAWorkflow(path, line_of(("kind",)), "", kind)]
    out: list[m.Diagnostic] = []
    for err in schema_errors(doc, kind):
        where = _render(err.location)
        if err.unknown_field is not None:
            out.append(m.UnknownField(path, line_of(err.location), _render(err.location[:-1]), err.unknown_field))
        else:
            out.append(m.SchemaViolation(path, line_of(err.location), where, err.message))
    for problem in semantic_problems(doc):
        out.append(problem.kind(path, line_of(problem.location), _render(problem.location), *problem.args))
    return sorted(out, key=lambda d: (d.line, d.where, d.text))


def _render(location: tuple) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_index(node: yaml.Node, location: tuple = ()) -> dict[tuple, int]:
    """Document path -> 1-based line, for every node (keys point at the key's line)."""
    index = {location: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index.update(_line_index(value_node, location + (key,)))
            index[location + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_line_index(item, location + (i,)))
    return index
