"""Argo's node statuses: the records its controller keeps for a Workflow in ``status.nodes``, built as v4.1.2 does.

Argo keeps a Workflow, with the status of every node and that node's inputs and outputs, in ONE Kubernetes
object in etcd. When the object's JSON passes ``MAX_WORKFLOW_SIZE`` (1 MiB by default) the controller
gzip-compresses the node statuses into ``status.compressedNodes`` (base64 of the gzip, level 6 by default,
``util/file``); still too large, it offloads them to a database when one is configured, and otherwise the
workflow fails ("workflow is longer than maximum allowed size", ``workflow/packer/packer.go``). This module
builds the nodes a run creates, as the controller creates them, so their size can be measured (``dicec run``,
:mod:`dicec.runner.workflow`) and estimated (:mod:`dicec.runner.weight`). From the v4.1.2 source:

* **Names and IDs** (``workflow/controller/dag.go``, ``operator.go``): the root node is named after the
  workflow and its ID is that name; a DAG task is ``BOUNDARY.TASK`` under the DAG node it runs in; a
  fan-out (``withParam``/``withItems``/``withSequence``) is a ``TaskGroup`` node ``BOUNDARY.TASK`` with one
  child per item, ``BOUNDARY.TASK(I:DESC)`` (``generateNodeName``: DESC is the item as text, a map as its
  sorted ``key:value`` pairs, parentheses removed), or a ``Skipped`` node "Skipped, empty params" for an empty
  list; a template with a ``retryStrategy`` is a ``Retry`` node with one child per attempt, ``NAME(0)``; every
  other ID is ``WORKFLOW-`` and the FNV-1a 32-bit hash of the node's name (``Workflow.NodeID``). The display
  name is the name less its boundary's name and the separating dot.
* **What a node holds** (``initializeNode``, ``initializeExecutableNode``, ``podReconciliation``,
  ``progress/updater.go``, ``resource/duration.go``): its template's name and scope (``local/WORKFLOW``),
  phase, boundary, start and finish times, progress (``1/1`` for a pod or HTTP node, the sum of the
  executable nodes below it for any other), the resource-seconds of a pod, its Kubernetes node's name, its
  children's IDs, a DAG's outbound nodes, ``nodeFlag`` (``retried`` on an attempt, empty on a task group or a
  skipped task), ``taskResultSynced`` on a pod; and its **inputs** -- the template's input parameters with
  their values (and declared defaults) and its input artifacts, a ``raw`` artifact with its data substituted
  -- and its **outputs**: a pod's output parameters with their values (``valueFrom`` kept), its output
  artifacts with their keys in the artifact repository (``WORKFLOW/POD/FILE``, ``executor.go``) and its exit
  code; an HTTP node's ``result`` (the response body, ``executor/agent.go``); a DAG's output parameters with
  their values. A ``Retry`` node holds its template's inputs too, and a copy of its last attempt's outputs.
* **Edges** (``connectDependencies``, ``getOutboundNodes``): a task with no dependencies is a child of its
  DAG node; any other is a child of each *outbound* node of each task it depends on (a pod or HTTP node
  itself, a ``Retry`` node's last attempt, every item of a task group, a DAG's outbound nodes); a DAG's
  outbound nodes are those of its leaf tasks.

Serialised as Go's ``encoding/json`` writes them (struct fields in declaration order, empty ones left out,
map keys sorted, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped), the node map's JSON is what counts
against the bound. What cannot be known off a cluster is a stated constant: every timestamp is
:data:`TIMESTAMP` (all are this wide), a pod's Kubernetes node is a :data:`HOST_NODE_NAME`-long name,
a pod ran :data:`POD_SECONDS` seconds (its resource-seconds), output artifacts are stored in an S3 repository
(``{"s3": {"key": ...}}``), and a ``generateName`` gets Kubernetes' five random characters
(:func:`workflow_name`). Not modelled: ``estimatedDuration`` (only workflows with a history of earlier runs
have it), failed attempts (each retry adds a node), ``status.storedWorkflowTemplateSpec`` (a Workflow
submitted from a WorkflowTemplate holds the template's spec there instead of in ``spec``: counted once either
way) and ``metadata.managedFields``.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

#: ``MAX_WORKFLOW_SIZE``'s default (``workflow/packer/packer.go``): past it the node statuses are compressed.
MAX_WORKFLOW_SIZE = 1024 * 1024
#: gzip's level for ``status.compressedNodes`` (``WORKFLOW_COMPRESSION_LEVEL`` unset: the library's 6).
GZIP_LEVEL = 6
#: Every ``startedAt``/``finishedAt`` (``metav1.Time``: RFC 3339 in seconds, always 20 characters).
TIMESTAMP = "2025-01-01T00:00:00Z"
#: A pod's ``hostNodeName``: an EKS node's name (``ip-10-0-123-45.eu-west-1.compute.internal``, 42
#: characters); GKE's (``gke-CLUSTER-POOL-HASH-XXXX``) are about as long.
HOST_NODE_NAME = "ip-10-0-123-45.eu-west-1.compute.internal"
#: How long each pod is taken to have run, for its ``resourcesDuration`` (only the figures' widths count).
POD_SECONDS = 30
#: What Kubernetes appends to a ``generateName`` (five random lower-case letters and digits).
GENERATED_SUFFIX = "x7k2q"
#: Argo's resource defaults per container (``util/resource/duration.go``) and the denominators
#: (``ResourceQuantityDenominator``: memory in 100Mi units); a pod runs ``init``, ``wait`` and ``main``.
_DEFAULT_CPU_MILLI, _DEFAULT_MEMORY = 100, 100 * 1024 * 1024
_MEMORY_UNIT = 100 * 1024 * 1024
_SEPARATOR = re.compile(r"^(\[\d+\])?\.")
_EXECUTABLE = ("Pod", "HTTP")


def workflow_name(metadata: dict[str, Any]) -> str:
    """The name a Workflow gets: ``metadata.name``, else its ``generateName`` and five characters."""
    name = metadata.get("name")
    if name:
        return str(name)
    return str(metadata.get("generateName") or "workflow-") + GENERATED_SUFFIX


def fnv32a(text: str) -> int:
    """FNV-1a, 32 bits (Go's ``hash/fnv.New32a``), of ``text``'s UTF-8 bytes."""
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def node_id(workflow: str, name: str) -> str:
    """``Workflow.NodeID``: the workflow's name for the root node, else ``WORKFLOW-FNV32A(NAME)``."""
    return workflow if name == workflow else f"{workflow}-{fnv32a(name)}"


def pod_name(workflow: str, name: str, template: str) -> str:
    """A pod's name (``GeneratePodName``, v2): ``WORKFLOW-TEMPLATE-FNV32A(NODE NAME)``, the prefix cut to 242."""
    return f"{f'{workflow}-{template}'[:242]}-{fnv32a(name)}"


def go_json(value: Any) -> str:
    """``value`` as Go's ``encoding/json`` writes it: compact, UTF-8, ``<``, ``>``, ``&``, U+2028/9 escaped.
    (Keys come in ``value``'s order: give structs in their Go field order, maps sorted.)"""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _item_text(item: Any) -> str:
    """``Item.String()``: a string without its quotes, anything else as compact JSON in its own key order
    (the item is raw JSON to Go), ``<>&`` left unescaped (``jsonutil.Fix``)."""
    text = go_json(item)
    if isinstance(item, str):
        text = text[1:-1]
    return text.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")


def item_description(item: Any) -> str:
    """The text ``generateNodeName`` puts after ``I:`` for a fan-out item (``processItem``), parentheses removed."""
    if isinstance(item, dict):
        text = ",".join(sorted(f"{k}:{_item_text(v)}" for k, v in item.items()))
    elif isinstance(item, list):
        text = "[" + " ".join(_item_text(v) for v in item) + "]"
    else:
        text = _item_text(item)
    return text.replace("(", "").replace(")", "")


def item_node_name(task_node: str, index: int, item: Any) -> str:
    """The node of one fan-out item: ``BOUNDARY.TASK(I:DESC)``."""
    return f"{task_node}({index}:{item_description(item)})"


def compressed_size(text: str) -> int:
    """Bytes of ``status.compressedNodes`` for node-status JSON ``text``: base64 of its gzip (level 6)."""
    return len(base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=GZIP_LEVEL, mtime=0)))


