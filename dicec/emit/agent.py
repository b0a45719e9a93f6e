"""What Argo's agent needs to send a workflow's HTTP steps: a ServiceAccount, its token and a Role.

Argo runs a workflow's ``http`` templates (:mod:`dicec.emit.http`) in one *agent* pod per workflow, which
the controller creates with the Workflow's ``spec.serviceAccountName`` and that account's token mounted
explicitly (the pod itself does not automount one). The agent watches the workflow's WorkflowTaskSet
for requests to send and patches the results into its status. So services mode emits, before the
servers and the Workflow (read from Argo v4.1.2: ``cmd/argoexec/commands/agent.go``,
``workflow/executor/agent.go``, ``workflow/controller/agent.go``,
``manifests/quick-start/base/agent-role.yaml``):

* a **ServiceAccount**, :data:`AGENT_ACCOUNT` or the ``--service-account`` name, with
  ``automountServiceAccountToken: false`` (no other pod that uses it gets the token);
* a **Secret** ``NAME.service-account-token`` of type ``kubernetes.io/service-account-token``: the
  controller mounts the token of the Secret named this way (``util/secrets`` ``TokenNameForServiceAccount``),
  and since Kubernetes 1.24 no such Secret is created for an account any more; Kubernetes fills it in;
* a **Role** granting exactly what the v4.1.2 agent calls and Argo's quick-start agent role grants:
  ``list`` and ``watch`` on ``workflowtasksets`` (its watch, by field selector on the workflow's name)
  and ``patch`` on ``workflowtasksets/status`` (its results, every patch tick). It never calls ``get`` or
  ``patch`` on ``workflowtasksets`` itself, so those are not granted;
* a **RoleBinding** of that Role to that account.

The Workflow's ``spec.serviceAccountName`` names the account (:func:`agent_account`). Argo's executor in
the step pods that remain (edge steps) keeps its own account (``--executor-service-account``, else
``default``), so the agent's rights reach no step container. Documents are deterministic, in the order
above, and labelled like the servers (``app.kubernetes.io/part-of``), so one ``kubectl apply -l`` installs
them all.
"""

from __future__ import annotations

from typing import Any

from dicec.errors import DicecError

AGENT_ACCOUNT = "dicec-agent"
AGENT_ROLE = "dicec-agent"
AGENT_COMPONENT = "agent"
TOKEN_SUFFIX = ".service-account-token"
#: The rules of Argo v4.1.2's quick-start agent Role: what its agent calls, nothing more.
AGENT_RULES = (
    {"apiGroups": ["argoproj.io"], "resources": ["workflowtasksets"], "verbs": ["list", "watch"]},
    {"apiGroups": ["argoproj.io"], "resources": ["workflowtasksets/status"], "verbs": ["patch"]},
)
_MAX_NAME = 253


def agent_account(options: Any) -> str:
    """The account the agent runs as: ``--service-account``, else :data:`AGENT_ACCOUNT`."""
    return options.service_account or AGENT_ACCOUNT


def agent_manifests(options: Any) -> list[dict[str, Any]]:
    """The ServiceAccount, its token Secret, the Role and the RoleBinding (the module docstring)."""
    from dicec.emit.services import PART_OF

    account = agent_account(options)
    token = account + TOKEN_SUFFIX
    if len(token) > _MAX_NAME:
        raise DicecError(f"--service-account {account!r} is too long for its token Secret's name {token!r} "
                         f"(at most {_MAX_NAME} characters)")
    binding = AGENT_ROLE if account == AGENT_ACCOUNT else f"{AGENT_ROLE}-{account}"[:_MAX_NAME].rstrip("-.")

    def metadata(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if options.namespace:
            meta["namespace"] = options.namespace
        meta["labels"] = {"app.kubernetes.io/component": AGENT_COMPONENT, "app.kubernetes.io/managed-by": "dicec",
                          "app.kubernetes.io/part-of": PART_OF}
        if annotations:
            meta["annotations"] = annotations
        return meta

    subject: dict[str, Any] = {"kind": "ServiceAccount", "name": account}
    if options.namespace:
        subject["namespace"] = options.namespace
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(account),
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": metadata(token, {"kubernetes.io/service-account.name": account}),
         "type": "kubernetes.io/service-account-token"},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata(AGENT_ROLE),
         "rules": [dict(r, apiGroups=list(r["apiGroups"]), resources=list(r["resources"]), verbs=list(r["verbs"]))
                   for r in AGENT_RULES]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata(binding),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": AGENT_ROLE},
         "subjects": [subject]},
    ]
