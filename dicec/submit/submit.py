"""Creating a compiled file's objects in a cluster, and following a Workflow until it ends.

:func:`submit_documents` creates, in file order with plain Kubernetes objects first, every document of
a ``dicec compile`` output: Argo ``Workflow``, ``WorkflowTemplate``, ``CronWorkflow`` (namespaced) and
``ClusterWorkflowTemplate`` through the custom-objects API of ``argoproj.io/v1alpha1``, and the plain
objects of services mode (:data:`PLAIN_KINDS`: the agent's ``ServiceAccount``, token ``Secret``,
``Role`` and ``RoleBinding``, the servers' ``Deployment`` and ``Service``) through the core, RBAC and
apps APIs (they are long-lived and shared by the namespace's workflows, so one that exists already is
left as it is and reported). A
Workflow with ``generateName`` gets its name from the API server; the created names are returned.

:func:`watch` polls a Workflow's ``status.phase`` until it is ``Succeeded``, ``Failed`` or ``Error``
(or a time limit passes), reporting each change, and returns the final object; Argo keeps the entry
template's outputs (a dicec workflow's ``answer`` or ``answers``) on the workflow's root node.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable

from dicec.errors import DicecError
from dicec.submit.connection import REQUEST_TIMEOUT, Connection, api_error

GROUP, VERSION = "argoproj.io", "v1alpha1"
#: Argo kinds and their resource names (``True``: cluster-scoped).
ARGO_KINDS = {"Workflow": ("workflows", False), "WorkflowTemplate": ("workflowtemplates", False),
              "CronWorkflow": ("cronworkflows", False), "ClusterWorkflowTemplate": ("clusterworkflowtemplates", True)}
#: Services mode's plain kinds: the kubernetes client's API class and method that create each one.
PLAIN_KINDS = {"ServiceAccount": ("CoreV1Api", "create_namespaced_service_account"),
               "Secret": ("CoreV1Api", "create_namespaced_secret"),
               "Role": ("RbacAuthorizationV1Api", "create_namespaced_role"),
               "RoleBinding": ("RbacAuthorizationV1Api", "create_namespaced_role_binding"),
               "Deployment": ("AppsV1Api", "create_namespaced_deployment"),
               "Service": ("CoreV1Api", "create_namespaced_service")}
FINAL_PHASES = ("Succeeded", "Failed", "Error")


@dataclass(frozen=True, kw_only=True)
class Created:
    """One object the API server created (or found already there).

    Attributes:
        kind: its kind.
        name: its name (filled in by the server for a ``generateName``).
        namespace: its namespace, or ``None`` when cluster-scoped.
        uid: the server's ``metadata.uid``.
        existed: it was there already and left unchanged (services-mode model servers only).
    """

    kind: str
    name: str
    namespace: str | None
    uid: str | None = None
    existed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace, "uid": self.uid,
                "existed": self.existed}


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What will be created, checked before anything is sent.

    Attributes:
        documents: the documents, plain Kubernetes objects first, each with its namespace set.
        namespace: the namespace namespaced objects go to.
    """

    documents: tuple[dict, ...]
    namespace: str


def plan(documents: list[dict], *, namespace: str, parameters: dict[str, str], where: str) -> Plan:
    """Check ``documents`` and set their namespace and ``parameters`` (``-p``) before anything is sent."""
    if not documents:
        raise DicecError(f"{where}: no documents to submit")
    out = []
    for i, doc in enumerate(documents):
        if not isinstance(doc, dict):
            raise DicecError(f"{where}: document {i + 1} is not a mapping")
        kind = doc.get("kind")
        if kind not in ARGO_KINDS and kind not in PLAIN_KINDS:
            raise DicecError(f"{where}: document {i + 1} is a {kind or 'document without kind'}; dicec submit "
                             f"creates {', '.join([*ARGO_KINDS, *PLAIN_KINDS])}")
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
            raise DicecError(f"{where}: the {kind} (document {i + 1}) has neither metadata.name nor generateName")
        doc = copy.deepcopy(doc)
        if not (kind in ARGO_KINDS and ARGO_KINDS[kind][1]):
            doc["metadata"]["namespace"] = namespace
        out.append(doc)
    if parameters:
        _set_parameters(out, parameters, where)
    out.sort(key=lambda d: 0 if d["kind"] in PLAIN_KINDS else 1)  # stable: servers before the workflow
    return Plan(documents=tuple(out), namespace=namespace)


