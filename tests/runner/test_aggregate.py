"""``dicec run`` aggregates a loop's outputs exactly as Argo v4.1.2's controller does
(``aggregatedJSONValueList`` / ``tryJSONUnmarshal`` and the result list in ``workflow/controller/operator.go``),
so a step downstream of a fan-out reads on this machine the text it reads on a cluster."""

from __future__ import annotations

import json

import pytest

from dicec.errors import DicecError
from dicec.runner.aggregate import aggregate_parameter, aggregate_results, go_float, go_json, go_unmarshal


def test_lists_and_objects_are_parsed_into_the_list():
    assert aggregate_parameter(['["a","b"]', '{"k": 1}', "[]"]) == '[["a","b"],{"k":1},[]]'
    assert aggregate_parameter(['{"b": 1, "a": [1.0, 2.5]}']) == '[{"a":[1,2.5],"b":1}]'  # Go: sorted keys, floats


@pytest.mark.parametrize("values", [["true", "false"], ["3", "4.5"], ['"x"', '"y"'], ["null"], ["not json"],
                                    ['[1]', "true"], ['{"a":1}', '"a"'], ["[1", "[2]"], ["NaN"], ["1e400"]])
def test_anything_else_makes_every_value_a_string(values):
    """One value that is not a JSON list or object (or not JSON Go reads: NaN, a number past float64) keeps
    every value as the string it was, even the lists among them."""
    assert json.loads(aggregate_parameter(values)) == values


def test_strings_are_escaped_as_go_escapes_them():
    text = aggregate_parameter(['a<b>&c', "line\nbreak\ttab\x01\x7f", "\u2028\u2029é"])
    assert text == '["a\\u003cb\\u003e\\u0026c","line\\nbreak\\ttab\\u0001\x7f","\\u2028\\u2029é"]'
    assert json.loads(text) == ["a<b>&c", "line\nbreak\ttab\x01\x7f", "\u2028\u2029é"]
    assert go_json({"é": 1, "z": 2, "a": 3}) == '{"a":3,"z":2,"é":1}'  # keys in byte order
    assert go_json(go_unmarshal('"\\ud800x"')) == '"\ufffdx"'  # a lone surrogate is U+FFFD in Go


@pytest.mark.parametrize("number, text", [(1.0, "1"), (3, "3"), (0.5, "0.5"), (-3.25, "-3.25"), (1e20, "100000000000000000000"),
                                          (1e21, "1e+21"), (1e-6, "0.000001"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"),
                                          (1e-10, "1e-10"), (12345678901234567890, "12345678901234567000"),
                                          (-0.0, "-0"), (0.1, "0.1"), (123.456, "123.456")])
def test_numbers_are_the_float64_go_parsed_them_into(number, text):
    assert go_float(float(number)) == text
    assert aggregate_parameter([f"[{json.dumps(number)}]"]) == f"[[{text}]]"


def test_results_are_parsed_whatever_their_type_and_must_be_json():
    assert aggregate_results(['{"value": true}', "3", '"x"', "null"], task="t") == '[{"value":true},3,"x",null]'
    # a result is kept as the JSON text it is (Argo's wfv1.Item, a json.RawMessage), compacted as json.Marshal
    # compacts one: its keys in their order, its numbers as written, only <, >, & and U+2028/9 escaped
    raw = ['{"value": 1.0, "record": {"z": 1, "a": "<b> & \\" c"}}', " [1e400, 12345678901234567890, \"\u2028\"] "]
    assert aggregate_results(raw, task="t") == (
        '[{"value":1.0,"record":{"z":1,"a":"\\u003cb\\u003e \\u0026 \\" c"}},[1e400,12345678901234567890,"\\u2028"]]')
    assert aggregate_results([], task="t") == "[]"
    with pytest.raises(DicecError, match="is not JSON"):
        aggregate_results(["NaN"], task="t")
    with pytest.raises(DicecError, match="task 't': an element's result is not JSON"):
        aggregate_results(["ok"], task="t")


def test_a_fan_out_of_booleans_aggregates_as_argo_gives_it(tmp_path):
    """A fan-out whose elements write ``true``, ``false`` and ``[1]``: its aggregated output is Argo's list of
    strings, not ``[true,false,[1]]`` (what dicec run gave before it aggregated as Argo does)."""
    import yaml

    from dicec.runner.workflow import RunOptions, run_workflow

    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "agg-"},
          "spec": {"entrypoint": "main", "templates": [
              {"name": "main", "dag": {"tasks": [
                  {"name": "each", "template": "emit", "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]},
                   "withParam": '["true", "false", "[1]"]'}]},
               "outputs": {"parameters": [{"name": "all", "valueFrom": {"parameter": "{{tasks.each.outputs.parameters.v}}"}}]}},
              {"name": "emit", "inputs": {"parameters": [{"name": "x"}]},
               "container": {"image": "busybox", "command": ["sh", "-c", 'mkdir -p "${1%/*}" && printf "%s\\n" "$0" > "$1"'],
                             "args": ["{{inputs.parameters.x}}", "/tmp/dicec/v"]},
               "outputs": {"parameters": [{"name": "v", "valueFrom": {"path": "/tmp/dicec/v"}}]}}]}}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(wf))
    result = run_workflow(str(path), RunOptions(parameters={}, parallelism=2, isolation="process",
                                                run_any_command=True))
    assert result.outputs["all"] == '["true","false","[1]"]'
