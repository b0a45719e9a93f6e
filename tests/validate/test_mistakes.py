"""Each kind of mistake in a workflow is exactly one diagnostic, of the right class, on the right line.

The line each diagnostic must point at is marked ``#<`` in the YAML (see conftest.marked_line).
"""

from __future__ import annotations

import pytest

from dicec.validate import messages as m

HEAD = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: check-
"""


# --- what must pass -----------------------------------------------------------------------------------------


def test_gpu_request_with_node_selector_and_tolerations_passes(valid):
    valid(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB
      tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      container:
        image: ghcr.io/dicec/vision:0.1.0
        resources:
          requests: {cpu: 2, memory: 8Gi, nvidia.com/gpu: 1}
          limits: {cpu: 2.5, memory: 8Gi, nvidia.com/gpu: 1}
""")


def test_integers_where_kubernetes_takes_int_or_string_pass(valid):
    valid(HEAD + """\
spec:
  entrypoint: main
  activeDeadlineSeconds: 600
  arguments:
    parameters:
      - {name: n, value: 3}
      - {name: flag, value: true, enum: [true, false]}
  templates:
    - name: main
      retryStrategy:
        limit: 3
        backoff: {factor: 2, duration: "5s"}
      activeDeadlineSeconds: 60
      steps:
        - - name: each
            template: leaf
            withSequence: {count: 5, start: 1}
            arguments:
              parameters: [{name: i, value: "{{item}}"}]
    - name: leaf
      inputs:
        parameters: [{name: i, default: 0}]
      container:
        image: busybox
        args: ["{{inputs.parameters.i}}"]
        readinessProbe:
          httpGet: {port: 8080, path: /}
""")


def test_the_same_int_or_string_field_refuses_a_list_or_a_fraction(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      retryStrategy:
        limit: 2.5  #<
      container: {image: busybox}
""", m.SchemaViolation, contains="spec.templates[0].retryStrategy.limit: 2.5 is not of type")


def test_a_fully_referenced_dag_passes(valid):
    valid(HEAD + """\
  labels: {team: vision}
spec:
  entrypoint: main
  onExit: report
  priority: 3
  arguments:
    parameters: [{name: image, value: "a.png"}]
  templates:
    - name: main
      inputs:
        parameters: [{name: threshold, value: "0.5"}]
      dag:
        tasks:
          - name: find
            template: detect
            arguments:
              parameters:
                - {name: image, value: "{{workflow.parameters.image}}"}
                - {name: threshold, value: "{{inputs.parameters.threshold}}"}
          - name: crop
            depends: find.Succeeded && !find.Failed
            template: detect
            withParam: "{{tasks.find.outputs.parameters.boxes}}"
            arguments:
              parameters:
                - {name: image, value: "{{item.path}}"}
                - {name: threshold, value: "{{=asFloat(inputs.parameters.threshold) * 2}}"}
          - name: answer
            depends: "(crop.AnySucceeded || crop.AllFailed) && find"
            template: detect
            arguments:
              parameters:
                - {name: image, value: "{{tasks.crop.outputs.parameters}} {{tasks.find.outputs.result}}"}
                - {name: threshold, value: "{{workflow.labels.team}} {{workflow.priority}} {{tasks.find.exitCode}}"}
      outputs:
        parameters:
          - name: answer
            valueFrom: {parameter: "{{tasks.answer.outputs.parameters.boxes}}"}
    - name: detect
      inputs:
        parameters: [{name: image}, {name: threshold}]
      script:
        image: python:3.11
        command: [python]
        source: |
          print("{{inputs.parameters.image}}", "{{pod.name}}", "{{node.name}}", "{{workflow.uid}}")
      outputs:
        parameters:
          - name: boxes
            globalName: boxes
            valueFrom: {path: /tmp/boxes.json}
    - name: report
      container:
        image: busybox
        args: ["{{workflow.status}} {{workflow.failures}} {{workflow.outputs.parameters.boxes}} {{workflow.duration}}"]
""")


def test_a_workflow_template_ref_has_no_templates_of_its_own(valid):
    valid(HEAD + """\
spec:
  arguments:
    parameters: [{name: date, value: today}]
  workflowTemplateRef:
    name: job
""")


def test_a_workflow_template_may_use_parameters_given_at_submission(valid):
    valid("""\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: job
spec:
  templates:
    - name: main
      container:
        image: busybox
        args: ["{{workflow.parameters.date}}"]
""")


# --- the schema --------------------------------------------------------------------------------------------


def test_typo_in_a_field_name(expect_one):
    d = expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      nodeSelecter:  #<
        nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB
      container: {image: busybox}
""", m.UnknownField, contains="spec.templates[0].nodeSelecter: unknown field 'nodeSelecter'")
    assert d.field == "nodeSelecter" and d.suggestion == "nodeSelector"
    assert d.where == "spec.templates[0].nodeSelecter"


