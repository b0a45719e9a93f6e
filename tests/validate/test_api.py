"""validate_text / validate_path / validate_document: documents, kinds, YAML errors, lines, and robustness."""

from __future__ import annotations

import copy
import dataclasses
import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicec.errors import DicecError, Location
from dicec.validate import Diagnostic, validate_document, validate_path, validate_text
from dicec.validate import messages as m
from dicec.validate.api import render

WORKFLOW = textwrap.dedent("""\
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata:
      generateName: check-
    spec:
      entrypoint: main
      arguments:
        parameters: [{name: when, value: 2024-01-01}]
      templates:
        - name: main
          inputs:
            parameters: [{name: when, value: "{{workflow.parameters.when}}"}]
          container:
            image: busybox
            args: ["{{inputs.parameters.when}}"]
    """)


def kinds(problems: list[Diagnostic]) -> list[type]:
    return [type(p) for p in problems]


def test_valid_workflow_has_no_diagnostics():
    assert validate_text(WORKFLOW) == []


def test_every_document_of_a_file_is_checked_with_its_own_lines():
    text = WORKFLOW + "---\n" + WORKFLOW.replace("  entrypoint: main", "  entrypoint: mian")
    problems = validate_text(text, path="two.yaml")
    assert kinds(problems) == [m.UnknownTemplate]
    assert problems[0].line == len(WORKFLOW.splitlines()) + 1 + 6
    assert str(problems[0]).startswith(f"two.yaml:{problems[0].line}: spec.entrypoint: template 'mian'")


@pytest.mark.parametrize("manifest", [
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n",
    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: p}\n",
])
def test_plain_kubernetes_manifests_beside_a_workflow_are_skipped(manifest):
    assert validate_text(WORKFLOW + "---\n" + manifest) == []


@pytest.mark.parametrize("text, kind, line", [
    ("apiVersion: argoproj.io/v1alpha1\nkind: WorkflowEventBinding\nmetadata: {name: e}\n", m.NotAWorkflow, 2),
    ("apiVersion: argoproj.io/v1alpha1\nkind: Sensor\n", m.NotAWorkflow, 2),
    ("name: not-a-manifest\nvalue: 3\n", m.NotAWorkflow, 1),
    ("kind: Workflow\n", m.SchemaViolation, 1),  # no apiVersion: the schema reports what is missing
])
def test_documents_that_are_not_workflows(text, kind, line):
    problems = validate_text(WORKFLOW + "---\n" + text)
    assert kinds(problems) == [kind], [str(p) for p in problems]
    assert problems[0].line == len(WORKFLOW.splitlines()) + 1 + line


@pytest.mark.parametrize("text, found", [
    ("- a\n- b\n", "a list"),
    ("just text\n", "a string"),
    ("42\n", "a number"),
])
def test_a_document_must_be_a_mapping(text, found):
    problems = validate_text("# comment\n" + text, path="x.yaml")
    assert kinds(problems) == [m.NotAMapping]
    assert str(problems[0]) == f"x.yaml:2: a document must be a mapping, not {found}"


def test_empty_documents_are_skipped_but_an_empty_file_is_reported():
    assert validate_text("---\n" + WORKFLOW + "---\n---\n") == []
    assert kinds(validate_text("# nothing here\n")) == [m.NoDocuments]


@pytest.mark.parametrize("text, line, contains", [
    ("a: 1\nb: c: d\ne: 3\n", 2, "mapping values are not allowed"),
    (WORKFLOW.replace("      container:", "     container:"), 13, "did not find expected '-' indicator"),
    (WORKFLOW.replace('args: ["{{inputs.parameters.when}}"]', 'args: ["{{inputs.parameters.when}}"'), 16, "flow sequence"),
    ("a: 'unclosed\nb: 2\n", 3, "found unexpected end of stream"),
    ("a: *nowhere\n", 1, "found undefined alias"),
    ("a:\n\t- b\n", 2, "cannot start any token"),
])
def test_yaml_syntax_error_is_one_diagnostic_at_its_line(text, line, contains):
    problems = validate_text(text, path="bad.yaml")
    assert kinds(problems) == [m.YamlError]
    assert problems[0].line == line, str(problems[0])
    assert str(problems[0]).startswith(f"bad.yaml:{line}: not valid YAML: ") and contains in str(problems[0])


def test_documents_before_a_yaml_error_are_still_checked():
    first = WORKFLOW.replace("entrypoint: main", "entrypoint: nope")
    problems = validate_text(first + "---\n" + WORKFLOW + "---\nkind: [\n", path="f.yaml")
    assert [(type(p), p.line) for p in problems] == [(m.UnknownTemplate, 6),
                                                     (m.YamlError, 2 * len(WORKFLOW.splitlines()) + 4)]


def test_duplicate_key_is_reported_at_the_repeated_key():
    text = WORKFLOW.replace("      container:\n", "      container: {image: first}\n      container:\n")
    problems = validate_text(text)
    assert kinds(problems) == [m.DuplicateKey]
    assert problems[0].line == 14 and problems[0].where == "spec.templates[0].container"


def test_recursive_alias_is_refused_not_crashed_on():
    problems = validate_text("&a {kind: Workflow, apiVersion: argoproj.io/v1alpha1, spec: *a}\n")
    assert kinds(problems) == [m.YamlError] and "recursive" in str(problems[0])


