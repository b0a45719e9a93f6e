"""dicec op call: a services-mode step writes exactly the value and record dicec op writes."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import write_image  # noqa: E402

from dicec.runtime.contract import b64  # noqa: E402
from dicec.errors import DicecError  # noqa: E402
from dicec.runtime.client import SERVICES_ENV, parse_services, resolve_service, run_call  # noqa: E402
from dicec.serving.model_server import ModelServer, ServeOptions  # noqa: E402
from dicec.runtime.step import run_op  # noqa: E402

OPERATORS = ("find", "exists", "compute_depth", "llm_query", "best_image_match", "verify_property")


@pytest.fixture(scope="module")
def server():
    s = ModelServer(ServeOptions(operators=OPERATORS, port=0, models="seeded", max_wait_ms=2))
    s.start()
    s.wait_ready(30)
    yield s
    s.stop(delay_s=0)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return write_image(tmp_path_factory.mktemp("client") / "a.png", seed=11)


def payload(operator, args, form="method"):
    return b64(json.dumps({"task": "t", "operator": operator, "form": form, "args": args}))


BOXES = [{"left": 0, "lower": 0, "right": 10, "upper": 10}, {"left": 5, "lower": 5, "right": 50, "upper": 40}]
CASES = [
    ("find", [{"literal": "car"}], "method", '"image"', "none", "{}"),
    ("exists", [{"ref": "t1"}], "method", json.dumps(BOXES), "1", '{"t1": "dog"}'),
    ("exists", [{"literal": "x"}], "method", json.dumps(BOXES), "7", "{}"),  # out of range: empty value, null record
    ("compute_depth", [], "method", json.dumps([BOXES, [BOXES[1]]]), "none", "{}"),  # nested fan-out element
    ("verify_property", [{"literal": "car"}, {"format": ["is ", {"ref": "t2"}]}], "method", json.dumps(BOXES[0]),
     "none", '{"t2": 3}'),
    ("llm_query", [{"literal": "what?"}, {"literal": None}, {"literal": True}], "function", "null", "none", "{}"),
    ("best_image_match", [{"literal": BOXES}, {"literal": ["a dog"]}, {"literal": True}], "function", "null", "none", "{}"),
    ("compute_depth", [], "method", "null", "none", "{}"),  # no receiver: empty value
]


@pytest.mark.parametrize("operator, args, form, patch, index, refs", CASES)
def test_op_call_writes_what_op_writes(server, image, tmp_path, operator, args, form, patch, index, refs):
    outputs = {}
    for how in ("op", "call"):
        value_out, record_out = tmp_path / how / "value.json", tmp_path / how / "record.json"
        common = dict(name=operator, image_uri=str(image), call_payload=payload(operator, args, form), patch_json=patch,
                      index=index, refs_json=refs, value_out=str(value_out), record_out=str(record_out))
        if how == "op":
            run_op(**common, models="seeded")
        else:
            run_call(**common, service="http://dicec-some-server.ns.svc", services={"dicec-some-server": server.url})
        outputs[how] = (value_out.read_bytes(), record_out.read_bytes())
    assert outputs["op"] == outputs["call"]


def test_operator_errors_are_recorded_as_op_records_them(server, image, tmp_path):
    """A receiver box outside the image: both paths record the same error (or value), exit 0."""
    box = json.dumps({"left": 5000, "lower": 5000, "right": 5001, "upper": 5001})
    out = {}
    for how in ("op", "call"):
        common = dict(name="find", image_uri=str(image), call_payload=payload("find", [{"literal": "x"}]),
                      patch_json=box, value_out=str(tmp_path / how / "v"), record_out=str(tmp_path / how / "r"))
        run_op(**common, models="seeded") if how == "op" else run_call(**common, service=server.url)
        out[how] = ((tmp_path / how / "v").read_text(), (tmp_path / how / "r").read_text())
    assert out["op"] == out["call"]


def test_service_resolution():
    assert resolve_service("http://dicec-find-a4000", {}) == "http://dicec-find-a4000"
    assert resolve_service("http://dicec-find-a4000.team.svc/", {"dicec-find-a4000": "http://127.0.0.1:9/"}) == \
        "http://127.0.0.1:9"
    assert resolve_service("http://other:8080", {"dicec-find-a4000": "http://127.0.0.1:9"}) == "http://other:8080"
    for bad in ("https://x", "x", "http://", "http://h/?q=1", "http://h:notaport"):
        with pytest.raises(DicecError, match="--service"):
            resolve_service(bad)
    assert parse_services(None) == {}
    with pytest.raises(DicecError, match=SERVICES_ENV):
        parse_services("[1]")
    with pytest.raises(DicecError, match=SERVICES_ENV):
        parse_services("{nope")


def test_an_unreachable_server_is_one_clear_error(image, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(DicecError, match="cannot be reached"):
        run_call(name="exists", service=f"http://127.0.0.1:{port}", image_uri=str(image),
                 call_payload=payload("exists", [{"literal": "x"}]), value_out=str(tmp_path / "v"),
                 record_out=str(tmp_path / "r"), wait_s=0.3)
    assert not (tmp_path / "v").exists()


def test_a_server_that_does_not_serve_the_operator(server, image, tmp_path):
    with pytest.raises(DicecError, match="HTTP 404.*not served here"):
        run_call(name="simple_query", service=server.url, image_uri=str(image),
                 call_payload=payload("simple_query", [{"literal": "x"}]), value_out=str(tmp_path / "v"),
                 record_out=str(tmp_path / "r"), wait_s=0)


def test_op_call_through_the_cli_and_in_process(server, image, tmp_path):
    from click.testing import CliRunner

    from dicec.cli import cli
    from dicec.runtime.commands import run_in_process

    args = ["op", "call", "exists", "--service", "http://dicec-x", "--image", str(image),
            "--call", payload("exists", [{"literal": "dog"}]), "--value-out", str(tmp_path / "a" / "v"),
            "--record-out", str(tmp_path / "a" / "r")]
    result = CliRunner().invoke(cli, args, env={SERVICES_ENV: json.dumps({"dicec-x": server.url})})
    assert result.exit_code == 0, result.output
    in_process = [a.replace(str(tmp_path / "a"), str(tmp_path / "b")) for a in args]
    rc, log = run_in_process(in_process, env={SERVICES_ENV: json.dumps({"dicec-x": server.url})})
    assert rc == 0, log
    assert (tmp_path / "a" / "r").read_text() == (tmp_path / "b" / "r").read_text()
    rc, log = run_in_process([*in_process[:3], "--service", "ftp://x", *in_process[5:]], env={})
    assert rc == 1 and "--service" in log[-1]
    bad = CliRunner().invoke(cli, ["op", "call", "exists"])
    assert bad.exit_code == 2


def test_dicec_op_name_still_runs_a_pods_mode_step(image, tmp_path):
    from click.testing import CliRunner

    from dicec.cli import cli

    for prefix in (["op"], ["op", "step"]):
        out = tmp_path / "-".join(prefix)
        result = CliRunner().invoke(cli, [*prefix, "exists", "--image", str(image), "--call",
                                          payload("exists", [{"literal": "dog"}]), "--value-out", str(out / "v"),
                                          "--record-out", str(out / "r"), "--models", "seeded"])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "op" / "r").read_text() == (tmp_path / "op-step" / "r").read_text()