def test_unknown_field_deep_in_a_kubernetes_type(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: busybox
        resources:
          limit: {cpu: 1}  #<
""", m.UnknownField, contains="did you mean 'limits'?")


def test_wrong_type(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      container:
        image: busybox
        command: echo hello  #<
""", m.SchemaViolation, contains="spec.templates[0].container.command: 'echo hello' is not of type 'array'")


def test_missing_required_field(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: busybox}
      tolerations:
        - operator: Exists
      volumes:
        - emptyDir: {}  #<
""", m.SchemaViolation, contains="spec.templates[0].volumes[0]: required field 'name' missing")


# --- DAGs --------------------------------------------------------------------------------------------------

DAG = HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
{tasks}
    - name: leaf
      container: {{image: busybox}}
"""


def dag(*tasks: str) -> str:
    return DAG.format(tasks="\n".join(tasks))


def test_cycle_via_dependencies(expect_one):
    d = expect_one(dag(
        "          - {name: a, template: leaf, dependencies: [c]}  #<",
        "          - {name: b, template: leaf, dependencies: [a]}",
        "          - {name: c, template: leaf, dependencies: [b]}",
    ), m.CycleInDag, contains="dependency cycle: a -> c -> b -> a")
    assert d.cycle == ("a", "c", "b", "a")
    assert d.where == "spec.templates[0].dag.tasks[0].dependencies"


def test_cycle_via_depends_expression(expect_one):
    expect_one(dag(
        "          - name: fetch",
        "            template: leaf",
        "          - name: a",
        "            template: leaf",
        "            depends: (fetch.Succeeded || fetch.Skipped) && !b.Failed  #<",
        "          - name: b",
        "            template: leaf",
        "            depends: a.Succeeded",
    ), m.CycleInDag, contains="a -> b -> a")


def test_dependency_on_a_missing_task(expect_one):
    d = expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - name: b",
        "            template: leaf",
        "            dependencies: [a, z]  #<",
    ), m.UnknownDependency, contains="task 'b' depends on 'z', which is not a task of this DAG")
    assert (d.task, d.dependency) == ("b", "z")


def test_depends_on_a_missing_task(expect_one):
    expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - name: b",
        "            template: leaf",
        "            depends: a && (zed.Succeeded || a.Failed)  #<",
    ), m.UnknownDependency, contains="depends on 'zed'")


@pytest.mark.parametrize("expression, problem", [
    ("a.Sucess", "'Sucess' is not a task result"),
    ("a &&", "it ends too early"),
    ("(a || b", "a '(' is not closed"),
    ("a b", "unexpected 'b'"),
    ("a ; b", "unexpected text"),
])
def test_depends_expression_that_does_not_parse(expect_one, expression, problem):
    expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - {name: b, template: leaf}",
        "          - name: c",
        "            template: leaf",
        f"            depends: '{expression}'  #<",
    ), m.BadDependsExpression, contains=problem)


def test_mixing_depends_and_dependencies(expect_one):
    expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - {name: b, template: leaf, depends: a}",
        "          - {name: c, template: leaf, dependencies: [b]}  #<",
    ), m.BadDag, contains="cannot mix depends and dependencies")


def test_items_result_needs_a_looping_task(expect_one):
    expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - {name: b, template: leaf, depends: a.AnySucceeded}  #<",
    ), m.BadDag, contains="needs task 'a' to loop")


def test_dag_target_must_be_a_task(expect_one):
    expect_one(DAG.replace("      dag:\n", "      dag:\n        target: a bee  #<\n").format(
        tasks="          - {name: a, template: leaf}\n          - {name: b, template: leaf}"),
        m.BadDag, contains="target 'bee' is not a task of this DAG")