# -- a template's inputs and outputs as a node holds them -----------------------------------------------
_PARAMETER_KEYS = ("name", "default", "value", "valueFrom", "globalName", "enum", "description")
_VALUE_FROM_KEYS = ("path", "jsonPath", "jqFilter", "event", "parameter", "supplied", "configMapKeyRef",
                    "default", "expression")
_ARTIFACT_KEYS = ("name", "path", "mode", "from", "archiveLogs", "s3", "git", "http", "artifactory", "hdfs",
                  "raw", "oss", "gcs", "azure", "plugin", "globalName", "archive", "optional", "subPath",
                  "recurseMode", "fromExpression", "artifactGC", "deleted")


def _ordered(value: dict, keys: tuple[str, ...]) -> dict:
    """``value``'s fields in Go's order, empty ones left out (a parameter's ``value`` is a pointer: kept)."""
    return {k: value[k] for k in keys
            if k in value and (value[k] not in (None, "", [], {}, False) or (k == "value" and value[k] == ""))}


def node_inputs(template: dict, parameters: dict[str, str], artifacts: dict[str, dict] | None = None) -> dict | None:
    """A node's ``inputs``: the template's input parameters with ``parameters``' values (a declared
    ``default`` stays beside the value) and its input artifacts, ``artifacts`` replacing an argument's
    (name -> the artifact as passed: ``{"raw": {"data": ...}}`` or a location). ``None`` without inputs."""
    declared = template.get("inputs") or {}
    params = []
    for p in declared.get("parameters") or []:
        entry = dict(p)
        if p.get("name") in parameters:
            entry["value"] = parameters[p["name"]]
        elif "default" in p and "value" not in p:
            entry["value"] = p["default"]
        entry = {k: str(v) if k in ("default", "value", "description") else v for k, v in entry.items()}
        params.append(_ordered(entry, _PARAMETER_KEYS))
    arts = []
    for a in declared.get("artifacts") or []:
        entry = {**a, **((artifacts or {}).get(a.get("name")) or {})}
        arts.append(_ordered(entry, _ARTIFACT_KEYS))
    out = {k: v for k, v in (("parameters", params), ("artifacts", arts)) if v}
    return out or None


