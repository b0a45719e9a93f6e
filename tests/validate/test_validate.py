"""dicec validate: Argo's own examples pass; each kind of mistake is one diagnostic at its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from support import SHARED
from dicec.validate import messages as m
from dicec.validate import validate_path, validate_text

EXAMPLES = sorted((SHARED / "argo" / "examples").rglob("*.yaml")) if (SHARED / "argo" / "examples").is_dir() else []

#: Argo examples that are genuinely wrong, with the reason (checked by hand).
KNOWN_BAD = {
    "fun-with-gifs.yaml": (m.BadName, "label value 'fun-with-gifs-' is not valid"),  # a label value must end alphanumeric
}


@pytest.mark.skipif(not EXAMPLES, reason="../shared/argo/examples is absent (a user's clone has no ../shared)")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(SHARED / "argo" / "examples")))
def test_argo_examples_validate(path: Path):
    problems = validate_path(str(path))
    if path.name in KNOWN_BAD:
        kind, text = KNOWN_BAD[path.name]
        assert [type(p) for p in problems] == [kind] and text in str(problems[0])
    else:
        assert problems == [], [str(p) for p in problems]


def test_examples_are_all_there():
    if not EXAMPLES:
        pytest.skip("../shared/argo/examples is absent")
    assert len(EXAMPLES) >= 190


BASE = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: check-
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: image
  templates:
    - name: main
      dag:
        tasks:
          - name: a
            template: step
            arguments:
              parameters:
                - name: x
                  value: "{{workflow.parameters.image}}"
          - name: b
            template: step
            dependencies: [a]
            arguments:
              parameters:
                - name: x
                  value: "{{tasks.a.outputs.parameters.out}}"
    - name: step
      inputs:
        parameters:
          - name: x
      retryStrategy:
        limit: 3
      container:
        image: busybox
        command: [echo, "{{inputs.parameters.x}}"]
        resources:
          limits: {nvidia.com/gpu: 1, cpu: 1}
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-RTX-A4000
      tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      outputs:
        parameters:
          - name: out
            valueFrom: {path: /tmp/out}
"""


def check(text: str):
    return validate_text(textwrap.dedent(text), path="wf.yaml")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_base_is_valid_including_integers_and_gpu_fields():
    assert check(BASE) == []


@pytest.mark.parametrize("old, new, kind, needle", [
    ("      nodeSelector:", "      nodeSelecter:", m.UnknownField, "nodeSelecter"),
    ("            dependencies: [a]", "            dependencies: [a]\n          - name: c\n            template: step\n            dependencies: [b]\n            arguments: {parameters: [{name: x, value: '1'}]}",
     None, None),
    ("            dependencies: [a]", "            dependencies: [zz]", m.UnknownDependency, "dependencies: [zz]"),
    ("            template: step\n            dependencies", "            template: nope\n            dependencies", m.UnknownTemplate, "template: nope"),
    ("  entrypoint: main", "  entrypoint: mian", m.UnknownTemplate, "entrypoint: mian"),
    ('"{{inputs.parameters.x}}"', '"{{inputs.parameters.nope}}"', m.UnresolvedReference, "inputs.parameters.nope"),
    ("{{tasks.a.outputs.parameters.out}}", "{{tasks.nope.outputs.parameters.out}}", m.UnresolvedReference, "tasks.nope"),
    ("{{tasks.a.outputs.parameters.out}}", "{{tasks.a.outputs.parameters.missing}}", m.UnresolvedReference, "parameters.missing"),
    ('"{{workflow.parameters.image}}"', '"{{workflow.parameters.nope}}"', m.UnresolvedReference, "workflow.parameters.nope"),
    ('"{{workflow.parameters.image}}"', '"{{item}}"', m.UnresolvedReference, "{{item}}"),
    ("  generateName: check-", "  name: My_Workflow", m.BadName, "My_Workflow"),
    ("          - name: b\n", "          - name: b_2\n", m.BadName, "name: b_2"),
    ("      retryStrategy:\n        limit: 3", "      retryStrategy:\n        limit: [3]", m.SchemaViolation, "limit: [3]"),
])
def test_each_mistake_is_reported_at_its_line(old, new, kind, needle):
    assert old in BASE
    text = BASE.replace(old, new, 1)
    problems = check(text)
    if kind is None:
        assert problems == []
        return
    assert [type(p) for p in problems] == [kind], [str(p) for p in problems]
    assert problems[0].line == line_of(text, needle), str(problems[0])
    assert str(problems[0]).startswith(f"wf.yaml:{problems[0].line}: ") and "\n" not in str(problems[0])


def test_cycles_via_dependencies_and_depends():
    text = BASE.replace("          - name: a\n            template: step\n",
                        "          - name: a\n            template: step\n            dependencies: [b]\n", 1)
    problems = check(text)
    assert [type(p) for p in problems] == [m.CycleInDag] and "a -> b -> a" in str(problems[0]) or "b -> a -> b" in str(problems[0])
    text = BASE.replace("            dependencies: [a]", "            depends: a.Succeeded && (c || !a.Failed)", 1)
    text = text.replace("          - name: a\n            template: step\n",
                        "          - name: a\n            template: step\n            depends: b\n", 1)
    kinds = [type(p) for p in check(text)]
    assert m.CycleInDag in kinds and m.UnknownDependency in kinds  # c does not exist


def test_bad_depends_expression():
    text = BASE.replace("            dependencies: [a]", "            depends: a.Sucess && ", 1)
    problems = check(text)
    assert [type(p) for p in problems] == [m.BadDependsExpression]


def test_item_inside_a_loop_is_fine():
    text = BASE.replace("            dependencies: [a]", "            dependencies: [a]\n            withParam: '{{tasks.a.outputs.parameters.out}}'", 1)
    text = text.replace("{{tasks.a.outputs.parameters.out}}\"", "{{item}}\"", 1)
    assert check(text) == []


def test_documents_that_are_not_workflows():
    assert [type(p) for p in validate_text("- a\n- b\n", path="x")] == [m.NotAMapping]
    assert [type(p) for p in validate_text("apiVersion: argoproj.io/v1alpha1\nkind: Sensor\n", path="x")] == [m.NotAWorkflow]
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
    assert validate_text(BASE + "---\n" + service, path="x") == []


def test_yaml_syntax_error_has_its_line():
    problems = validate_text("a: 1\nb: c: d\ne: 3\n", path="x.yaml")
    assert [type(p) for p in problems] == [m.YamlError] and problems[0].line == 2