def test_duplicate_task_name(expect_one):
    expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - {name: a, template: leaf}  #<",
    ), m.DuplicateName, contains="task 'a' is defined more than once")


# --- templates ---------------------------------------------------------------------------------------------


def test_missing_template(expect_one):
    d = expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - name: b",
        "            template: leef  #<",
    ), m.UnknownTemplate, contains="template 'leef' is not defined in this file; did you mean 'leaf'?")
    assert d.where == "spec.templates[0].dag.tasks[1].template"


def test_missing_template_in_steps(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: one
            template: nowhere  #<
""", m.UnknownTemplate, contains="'nowhere'")


def test_template_ref_is_not_followed(valid):
    valid(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: one
            templateRef: {name: elsewhere, template: whatever}
            arguments:
              parameters: [{name: x, value: "1"}]
        - - name: two
            template: main2
            arguments:
              parameters: [{name: x, value: "{{steps.one.outputs.parameters.anything}}"}]
    - name: main2
      inputs:
        parameters: [{name: x}]
      suspend: {}
""")


def test_missing_entrypoint(expect_one):
    expect_one(HEAD + """\
spec:  #<
  templates:
    - name: main
      container: {image: busybox}
""", m.MissingEntrypoint, contains="spec.entrypoint is required")


def test_entrypoint_names_no_template(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: mian  #<
  templates:
    - name: main
      container: {image: busybox}
""", m.UnknownTemplate, contains="spec.entrypoint: template 'mian' is not defined in this file; did you mean 'main'?")


def test_on_exit_names_no_template(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  onExit: cleanup  #<
  templates:
    - name: main
      container: {image: busybox}
""", m.UnknownTemplate, contains="'cleanup'")


def test_template_without_a_type(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main  #<
      nodeSelector: {a: b}
""", m.BadTemplate, contains="template 'main' has no type")


def test_template_with_two_types(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: busybox}
      script: {image: busybox, source: "true"}  #<
""", m.BadTemplate, contains="has more than one type (container, script)")


def test_duplicate_template_name(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: busybox}
    - name: main  #<
      container: {image: busybox}
""", m.DuplicateName, contains="template 'main' is defined more than once")


# --- {{...}} references ------------------------------------------------------------------------------------

REFS = HEAD + """\
spec:
  entrypoint: main
  arguments:
    parameters: [{name: image, value: x.png}]
  templates:
    - name: main
      dag:
        tasks:
          - name: a
            template: leaf
            arguments:
              parameters: [{name: x, value: "{{workflow.parameters.image}}"}]
          - name: b
            depends: a
            template: leaf
            arguments:
              parameters: [{name: x, value: "VALUE"}]  #<
    - name: leaf
      inputs:
        parameters: [{name: x}]
      container:
        image: busybox
        args: ["{{inputs.parameters.x}}"]
      outputs:
        parameters:
          - {name: boxes, valueFrom: {path: /tmp/boxes}}
          - {name: count, valueFrom: {path: /tmp/count}}
