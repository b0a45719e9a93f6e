"""Plain Kubernetes manifests beside a workflow (services mode's Deployments and Services).

A ``dicec compile --mode services`` stream holds Deployments and Services before the Workflow.
:func:`manifest_findings` checks such a document -- one dicec wrote, labelled
``app.kubernetes.io/managed-by: dicec``; other manifests (a user's fragments, patches) are skipped, as
they always were -- against Kubernetes' own OpenAPI schema, strictly
(unknown fields refused), through the ``kubernetes-validate`` package when it is installed (it is in
the ``test`` extra; ``pip install kubernetes-validate`` adds it anywhere), for :data:`K8S_VERSION`.
Without the package, or for a kind it has no schema for (a custom resource), the document is skipped
without a diagnostic: dicec validates what it can, and says nothing it cannot back. What was skipped
for want of the package is said plainly, once, by ``dicec validate`` (:func:`skipped_note`).
Each finding is a :class:`~dicec.validate.messages.SchemaViolation` at the offending node.
"""

from __future__ import annotations

from typing import Any, Callable

from dicec.errors import Location
from dicec.validate import messages as m

#: The Kubernetes version manifests are checked against (one kubernetes-validate ships schemas for).
K8S_VERSION = "1.30.0"
#: Only documents dicec wrote (this label says ``dicec``) are checked; others are the user's business.
MANAGED_BY = "app.kubernetes.io/managed-by"


def manifest_findings(doc: dict[str, Any], at: Callable[[tuple], Location],
                      render: Callable[[tuple], str]) -> list[m.Diagnostic]:
    """Diagnostics for one plain Kubernetes document (``[]`` when it is valid or cannot be checked)."""
    if not is_managed(doc):
        return []
    try:
        import kubernetes_validate
    except ImportError:
        return []
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = tuple(exc.path)
        return [m.SchemaViolation(location=at(path), where=render(path),
                                  problem=f"Kubernetes {K8S_VERSION} {doc.get('kind')}: {' '.join(str(exc.message).split())}")]
    except Exception:  # no schema for this kind or version (a custom resource): not ours to judge
        return []
    return []


def is_managed(doc: Any) -> bool:
    """Whether ``doc`` is a plain Kubernetes manifest dicec wrote (labelled ``managed-by: dicec``)."""
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return (isinstance(labels, dict) and labels.get(MANAGED_BY) == "dicec"
            and not str(doc.get("apiVersion", "")).startswith("argoproj.io/"))


def checks_available() -> bool:
    """Whether ``kubernetes-validate`` is installed (the manifest checks run)."""
    import importlib.util

    return importlib.util.find_spec("kubernetes_validate") is not None


def skipped_note(paths: list[str]) -> str | None:
    """When ``kubernetes-validate`` is missing, one line naming the files whose Kubernetes manifests were
    therefore not checked; ``None`` when it is installed or no file holds such a manifest."""
    if checks_available():
        return None
    import yaml

    skipped = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                if any(is_managed(doc) for doc in yaml.safe_load_all(fh)):
                    skipped.append(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # validate reported it
    if not skipped:
        return None
    return (f"dicec validate: note: the Kubernetes manifests (Deployments, Services) in {', '.join(skipped)} were "
            "not checked against Kubernetes' schema, because kubernetes-validate is not installed "
            "(pip install kubernetes-validate)")
