"""Reading a workflow file: its YAML documents, and the Argo Workflow among them.

A compiled file is a YAML stream: in services mode the model servers' Deployments and Services come
before the Workflow. :func:`read_documents` reads every document (invalid YAML is one error with its
line); :func:`load_workflow` picks the Workflow (or WorkflowTemplate) that ``dicec run`` executes, and
:mod:`dicec.runner.localservices` the servers it starts. ``dicec submit`` reads files the same way.
"""

from __future__ import annotations

from dicec.errors import DicecError, Location


def read_documents(path: str) -> list:
    """The documents of a YAML file (empty ones left out); invalid YAML is one error with its line."""
    import yaml

    from dicec.files import read_text

    text = read_text(path, what="workflow")
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DicecError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                         location=Location(path=path, line=mark.line + 1 if mark else None)) from None


def load_workflow(path: str, docs: list | None = None) -> dict:
    """The Workflow document of a YAML file (the first with ``kind: Workflow`` or ``WorkflowTemplate``);
    ``docs``: the file's documents when already read (:func:`read_documents`)."""
    for d in read_documents(path) if docs is None else docs:
        if isinstance(d, dict) and d.get("kind") in ("Workflow", "WorkflowTemplate") and isinstance(d.get("spec"), dict):
            return d
    raise DicecError("no Argo Workflow in this file (expected kind: Workflow)", location=Location(path=path))