"""


def test_the_reference_base_is_valid(valid):
    valid(REFS.replace("VALUE", "{{tasks.a.outputs.parameters.boxes}}"))


@pytest.mark.parametrize("ref, reason", [
    ("tasks.nope.outputs.parameters.x", "no task named 'nope' in this template"),
    ("tasks.a.outputs.parameters.missing", "template 'leaf' of task 'a' declares no output parameter 'missing' "
                                           "(it has boxes, count)"),
    ("tasks.a.outputs.parameters.boxs", "did you mean 'boxes'?"),
    ("tasks.a.outputs.artifacts.img", "declares no output artifact 'img'"),
    ("tasks.a.outputs.parameters", "only defined for a looping task"),
    ("tasks.a.output.result", "'output' is not a task variable; did you mean 'outputs'?"),
    ("steps.a.outputs.result", "this is a dag template; refer to its tasks.* instead"),
    ("workflow.parameters.nope", "no workflow parameter 'nope' in spec.arguments.parameters"),
    ("workflow.parameters.imag", "did you mean 'image'?"),
    ("workflow.nmae", "'workflow.nmae' is not a workflow variable; did you mean 'name'?"),
    ("workflow.labels.team", "the workflow sets no label 'team'"),
    ("workflow.priority", "only defined when spec.priority is set"),
    ("workflow.outputs.parameters.x", "no output parameter has globalName 'x'"),
    ("inputs.parameters.x", "this template declares no input parameter 'x'"),
    ("item", "'item' is only defined in a step or task with withItems, withParam or withSequence"),
    ("item.path", "'item' is only defined in a step or task"),
    ("pod.name", "pod.name is only defined in pod templates (container, containerSet, script, resource, data), "
                 "not in a dag template"),
    ("input.parameters.x", "'input' is not an Argo variable; did you mean 'inputs'?"),
    ("=inputs.parameters['nope'] + 1", "this template declares no input parameter 'nope'"),
    ("=tasks['zz'].outputs.result", "no task named 'zz'"),
    ("=item", "'item' is only defined"),
])
def test_unresolved_reference(expect_one, ref, reason):
    d = expect_one(REFS.replace("VALUE", "{{" + ref + "}}"), m.UnresolvedReference, contains=reason)
    assert d.where == "spec.templates[0].dag.tasks[1].arguments.parameters[0].value"


def test_input_parameter_not_declared_in_a_leaf(expect_one):
    text = REFS.replace("VALUE", "v").replace('args: ["{{inputs.parameters.x}}"]', 'args: ["{{inputs.parameters.nope}}"]  #<')
    expect_one(text.replace("value: \"v\"}]  #<", "value: \"v\"}]"), m.UnresolvedReference,
               contains="spec.templates[1].container.args[0]: {{inputs.parameters.nope}} does not resolve: "
                        "this template declares no input parameter 'nope' (it has x)")


def test_reference_inside_a_script_block_points_at_its_own_line(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        parameters: [{name: x}]
      script:
        image: python:3.11
        command: [python]
        source: |
          import sys

          print("{{inputs.parameters.x}}")
          print("{{inputs.parameters.y}}")  #<
""", m.UnresolvedReference, contains="inputs.parameters.y")


def test_item_fields_of_literal_items(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: each
            template: leaf
            withItems: [{path: a.png, size: 1}, {path: b.png, size: 2}]
            arguments:
              parameters: [{name: x, value: "{{item.path}} {{item.sise}}"}]  #<
    - name: leaf
      inputs:
        parameters: [{name: x}]
      container: {image: busybox, args: ["{{inputs.parameters.x}}"]}
""", m.UnresolvedReference, contains="the withItems maps have no key 'sise' (keys: path, size); did you mean 'size'?")


def test_steps_can_only_refer_to_earlier_step_groups(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: one
            template: leaf
            arguments:
              parameters: [{name: x, value: "{{steps.two.outputs.result}}"}]  #<
        - - name: two
            template: leaf
            arguments:
              parameters: [{name: x, value: "{{steps.one.outputs.result}}"}]
    - name: leaf
      inputs:
        parameters: [{name: x}]
      container: {image: busybox, args: ["{{inputs.parameters.x}}"]}
""", m.UnresolvedReference, contains="step 'two' runs in a later step group")


def test_inline_templates_hooks_and_expression_fields(valid):
    valid(HEAD + """\
spec:
  entrypoint: main
  arguments:
    parameters: [{name: retries, value: "2"}]
  hooks:
    running:
      expression: workflow.status == "Running"
      template: leaf
  templates:
    - name: main
      steps:
        - - name: flip
            template: leaf
            hooks:
              done:
                expression: steps["flip"].status == "Succeeded" && workflow.parameters.retries != "0"
                template: leaf
        - - name: inline
            arguments:
              parameters: [{name: side, value: "{{steps.flip.outputs.result}}"}]
            inline:
              inputs:
                parameters: [{name: side}]
              container: {image: busybox, args: ["{{inputs.parameters.side}}"]}
      outputs:
        parameters:
          - name: side
            valueFrom:
              expression: "steps['flip'].outputs.result == 'heads' ? 'H' : 'T'"
    - name: leaf
      retryStrategy:
        limit: 2
        expression: asInt(lastRetry.exitCode) > 1 && lastRetry.status != "Error"
      container: {image: busybox}
""")


def test_bad_reference_in_an_expression_field(expect_one):
    d = expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: flip
            template: leaf
      outputs:
        parameters:
          - name: side
            valueFrom:
              expression: "steps['flop'].outputs.result == 'heads'"  #<
    - name: leaf
      container: {image: busybox}
