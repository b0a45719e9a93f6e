"""What Argo's schema cannot see: graph structure, references and names.

For each workflow-like document: DAGs are acyclic (``dependencies`` lists and ``depends``
expressions), every dependency names a task of the same DAG, every ``template:`` reference and the
``entrypoint``/``onExit`` name a template in the file, every ``{{...}}`` reference names something
that exists (inputs, workflow parameters, tasks/steps of the same template and their declared
outputs, ``item`` only inside a loop), and names follow Kubernetes' and Argo's rules. Expression
templates (``{{=...}}``) are not evaluated and are left alone, as are variables Argo defines at run
time (``workflow.name``, ``pod.name``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from dicec.validate import messages as m

#: Argo's rule for template, task and step names (workflow/validate/validate.go, isValidWorkflowFieldName).
FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
FIELD_NAME_MAX = 128
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
GENERATE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*)?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
REFERENCE = re.compile(r"\{\{(.*?)\}\}", re.S)
LOOP_KEYS = ("withItems", "withParam", "withSequence")
TASK_RESULTS = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed"}


@dataclass(frozen=True, kw_only=True)
class Problem:
    """A semantic problem before it is given a line.

    Attributes:
        location: path inside the document.
        kind: the diagnostic class.
        args: its message arguments.
    """

    location: tuple[Any, ...]
    kind: type[m.Diagnostic]
    args: tuple[Any, ...]


def workflow_spec(doc: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """Where the workflow spec is (CronWorkflows nest it under ``spec.workflowSpec``)."""
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return ("spec",), None
    if doc.get("kind") == "CronWorkflow":
        inner = spec.get("workflowSpec")
        return ("spec", "workflowSpec"), inner if isinstance(inner, dict) else None
    return ("spec",), spec


def semantic_problems(doc: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    out += _metadata_problems(doc.get("metadata"), ("metadata",))
    base, spec = workflow_spec(doc)
    if spec is None:
        return out
    templates = spec.get("templates") or []
    if not isinstance(templates, list):
        return out
    by_name: dict[str, dict] = {}
    for i, t in enumerate(templates):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            continue
        name = t["name"]
        out += _field_name(base + ("templates", i, "name"), "template name", name)
        if name in by_name:
            out.append(Problem(location=base + ("templates", i, "name"), kind=m.DuplicateName, args=("template", name)))
        by_name[name] = t
    uses_ref = "workflowTemplateRef" in spec
    for key in ("entrypoint", "onExit"):
        ref = spec.get(key)
        if isinstance(ref, str) and "{{" not in ref and ref not in by_name and not (uses_ref and not templates):
            out.append(Problem(location=base + (key,), kind=m.UnknownTemplate, args=(ref,)))
    params = {p.get("name") for p in ((spec.get("arguments") or {}).get("parameters") or []) if isinstance(p, dict)}
    context = _Context(workflow_params=params, templates=by_name,
                       has_param_source=uses_ref or bool(spec.get("podSpecPatch")))
    for i, t in enumerate(templates):
        if isinstance(t, dict):
            out += _template_problems(t, base + ("templates", i), context)
    for key in ("hooks",):
        hooks = spec.get(key)
        if isinstance(hooks, dict):
            for hook_name, hook in hooks.items():
                ref = hook.get("template") if isinstance(hook, dict) else None
                if isinstance(ref, str) and ref not in by_name and not uses_ref:
                    out.append(Problem(location=base + (key, hook_name, "template"), kind=m.UnknownTemplate, args=(ref,)))
    return out


@dataclass(frozen=True, kw_only=True)
class _Context:
    workflow_params: set[str]
    templates: dict[str, dict]
    has_param_source: bool


def _metadata_problems(meta: Any, where: tuple) -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(meta, dict):
        return out
    name = meta.get("name")
    if isinstance(name, str) and "{{" not in name and (len(name) > 253 or not DNS_SUBDOMAIN.match(name)):
        out.append(Problem(location=where + ("name",), kind=m.BadName, args=(
            "metadata.name", name, "a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit")))
    prefix = meta.get("generateName")
    if isinstance(prefix, str) and (len(prefix) > 248 or not GENERATE_NAME.match(prefix)):
        out.append(Problem(location=where + ("generateName",), kind=m.BadName, args=(
            "metadata.generateName", prefix, "lower-case letters, digits, '-' and '.', starting with a letter or digit")))
    labels = meta.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            why = _label_key_problem(str(key))
            if why:
                out.append(Problem(location=where + ("labels", key), kind=m.BadName, args=("label key", key, why)))
            if isinstance(value, str) and (len(value) > 63 or not LABEL_NAME.match(value)):
                out.append(Problem(location=where + ("labels", key), kind=m.BadName, args=(
                    "label value", value, "at most 63 letters, digits, '-', '_' and '.', starting and ending alphanumeric")))
    return out


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return "its prefix must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not LABEL_NAME.match(name):
        return "its name must be 1-63 letters, digits, '-', '_' and '.', starting and ending alphanumeric"
    return None


def _field_name(where: tuple, what: str, name: str) -> list[Problem]:
    if "{{" in name:
        return []
    if len(name) > FIELD_NAME_MAX or not FIELD_NAME.match(name):
        return [Problem(location=where, kind=m.BadName, args=(
            what, name, "letters, digits and '-', starting with a letter or digit, at most 128 characters"))]
    return []


def _template_problems(t: dict, where: tuple, ctx: _Context) -> list[Problem]:
    out: list[Problem] = []
    children: dict[str, dict] = {}  # task/step name -> its definition
    dag = t.get("dag")
    if isinstance(dag, dict) and isinstance(dag.get("tasks"), list):
        out += _dag_problems(dag["tasks"], where + ("dag", "tasks"), ctx, children)
    steps = t.get("steps")
    if isinstance(steps, list):
        for i, group in enumerate(steps):
            for j, step in enumerate(group if isinstance(group, list) else []):
                if isinstance(step, dict) and isinstance(step.get("name"), str):
                    out += _field_name(where + ("steps", i, j, "name"), "step name", step["name"])
                    children[step["name"]] = step
                    out += _template_ref(step, where + ("steps", i, j), ctx)
    out += _reference_problems(t, where, ctx, children, kind="tasks" if dag is not None else "steps")
    return out


def _template_ref(node: dict, where: tuple, ctx: _Context) -> list[Problem]:
    ref = node.get("template")
    if isinstance(ref, str) and "templateRef" not in node and "{{" not in ref and ref not in ctx.templates:
        return [Problem(location=where + ("template",), kind=m.UnknownTemplate, args=(ref,))]
    return []


def _dag_problems(tasks: list, where: tuple, ctx: _Context, children: dict[str, dict]) -> list[Problem]:
    out: list[Problem] = []
    for i, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("name"), str):
            continue
        name = task["name"]
        out += _field_name(where + (i, "name"), "task name", name)
        if name in children:
            out.append(Problem(location=where + (i, "name"), kind=m.DuplicateName, args=("task", name)))
        children[name] = task
        out += _template_ref(task, where + (i,), ctx)
    edges: dict[str, list[str]] = {}
    index = {task["name"]: i for i, task in enumerate(tasks) if isinstance(task, dict) and isinstance(task.get("name"), str)}
    for name, i in index.items():
        task = tasks[i]
        deps: list[str] = []
        for dep in task.get("dependencies") or []:
            deps.append(str(dep))
        depends = task.get("depends")
        if isinstance(depends, str):
            try:
                deps += _depends_names(depends)
            except ValueError as exc:
                out.append(Problem(location=where + (i, "depends"), kind=m.BadDependsExpression, args=(depends, str(exc))))
        for dep in deps:
            if dep not in index:
                key = "depends" if "depends" in task else "dependencies"
                out.append(Problem(location=where + (i, key), kind=m.UnknownDependency, args=(name, dep)))
        edges[name] = [d for d in deps if d in index]
    cycle = _find_cycle(edges)
    if cycle:
        first = index[cycle[0]]
        key = "depends" if "depends" in tasks[first] else "dependencies"
        out.append(Problem(location=where + (first, key), kind=m.CycleInDag, args=(" -> ".join(cycle),)))
    return out


_DEPENDS_TOKEN = re.compile(r"\s*(&&|\|\||!|\(|\)|[A-Za-z0-9][-A-Za-z0-9_]*(?:\.[A-Za-z]+)?)")


def _depends_names(expr: str) -> list[str]:
    """Task names an Argo ``depends`` expression mentions; raises ValueError if it does not parse."""
    tokens, pos = [], 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        match = _DEPENDS_TOKEN.match(expr, pos)
        if not match:
            raise ValueError(f"unexpected text at {expr[pos:].strip()[:20]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    names: list[str] = []
    i = 0

    def operand() -> None:
        nonlocal i
        if i >= len(tokens):
            raise ValueError("it ends too early")
        tok = tokens[i]
        if tok == "!":
            i += 1
            operand()
        elif tok == "(":
            i += 1
            expression()
            if i >= len(tokens) or tokens[i] != ")":
                raise ValueError("a '(' is not closed")
            i += 1
        elif tok in ("&&", "||", ")"):
            raise ValueError(f"unexpected {tok!r}")
        else:
            name, _, result = tok.partition(".")
            if result and result not in TASK_RESULTS:
                raise ValueError(f"{result!r} is not a task result ({', '.join(sorted(TASK_RESULTS))})")
            names.append(name)
            i += 1

    def expression() -> None:
        nonlocal i
        operand()
        while i < len(tokens) and tokens[i] in ("&&", "||"):
            i += 1
            operand()

    expression()
    if i != len(tokens):
        raise ValueError(f"unexpected {tokens[i]!r}")
    return names


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in edges:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def _strings(node: Any, where: tuple, loop: bool) -> Iterator[tuple[tuple, str, bool]]:
    """Every string in ``node`` with its path and whether it sits inside a looping task or step."""
    if isinstance(node, str):
        yield where, node, loop
    elif isinstance(node, dict):
        inner = loop or any(k in node for k in LOOP_KEYS)
        for key, value in node.items():
            yield from _strings(value, where + (key,), inner)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, where + (i,), loop)


def _declared(t: dict, section: str, kind: str) -> set[str] | None:
    items = (t.get(section) or {}).get(kind)
    if items is None:
        return set()
    return {p.get("name") for p in items if isinstance(p, dict)}


def _reference_problems(t: dict, where: tuple, ctx: _Context, children: dict[str, dict], *, kind: str) -> list[Problem]:
    out: list[Problem] = []
    inputs = {"parameters": _declared(t, "inputs", "parameters"), "artifacts": _declared(t, "inputs", "artifacts")}
    for location, text, in_loop in _strings(t, where, False):
        for raw in REFERENCE.findall(text):
            ref = raw.strip()
            if not ref or ref.startswith("="):
                continue
            why = _check_reference(ref, inputs, ctx, children, kind, in_loop)
            if why:
                out.append(Problem(location=location, kind=m.UnresolvedReference, args=(ref, why)))
    return out


def _check_reference(ref: str, inputs: dict, ctx: _Context, children: dict[str, dict], kind: str, in_loop: bool) -> str | None:
    parts = ref.split(".")
    head = parts[0]
    if head == "item":
        return None if in_loop else "'item' is only defined in a task or step with withItems, withParam or withSequence"
    if head == "inputs" and len(parts) >= 3 and parts[1] in inputs:
        if parts[2] not in inputs[parts[1]]:
            return f"this template declares no input {parts[1][:-1]} {parts[2]!r}"
        return None
    if head == "workflow" and len(parts) >= 3 and parts[1] == "parameters" and parts[2] != "json":
        if parts[2] not in ctx.workflow_params and not ctx.has_param_source:
            return f"no workflow parameter {parts[2]!r} in spec.arguments.parameters"
        return None
    if head in ("tasks", "steps") and len(parts) >= 2 and parts[1] not in ("name", "status"):
        if head != kind:
            return None  # e.g. tasks.* in an exit handler's steps: Argo resolves those globally
        child = children.get(parts[1])
        if child is None:
            return f"no {head[:-1]} named {parts[1]!r} in this template"
        if len(parts) >= 5 and parts[2] == "outputs" and parts[3] == "parameters":
            target = ctx.templates.get(child.get("template")) if isinstance(child.get("template"), str) else None
            if target is not None and "templateRef" not in child:
                declared = _declared(target, "outputs", "parameters")
                if declared and parts[4] not in declared:
                    return f"template {target.get('name')!r} of {head[:-1]} {parts[1]!r} declares no output parameter {parts[4]!r}"
        return None
    return None
