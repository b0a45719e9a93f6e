"""``dicec op --group``: a fused group's calls in one step write what separate steps would write."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from helpers import write_image  # noqa: E402

from dicec.analysis import analyse  # noqa: E402
from dicec.emit.steps import call_payload, group_payload  # noqa: E402
from dicec.runtime.backend import registry_for  # noqa: E402
from dicec.runtime.commands import op  # noqa: E402
from dicec.runtime.contract import b64  # noqa: E402
from dicec.runtime.group import parse_inputs  # noqa: E402
from dicec.runtime.step import run_op  # noqa: E402

PROGRAM = """
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    colour = image_patch.simple_query("What colour is the sky?")
    first = cars[0].verify_property("car", colour) if cars else False
    return [car.exists(colour + " roof") for car in cars], first
"""


@pytest.fixture(scope="module")
def graph():
    return analyse(PROGRAM, registry_for(), path="p.py")


@pytest.fixture
def image(tmp_path):
    return write_image(tmp_path / "a.png", seed=7)


def separately(graph, image, tmp_path) -> dict[str, tuple]:
    """Each task as its own ``dicec op`` step, values passed on as Argo would (JSON text)."""
    values, out = {}, {}
    for t in graph.tasks:
        refs = {r: values[r] for r in t.depends if t.patch is None or r != t.patch.task}
        kw = {"patch_json": '"image"', "index": "none"}
        if t.patch is not None and t.patch.kind == "item":
            kw = {"patch_json": json.dumps(values[t.patch.task]),
                  "index": "none" if t.patch.index is None else str(t.patch.index)}
        v_path, r_path = tmp_path / "sep" / t.id / "v.json", tmp_path / "sep" / t.id / "r.json"
        if t.patch is not None and t.patch.kind == "each":  # Argo: one step per element, outputs aggregated
            vs, rs = [], []
            for i, item in enumerate(values[t.patch.task]):
                run_op(name=t.operator, image_uri=str(image), call_payload=call_payload(t), patch_json=json.dumps(item),
                       refs_json=json.dumps(refs), value_out=str(v_path) + str(i), record_out=str(r_path) + str(i),
                       models="seeded")
                vs.append(json.loads(Path(str(v_path) + str(i)).read_text()))
                rs.append(json.loads(Path(str(r_path) + str(i)).read_text()))
            values[t.id], out[t.id] = vs, (vs, rs)
            continue
        run_op(name=t.operator, image_uri=str(image), call_payload=call_payload(t), refs_json=json.dumps(refs),
               value_out=str(v_path), record_out=str(r_path), models="seeded", **kw)
        values[t.id] = json.loads(v_path.read_text())
        out[t.id] = (values[t.id], json.loads(r_path.read_text()))
    return out


def test_a_group_writes_each_calls_value_and_record_as_separate_steps_do(graph, image, tmp_path):
    expected = separately(graph, image, tmp_path)
    assert any(isinstance(v, list) and v for v, _ in expected.values())  # the fan-out really ran
    out_dir = tmp_path / "group"
    r = CliRunner().invoke(op, ["--group", group_payload(list(graph.tasks)), "--image", str(image),
                                "--out-dir", str(out_dir), "--models", "seeded"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    for t in graph.tasks:
        got = (json.loads((out_dir / t.id / "value.json").read_text()),
               json.loads((out_dir / t.id / "record.json").read_text()))
        assert got == expected[t.id], t.id


def test_values_from_outside_the_group_come_from_inputs(graph, image, tmp_path):
    expected = separately(graph, image, tmp_path)
    inside = [t for t in graph.tasks if t.operator in ("verify_property", "exists")]
    outside = sorted({d for t in inside for d in t.depends} - {t.id for t in inside})
    inputs = "{" + ", ".join(f'"{d}": {json.dumps(expected[d][0])}' for d in outside) + "}"
    out_dir = tmp_path / "g"
    run_op(name=None, image_uri=str(image), call_payload=None, group_payload=group_payload(inside), inputs_json=inputs,
           out_dir=str(out_dir), models="seeded")
    for t in inside:
        assert json.loads((out_dir / t.id / "record.json").read_text()) == expected[t.id][1]


def test_a_missing_input_gives_the_empty_value_and_a_null_record(graph, image, tmp_path):
    inside = [t for t in graph.tasks if t.operator in ("verify_property", "exists")]
    out_dir = tmp_path / "g"
    # an unresolved Argo reference (a fan-out with no elements upstream) is left out, not fatal
    run_op(name=None, image_uri=str(image), call_payload=None, group_payload=group_payload(inside),
           inputs_json='{"find-car": {{tasks.x.outputs.parameters.value}}}', out_dir=str(out_dir), models="seeded")
    for t in inside:
        value = json.loads((out_dir / t.id / "value.json").read_text())
        record = json.loads((out_dir / t.id / "record.json").read_text())
        assert (value, record) in ((None, None), ([], []))


def test_lenient_inputs_keep_the_valid_entries():
    assert parse_inputs('{"a": [1, {"b": "}"}], "c": {{tasks.x.outputs.parameters.value}}, "d": null}') == \
        {"a": [1, {"b": "}"}], "d": None}


@pytest.mark.parametrize("argv, message", [
    (["--group", b64("[]")], "--group must hold"),
    (["--group", "%%%"], "--group is not base64url"),
    (["--group", b64(json.dumps({"calls": [{"task": "../x", "operator": "find", "form": "method", "args": [],
                                            "patch": None}]}))], "bad or repeated task id"),
    (["find", "--group", b64("{}")], "give no NAME"),
    (["find", "--call", b64("{}"), "--value-out", "v", "--record-out", "r", "--out-dir", "d"], "go with --group"),
    (["find"], "dicec op needs --call, --value-out, --record-out"),
])
def test_bad_group_steps_are_one_line(argv, message, image, tmp_path):
    from dicec.cli import cli

    extra = ["--out-dir", str(tmp_path / "o")] if "--group" in argv and "--out-dir" not in argv else []
    r = CliRunner().invoke(cli, ["op", *argv, "--image", str(image), *extra, "--models", "seeded"])
    assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
