"""What Argo's schema cannot see: graph structure, references between parts of a workflow, and names.

For each Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow document
(:func:`semantic_findings`):

- **Templates.** Names are unique and follow Argo's rule; each template has exactly one type; every
  ``template:`` of a step or DAG task, ``entrypoint``, ``onExit`` and hook names a template of the
  document (steps and tasks using ``templateRef`` are not followed: the template lives elsewhere). A
  Workflow or CronWorkflow needs an ``entrypoint`` unless it uses ``workflowTemplateRef``, in which
  case it has no templates of its own and takes entrypoint, templates and parameters from the
  referenced WorkflowTemplate.
- **DAGs.** Every name in ``dependencies`` and in ``depends`` expressions (task names with optional
  ``.Succeeded``, ``.Failed``, ``.Errored``, ``.Skipped``, ``.Omitted``, ``.Daemoned``,
  ``.AnySucceeded``, ``.AllFailed``, combined with ``&&``, ``||``, ``!`` and parentheses) is a task of
  the same DAG; there is no dependency cycle; Argo's further DAG rules (no mixing of ``depends`` and
  ``dependencies``, no ``continueOn`` with ``depends``, items-based results only on looping tasks,
  targets are tasks, task names do not start with a digit when dependencies are used).
- **References.** Every ``{{...}}`` tag whose root is one of Argo's variable roots resolves where it
  stands, following Argo's ``docs/variables.md`` and ``workflow/validate/validate.go``:
  ``inputs.parameters.X`` / ``inputs.artifacts.X`` are inputs of the enclosing template;
  ``outputs.parameters.X`` / ``outputs.artifacts.X`` are its outputs; ``workflow.parameters.X`` is in
  ``spec.arguments.parameters`` (any name is accepted in a WorkflowTemplate or with a
  ``workflowTemplateRef``, where the parameters come from elsewhere); ``workflow.labels.X`` /
  ``workflow.annotations.X`` are set on the workflow; ``workflow.outputs.parameters.X`` is some output's
  ``globalName``; ``workflow.priority`` needs ``spec.priority``; the other ``workflow.*`` globals
  (``name``, ``namespace``, ``uid``, ``mainEntrypoint``, ``serviceAccountName``, ``status``,
  ``failures``, ``duration``, ``scheduledTime``, ``creationTimestamp[.X]``, ``parameters[.json]``,
  ``labels[.json]``, ``annotations[.json]``) are known; ``steps.S.*`` / ``tasks.T.*`` name a step of an
  earlier step group / a task of the same DAG and one of its variables (``id``, ``ip``, ``status``,
  ``exitCode``, ``startedAt``, ``finishedAt``, ``hostNodeName``, ``outputs.result``,
  ``outputs.parameters[.X]``, ``outputs.artifacts.X``) with ``X`` declared by its template when that
  template is in the file; ``item`` / ``item.K`` appear only in a step or task with ``withItems``,
  ``withParam`` or ``withSequence`` (``K`` a key of the items when they are literal maps);
  ``pod.name`` only in pod templates; ``node.name``, ``retries``, ``lastRetry.{exitCode,status,
  duration,message}`` and the metric variables (``status``, ``duration``, ``exitCode``,
  ``resourcesDuration.{cpu,memory}``) are known. Tags with any other root are left alone, as Argo
  does (they are often Go, Helm or Jinja templates in a script), unless the root is a near-miss of an
  Argo root (``{{input.parameters.x}}``).
- **Expressions** (``{{=...}}`` tags and ``expression:`` fields) are checked best-effort: every
  ``inputs.*``, ``outputs.*``, ``workflow.*``, ``steps.*``, ``tasks.*``, ``item`` chain in them,
  including the ``x['name']`` index form, is resolved as above; everything else in an expression
  (functions, ``sprig``, ``jsonpath``, local names) is not evaluated.
- **Names.** ``metadata.name`` is a DNS-1123 subdomain (at most 253 characters; Argo allows at most
  63 for workflows and templates, 52 for CronWorkflows); a ``generateName`` prefix follows the same
  rule once its trailing ``-`` is set aside; template, step and task names match Argo's
  ``^[a-zA-Z0-9][-a-zA-Z0-9]*$`` with at most 128 characters; parameter and artifact names match
  ``^[-a-zA-Z0-9_]+$``; label and annotation keys are Kubernetes qualified names, label values at most
  63 characters of ``[-A-Za-z0-9_.]`` starting and ending alphanumeric.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from dicec.validate import messages as m

# --- Argo's and Kubernetes' name rules -----------------------------------------------------------------

#: Argo's template/step/task name rule (workflow/validate/validate.go: workflowFieldNameFmt, workflowFieldMaxLength).
FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
FIELD_NAME_MAX = 128
FIELD_NAME_RULE = "use letters, digits and '-', starting with a letter or digit, at most 128 characters"
#: Argo's parameter/artifact name rule (paramOrArtifactNameRegex).
PARAM_NAME = re.compile(r"[-a-zA-Z0-9_]+")
PARAM_NAME_RULE = "use letters, digits, '-' and '_'"
_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
DNS_SUBDOMAIN_RULE = ("it must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and "
                      "ending with a letter or digit)")
#: Argo's limit on the names of its resources (maxCharsInObjectName, maxCharsInCronWorkflowName).
MAX_NAME = {"Workflow": 63, "WorkflowTemplate": 63, "ClusterWorkflowTemplate": 63, "CronWorkflow": 52}
LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
LABEL_VALUE_RULE = "use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"

TEMPLATE_TYPES = ("container", "containerSet", "script", "resource", "dag", "steps", "suspend", "data", "http", "plugin")
POD_TYPES = ("container", "containerSet", "script", "resource", "data")
NO_RESULT_TYPES = ("dag", "steps", "suspend")
LOOP_KEYS = ("withItems", "withParam", "withSequence")
TASK_RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
ITEM_RESULTS = ("AnySucceeded", "AllFailed")

#: ``workflow.X`` globals that need nothing declared (common.go GlobalVarWorkflow*).
WORKFLOW_GLOBALS = {"name", "namespace", "uid", "mainEntrypoint", "serviceAccountName", "status", "failures",
                    "duration", "scheduledTime", "creationTimestamp", "parameters", "labels", "annotations"}
#: ``steps.S.X`` / ``tasks.T.X`` fields other than outputs (validate.go addOutputsToScope, variables.md).
CHILD_FIELDS = {"id", "ip", "status", "exitCode", "startedAt", "finishedAt", "hostNodeName"}
LAST_RETRY_FIELDS = {"exitCode", "status", "duration", "message"}
#: Roots Argo defines; a tag with another root is left alone unless it is a near miss of one of these.
ROOTS = ("inputs", "outputs", "workflow", "steps", "tasks", "item", "pod", "node", "retries", "lastRetry",
         "status", "duration", "exitCode", "resourcesDuration")
EXPRESSION_ROOTS = ("inputs", "outputs", "workflow", "steps", "tasks", "item")

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A semantic problem before it is given a line.

    Attributes:
        location: the path inside the document.
        kind: the diagnostic class.
        fields: the diagnostic's own fields.
        offset: for a problem inside a string, the character offset in that string (so the line inside
            a block scalar can be exact), else ``None``.
    """

    location: tuple[Any, ...]
    kind: type[m.Diagnostic]
    fields: dict[str, Any]
    offset: int | None = None