def artifact_key(artifact: dict, *, workflow: str, pod: str) -> str:
    """Where the executor stores an output artifact (``saveArtifactFromFile``, the default key format
    ``{{workflow.name}}/{{pod.name}}``): ``WORKFLOW/POD/FILE``, FILE the path's base name when unarchived,
    else ``NAME.tgz``."""
    archived = "none" not in (artifact.get("archive") or {})
    filename = f"{artifact['name']}.tgz" if archived else str(artifact.get("path", "")).rstrip("/").rsplit("/", 1)[-1]
    return f"{workflow}/{pod}/{filename}"


def pod_outputs(template: dict, values: dict[str, str], *, workflow: str, pod: str) -> dict:
    """A pod node's ``outputs``: each output parameter with its value (``valueFrom`` kept), each output
    artifact with its key in the repository (:func:`artifact_key`), and the exit code."""
    declared = template.get("outputs") or {}
    params = []
    for p in declared.get("parameters") or []:
        value_from = _ordered(dict(p.get("valueFrom") or {}), _VALUE_FROM_KEYS)
        entry = {**p, "value": values.get(p["name"], str((p.get("valueFrom") or {}).get("default", ""))),
                 "valueFrom": {k: str(v) if k == "default" else v for k, v in value_from.items()}}
        params.append(_ordered(entry, _PARAMETER_KEYS))
    arts = [_ordered({**a, "s3": {"key": artifact_key(a, workflow=workflow, pod=pod)}}, _ARTIFACT_KEYS)
            for a in declared.get("artifacts") or []]
    out: dict[str, Any] = {k: v for k, v in (("parameters", params), ("artifacts", arts)) if v}
    out["exitCode"] = "0"
    return out


