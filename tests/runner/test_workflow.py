"""``dicec run`` executes Argo Workflow files: DAG order, substitution, fan-outs, when, retries, failures."""

from __future__ import annotations

import sys
import time

import pytest
import yaml

from dicec.errors import DicecError
from dicec.runner.when import evaluate_when
from dicec.runner.workflow import RunOptions, StepFailed, run_workflow

PY = sys.executable
# A step: prints its arguments, writes argv[1] to /tmp/dicec/out (an output parameter).
WRITE = "import sys, os, time; os.makedirs('/tmp/dicec'.replace('/tmp/dicec', os.path.dirname(sys.argv[2])), exist_ok=True)\n" \
        "time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0); print('writing', sys.argv[1]); open(sys.argv[2], 'w').write(sys.argv[1])"


def template(name, value_expr, inputs=("x",), sleep=None, retry=None, script=WRITE):
    args = ["-c", script, value_expr, "/tmp/dicec/out"] + ([str(sleep)] if sleep is not None else [])
    t = {"name": name, "inputs": {"parameters": [{"name": i} for i in inputs]},
         "container": {"image": "python", "command": [PY], "args": args},
         "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/dicec/out"}}]}}
    if retry is not None:
        t["retryStrategy"] = {"limit": retry}
    return t


def workflow(tasks, templates, params=(("who", None),), outputs=None):
    dag = {"name": "main", "dag": {"tasks": tasks}}
    if outputs:
        dag["outputs"] = {"parameters": [{"name": k, "valueFrom": {"parameter": v}} for k, v in outputs.items()]}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "t-"},
            "spec": {"entrypoint": "main", "arguments": {"parameters": [
                {"name": n, **({} if v is None else {"value": v})} for n, v in params]},
                "templates": [dag, *templates]}}


def run(tmp_path, wf, **kw):
    """Run ``wf``; its steps are Python one-liners, not dicec steps, so they run with run_any_command."""
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(wf))
    return run_workflow(str(path), RunOptions(**{"run_any_command": True, **kw}))


