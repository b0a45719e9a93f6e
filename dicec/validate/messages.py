"""Diagnostics the workflow validator reports, in the style of pyflakes' ``messages`` module.

One small frozen dataclass per kind of problem. Each carries a :class:`~dicec.errors.Location` (the
file and the 1-based line of the offending YAML node), ``where`` (the document path of that node, e.g.
``spec.templates[1].nodeSelecter``) and the values its message is built from. ``str(d)`` is exactly one
line::

    wf.yaml:14: spec.templates[1].nodeSelecter: unknown field 'nodeSelecter' (did you mean 'nodeSelector'?)

Diagnostics compare equal field by field and sort by line (see :func:`sort_key`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from dicec.errors import Location


@dataclass(frozen=True, kw_only=True)
class Diagnostic:
    """A problem in a workflow file.

    Attributes:
        location: the file, the 1-based line and, where known, the 0-based column of the offending
            node (``line`` is ``None`` for a document validated without its text, see
            :func:`dicec.validate.validate_document`).
        where: the document path of the node, e.g. ``spec.templates[0].dag.tasks[2].depends``;
            empty when the problem is about the document (or file) as a whole.
    """

    location: Location
    where: str = ""

    #: ``str.format`` template of the detail, filled from the subclass's own fields.
    text: ClassVar[str] = "problem"

    @property
    def path(self) -> str:
        """The file as the user named it."""
        return self.location.path

    @property
    def line(self) -> int | None:
        """1-based line of the offending node."""
        return self.location.line

    @property
    def detail(self) -> str:
        """What is wrong, without the document path."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("location", "where")}
        return self.text.format(**values)

    @property
    def message(self) -> str:
        """``where: detail``, on one line."""
        text = f"{self.where}: {self.detail}" if self.where else self.detail
        return " ".join(text.split())

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def sort_key(d: Diagnostic) -> tuple:
    """Order of report: by line, then document path, then kind."""
    return (d.line if d.line is not None else 0, d.where, type(d).__name__, d.detail)


# --- the file and its documents ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class YamlError(Diagnostic):
    """The text is not valid YAML (reported once, at the line the parser stopped).

    Attributes:
        problem: the parser's complaint.
    """

    problem: str
    text: ClassVar[str] = "not valid YAML: {problem}"


@dataclass(frozen=True, kw_only=True)
class DuplicateKey(Diagnostic):
    """A mapping repeats a key (YAML keeps the last silently; Kubernetes' parser refuses it).

    Attributes:
        key: the repeated key.
    """

    key: str
    text: ClassVar[str] = "key {key!r} appears more than once in this mapping"


@dataclass(frozen=True, kw_only=True)
class NoDocuments(Diagnostic):
    """The file holds comments only, no YAML document."""

    text: ClassVar[str] = "the file holds no YAML document"


@dataclass(frozen=True, kw_only=True)
class NotAMapping(Diagnostic):
    """A document is not a mapping (a list, a scalar).

    Attributes:
        found: what it is instead, e.g. ``a list``.
    """

    found: str
    text: ClassVar[str] = "a document must be a mapping, not {found}"


@dataclass(frozen=True, kw_only=True)
class NotAWorkflow(Diagnostic):
    """A document is neither an Argo workflow kind nor a plain Kubernetes manifest.

    Attributes:
        kind: its ``kind`` (``None`` when it has none).
        api_version: its ``apiVersion`` (``None`` when it has none).
    """

    kind: object
    api_version: object

    @property
    def detail(self) -> str:
        kinds = "Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow"
        if self.kind is None:
            return f"the document has no kind; a workflow file holds {kinds} documents"
        return f"kind {self.kind!r} (apiVersion {self.api_version!r}) is not an Argo workflow kind ({kinds})"


# --- Argo's schema ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SchemaViolation(Diagnostic):
    """A value does not match Argo's JSON schema (wrong type, missing required field, bad enum value).

    Attributes:
        problem: the schema's complaint, one line.
    """

    problem: str
    text: ClassVar[str] = "{problem}"


@dataclass(frozen=True, kw_only=True)
class UnknownField(Diagnostic):
    """A key that Argo's schema does not define at that place (Argo would silently drop it).

    Attributes:
        field: the key.
        suggestion: the closest known key, or ``None``.
    """

    field: str
    suggestion: str | None = None

    @property
    def detail(self) -> str:
        hint = f"did you mean {self.suggestion!r}?" if self.suggestion else "not in Argo's schema"
        return f"unknown field {self.field!r} ({hint})"


# --- names --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BadName(Diagnostic):
    """A name breaks Kubernetes' or Argo's naming rules.

    Attributes:
        what: which name, e.g. ``metadata.name``, ``task name``, ``label value``.
        name: the name.
        rule: the rule it breaks.
    """

    what: str
    name: object
    rule: str
    text: ClassVar[str] = "{what} {name!r} is not valid: {rule}"


