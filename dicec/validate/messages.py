"""Diagnostics the workflow validator reports: one small class per kind, with message and location.

``str(d)`` is one line, ``path:line: where: message``, where ``where`` is the document path of the
offending node (``spec.templates[1].nodeSelecter``) and ``line`` its line in the YAML file.
"""

from __future__ import annotations


class Diagnostic:
    """A problem in a workflow file.

    Attributes:
        path: the file (or ``<string>``).
        line: 1-based line of the offending node (the document's first line when unknown).
        where: the document path, e.g. ``spec.templates[0].dag.tasks[2]``; empty for the document.
        message_args: the values substituted into ``message``.
    """

    message = "problem"

    def __init__(self, path: str, line: int, where: str, *message_args: object) -> None:
        self.path = path
        self.line = line
        self.where = where
        self.message_args = message_args

    @property
    def text(self) -> str:
        return " ".join((self.message % self.message_args).split())

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"{self.path}:{self.line}: {prefix}{self.text}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"


class YamlError(Diagnostic):
    message = "not valid YAML: %s"


class NotAMapping(Diagnostic):
    message = "a document must be a mapping, not %s"


class NotAWorkflow(Diagnostic):
    message = "kind %r is not an Argo workflow kind (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow)"


class SchemaViolation(Diagnostic):
    message = "%s"


class UnknownField(Diagnostic):
    message = "unknown field %r (not in Argo's schema; a typo?)"


class CycleInDag(Diagnostic):
    message = "the DAG has a cycle: %s"


class UnknownDependency(Diagnostic):
    message = "task %r depends on %r, which is not a task of this DAG"


class BadDependsExpression(Diagnostic):
    message = "cannot parse depends expression %r: %s"


class UnknownTemplate(Diagnostic):
    message = "template %r is not defined in this file"


class DuplicateName(Diagnostic):
    message = "%s %r is defined more than once"


class UnresolvedReference(Diagnostic):
    message = "{{%s}} does not resolve: %s"


class BadName(Diagnostic):
    message = "%s %r is not valid: %s"