def dag_outputs(template: dict, values: dict[str, str]) -> dict | None:
    """A DAG node's ``outputs``: its output parameters with their values (``valueFrom`` dropped)."""
    params = [_ordered({"name": p["name"], "value": values.get(p["name"], "")}, _PARAMETER_KEYS)
              for p in (template.get("outputs") or {}).get("parameters") or []]
    return {"parameters": params} if params else None


def resources_duration(template: dict) -> dict[str, int]:
    """A pod's ``resourcesDuration`` (``DurationForPod``) after :data:`POD_SECONDS`: its ``init``, ``wait`` and
    ``main`` containers at Argo's defaults (100m CPU, 100Mi), ``main`` at its requests (limits where no request)."""
    container = template.get("container") or {}
    resources = container.get("resources") or {}
    main = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    totals: dict[str, int] = {}
    for spec in ({}, {}, main):
        listed = {"cpu": _DEFAULT_CPU_MILLI / 1000, "memory": _DEFAULT_MEMORY}
        for name, quantity in spec.items():
            listed[name] = _quantity(quantity)
        for name, amount in listed.items():
            unit = _MEMORY_UNIT if name == "memory" else 1
            totals[name] = totals.get(name, 0) + int(amount * 1000 * POD_SECONDS // (unit * 1000))
    return dict(sorted(totals.items()))


def _quantity(text: Any) -> float:
    suffixes = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30,
                "Ti": 2 ** 40}
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text).strip())
    if not match or match.group(2) not in ("", *suffixes):
        return 0.0
    return float(match.group(1)) * suffixes.get(match.group(2), 1)


# -- the node tree --------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class _Entry:
    """One task-level node as a run reports it (see :class:`NodeTree`'s methods)."""

    name: str
    kind: str  # DAG, TaskGroup, Skipped, Pod, HTTP
    template: str
    boundary: str | None
    parents: tuple[str, ...] = ()
    member_of: str | None = None
    retry: bool = False
    inputs: dict | None = None
    outputs: dict | None = None
    message: str = ""
    resources: dict[str, int] | None = None
    leaves: tuple[str, ...] = ()