def test_deep_nesting_is_refused_not_crashed_on():
    deep = "[" * 3000 + "]" * 3000
    text = WORKFLOW.replace("    - name: main\n", f"    - name: main\n      nodeSelector: {{a: {deep}}}\n")
    assert kinds(validate_text(text)) == [m.YamlError]


def test_timestamps_stay_strings():
    """``value: 2024-01-01`` is a string, as Kubernetes reads it, not a date; so is a date from yaml.safe_load."""
    from dicec.validate.api import _parse

    documents, error = _parse("a: 2024-01-01\n", "x")
    assert error is None and documents[0][1] == {"a": "2024-01-01"}
    assert validate_text(WORKFLOW) == []
    assert validate_document(yaml.safe_load(WORKFLOW)) == []


def test_diagnostics_are_sorted_by_line():
    text = WORKFLOW.replace("generateName: check-", "name: Bad_Name").replace("      container:", "      contaner:")
    problems = validate_text(text)
    assert [p.line for p in problems] == sorted(p.line for p in problems) and len(problems) >= 2


def test_validate_path(tmp_path):
    good = tmp_path / "wf.yaml"
    good.write_text(WORKFLOW)
    assert validate_path(good) == [] and validate_path(str(good)) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text(WORKFLOW.replace("entrypoint: main", "entrypoint: nope"))
    (problem,) = validate_path(str(bad))
    assert str(problem).startswith(f"{bad}:6: spec.entrypoint: ")


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.yaml", "no such file"),
    (lambda d: d, "is a directory"),
    (lambda d: (d / "empty.yaml").write_text("  \n") and d / "empty.yaml", "is empty"),
    (lambda d: (d / "bin.yaml").write_bytes(b"a\x00b") and d / "bin.yaml", "binary"),
    (lambda d: (d / "latin.yaml").write_bytes(b"a: \xe9\n") and d / "latin.yaml", "not UTF-8"),
])
def test_unreadable_files_raise_one_line_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(DicecError) as info:
        validate_path(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_validate_document_has_no_lines():
    doc = yaml.safe_load(WORKFLOW.replace("entrypoint: main", "entrypoint: nope"))
    (problem,) = validate_document(doc, path="doc")
    assert problem.line is None and problem.location == Location(path="doc")
    assert str(problem) == "doc: spec.entrypoint: template 'nope' is not defined in this file"
    assert validate_document(yaml.safe_load(WORKFLOW)) == []
    assert kinds(validate_document([1, 2])) == [m.NotAMapping]


def test_diagnostics_are_frozen_values_with_one_line_text():
    a = m.BadName(location=Location(path="f", line=3), where="metadata.labels.x", what="label value",
                  name="two\nlines", rule="no newlines")
    b = m.BadName(location=Location(path="f", line=3), where="metadata.labels.x", what="label value",
                  name="two\nlines", rule="no newlines")
    assert a == b and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.line = 4  # type: ignore[misc]
    assert str(a) == "f:3: metadata.labels.x: label value 'two\\nlines' is not valid: no newlines"
    assert a.message == "metadata.labels.x: label value 'two\\nlines' is not valid: no newlines"
    assert set(m.ALL.values()) == {c for c in vars(m).values() if isinstance(c, type) and issubclass(c, Diagnostic)
                                   and c is not Diagnostic}
    for cls in m.ALL.values():
        assert cls.__doc__ and dataclasses.is_dataclass(cls)


def test_render_paths():
    assert render(("spec", "templates", 2, "dag", "tasks", 0, "dependencies")) == "spec.templates[2].dag.tasks[0].dependencies"
    assert render(("metadata", "labels", "app.kubernetes.io/name")) == 'metadata.labels["app.kubernetes.io/name"]'
    assert render(()) == ""


# --- robustness: any input gives diagnostics, never an exception ----------------------------------------------

BASE_DOC = yaml.safe_load(WORKFLOW.replace("value: 2024-01-01", "value: '2024-01-01'"))
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.sampled_from(
        ["", "main", "{{item}}", "{{inputs.parameters.when}}", "{{=tasks['x'].outputs}}", "{{tasks.a.b}}", "a.Succeeded",
         "{{", "}}", "{{steps}}", "{{workflow.}}", "x && (", "Workflow"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "template", "dag", "steps", "tasks", "depends", "dependencies", "inputs", "outputs",
                         "parameters", "withItems", "withParam", "inline", "hooks", "value", "container", "x"]),
        inner, max_size=3),
    max_leaves=8,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(BASE_DOC) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), JUNK), min_size=1, max_size=4))
def test_mangled_workflows_never_crash(edits):
    doc = copy.deepcopy(BASE_DOC)
    for path, value in edits:
        node = doc
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    for problem in validate_document(doc, path="fuzz"):
        assert isinstance(problem, Diagnostic) and "\n" not in str(problem)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab: -[]{}'\"\n\t#&*!|>%@,?{}=.")), max_size=60))
def test_any_text_never_crashes(text):
    for problem in validate_text(text, path="fuzz"):
        assert isinstance(problem, Diagnostic) and "\n" not in str(problem)