""", m.UnresolvedReference,
        contains="steps.flop.outputs.result in expression \"steps['flop'].outputs.result == 'heads'\" does not resolve: "
                 "no step named 'flop' in this template; did you mean 'flip'?")
    assert d.expression == "steps['flop'].outputs.result == 'heads'"


def test_foreign_templates_are_left_alone(valid):
    valid(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      script:
        image: alpine/helm
        command: [sh]
        source: |
          helm template x --set name={{ .Release.Name }} --set v={{ values.thing }}
""")


# --- names -------------------------------------------------------------------------------------------------


def test_bad_metadata_name(expect_one):
    d = expect_one("""\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: My_Workflow  #<
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: busybox}
""", m.BadName, contains="metadata.name: name 'My_Workflow' is not valid: it must be a DNS-1123 subdomain")
    assert d.name == "My_Workflow"


def test_too_long_workflow_name(expect_one):
    expect_one(f"""\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: {"a" * 64}  #<
spec:
  entrypoint: main
  templates:
    - name: main
      container: {{image: busybox}}
""", m.BadName, contains="at most 63 characters")


def test_bad_generate_name(expect_one):
    expect_one(HEAD.replace("  generateName: check-", "  generateName: Check-  #<") + """\
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: busybox}
""", m.BadName, contains="generateName prefix 'Check-'")


def test_no_name_at_all(expect_one):
    expect_one("""\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:  #<
  labels: {a: b}
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: busybox}
""", m.MissingName)


def test_bad_task_name(expect_one):
    d = expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - name: crop_box  #<",
        "            template: leaf",
    ), m.BadName, contains="task name 'crop_box' is not valid")
    assert d.where == "spec.templates[0].dag.tasks[1].name"


def test_task_name_starting_with_a_digit_in_a_dag_with_dependencies(expect_one):
    expect_one(dag(
        "          - {name: a, template: leaf}",
        "          - {name: 2nd, template: leaf, depends: a}  #<",
    ), m.BadName, contains="cannot begin with a digit")


def test_bad_template_name(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main.py
  templates:
    - name: main.py  #<
      container: {image: busybox}
""", m.BadName, contains="template name 'main.py' is not valid")


def test_bad_parameter_name(expect_one):
    expect_one(HEAD + """\
spec:
  entrypoint: main
  templates:
    - name: main
      inputs:
        parameters:
          - name: my param  #<
      container: {image: busybox}
""", m.BadName, contains="input parameter name 'my param' is not valid")


@pytest.mark.parametrize("line, contains", [
    ("    team: data science  #<", "label value 'data science'"),
    ("    -team: vision  #<", "label key '-team'"),
    ("    Example.COM/team: vision  #<", "its prefix (before '/') must be a DNS-1123 subdomain"),
    (f"    team: {'x' * 64}  #<", "label value"),
])
def test_bad_labels(expect_one, line, contains):
    expect_one(HEAD + "  labels:\n" + line + "\n" + """\
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: busybox}
""", m.BadName, contains=contains)


# --- the other Argo kinds ----------------------------------------------------------------------------------

TEMPLATE_SPEC = """\
  entrypoint: main
  templates:
    - name: main
      container:
        image: busybox
        imagePullPolicey: Always  #<
"""


@pytest.mark.parametrize("kind", ["WorkflowTemplate", "ClusterWorkflowTemplate"])
def test_workflow_templates_are_checked_against_their_definition(expect_one, kind):
    expect_one(f"apiVersion: argoproj.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: shared\nspec:\n" + TEMPLATE_SPEC,
               m.UnknownField, contains="did you mean 'imagePullPolicy'?")


def test_cron_workflows_are_checked_against_their_definition(expect_one):
    spec = "\n".join("  " + line if line else line for line in TEMPLATE_SPEC.splitlines())
    expect_one("apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata:\n  name: nightly\nspec:\n"
               "  schedules: ['0 2 * * *']\n  workflowSpec:\n" + spec + "\n",
               m.UnknownField, contains="spec.workflowSpec.templates[0].container.imagePullPolicey")


def test_cron_workflow_names_are_shorter(expect_one):
    expect_one(f"""\
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: {"n" * 53}  #<
spec:
  schedules: ["0 2 * * *"]
  workflowSpec:
    entrypoint: main
    templates:
      - name: main
        container: {{image: busybox}}
""", m.BadName, contains="Argo allows at most 52 characters for a CronWorkflow name")