def test_substitution_outputs_and_fanout_aggregation(tmp_path):
    wf = workflow(
        tasks=[
            {"name": "list", "template": "echo", "arguments": {"parameters": [{"name": "x", "value": '[{"n": 1}, {"n": 2}, {"n": 3}]'}]}},
            {"name": "each", "template": "echo", "dependencies": ["list"],
             "withParam": "{{tasks.list.outputs.parameters.out}}",
             "arguments": {"parameters": [{"name": "x", "value": "{{item.n}}-{{workflow.parameters.who}}"}]}},
            {"name": "obj", "template": "echo", "dependencies": ["list"],
             "withParam": "{{tasks.list.outputs.parameters.out}}",
             "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]}},
        ],
        templates=[template("echo", "{{inputs.parameters.x}}")],
        outputs={"names": "{{tasks.each.outputs.parameters.out}}", "objs": "{{tasks.obj.outputs.parameters.out}}"})
    result = run(tmp_path, wf, parameters={"who": "bob"})
    assert result.outputs["names"] == '["1-bob","2-bob","3-bob"]'
    assert result.outputs["objs"] == '[{"n":1},{"n":2},{"n":3}]'
    assert result.steps == 7


def test_when_skips_and_empty_fanouts_leave_references_unresolved(tmp_path):
    wf = workflow(
        tasks=[
            {"name": "a", "template": "echo", "arguments": {"parameters": [{"name": "x", "value": "heads"}]}},
            {"name": "yes", "template": "echo", "dependencies": ["a"], "when": "{{tasks.a.outputs.parameters.out}} == heads",
             "arguments": {"parameters": [{"name": "x", "value": "ran"}]}},
            {"name": "no", "template": "echo", "dependencies": ["a"], "when": "'{{tasks.a.outputs.parameters.out}}' != 'heads'",
             "arguments": {"parameters": [{"name": "x", "value": "ran"}]}},
            {"name": "none", "template": "echo", "withParam": "[]", "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]}},
            {"name": "after", "template": "echo", "depends": "no && none.Succeeded",
             "arguments": {"parameters": [{"name": "x", "value": "[{{tasks.none.outputs.parameters.out}}]"}]}},
        ],
        templates=[template("echo", "{{inputs.parameters.x}}")], params=(),
        outputs={"yes": "{{tasks.yes.outputs.parameters.out}}", "after": "{{tasks.after.outputs.parameters.out}}"})
    result = run(tmp_path, wf)
    assert result.outputs == {"yes": "ran", "after": "[{{tasks.none.outputs.parameters.out}}]"}
    assert result.skipped == ("no",)


def test_skipped_tasks_and_empty_fanouts_have_their_declared_defaults(tmp_path):
    """Argo v4: a Skipped task (a false when, or "Skipped, empty params") gets its outputs' valueFrom.default,
    so a nested fan-out over an empty fan-out expands to nothing instead of failing on an unresolved list."""
    echo = template("echo", "{{inputs.parameters.x}}")
    echo["outputs"]["parameters"][0]["valueFrom"]["default"] = "[]"
    wf = workflow(
        tasks=[
            {"name": "outer", "template": "echo", "withParam": "[]", "arguments": {"parameters": [{"name": "x", "value": "[1]"}]}},
            {"name": "inner", "template": "echo", "dependencies": ["outer"], "withParam": "{{tasks.outer.outputs.parameters.out}}",
             "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]}},
            {"name": "off", "template": "echo", "when": "1 == 2", "arguments": {"parameters": [{"name": "x", "value": "7"}]}},
            {"name": "after", "template": "echo", "dependencies": ["inner", "off"], "arguments": {"parameters": [
                {"name": "x", "value": "{{tasks.inner.outputs.parameters.out}} {{tasks.off.outputs.parameters.out}}"}]}},
        ],
        templates=[echo], params=(), outputs={"after": "{{tasks.after.outputs.parameters.out}}"})
    result = run(tmp_path, wf)
    assert result.outputs == {"after": "[] []"}
    assert result.skipped == ("off",)


FLAKY = "import sys, os, pathlib; c = pathlib.Path(sys.argv[1]); n = int(c.read_text()) if c.exists() else 0; " \
        "c.write_text(str(n + 1)); print('attempt', n); os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True); " \
        "sys.exit(1) if n < 2 else open(sys.argv[2], 'w').write('ok')"


def test_retry_strategy_limit(tmp_path):
    counter = tmp_path / "count"
    flaky = template("flaky", str(counter), inputs=(), retry=2, script=FLAKY)
    wf = workflow([{"name": "f", "template": "flaky"}], [flaky], params=(), outputs={"o": "{{tasks.f.outputs.parameters.out}}"})
    assert run(tmp_path, wf).outputs == {"o": "ok"}
    counter.unlink()
    flaky["retryStrategy"]["limit"] = 1
    with pytest.raises(StepFailed) as info:
        run(tmp_path, wf)
    assert info.value.step == "f" and "after 2 attempts" in info.value.reason
    assert "attempt 1" in "\n".join(info.value.log_tail)


def test_a_failing_step_stops_the_run_with_its_log_tail(tmp_path):
    crash = template("crash", "x", inputs=(), script="import sys; print('line one'); print('boom', file=sys.stderr); sys.exit(3)")
    wf = workflow([{"name": "ok", "template": "echo", "arguments": {"parameters": [{"name": "x", "value": "1"}]}},
                   {"name": "bad", "template": "crash", "dependencies": ["ok"]},
                   {"name": "never", "template": "echo", "dependencies": ["bad"],
                    "arguments": {"parameters": [{"name": "x", "value": "1"}]}}],
                  [template("echo", "{{inputs.parameters.x}}"), crash], params=())
    with pytest.raises(StepFailed) as info:
        run(tmp_path, wf)
    assert info.value.step == "bad" and info.value.reason == "exit code 3"
    assert info.value.log_tail == ["line one", "boom"]


def test_independent_tasks_run_in_parallel(tmp_path):
    tasks = [{"name": f"t{i}", "template": "slow", "arguments": {"parameters": [{"name": "x", "value": str(i)}]}}
             for i in range(4)]
    wf = workflow(tasks, [template("slow", "{{inputs.parameters.x}}", sleep=0.6)], params=())
    start = time.monotonic()
    run(tmp_path, wf, parallelism=4)
    assert time.monotonic() - start < 4 * 0.6


def test_parameters_are_checked(tmp_path):
    wf = workflow([{"name": "a", "template": "echo", "arguments": {"parameters": [{"name": "x", "value": "1"}]}}],
                  [template("echo", "{{inputs.parameters.x}}")])
    with pytest.raises(DicecError, match="needs -p who"):
        run(tmp_path, wf)
    with pytest.raises(DicecError, match="no parameter 'what'"):
        run(tmp_path, wf, parameters={"who": "a", "what": "b"})


@pytest.mark.parametrize("text, expected", [
    ("yes == yes", True), ('"a b" == "a b"', True), ("'x' != 'x'", False), ("3 > 2 && 1 < 2", True),
    ("2 >= 3 || !(1 == 2)", True), ("1 == '1'", False), ("1.5 < 2", True), ("true && false", False),
    ("a == a && (b != c || d == e)", True),
])
def test_when_expressions(text, expected):
    assert evaluate_when(text) is expected


@pytest.mark.parametrize("text", ["1 +", "1 < 'a'", "(1 == 1", "x", "{{=a}}"])
def test_bad_when_expressions_are_clear_errors(text):
    with pytest.raises(DicecError, match="when"):
        evaluate_when(text)


HELLO_EDITED = {  # Argo's hello-world, edited to run a shell on whoever runs it
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "hello-"},
    "spec": {"entrypoint": "main", "templates": [
        {"name": "main", "dag": {"tasks": [{"name": "hello", "template": "say"}]}},
        {"name": "say", "container": {"image": "busybox", "command": ["sh", "-c"], "args": ["touch MARK"]}}]}}


def test_only_dicec_step_commands_run_unless_asked(tmp_path, monkeypatch):
    from dicec.runtime.contract import STEP_COMMANDS, is_step_command

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "hello.yaml"
    path.write_text(yaml.safe_dump(HELLO_EDITED))
    with pytest.raises(DicecError) as info:
        run_workflow(str(path), RunOptions())
    assert str(info.value) == (f"{path}: template 'say' runs 'sh -c touch MARK', not a dicec step command "
                               "(dicec op ..., dicec answer ...); dicec run runs only those, unless "
                               "--run-any-command is given")
    assert not (tmp_path / "MARK").exists()  # refused before anything ran
    run_workflow(str(path), RunOptions(run_any_command=True))
    assert (tmp_path / "MARK").exists()
    assert STEP_COMMANDS == (("dicec", "op"), ("dicec", "answer"))
    for argv, ok in ((["dicec", "op", "find"], True), (["dicec", "op", "stage", "--x"], True), (["dicec"], False),
                     (["dicec", "answer"], True), (["/usr/bin/dicec", "op"], False), (["dicec", "exec"], False),
                     (["python", "-m", "dicec.runtime", "op"], False)):
        assert is_step_command(argv) is ok, argv


def test_a_dicec_command_hidden_in_args_is_refused_too(tmp_path):
    wf = yaml.safe_load(yaml.safe_dump(HELLO_EDITED))
    wf["spec"]["templates"][1]["container"] = {"image": "x", "command": ["sh"], "args": ["dicec", "op", "find"]}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(wf))
    with pytest.raises(DicecError, match="runs 'sh dicec op ...', not a dicec step command"):
        run_workflow(str(path), RunOptions())
