"""Validating workflow YAML: parsing with line numbers, then Argo's schema and the semantic checks.

:func:`validate_text` reads every YAML document of a text (``---``-separated) and checks each on its
own:

- a document that is not a mapping gets one :class:`~dicec.validate.messages.NotAMapping`;
- a ``Workflow``, ``WorkflowTemplate``, ``ClusterWorkflowTemplate`` or ``CronWorkflow`` is validated
  against Argo's patched JSON schema (:mod:`dicec.validate.schema`) and then by the semantic checks
  (:mod:`dicec.validate.semantic`);
- a plain Kubernetes manifest - a ``kind`` with an ``apiVersion`` outside ``argoproj.io``, such as
  the Deployment, Service, ConfigMap or PersistentVolumeClaim that often sits beside a workflow (the
  model servers of ``dicec compile --mode services``) - is checked against Kubernetes' own schema when
  dicec wrote it and ``kubernetes-validate`` is installed, and skipped otherwise (:mod:`dicec.validate.kubernetes`);
- anything else (another ``argoproj.io`` kind such as ``WorkflowEventBinding`` or ``Sensor``, or a
  mapping without ``kind``/``apiVersion``) gets one :class:`~dicec.validate.messages.NotAWorkflow`.

A YAML syntax error is one :class:`~dicec.validate.messages.YamlError` at the line where the parser
stopped; the documents before it are still checked, the rest of the file is not.

Every diagnostic carries the line of the YAML node it is about: the key's line for a mapping entry,
the item's line for a list item, and inside a ``|`` block scalar (a script's ``source``) the line of
the offending ``{{...}}`` itself; a path the file does not contain falls back to its nearest ancestor,
and at worst to the document's first line. Timestamps are read as strings (as Kubernetes' YAML
reader does), so ``value: 2024-01-01`` is not a date.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from dicec.errors import Location
from dicec.files import read_text
from dicec.validate import messages as m
from dicec.validate.quantities import resource_errors
from dicec.validate.schema import KINDS, schema_errors
from dicec.validate.semantic import semantic_findings

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loading without the YAML 1.1 timestamp type (Kubernetes reads ``2024-01-01`` as a string)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

_PLAIN_KEY = re.compile(r"[A-Za-z_][-\w]*")


def validate_path(path: str | os.PathLike[str]) -> list[m.Diagnostic]:
    """Validate the workflow file at ``path``.

    A missing, directory, empty, binary or non-UTF-8 file raises :class:`dicec.errors.DicecError`
    (from :func:`dicec.files.read_text`); everything wrong inside the file is a diagnostic.
    """
    return validate_text(read_text(path, what="workflow"), path=str(path))


def validate_text(text: str, *, path: str = "<string>") -> list[m.Diagnostic]:
    """Validate every YAML document in ``text``; ``path`` names the file in the diagnostics.

    Returns the diagnostics sorted by line; an empty list means the text is valid.
    """
    documents, error = _parse(text, path)
    if error is None and not documents:
        return [m.NoDocuments(location=Location(path=path, line=1))]
    out: list[m.Diagnostic] = [error] if error is not None else []  # documents before a YAML error are checked
    for node, doc in documents:
        if node is None:
            continue  # an empty document, e.g. after a trailing '---'
        index = _LineIndex(node, path)
        out += index.duplicates
        if index.recursive_at is not None:
            out.append(m.YamlError(location=Location(path=path, line=index.recursive_at),
                                   problem="an alias refers to a node that contains it (a recursive structure)"))
            continue
        try:
            out += _validate(doc, path=path, index=index)
        except RecursionError:
            out.append(m.YamlError(location=Location(path=path, line=index.first),
                                   problem="the document is nested too deeply"))
    return sorted(out, key=m.sort_key)


def validate_document(doc: dict[str, Any], *, path: str = "<string>") -> list[m.Diagnostic]:
    """Validate one already-parsed document (a ``dict``, as ``yaml.safe_load`` returns).

    There is no text, so every diagnostic's ``location.line`` is ``None`` and ``str(d)`` reads
    ``path: where: message``. Dates and timestamps (which ``yaml.safe_load`` makes of ``2024-01-01``)
    count as strings, as they do in Kubernetes.
    """
    return sorted(_validate(doc, path=path, index=None), key=m.sort_key)


def _parse(text: str, path: str) -> tuple[list[tuple[yaml.Node | None, Any]], m.YamlError | None]:
    """(node, data) for every document, in one pass that composes each node and constructs its data;
    and the YAML error that stopped the parse, if any (the documents before it are returned)."""
    loader = _Loader(text)
    out: list[tuple[yaml.Node | None, Any]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            out.append((None, None) if _is_null(node) else (node, loader.construct_document(node)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column) if mark is not None else (1, None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        if context and getattr(exc, "problem", None):
            problem = f"{problem} ({context})"
        return out, m.YamlError(location=Location(path=path, line=line, column=column), problem=problem)
    except RecursionError:
        return out, m.YamlError(location=Location(path=path, line=1), problem="the document is nested too deeply")
    finally:
        loader.dispose()
    return out, None


def _is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null")


def _validate(doc: Any, *, path: str, index: _LineIndex | None) -> list[m.Diagnostic]:
    def at(location: tuple = (), offset: int | None = None) -> Location:
        if index is None:
            return Location(path=path)
        line, column = index.locate(location, offset)
        return Location(path=path, line=line, column=column)

    if not isinstance(doc, dict):
        found = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
        return [m.NotAMapping(location=at(), found=found.get(type(doc), type(doc).__name__))]
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if not isinstance(kind, str) or kind not in KINDS:
        if (isinstance(kind, str) and kind and isinstance(api_version, str) and api_version
                and not api_version.startswith("argoproj.io/")):
            from dicec.validate.kubernetes import manifest_findings

            return manifest_findings(doc, at, render)  # a plain Kubernetes manifest beside the workflow
        return [m.NotAWorkflow(location=at(("kind",) if "kind" in doc else ()), kind=kind, api_version=api_version)]
    out: list[m.Diagnostic] = []
    for err in [*schema_errors(doc, kind), *resource_errors(doc)]:
        if err.unknown_field is not None:
            out.append(m.UnknownField(location=at(err.location), where=render(err.location), field=err.unknown_field,
                                      suggestion=err.suggestion))
        else:
            out.append(m.SchemaViolation(location=at(err.location), where=render(err.location), problem=err.message))
    for finding in semantic_findings(doc):
        out.append(finding.kind(location=at(finding.location, finding.offset), where=render(finding.location),
                                **finding.fields))
    return out


def render(location: tuple) -> str:
    """A document path as text: ``spec.templates[2].dag.tasks[0].dependencies``; odd keys are quoted
    (``metadata.labels["app.kubernetes.io/name"]``)."""
    text = ""
    for part in location:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]' if isinstance(part, str) else f"[{part!r}]"
    return text


class _LineIndex:
    """Document path -> YAML node, for every node of one document (keys point at the key's line)."""

    def __init__(self, root: yaml.Node, path: str) -> None:
        self.first = root.start_mark.line + 1
        self.nodes: dict[tuple, tuple[yaml.Node, yaml.Node]] = {}  # path -> (node for the line, value node)
        self.duplicates: list[m.Diagnostic] = []
        self.recursive_at: int | None = None  # line of a recursive alias, if any
        self.path = path
        self._walk(root)

    def _walk(self, root: yaml.Node) -> None:
        """Depth first, without recursion (a document may nest deeper than Python's stack)."""
        active: set[int] = set()  # nodes on the current path, to spot a recursive alias
        stack: list[tuple[yaml.Node, tuple, yaml.Node] | int] = [(root, (), root)]
        while stack:
            entry = stack.pop()
            if isinstance(entry, int):  # leaving a node
                active.discard(entry)
                continue
            node, location, line_node = entry
            self.nodes[location] = (line_node, node)
            if id(node) in active:
                if self.recursive_at is None:
                    self.recursive_at = line_node.start_mark.line + 1
                continue
            children: list[tuple[yaml.Node, tuple, yaml.Node]] = []
            if isinstance(node, yaml.MappingNode):
                last: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
                for key_node, value_node in node.value:
                    key = _key_of(key_node)
                    if key == "<<":
                        continue
                    if key in last:  # YAML keeps the last value; Kubernetes' reader refuses the mapping
                        self.duplicates.append(m.DuplicateKey(
                            location=Location(path=self.path, line=key_node.start_mark.line + 1,
                                          column=key_node.start_mark.column),
                            where=render(location + (key,)), key=str(key)))
                    last[key] = (key_node, value_node)
                children = [(value_node, location + (key,), key_node) for key, (key_node, value_node) in last.items()]
            elif isinstance(node, yaml.SequenceNode):
                children = [(item, location + (i,), item) for i, item in enumerate(node.value)]
            if children:
                active.add(id(node))
                stack.append(id(node))
                stack.extend(reversed(children))

    def locate(self, location: tuple, offset: int | None = None) -> tuple[int, int | None]:
        """(1-based line, 0-based column) of the node at ``location``, or of its nearest ancestor in the file."""
        for cut in range(len(location), -1, -1):
            hit = self.nodes.get(location[:cut])
            if hit is None:
                continue
            line_node, value_node = hit
            if (offset is not None and cut == len(location) and isinstance(value_node, yaml.ScalarNode)
                    and value_node.style == "|"):
                # A literal block scalar keeps its newlines: its text starts on the line after the '|'.
                return value_node.start_mark.line + 2 + value_node.value[:offset].count("\n"), None
            return line_node.start_mark.line + 1, line_node.start_mark.column
        return self.first, None


def _key_of(node: yaml.Node) -> Any:
    """The key as ``yaml.safe_load`` constructs it (so paths match the loaded document)."""
    if isinstance(node, yaml.ScalarNode):
        tag = node.tag
        if tag == "tag:yaml.org,2002:int":
            try:
                return int(node.value.replace("_", ""))
            except ValueError:
                return node.value
        if tag == "tag:yaml.org,2002:bool":
            return node.value.lower() in ("yes", "true", "on", "y")
        if tag == "tag:yaml.org,2002:null":
            return None
        return node.value
    return id(node)