@dataclass(frozen=True, kw_only=True)
class MissingName(Diagnostic):
    """The resource has neither ``metadata.name`` nor ``metadata.generateName``."""

    text: ClassVar[str] = "needs a name or a generateName"


@dataclass(frozen=True, kw_only=True)
class DuplicateName(Diagnostic):
    """Two templates, tasks, steps, parameters or artifacts share a name.

    Attributes:
        what: e.g. ``template``, ``task``, ``input parameter``.
        name: the shared name.
    """

    what: str
    name: str
    text: ClassVar[str] = "{what} {name!r} is defined more than once"


# --- templates and DAGs -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UnknownTemplate(Diagnostic):
    """A ``template:``, ``entrypoint`` or ``onExit`` names no template of the file.

    Attributes:
        name: the template name referred to.
        suggestion: the closest defined template, or ``None``.
    """

    name: str
    suggestion: str | None = None

    @property
    def detail(self) -> str:
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return f"template {self.name!r} is not defined in this file{hint}"


@dataclass(frozen=True, kw_only=True)
class MissingEntrypoint(Diagnostic):
    """A Workflow or CronWorkflow has no ``entrypoint`` (and no ``workflowTemplateRef`` to take one from)."""

    text: ClassVar[str] = "spec.entrypoint is required: name the template the workflow starts with"


@dataclass(frozen=True, kw_only=True)
class BadTemplate(Diagnostic):
    """A template defines no type, or more than one (Argo needs exactly one of container, script, dag, ...).

    Attributes:
        problem: what is wrong.
    """

    problem: str
    text: ClassVar[str] = "{problem}"


@dataclass(frozen=True, kw_only=True)
class CycleInDag(Diagnostic):
    """The tasks of a DAG depend on each other in a circle.

    Attributes:
        cycle: the task names along the cycle, the first repeated at the end.
    """

    cycle: tuple[str, ...]

    @property
    def detail(self) -> str:
        return "the DAG has a dependency cycle: " + " -> ".join(self.cycle) + " (each task depends on the next)"


@dataclass(frozen=True, kw_only=True)
class UnknownDependency(Diagnostic):
    """A DAG task depends on a task that is not in the same DAG.

    Attributes:
        task: the depending task.
        dependency: the name it depends on.
    """

    task: str
    dependency: str
    text: ClassVar[str] = "task {task!r} depends on {dependency!r}, which is not a task of this DAG"


@dataclass(frozen=True, kw_only=True)
class BadDependsExpression(Diagnostic):
    """A ``depends`` expression does not parse (it allows task names with an optional ``.Succeeded``-style
    result, ``&&``, ``||``, ``!`` and parentheses).

    Attributes:
        expression: the expression.
        problem: why it does not parse.
    """

    expression: str
    problem: str
    text: ClassVar[str] = "cannot parse depends expression {expression!r}: {problem}"


@dataclass(frozen=True, kw_only=True)
class BadDag(Diagnostic):
    """A DAG breaks one of Argo's rules that is not a cycle or a missing task (mixing ``depends`` and
    ``dependencies``, ``continueOn`` with ``depends``, an unknown target, ...).

    Attributes:
        problem: which rule.
    """

    problem: str
    text: ClassVar[str] = "{problem}"


# --- {{...}} references ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UnresolvedReference(Diagnostic):
    """A ``{{...}}`` reference (or a name inside an expression) that names nothing that exists there.

    Attributes:
        reference: the reference, without braces, e.g. ``inputs.parameters.nope`` (for an expression,
            the variable as dotted path: ``inputs.parameters['x']`` is ``inputs.parameters.x``).
        reason: why it does not resolve.
        expression: the expression it was found in (a ``{{=...}}`` tag or an ``expression:`` field), or
            ``None`` for a plain ``{{...}}`` tag.
    """

    reference: str
    reason: str
    expression: str | None = None

    @property
    def detail(self) -> str:
        if self.expression is None:
            return f"{{{{{self.reference}}}}} does not resolve: {self.reason}"
        expr = " ".join(self.expression.split())
        expr = expr if len(expr) <= 60 else expr[:57] + "..."
        return f"{self.reference} in expression {expr!r} does not resolve: {self.reason}"


#: Every diagnostic class, by name.
ALL: dict[str, type[Diagnostic]] = {
    cls.__name__: cls
    for cls in (YamlError, DuplicateKey, NoDocuments, NotAMapping, NotAWorkflow, SchemaViolation, UnknownField, BadName,
                MissingName, DuplicateName, UnknownTemplate, MissingEntrypoint, BadTemplate, CycleInDag,
                UnknownDependency, BadDependsExpression, BadDag, UnresolvedReference)
}