class NodeTree:
    """The nodes of one workflow run, reported task by task (from any thread), then built as Argo keeps them.

    A caller reports every DAG node (:meth:`dag`, then :meth:`dag_done` with its outputs and leaf tasks), task
    group (:meth:`group`), skipped task (:meth:`skipped`) and step (:meth:`step`: a pod or an HTTP request, with a
    ``Retry`` node above it when its template retries), each under its boundary (the DAG node it runs in) with
    either the task nodes it depends on (``parents``; none for a DAG's root tasks) or, for a fan-out's item,
    its task group (``member_of``). :meth:`nodes` returns ``status.nodes``, :meth:`status_json` its JSON.
    """

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self._entries: dict[str, _Entry] = {}
        self._stored: dict[str, dict] = {}  # a step's output artifact (by the run's local file) -> its location
        self._lock = threading.Lock()

    def _add(self, entry: _Entry) -> None:
        with self._lock:
            self._entries[entry.name] = entry

    def dag(self, name: str, template: dict, *, boundary: str | None, parents: tuple[str, ...] = (),
            member_of: str | None = None, inputs: dict[str, str] | None = None) -> None:
        """A DAG node (the root: ``boundary`` ``None``), with its input parameters' values."""
        self._add(_Entry(name=name, kind="DAG", template=str(template.get("name")), boundary=boundary,
                         parents=parents, member_of=member_of, inputs=node_inputs(template, inputs or {})))

    def dag_done(self, name: str, template: dict, *, outputs: dict[str, str], leaves: list[str]) -> None:
        """A DAG node's outputs and its leaf tasks' node names (its outbound nodes come from them)."""
        with self._lock:
            entry = self._entries[name]
            entry.outputs, entry.leaves = dag_outputs(template, outputs), tuple(leaves)

    def group(self, name: str, template: str, *, boundary: str, parents: tuple[str, ...]) -> None:
        """A fan-out's ``TaskGroup`` node (its items name it as ``member_of``)."""
        self._add(_Entry(name=name, kind="TaskGroup", template=template, boundary=boundary, parents=parents))

    def skipped(self, name: str, template: str, *, boundary: str, parents: tuple[str, ...] = (),
                member_of: str | None = None, message: str) -> None:
        """A ``Skipped`` node: a false ``when`` (``when 'EXPR' evaluated false``) or an empty fan-out."""
        self._add(_Entry(name=name, kind="Skipped", template=template, boundary=boundary, parents=parents,
                         member_of=member_of, message=message))

    def step(self, name: str, template: dict, *, boundary: str | None, parents: tuple[str, ...] = (),
             member_of: str | None = None, parameters: dict[str, str], artifacts: dict[str, dict] | None = None,
             outputs: dict[str, str] | None = None, produced: dict[str, str] | None = None,
             result: str | None = None) -> None:
        """A container step (``outputs``: its output parameters' values; ``produced``: its output artifacts'
        files, by name) or an HTTP step (``result``: the response body), with its input parameters' values and
        its input artifacts' locations (``artifacts``: name -> ``{"raw": {"data": ...}}``, ``{"s3": {"key":
        ...}}``, ..., or ``{"file": PATH}`` for another step's output artifact, by that step's file)."""
        http = "http" in template
        tname = str(template.get("name"))
        retry = bool(template.get("retryStrategy"))
        pod = pod_name(self.workflow, f"{name}(0)" if retry else name, tname)
        out = {"result": result or ""} if http else pod_outputs(template, outputs or {}, workflow=self.workflow,
                                                                pod=pod)
        with self._lock:
            for a in (template.get("outputs") or {}).get("artifacts") or []:
                if (produced or {}).get(a.get("name")):
                    self._stored[produced[a["name"]]] = {"s3": {"key": artifact_key(a, workflow=self.workflow,
                                                                                     pod=pod)}}
            located = {n: self._stored.get(v["file"], {}) if "file" in v else v for n, v in (artifacts or {}).items()}
        self._add(_Entry(name=name, kind="HTTP" if http else "Pod", template=tname, boundary=boundary,
                         parents=parents, member_of=member_of, retry=retry,
                         inputs=node_inputs(template, parameters, located), outputs=out,
                         resources=None if http else resources_duration(template)))

    # -- building ----------------------------------------------------------------------------------------
    def nodes(self) -> dict[str, dict]:
        """``status.nodes``: node ID -> the node's status, every field as Argo writes it, IDs sorted."""
        with self._lock:
            entries = dict(self._entries)
        items: dict[str, list[str]] = {}
        for e in entries.values():
            if e.member_of is not None:
                items.setdefault(e.member_of, []).append(e.name)
        built: dict[str, dict] = {}
        for e in entries.values():
            built[e.name] = self._node(e, "Retry" if e.retry else e.kind, e.name)
            if e.retry:
                built[f"{e.name}(0)"] = self._node(e, e.kind, f"{e.name}(0)", attempt=True)
                _child(built[e.name], node_id(self.workflow, f"{e.name}(0)"))

        def outbound(name: str) -> list[str]:  # getOutboundNodes, by node name
            e = entries.get(name)
            if e is None:
                return [name]
            if e.retry:
                return [f"{name}(0)"]
            if e.kind == "TaskGroup":
                return [o for item in items.get(name, ()) for o in outbound(item)] or [name]
            if e.kind == "DAG":
                return [o for leaf in e.leaves for o in outbound(leaf)]
            return [name]

        for e in entries.values():  # connectDependencies
            me = node_id(self.workflow, e.name)
            if e.boundary is None:
                continue
            if e.member_of is not None:
                _child(built[e.member_of], me)
            elif not e.parents:
                _child(built[e.boundary], me)
            for parent in () if e.member_of is not None else e.parents:
                for out in outbound(parent):
                    _child(built[out], me)
        for e in entries.values():
            if e.kind == "DAG" and e.leaves:
                built[e.name]["outboundNodes"] = [node_id(self.workflow, o) for leaf in e.leaves for o in outbound(leaf)]
        by_id = {node_id(self.workflow, n): node for n, node in built.items()}
        for node in by_id.values():
            if node["type"] not in _EXECUTABLE:
                done = _progress(node, by_id, set())
                if done:
                    node["progress"] = f"{done}/{done}"
        return {k: _in_go_order(by_id[k]) for k in sorted(by_id)}

    def step_outputs(self) -> list[tuple[str, str]]:
        """(``NODE/OUTPUT``, output text) for every output parameter value and HTTP result of every step, once
        (a ``Retry`` node's copy is not repeated)."""
        with self._lock:
            entries = list(self._entries.values())
        out = []
        for e in entries:
            if e.kind in _EXECUTABLE and e.outputs:
                out += [(f"{e.name}/{p.get('name')}", str(p.get("value", ""))) for p in e.outputs.get("parameters") or ()]
                if "result" in e.outputs:
                    out.append((f"{e.name}/result", str(e.outputs["result"])))
        return out

    def artifact_files(self) -> list[str]:
        """The local files of the steps' output artifacts (in the order they were stored)."""
        with self._lock:
            return list(self._stored)

    def status_json(self) -> str:
        """The JSON of ``status.nodes`` (what ``MAX_WORKFLOW_SIZE`` and the compression see)."""
        return go_json(self.nodes())

    def _node(self, e: _Entry, kind: str, name: str, *, attempt: bool = False) -> dict:
        display = name
        if e.boundary is not None:
            display = _SEPARATOR.sub("", name[len(e.boundary):] if name.startswith(e.boundary) else name)
        node: dict[str, Any] = {"id": node_id(self.workflow, name), "name": name, "displayName": display,
                                "type": kind, "templateName": e.template,
                                "templateScope": f"local/{self.workflow}",
                                "phase": "Skipped" if kind == "Skipped" else "Succeeded"}
        if e.boundary is not None:
            node["boundaryID"] = node_id(self.workflow, e.boundary)
        if e.message:
            node["message"] = e.message
        node["startedAt"] = node["finishedAt"] = TIMESTAMP
        if kind in _EXECUTABLE:
            node["progress"] = "1/1"
        if kind == "Pod" and e.resources:
            node["resourcesDuration"] = e.resources
        if attempt:
            node["nodeFlag"] = {"retried": True}
        elif kind in ("TaskGroup", "Skipped"):
            node["nodeFlag"] = {}
        if e.inputs and kind not in ("TaskGroup", "Skipped"):
            node["inputs"] = e.inputs
        if e.outputs and kind not in ("TaskGroup", "Skipped"):
            node["outputs"] = e.outputs
        node["children"] = []
        if kind == "Pod":
            node["hostNodeName"] = HOST_NODE_NAME
            node["taskResultSynced"] = True
        return node


_GO_ORDER = ("id", "name", "displayName", "type", "templateName", "templateRef", "templateScope", "phase",
             "boundaryID", "message", "startedAt", "finishedAt", "estimatedDuration", "progress",
             "resourcesDuration", "podIP", "daemoned", "nodeFlag", "inputs", "outputs", "children",
             "outboundNodes", "hostNodeName", "memoizationStatus", "synchronizationStatus", "taskResultSynced")


def _in_go_order(node: dict) -> dict:
    return {k: node[k] for k in _GO_ORDER if k in node and (node[k] or k == "nodeFlag")}


def _child(node: dict, child_id: str) -> None:
    if child_id not in node["children"]:  # addChildNode: an edge is added once
        node["children"].append(child_id)


def _progress(node: dict, by_id: dict[str, dict], visited: set[str]) -> int:
    """``sumProgress``: the executable nodes reachable through ``children`` (each counted once)."""
    total = 0
    for child_id in node.get("children") or ():
        if child_id in visited or child_id not in by_id:
            continue
        visited.add(child_id)
        child = by_id[child_id]
        total += _progress(child, by_id, visited) + (1 if child["type"] in _EXECUTABLE else 0)
    return total
