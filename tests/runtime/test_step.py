"""The step contract of dicec/emit/steps.py: ``op`` values and records, ``answer`` over records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from helpers import write_image  # noqa: E402

from dicec.runtime.contract import b64  # noqa: E402
from dicec.errors import DicecError  # noqa: E402
from dicec.runtime.commands import answer  # noqa: E402
from dicec.runtime.answer import parse_records, records_index  # noqa: E402
from dicec.runtime.step import run_op  # noqa: E402


@pytest.fixture
def image(tmp_path):
    return write_image(tmp_path / "a.png", seed=4)


def call(operator, args, form="method"):
    return b64(json.dumps({"task": "t", "operator": operator, "form": form, "args": args}))


def op_run(tmp_path, image, operator, args, **kw):
    value_out, record_out = tmp_path / "out" / "value.json", tmp_path / "out" / "record.json"
    run_op(name=operator, image_uri=str(image), call_payload=call(operator, args), patch_json=kw.get("patch", '"image"'),
           index=kw.get("index", "none"), refs_json=kw.get("refs", "{}"), value_out=str(value_out),
           record_out=str(record_out), models="seeded")
    return json.loads(value_out.read_text()), json.loads(record_out.read_text())


def test_find_value_is_a_list_of_boxes_and_record_has_the_resolved_call(tmp_path, image):
    value, record = op_run(tmp_path, image, "find", [{"literal": "car"}])
    assert isinstance(value, list)
    assert record["operator"] == "find" and record["args"] == ["car"] and record["value"] == value
    assert record["patch"] == {"left": 0, "lower": 0, "right": 320, "upper": 240}


def test_index_out_of_range_gives_the_empty_value(tmp_path, image):
    boxes = json.dumps([{"left": 0, "lower": 0, "right": 10, "upper": 10}])
    assert op_run(tmp_path, image, "find", [{"literal": "x"}], patch=boxes, index="5") == ([], None)
    assert op_run(tmp_path, image, "exists", [{"literal": "x"}], patch=boxes, index="-2") == (None, None)
    assert op_run(tmp_path, image, "exists", [{"literal": "x"}], patch="null", index="0") == (None, None)
    value, record = op_run(tmp_path, image, "exists", [{"literal": "x"}], patch=boxes, index="-1")
    assert isinstance(value, bool) and record["patch"] == json.loads(boxes)[0]


def test_a_list_patch_without_index_runs_once_per_box(tmp_path, image):
    boxes = [{"left": 0, "lower": 0, "right": 10, "upper": 10}, {"left": 5, "lower": 5, "right": 50, "upper": 40}]
    value, record = op_run(tmp_path, image, "compute_depth", [], patch=json.dumps([boxes, [boxes[1]]]))
    assert len(value) == 2 and len(value[0]) == 2 and len(value[1]) == 1
    assert value[0][1] == value[1][0]  # same call, same answer
    assert record[0][0]["patch"] == boxes[0]


def test_refs_and_formats_are_resolved_as_the_program_would(tmp_path, image):
    value, record = op_run(tmp_path, image, "simple_query",
                           [{"format": ["Is the ", {"ref": "q"}, " one ", {"ref": "d"}, "?"]}],
                           refs=json.dumps({"q": "red", "d": 2.5}))
    assert record["args"] == ["Is the red one 2.5?"]
    with pytest.raises(DicecError, match="no value for task"):
        op_run(tmp_path, image, "simple_query", [{"ref": "missing"}])


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, image):
    out = tmp_path / "o"
    out.mkdir()
    args = ["find", "--image", str(tmp_path / "nope.png"), "--call", call("find", [{"literal": "car"}]),
            "--value-out", str(out / "v.json"), "--record-out", str(out / "r.json"), "--models", "seeded"]
    from dicec.runtime.__main__ import main

    result = CliRunner().invoke(main, ["op", *args])
    assert result.exit_code == 1 and "image not found" in result.output
    assert list(out.iterdir()) == []
    wrong = CliRunner().invoke(main, ["op", "exists", *args[1:]])
    assert wrong.exit_code == 1 and "is for 'find'" in wrong.output


def test_records_parsing_skips_unresolved_references_and_flattens():
    text = ('[{"operator":"exists","form":"method","patch":null,"args":["a"],"value":true}, '
            '{{tasks.verify-x.outputs.parameters.record}}, [[{"operator":"exists","form":"method","patch":null,'
            '"args":["b"],"value":false}], null], "junk"]')
    records = parse_records(text)
    index = records_index(records)
    assert len(index) == 2
    assert parse_records("[]") == [] and parse_records("[{{tasks.a.outputs.parameters.record}}]") == []


def test_answer_command_writes_the_answer(tmp_path, image):
    program = "def execute_command(image):\n    return ImagePatch(image).exists('dog')\n"
    rec = {"operator": "exists", "form": "method", "patch": {"left": 0, "lower": 0, "right": 320, "upper": 240},
           "args": ["dog"], "value": "from the record"}
    out = tmp_path / "answer.json"
    result = CliRunner().invoke(answer, ["--image", str(image), "--program", b64(program), "--records",
                                         json.dumps([rec, "{{tasks.x.outputs.parameters.record}}"]), "--out", str(out),
                                         "--models", "seeded"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == "from the record"
    assert "1 from 1 records, 0 on demand" in result.output


def test_answer_reads_its_records_from_a_file(tmp_path, image):
    """What an emitted answer step runs: the records in a file Argo writes from a raw artifact, as a crowded
    image's records are over the 128 KiB one argument may hold; giving both the flag and the file is refused."""
    program = "def execute_command(image):\n    return ImagePatch(image).exists('dog')\n"
    rec = {"operator": "exists", "form": "method", "patch": {"left": 0, "lower": 0, "right": 320, "upper": 240},
           "args": ["dog"], "value": "from the file"}
    padding = [{"operator": "exists", "form": "method", "patch": None, "args": [f"thing {i}"], "value": False}
               for i in range(3000)]
    records = tmp_path / "records.json"
    records.write_text(json.dumps([*padding, rec]))
    assert records.stat().st_size > 128 * 1024
    out = tmp_path / "answer.json"
    base = ["--image", str(image), "--program", b64(program), "--out", str(out), "--models", "seeded"]
    result = CliRunner().invoke(answer, [*base, "--records-file", str(records)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == "from the file"
    both = CliRunner().invoke(answer, [*base, "--records-file", str(records), "--records", "[1]"])
    assert both.exit_code == 1 and "give --records or --records-file, not both" in str(both.exception)


def test_operator_errors_are_recorded_not_fatal(tmp_path, image, monkeypatch):
    from dicec.runtime import backend as backend_module
    from dicec.runtime.seeded import SeededBackend

    class Failing(SeededBackend):
        name = "failing"

        def compute(self, spec, form, image, patch, args):
            raise ValueError("the model cannot read this")

    monkeypatch.setitem(backend_module._BACKENDS, "seeded", Failing())
    value, record = op_run(tmp_path, image, "find", [{"literal": "x"}])
    assert value == [] and record["value"] == [] and record["error"] == "find: ValueError: the model cannot read this"
    value, record = op_run(tmp_path, image, "exists", [{"literal": "x"}])
    assert value is None and "error" in record