def _set_parameters(documents: list[dict], parameters: dict[str, str], where: str) -> None:
    argo = [d for d in documents if d["kind"] in ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate")]
    if not argo:
        raise DicecError(f"{where}: -p needs a Workflow or WorkflowTemplate to set parameters on")
    for doc in argo:
        declared = ((doc.get("spec") or {}).get("arguments") or {}).get("parameters") or []
        names = {p.get("name") for p in declared}
        unknown = sorted(set(parameters) - names)
        if unknown:
            raise DicecError(f"-p {unknown[0]}: the {doc['kind']} has no parameter {unknown[0]!r} "
                             f"(it has: {', '.join(sorted(n for n in names if n)) or 'none'})")
        for p in declared:
            if p.get("name") in parameters:
                p["value"] = parameters[p["name"]]


def submit_documents(conn: Connection, the_plan: Plan, *, log: Callable[[str], None]) -> list[Created]:
    """Create every document of ``the_plan``; the first refusal stops with one line (see ``api_error``)."""
    created = []
    for doc in the_plan.documents:
        created.append(_create(conn, doc, log=log))
    return created


def _create(conn: Connection, doc: dict, *, log: Callable[[str], None]) -> Created:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    kind, meta = doc["kind"], doc["metadata"]
    label = f"{kind} {meta.get('name') or meta.get('generateName') + '...'}"
    namespace = meta.get("namespace")
    try:
        if kind in ARGO_KINDS:
            plural, cluster = ARGO_KINDS[kind]
            api = client.CustomObjectsApi(conn.api)
            if cluster:
                body = api.create_cluster_custom_object(GROUP, VERSION, plural, doc, _request_timeout=REQUEST_TIMEOUT)
            else:
                body = api.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, doc,
                                                           _request_timeout=REQUEST_TIMEOUT)
        else:
            try:
                api_class, method = PLAIN_KINDS[kind]
                create = getattr(getattr(client, api_class)(conn.api), method)
                result = create(namespace, doc, _request_timeout=REQUEST_TIMEOUT)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                log(f"{kind} {namespace}/{meta['name']} exists already; left unchanged")
                return Created(kind=kind, name=meta["name"], namespace=namespace, existed=True)
            body = conn.api.sanitize_for_serialization(result)
    except Exception as exc:  # ApiException and connection errors: one line
        raise api_error(exc, doing=f"creating the {label} in {namespace or 'the cluster'}", host=conn.host) from None
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict) or not body["metadata"].get("name"):
        raise DicecError(f"creating the {label}: the API server's answer has no metadata.name")
    out = body["metadata"]
    return Created(kind=kind, name=out["name"], namespace=out.get("namespace", namespace), uid=out.get("uid"))


def get_workflow(conn: Connection, name: str, namespace: str) -> dict:
    """The Workflow object as the API server has it now."""
    from kubernetes import client

    try:
        return client.CustomObjectsApi(conn.api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "workflows", name, _request_timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        raise api_error(exc, doing=f"reading Workflow {namespace}/{name}", host=conn.host) from None


def phase_line(wf: dict) -> str:
    """``Running 3/25`` from a Workflow's status (``Pending`` before the controller has seen it)."""
    status = wf.get("status") or {}
    text = str(status.get("phase") or "Pending")
    if status.get("progress"):
        text += f" {status['progress']}"
    return text


def watch(conn: Connection, name: str, namespace: str, *, interval: float, timeout: float | None,
          progress: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep) -> dict:
    """Poll the Workflow until its phase is final; ``progress`` gets every new status line."""
    start = clock()
    last = None
    while True:
        wf = get_workflow(conn, name, namespace)
        line = phase_line(wf)
        if line != last:
            progress(line)
            last = line
        if (wf.get("status") or {}).get("phase") in FINAL_PHASES:
            return wf
        if timeout is not None and clock() - start >= timeout:
            raise DicecError(f"Workflow {namespace}/{name} is still {line} after {timeout:g} s "
                             f"(it keeps running; argo watch -n {namespace} {name})")
        sleep(interval)


def workflow_outputs(wf: dict) -> dict[str, str]:
    """The entry template's output parameters, from the workflow's root node (``status.nodes[NAME]``, or
    ``status.compressedNodes`` where Argo compressed a large workflow's node statuses)."""
    name = (wf.get("metadata") or {}).get("name")
    status = wf.get("status") or {}
    nodes = status.get("nodes") or (node_statuses(status["compressedNodes"]) if status.get("compressedNodes") else {})
    root = nodes.get(name) if isinstance(nodes, dict) else None
    if not isinstance(root, dict):
        root = next((n for n in nodes.values() if isinstance(n, dict) and n.get("name") == name), None) \
            if isinstance(nodes, dict) else None
    params = ((root or {}).get("outputs") or {}).get("parameters") or []
    return {str(p.get("name")): str(p.get("value", "")) for p in params if isinstance(p, dict)}


def node_statuses(compressed: str) -> dict:
    """``status.compressedNodes`` read back: base64 of the gzip of the node map's JSON (Argo v4.1's default;
    a controller set to zstd or brotli writes what this cannot read, said in one line)."""
    import base64
    import binascii
    import gzip
    import json

    try:
        data = base64.b64decode(compressed, validate=True)
    except (binascii.Error, ValueError):
        raise DicecError("status.compressedNodes is not base64") from None
    if data[:2] != b"\x1f\x8b":
        raise DicecError("status.compressedNodes is not gzip (the controller's WORKFLOW_COMPRESSION_ALGORITHM is "
                         "zstd or brotli, which dicec submit does not read); argo get shows the outputs")
    try:
        nodes = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError):
        raise DicecError("status.compressedNodes is not a gzip-compressed JSON node map") from None
    return nodes if isinstance(nodes, dict) else {}