def workflow_spec(doc: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """Where the workflow spec is: ``spec``, or ``spec.workflowSpec`` for a CronWorkflow."""
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return ("spec",), None
    if doc.get("kind") == "CronWorkflow":
        inner = spec.get("workflowSpec")
        return ("spec", "workflowSpec"), inner if isinstance(inner, dict) else None
    return ("spec",), spec


def semantic_findings(doc: dict[str, Any]) -> list[Finding]:
    """Every semantic problem of one Argo document (``doc['kind']`` one of the four Argo kinds)."""
    checker = _Checker(doc)
    checker.run()
    return checker.findings


# --- scopes -------------------------------------------------------------------------------------------------


@dataclass
class _Child:
    """A step or DAG task, as other steps or tasks see it."""

    name: str
    node: dict
    group: int  # step group index (0 for DAG tasks)
    order: int  # position among all steps/tasks of the template
    target: dict | None  # its template when that is in the file, else None
    loops: bool


@dataclass
class _Scope:
    """What a template's strings can refer to."""

    template: dict | None  # None: the workflow spec outside templates
    inputs: dict[str, set[str]] = field(default_factory=lambda: {"parameters": set(), "artifacts": set()})
    outputs: dict[str, set[str]] = field(default_factory=lambda: {"parameters": set(), "artifacts": set()})
    children_kind: str | None = None  # "steps", "tasks" or None
    children: dict[str, _Child] = field(default_factory=dict)
    pod: bool = False


@dataclass(frozen=True)
class _Loop:
    """The items of a looping step or task: ``keys`` is the set of keys ``item.K`` may use (``None``: any)."""

    keys: frozenset[str] | None


@dataclass(frozen=True)
class _At:
    """Where a string sits: its loop, its step or task, and whether inside that child's hooks."""

    loop: _Loop | None = None
    child: _Child | None = None
    in_hook: bool = False


def _names(items: Any, key: str = "name") -> list[tuple[int, str]]:
    if not isinstance(items, list):
        return []
    return [(i, x[key]) for i, x in enumerate(items) if isinstance(x, dict) and isinstance(x.get(key), str)]


def _io(template: dict, section: str) -> dict[str, set[str]]:
    block = template.get(section)
    block = block if isinstance(block, dict) else {}
    return {kind: {n for _, n in _names(block.get(kind))} for kind in ("parameters", "artifacts")}


def _type_of(template: dict) -> str | None:
    types = [t for t in TEMPLATE_TYPES if template.get(t) is not None]
    return types[0] if len(types) == 1 else None


def _suggest(name: str, choices: Any) -> str | None:
    close = difflib.get_close_matches(name, [c for c in choices if isinstance(c, str)], n=1, cutoff=0.75)
    return close[0] if close else None


def _did_you_mean(name: str, choices: Any) -> str:
    close = _suggest(name, choices)
    return f"; did you mean {close!r}?" if close else ""


class _Checker:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.kind = doc.get("kind")
        self.findings: list[Finding] = []
        self.templates: dict[str, dict] = {}
        self.uses_ref = False  # spec.workflowTemplateRef: templates, entrypoint and parameters come from elsewhere

    def add(self, location: tuple, kind: type[m.Diagnostic], offset: int | None = None, **fields: Any) -> None:
        self.findings.append(Finding(location=location, kind=kind, fields=fields, offset=offset))

    # --- the document -------------------------------------------------------------------------------------

    def run(self) -> None:
        meta = self.doc.get("metadata")
        if isinstance(meta, dict):
            self.check_resource_names(meta)
            self.check_labels(meta, ("metadata",))
        base, spec = workflow_spec(self.doc)
        if spec is None:
            return
        if self.kind == "CronWorkflow" and isinstance(self.doc["spec"].get("workflowMetadata"), dict):
            self.check_labels(self.doc["spec"]["workflowMetadata"], ("spec", "workflowMetadata"))
        self.check_spec(spec, base)

    def check_resource_names(self, meta: dict) -> None:
        name, prefix = meta.get("name"), meta.get("generateName")
        if not name and not prefix:
            self.add(("metadata",), m.MissingName)
        if isinstance(name, str) and name:
            limit = MAX_NAME.get(self.kind, 253)
            if not DNS_SUBDOMAIN.fullmatch(name):
                self.add(("metadata", "name"), m.BadName, what="name", name=name, rule=DNS_SUBDOMAIN_RULE)
            elif len(name) > limit:
                self.add(("metadata", "name"), m.BadName, what="name", name=name,
                         rule=f"Argo allows at most {limit} characters for a {self.kind} name (it has {len(name)})")
        if isinstance(prefix, str) and prefix:
            masked = prefix[:-1] + "a" if prefix.endswith("-") else prefix  # as Kubernetes checks a prefix
            if len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(masked):
                self.add(("metadata", "generateName"), m.BadName, what="generateName prefix", name=prefix,
                         rule=DNS_SUBDOMAIN_RULE + " (a trailing '-' is allowed)")

    def check_labels(self, meta: dict, where: tuple) -> None:
        """Label keys and values, annotation keys (templated values are left alone)."""
        for section in ("labels", "annotations"):
            mapping = meta.get(section)
            if not isinstance(mapping, dict):
                continue
            what = section[:-1]
            for key, value in mapping.items():
                why = _qualified_name_problem(key)
                if why:
                    self.add(where + (section, key), m.BadName, what=f"{what} key", name=key, rule=why)
                if (section == "labels" and isinstance(value, str) and "{{" not in value
                        and (len(value) > 63 or not LABEL_VALUE.fullmatch(value))):
                    self.add(where + (section, key), m.BadName, what="label value", name=value, rule=LABEL_VALUE_RULE)

    # --- the spec -----------------------------------------------------------------------------------------

    def check_spec(self, spec: dict, base: tuple) -> None:
        templates = spec.get("templates") if isinstance(spec.get("templates"), list) else []
        for i, name in _names(templates):
            where = base + ("templates", i, "name")
            self.check_field_name(where, "template name", name)
            if name in self.templates:
                self.add(where, m.DuplicateName, what="template", name=name)
            else:
                self.templates[name] = templates[i]
        uses_ref = isinstance(spec.get("workflowTemplateRef"), dict)
        self.uses_ref = uses_ref
        if uses_ref and templates:
            self.add(base + ("templates",), m.BadTemplate,
                     problem="a workflow with workflowTemplateRef takes its templates from the WorkflowTemplate; "
                             "it cannot define templates of its own")
        entrypoint = spec.get("entrypoint")
        if not entrypoint and not uses_ref and self.kind in ("Workflow", "CronWorkflow"):
            self.add(base, m.MissingEntrypoint)
        if not uses_ref:
            for key in ("entrypoint", "onExit"):
                self.check_template_name(spec.get(key), base + (key,))
        for hook_name, hook in (spec.get("hooks") or {}).items() if isinstance(spec.get("hooks"), dict) else []:
            if isinstance(hook, dict) and "templateRef" not in hook and not uses_ref:
                self.check_template_name(hook.get("template"), base + ("hooks", hook_name, "template"))
        arguments = spec.get("arguments") if isinstance(spec.get("arguments"), dict) else {}
        self.check_param_names(arguments, base + ("arguments",), "workflow")

        # What workflow.* references may name.
        self.workflow_params = {n for _, n in _names(arguments.get("parameters"))}
        self.params_open = uses_ref or self.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate")
        self.meta_keys = {"labels": set(), "annotations": set()}
        sources = [self.doc.get("metadata"), spec.get("workflowMetadata")]
        if self.kind == "CronWorkflow":
            sources.append(self.doc["spec"].get("workflowMetadata"))
        for source in sources:
            if isinstance(source, dict):
                for section in ("labels", "annotations"):
                    if isinstance(source.get(section), dict):
                        self.meta_keys[section] |= {str(k) for k in source[section]}
                if isinstance(source.get("labelsFrom"), dict):
                    self.meta_keys["labels"] |= {str(k) for k in source["labelsFrom"]}
        self.meta_open = uses_ref
        self.global_outputs = {"parameters": set(), "artifacts": set()}
        self.global_outputs_open = uses_ref or _uses_template_ref(templates)
        for t in _all_templates(templates):
            for kind in ("parameters", "artifacts"):
                outputs = t.get("outputs") if isinstance(t.get("outputs"), dict) else {}
                for _, global_name in _names(outputs.get(kind), "globalName"):
                    if "{{" in global_name:
                        self.global_outputs_open = True
                    self.global_outputs[kind].add(global_name)
        self.has_priority = spec.get("priority") is not None

        for i, t in enumerate(templates):
            if isinstance(t, dict):
                self.check_template(t, base + ("templates", i), _At())
        # The rest of the spec (podSpecPatch, volumes, metrics, hooks...): only global variables resolve there.
        outer = _Scope(template=None)
        for key, value in spec.items():
            if key != "templates":
                self.check_strings(value, base + (key,), outer, _At())
        if isinstance(spec.get("workflowMetadata"), dict):
            self.check_labels(spec["workflowMetadata"], base + ("workflowMetadata",))
        if isinstance(spec.get("podMetadata"), dict):
            self.check_labels(spec["podMetadata"], base + ("podMetadata",))

    def check_template_name(self, ref: Any, where: tuple) -> None:
        if isinstance(ref, str) and ref and "{{" not in ref and ref not in self.templates:
            self.add(where, m.UnknownTemplate, name=ref, suggestion=_suggest(ref, self.templates))

    def check_field_name(self, where: tuple, what: str, name: str) -> None:
        if "{{" in name:
            return
        if len(name) > FIELD_NAME_MAX or not FIELD_NAME.fullmatch(name):
            self.add(where, m.BadName, what=what, name=name, rule=FIELD_NAME_RULE)

    def check_param_names(self, block: Any, where: tuple, owner: str) -> None:
        """Parameter and artifact names of an inputs/outputs/arguments block: valid and unique."""
        if not isinstance(block, dict):
            return
        for kind in ("parameters", "artifacts"):
            seen: set[str] = set()
            for i, name in _names(block.get(kind)):
                loc = where + (kind, i, "name")
                what = f"{owner} {kind[:-1]}"
                if not PARAM_NAME.fullmatch(name):
                    self.add(loc, m.BadName, what=f"{what} name", name=name, rule=PARAM_NAME_RULE)
                if name in seen:
                    self.add(loc, m.DuplicateName, what=what, name=name)
                seen.add(name)

    # --- one template ---------------------------------------------------------------------------------------

    def check_template(self, t: dict, where: tuple, at: _At) -> None:
        label = repr(t["name"]) if isinstance(t.get("name"), str) else "(inline)"
        types = [k for k in TEMPLATE_TYPES if t.get(k) is not None]
        if not types:
            self.add(where, m.BadTemplate, problem=f"template {label} has no type: give it one of "
                                                   + ", ".join(TEMPLATE_TYPES))
        elif len(types) > 1:
            self.add(where + (types[1],), m.BadTemplate,
                     problem=f"template {label} has more than one type ({', '.join(types)}); give it exactly one")
        self.check_param_names(t.get("inputs"), where + ("inputs",), "input")
        self.check_param_names(t.get("outputs"), where + ("outputs",), "output")
        if isinstance(t.get("metadata"), dict):
            self.check_labels(t["metadata"], where + ("metadata",))
        scope = _Scope(template=t, inputs=_io(t, "inputs"), outputs=_io(t, "outputs"),
                       pod=bool(types) and types[0] in POD_TYPES)
        steps, dag = t.get("steps"), t.get("dag")
        if isinstance(steps, list):
            scope.children_kind = "steps"
            self.collect_steps(steps, where + ("steps",), scope)
        elif isinstance(dag, dict):
            scope.children_kind = "tasks"
            tasks = dag.get("tasks") if isinstance(dag.get("tasks"), list) else []
            self.collect_tasks(tasks, where + ("dag", "tasks"), scope)
            self.check_dag(dag, where + ("dag",), scope)
        # References, with each step/task's own loop.
        for key, value in t.items():
            loc = where + (key,)
            if key == "steps" and scope.children_kind == "steps":
                for g, group in enumerate(value):
                    for j, step in enumerate(group if isinstance(group, list) else []):
                        if isinstance(step, dict):
                            self.check_child_strings(step, loc + (g, j), scope, at)
            elif key == "dag" and scope.children_kind == "tasks":
                for k2, v2 in value.items():
                    if k2 == "tasks" and isinstance(v2, list):
                        for i, task in enumerate(v2):
                            if isinstance(task, dict):
                                self.check_child_strings(task, loc + (k2, i), scope, at)
                    else:
                        self.check_strings(v2, loc + (k2,), scope, at)
            else:
                self.check_strings(value, loc, scope, at)

    def child_of(self, node: dict, group: int, order: int) -> _Child:
        target = None
        if isinstance(node.get("inline"), dict):
            target = node["inline"]
        elif isinstance(node.get("template"), str) and "templateRef" not in node:
            target = self.templates.get(node["template"])
        return _Child(name=node["name"], node=node, group=group, order=order, target=target,
                      loops=any(node.get(k) is not None for k in LOOP_KEYS))

    def check_holder(self, node: dict, where: tuple, what: str) -> None:
        """A step or task: it names one template, and loops over one thing at most."""
        label = f"{what} {node['name']!r}" if isinstance(node.get("name"), str) else what
        has = [k for k in ("template", "templateRef", "inline") if node.get(k) is not None]
        if not has:
            self.add(where, m.BadTemplate, problem=f"{label} names no template: give it template, templateRef or inline")
        elif len(has) > 1:
            self.add(where + (has[1],), m.BadTemplate,
                     problem=f"{label} has {' and '.join(has)}; give it only one of them")
        elif has == ["template"] and not self.uses_ref:
            self.check_template_name(node["template"], where + ("template",))
        loops = [k for k in LOOP_KEYS if node.get(k) is not None]
        if len(loops) > 1:
            self.add(where + (loops[1],), m.BadTemplate,
                     problem=f"{label} has {' and '.join(loops)}; only one of withItems, withParam, withSequence")
        if isinstance(node.get("hooks"), dict):
            for hook_name, hook in node["hooks"].items():
                if isinstance(hook, dict) and "templateRef" not in hook and not self.uses_ref:
                    self.check_template_name(hook.get("template"), where + ("hooks", hook_name, "template"))
        if not self.uses_ref:
            self.check_template_name(node.get("onExit"), where + ("onExit",))

    def collect_steps(self, steps: list, where: tuple, scope: _Scope) -> None:
        order = 0
        for g, group in enumerate(steps):
            for j, step in enumerate(group if isinstance(group, list) else []):
                if not isinstance(step, dict):
                    continue
                loc = where + (g, j)
                self.check_holder(step, loc, "step")
                name = step.get("name")
                if not isinstance(name, str):
                    continue
                self.check_field_name(loc + ("name",), "step name", name)
                if name in scope.children:
                    self.add(loc + ("name",), m.DuplicateName, what="step", name=name)
                    continue
                scope.children[name] = self.child_of(step, g, order)
                order += 1

    def collect_tasks(self, tasks: list, where: tuple, scope: _Scope) -> None:
        for i, task in enumerate(tasks):
            if not isinstance(task, dict):
                continue
            self.check_holder(task, where + (i,), "task")
            name = task.get("name")
            if not isinstance(name, str):
                continue
            self.check_field_name(where + (i, "name"), "task name", name)
            if name in scope.children:
                self.add(where + (i, "name"), m.DuplicateName, what="task", name=name)
                continue
            scope.children[name] = self.child_of(task, 0, i)

    # --- DAG structure ----------------------------------------------------------------------------------------

    def check_dag(self, dag: dict, where: tuple, scope: _Scope) -> None:
        tasks = dag.get("tasks") if isinstance(dag.get("tasks"), list) else None
        if tasks is None:
            return
        if not tasks:
            self.add(where + ("tasks",), m.BadDag, problem="a DAG needs at least one task")
            return
        uses_depends = any(isinstance(t, dict) and t.get("depends") for t in tasks)
        index = {t["name"]: i for i, t in enumerate(tasks) if isinstance(t, dict) and isinstance(t.get("name"), str)}
        edges: dict[str, list[str]] = {}
        for name, i in index.items():
            task, loc = tasks[i], where + ("tasks", i)
            deps: list[tuple[str, str | None, str]] = []  # (task, result, key)
            dependencies = task.get("dependencies")
            if isinstance(dependencies, list):
                deps += [(str(d), None, "dependencies") for d in dependencies if isinstance(d, (str, int))]
            depends = task.get("depends")
            if isinstance(depends, str) and depends.strip() and "{{" not in depends:
                try:
                    deps += [(n, r, "depends") for n, r in parse_depends(depends)]
                except ValueError as exc:
                    self.add(loc + ("depends",), m.BadDependsExpression, expression=depends, problem=str(exc))
            if uses_depends and dependencies:
                self.add(loc + ("dependencies",), m.BadDag,
                         problem="a DAG cannot mix depends and dependencies; write them all as depends")
            if uses_depends and task.get("continueOn") is not None:
                self.add(loc + ("continueOn",), m.BadDag,
                         problem="continueOn cannot be used with depends; depend on 'task.Failed' or 'task.Errored'")
            if (uses_depends or dependencies) and name[:1].isdigit():
                self.add(loc + ("name",), m.BadName, what="task name", name=name,
                         rule="it cannot begin with a digit when the DAG uses depends or dependencies")
            edges[name] = []
            for dep, result, key in deps:
                if dep not in index:
                    self.add(loc + (key,), m.UnknownDependency, task=name, dependency=dep)
                    continue
                edges[name].append(dep)
                if result in ITEM_RESULTS and not scope.children[dep].loops:
                    self.add(loc + (key,), m.BadDag,
                             problem=f"'{dep}.{result}' needs task {dep!r} to loop (withItems, withParam or withSequence)")
        cycle = find_cycle(edges)
        if cycle:
            first = tasks[index[cycle[0]]]
            key = "depends" if first.get("depends") else "dependencies"
            self.add(where + ("tasks", index[cycle[0]], key), m.CycleInDag, cycle=tuple(cycle))
        target = dag.get("target")
        if isinstance(target, str) and "{{" not in target:
            for name in target.split():
                if name not in index:
                    self.add(where + ("target",), m.BadDag, problem=f"target {name!r} is not a task of this DAG"
                             + _did_you_mean(name, index))

    # --- references -----------------------------------------------------------------------------------------------

    def check_child_strings(self, node: dict, where: tuple, scope: _Scope, outer: _At) -> None:
        """The strings of a step or task: its loop's ``item`` is defined there, and its inline template."""
        child = scope.children.get(node.get("name")) if isinstance(node.get("name"), str) else None
        if child is not None and child.node is not node:
            child = None  # a duplicate name; the first one is the step others see
        loop = _loop_of(node) or outer.loop
        for key, value in node.items():
            if key == "inline" and isinstance(value, dict):
                self.check_template(value, where + (key,), _At(loop=loop))
            else:
                self.check_strings(value, where + (key,), scope,
                                   _At(loop=loop, child=child, in_hook=key in ("hooks", "onExit")))

    def check_strings(self, node: Any, where: tuple, scope: _Scope, at: _At) -> None:
        if isinstance(node, str):
            if "{{" in node:
                for match in TAG.finditer(node):
                    tag = match.group(1).strip()
                    if tag.startswith("="):
                        self.check_expression(tag[1:], where, scope, at, match.start())
                    elif tag:
                        why = self.resolve(tag, scope, at)
                        if why:
                            self.add(where, m.UnresolvedReference, offset=match.start(), reference=tag, reason=why)
            if where and where[-1] == "expression":
                # An expression field: its {{...}} tags are substituted first (checked above), then it is evaluated.
                self.check_expression(TAG.sub(" ", node), where, scope, at, None)
        elif isinstance(node, dict):
            for key, value in node.items():
                self.check_strings(value, where + (key,), scope, at)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                self.check_strings(value, where + (i,), scope, at)

    def check_expression(self, expr: str, where: tuple, scope: _Scope, at: _At, offset: int | None) -> None:
        for ref in expression_references(expr):
            why = self.resolve(ref, scope, at, in_expression=True)
            if why:
                self.add(where, m.UnresolvedReference, offset=offset, reference=ref, reason=why, expression=expr.strip())

    def resolve(self, ref: str, scope: _Scope, at: _At, in_expression: bool = False) -> str | None:
        """Why ``ref`` does not resolve at ``at`` in ``scope``, or ``None`` when it does (or is not Argo's)."""
        parts = ref.split(".")
        root = parts[0]
        if root == "item":
            if at.loop is None:
                return "'item' is only defined in a step or task with withItems, withParam or withSequence"
            if len(parts) > 1 and at.loop.keys is not None and parts[1] not in at.loop.keys:
                if not at.loop.keys:
                    return "the withItems items are not maps, so 'item' has no fields"
                return (f"the withItems maps have no key {parts[1]!r} (keys: {', '.join(sorted(at.loop.keys))})"
                        + _did_you_mean(parts[1], at.loop.keys))
            return None
        if root == "workflow":
            return self.resolve_workflow(parts)
        if root in ("steps", "tasks"):
            return self.resolve_child(parts, scope, at)
        if root in ("inputs", "outputs"):
            if scope.template is None:
                return None  # outside templates Argo does not resolve these; nothing to check against
            return _resolve_io(parts, scope.inputs if root == "inputs" else scope.outputs, root)
        if root == "pod":
            if parts[1:] != ["name"]:
                return "the only pod variable is pod.name"
            kind = _type_of(scope.template) if scope.template is not None else None
            if kind is not None and not scope.pod:
                return (f"pod.name is only defined in pod templates ({', '.join(POD_TYPES)}), "
                        f"not in a {kind} template")
            return None
        if root == "node":
            return None if parts[1:] == ["name"] else "the only node variable is node.name"
        if root == "lastRetry":
            if len(parts) != 2 or parts[1] not in LAST_RETRY_FIELDS:
                return "lastRetry has " + ", ".join(sorted(LAST_RETRY_FIELDS))
            return None
        if root == "resourcesDuration":
            return None if len(parts) == 2 and parts[1] in ("cpu", "memory") else "resourcesDuration has cpu and memory"
        if root in ROOTS or in_expression:
            return None
        near = _suggest(root, ROOTS)
        if near and re.fullmatch(r"[A-Za-z][\w-]*(\.[\w-]+)*", ref):
            return f"{root!r} is not an Argo variable; did you mean {near!r}?"
        return None

    def resolve_workflow(self, parts: list[str]) -> str | None:
        if len(parts) < 2:
            return "name a workflow variable, e.g. workflow.name"
        field_ = parts[1]
        if field_ not in WORKFLOW_GLOBALS and field_ not in ("priority", "outputs"):
            return f"{'.'.join(parts[:2])!r} is not a workflow variable" + _did_you_mean(field_, WORKFLOW_GLOBALS)
        rest = parts[2:]
        if field_ == "parameters":
            if not rest or rest == ["json"] or self.params_open:
                return None
            name = ".".join(rest)
            if name not in self.workflow_params:
                return (f"no workflow parameter {name!r} in spec.arguments.parameters"
                        + _did_you_mean(name, self.workflow_params))
            return None
        if field_ in ("labels", "annotations"):
            if not rest or rest == ["json"] or self.meta_open:
                return None
            key = ".".join(rest)
            if key not in self.meta_keys[field_]:
                return (f"the workflow sets no {field_[:-1]} {key!r}" + _did_you_mean(key, self.meta_keys[field_]))
            return None
        if field_ == "outputs":
            if len(rest) < 2 or rest[0] not in ("parameters", "artifacts"):
                return "use workflow.outputs.parameters.NAME or workflow.outputs.artifacts.NAME"
            name = ".".join(rest[1:])
            if not self.global_outputs_open and name not in self.global_outputs[rest[0]]:
                return (f"no output {rest[0][:-1]} has globalName {name!r}"
                        + _did_you_mean(name, self.global_outputs[rest[0]]))
            return None
        if field_ == "priority":
            return None if self.has_priority else "workflow.priority is only defined when spec.priority is set"
        if field_ == "creationTimestamp":
            return None  # also workflow.creationTimestamp.<strftime char>, .RFC3339
        if rest and field_ not in ("duration", "scheduledTime"):
            return f"workflow.{field_} has no field {'.'.join(rest)!r}"
        return None

    def resolve_child(self, parts: list[str], scope: _Scope, at: _At) -> str | None:
        root, what = parts[0], ("step" if parts[0] == "steps" else "task")
        if len(parts) == 2 and parts[1] == "name":
            return None
        if scope.template is None:
            return None  # outside templates (e.g. workflow-level hooks): not resolved against a template
        if scope.children_kind != root:
            if scope.children_kind is None:
                return f"{root}.* is only defined inside a {'steps' if root == 'steps' else 'dag'} template"
            return (f"this is a {'dag' if scope.children_kind == 'tasks' else 'steps'} template; "
                    f"refer to its {scope.children_kind}.* instead")
        if len(parts) < 2:
            return f"name a {what}, e.g. {root}.NAME.outputs.result"
        child = scope.children.get(parts[1])
        if child is None:
            return f"no {what} named {parts[1]!r} in this template" + _did_you_mean(parts[1], scope.children)
        if root == "steps" and at.child is not None and not (at.in_hook and child is at.child):
            if child.group > at.child.group:
                return f"step {child.name!r} runs in a later step group"
            if child.group == at.child.group and child is not at.child:
                return f"step {child.name!r} runs in the same step group, in parallel; it has not finished yet"
        rest = parts[2:]
        if not rest:
            return f"name a field of the {what}, e.g. {root}.{child.name}.outputs.result"
        if len(rest) == 1 and rest[0] in CHILD_FIELDS:
            return None
        if rest[0] != "outputs" or len(rest) < 2:
            return f"{rest[0]!r} is not a {what} variable" + _did_you_mean(rest[0], CHILD_FIELDS | {"outputs"})
        target = child.target
        target_label = repr(target.get("name")) if target is not None and isinstance(target.get("name"), str) else "inline"
        if rest[1] == "result" and len(rest) == 2:
            kind = _type_of(target) if target is not None else None
            if kind in NO_RESULT_TYPES:
                return f"template {target_label} of {what} {child.name!r} is a {kind} template and has no outputs.result"
            return None
        if rest[1] == "parameters" and len(rest) == 2:
            return None if child.loops else (
                f"{root}.{child.name}.outputs.parameters (all outputs as JSON) is only defined for a looping {what}")
        if rest[1] in ("parameters", "artifacts") and len(rest) == 3:
            if target is None:
                return None  # templateRef or a templated template name: not in this file
            declared = _io(target, "outputs")[rest[1]]
            if rest[2] not in declared:
                have = f" (it has {', '.join(sorted(declared))})" if declared else ""
                return (f"template {target_label} of {what} {child.name!r} declares no output {rest[1][:-1]} "
                        f"{rest[2]!r}{have}" + _did_you_mean(rest[2], declared))
            return None
        return (f"{'.'.join(rest)!r} is not a {what} output; "
                "use outputs.result, outputs.parameters.NAME or outputs.artifacts.NAME")


def _resolve_io(parts: list[str], declared: dict[str, set[str]], root: str) -> str | None:
    """``inputs.*`` / ``outputs.*`` of the enclosing template."""
    if len(parts) < 2:
        return f"name what, e.g. {root}.parameters.NAME"
    if root == "outputs" and parts[1:] in (["result"], ["exitCode"]):
        return None
    kind = parts[1]
    if kind not in ("parameters", "artifacts"):
        return f"{root} has parameters and artifacts, not {kind!r}" + _did_you_mean(kind, ("parameters", "artifacts"))
    if len(parts) == 2:
        if kind == "parameters" and root == "inputs" and declared["parameters"]:
            return None  # all input parameters as JSON
        return f"name the {kind[:-1]}, e.g. {root}.{kind}.NAME"
    name = parts[2]
    if name not in declared[kind]:
        have = f" (it has {', '.join(sorted(declared[kind]))})" if declared[kind] else ""
        return (f"this template declares no {root[:-1] if root == 'inputs' else 'output'} {kind[:-1]} {name!r}{have}"
                + _did_you_mean(name, declared[kind]))
    if parts[3:] not in ([], ["path"]):
        return f"{'.'.join(parts[3:])!r} is not a field of {root}.{kind}.{name}"
    return None


def _qualified_name_problem(key: Any) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (label or annotation key), or ``None``."""
    if not isinstance(key, str):
        return "keys must be strings"
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix)):
        return "its prefix (before '/') must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not LABEL_VALUE.fullmatch(name):
        return "its name must be 1-63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
    return None


def _loop_of(node: dict) -> _Loop | None:
    items = node.get("withItems")
    if isinstance(items, list) and items:
        if all(isinstance(x, dict) for x in items):
            return _Loop(frozenset(k for x in items for k in x))
        if all(not isinstance(x, (dict, list)) for x in items):
            return _Loop(frozenset())
        return _Loop(None)
    if node.get("withParam") is not None or node.get("withSequence") is not None or items is not None:
        return _Loop(None)
    return None


def _all_templates(templates: list) -> Iterator[dict]:
    """The templates and every inline template inside their steps and tasks."""
    stack = [t for t in templates if isinstance(t, dict)]
    while stack:
        t = stack.pop()
        yield t
        children: list = []
        if isinstance(t.get("steps"), list):
            children = [s for g in t["steps"] if isinstance(g, list) for s in g]
        elif isinstance(t.get("dag"), dict) and isinstance(t["dag"].get("tasks"), list):
            children = t["dag"]["tasks"]
        stack += [c["inline"] for c in children if isinstance(c, dict) and isinstance(c.get("inline"), dict)]


def _uses_template_ref(templates: list) -> bool:
    for t in _all_templates(templates):
        children: list = []
        if isinstance(t.get("steps"), list):
            children = [s for g in t["steps"] if isinstance(g, list) for s in g]
        elif isinstance(t.get("dag"), dict) and isinstance(t["dag"].get("tasks"), list):
            children = t["dag"]["tasks"]
        if any(isinstance(c, dict) and c.get("templateRef") is not None for c in children):
            return True
    return False


# --- depends expressions -------------------------------------------------------------------------------------

_DEPENDS_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\))|([A-Za-z0-9][-A-Za-z0-9_]*)(?:\.([A-Za-z]+))?)")


def parse_depends(expr: str) -> list[tuple[str, str | None]]:
    """The ``(task, result)`` pairs an Argo ``depends`` expression mentions; ``ValueError`` if it does not parse.

    Grammar: ``expr := term (('&&' | '||') term)*``; ``term := '!' term | '(' expr ')' | NAME ['.' RESULT]``
    with ``RESULT`` one of :data:`TASK_RESULTS`.
    """
    tokens: list[tuple[str, str | None]] = []  # (operator or name, result)
    pos = 0
    while pos < len(expr):
        if not expr[pos:].strip():
            break
        match = _DEPENDS_TOKEN.match(expr, pos)
        if not match:
            raise ValueError(f"unexpected text at {expr[pos:].strip()[:20]!r}")
        if match.group(1):
            tokens.append((match.group(1), None))
        else:
            result = match.group(3)
            if result is not None and result not in TASK_RESULTS:
                raise ValueError(f"{result!r} is not a task result ({', '.join(TASK_RESULTS)})")
            tokens.append(("name:" + match.group(2), result))
        pos = match.end()
    names: list[tuple[str, str | None]] = []
    i = 0

    def term() -> None:
        nonlocal i
        if i >= len(tokens):
            raise ValueError("it ends too early")
        tok, result = tokens[i]
        if tok == "!":
            i += 1
            term()
        elif tok == "(":
            i += 1
            expression()
            if i >= len(tokens) or tokens[i][0] != ")":
                raise ValueError("a '(' is not closed")
            i += 1
        elif tok.startswith("name:"):
            names.append((tok[5:], result))
            i += 1
        else:
            raise ValueError(f"unexpected {tok!r}")

    def expression() -> None:
        nonlocal i
        term()
        while i < len(tokens) and tokens[i][0] in ("&&", "||"):
            i += 1
            term()

    expression()
    if i != len(tokens):
        raise ValueError(f"unexpected {tokens[i][0].removeprefix('name:')!r}")
    return names


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle in the graph ``node -> nodes it depends on``, as names with the first repeated last, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if start in state:
            continue
        path, iters = [start], [iter(edges.get(start, ()))]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(edges.get(nxt, ())))
    return None


# --- expressions (best effort) --------------------------------------------------------------------------------

_INDEX = re.compile(r"\[\s*(['\"])([-\w]*)\1\s*\]")
_STRING = re.compile(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|`[^`]*`")
_CHAIN = re.compile(r"(?<![\w.$#@\x00])([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_\x00][\w\x00]*)*)")


def expression_references(expr: str) -> list[str]:
    """Argo variable references in an expr-lang expression, e.g. ``inputs.parameters['x']`` -> ``inputs.parameters.x``.

    String literals are skipped; ``a['b-c']`` and ``a["b"]`` become ``a.b-c`` / ``a.b``. Only chains
    starting with one of :data:`EXPRESSION_ROOTS` are returned; a chain followed by ``(`` (a call) or
    ending at a member lookup that expr evaluates at run time is cut before it.
    """
    text = _INDEX.sub(lambda mt: "." + mt.group(2).replace("-", "\x00"), expr)
    text = _STRING.sub(" ", text)
    out = []
    for match in _CHAIN.finditer(text):
        chain = re.sub(r"\s+", "", match.group(1)).replace("\x00", "-")
        root = chain.split(".")[0]
        if root not in EXPRESSION_ROOTS:
            continue
        rest = text[match.end():].lstrip()
        if rest.startswith("("):
            chain = chain.rpartition(".")[0]
            if not chain:
                continue
        out.append(chain)
    return out
