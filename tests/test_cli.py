"""The dicec command as a user runs it: exit codes, one-line errors, no partial files, fast start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from dicec.cli import cli

PROGRAM = textwrap.dedent('''
    def execute_command(image):
        image_patch = ImagePatch(image)
        cars = image_patch.find("car")
        trucks = image_patch.find("truck")
        for car in cars:
            car.verify_property("car", "damaged")
        return bool_to_yesno(len(cars) > len(trucks))
''')


def run(*args: str, ops=None):
    extra = ["--operators", str(ops)] if ops else []
    result = CliRunner().invoke(cli, [*args, *extra], catch_exceptions=False)
    return result


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "prog.py"
    p.write_text(PROGRAM)
    return p


def test_compile_program_writes_valid_workflow(tmp_path, prog, synthetic_dir):
    out = tmp_path / "wf.yaml"
    r = run("compile", str(prog), "-o", str(out), ops=synthetic_dir)
    assert r.exit_code == 0, r.output
    assert "3 tasks (1 fan-outs), critical path 2, width 2" in r.stderr
    import yaml
    wf = yaml.safe_load(out.read_text())
    assert wf["kind"] == "Workflow"
    again = run("compile", str(prog), "-o", str(tmp_path / "again.yaml"), ops=synthetic_dir)
    assert again.exit_code == 0 and (tmp_path / "again.yaml").read_bytes() == out.read_bytes()


def test_compile_json_summary(tmp_path, prog, synthetic_dir):
    r = run("compile", str(prog), "-o", str(tmp_path / "wf.yaml"), "--format", "json", ops=synthetic_dir)
    summary = json.loads(r.stdout)
    assert summary["stats"]["max_width"] == 2 and summary["stats"]["fanouts"] == 1
    assert summary["llm_calls"] == 0 and summary["usd_per_query"] > 0


def test_plan_and_place_chain(tmp_path, prog, synthetic_dir):
    graph = tmp_path / "g.json"
    assert run("plan", str(prog), "-o", str(graph), ops=synthetic_dir).exit_code == 0
    assert json.loads(graph.read_text())["stats"]["tasks"] == 3
    placed = tmp_path / "placed.json"
    assert run("place", str(graph), "-o", str(placed), ops=synthetic_dir).exit_code == 0
    assert json.loads(placed.read_text())["placement"]["find-car"]["pool"] == "a4000"
    wf = tmp_path / "wf.yaml"
    assert run("compile", str(placed), "-o", str(wf), ops=synthetic_dir).exit_code == 0
    direct = tmp_path / "direct.yaml"
    run("compile", str(prog), "-o", str(direct), ops=synthetic_dir)
    assert wf.read_bytes() == direct.read_bytes()  # entering in the middle gives the same workflow


def test_plan_several_programs_is_jsonl_and_reports_refusals(tmp_path, prog, synthetic_dir):
    bad = tmp_path / "bad.py"
    bad.write_text("def execute_command(image):\n    import os\n")
    r = run("plan", str(prog), str(bad), str(prog), ops=synthetic_dir)
    assert r.exit_code == 1
    assert len(r.stdout.splitlines()) == 2 and all(json.loads(line)["stats"] for line in r.stdout.splitlines())
    assert f"{bad}:2: import is not allowed in programs" in r.stderr
    assert "planned 2 of 3 programs" in r.stderr


@pytest.mark.parametrize("setup, message", [
    (lambda d: d / "missing.py", "no such file"),
    (lambda d: d, "expected a .txt question"),
    (lambda d: (d / "empty.py").write_text("  \n") and d / "empty.py", "program file is empty"),
    (lambda d: (d / "bin.py").write_bytes(b"\x00\x01def") and d / "bin.py", "looks binary"),
    (lambda d: (d / "latin.py").write_bytes(b"# caf\xe9\n") and d / "latin.py", "not UTF-8"),
    (lambda d: (d / "noentry.py").write_text("def main(image):\n    return 1\n") and d / "noentry.py",
     "must define 'def execute_command(image):'"),
    (lambda d: (d / "syntax.py").write_text("def execute_command(image):\n    return (\n") and d / "syntax.py",
     "syntax error"),
    (lambda d: (d / "unknown.py").write_text("def execute_command(image):\n    return ImagePatch(image).detect('x')\n")
     and d / "unknown.py", "unknown attribute 'detect'"),
    (lambda d: (d / "q.md").write_text("hi") and d / "q.md", "expected a .txt question"),
])
def test_bad_input_is_one_line_nonzero_and_no_output(tmp_path, synthetic_dir, setup, message):
    src = setup(tmp_path)
    out = tmp_path / "out.yaml"
    r = run("compile", str(src), "-o", str(out), ops=synthetic_dir)
    assert r.exit_code == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.output
    assert not out.exists()


def test_unwritable_output_keeps_old_file(tmp_path, prog, synthetic_dir):
    r = run("compile", str(prog), "-o", str(tmp_path / "no" / "such" / "dir.yaml"), ops=synthetic_dir)
    assert r.exit_code == 1 and "does not exist" in r.stderr
    out = tmp_path / "wf.yaml"
    out.write_text("previous\n")
    bad = tmp_path / "bad.py"
    bad.write_text("def execute_command(image):\n    eval('1')\n")
    assert run("compile", str(bad), "-o", str(out), ops=synthetic_dir).exit_code == 1
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".wf.yaml")] == []


def test_usage_error_exit_2():
    r = CliRunner().invoke(cli, ["compile"])
    assert r.exit_code == 2


def test_tools_lists_operators_as_json(synthetic_dir):
    r = run("tools", "--format", "json", ops=synthetic_dir)
    names = [o["name"] for o in json.loads(r.stdout)["operators"]]
    assert {"find", "simple_query", "best_image_match"} <= set(names)


def test_verbs_do_not_import_heavy_libraries(tmp_path):
    code = ("import sys; from click.testing import CliRunner; from dicec.cli import cli; "
            "r = CliRunner().invoke(cli, ['tools']); assert r.exit_code == 0, r.output; "
            "bad = [m for m in ('anthropic', 'kubernetes', 'hera', 'onnxruntime') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == ""
    code_compile = code.replace("['tools']", "['--help']")
    out = subprocess.run([sys.executable, "-c", code_compile], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == ""


def test_internal_errors_are_one_line(monkeypatch, prog, synthetic_dir):
    import dicec.pipeline

    def boom(*a, **k):
        raise RuntimeError("kaput")

    monkeypatch.setattr(dicec.pipeline, "compile_path", boom)
    monkeypatch.delenv("DICEC_DEBUG", raising=False)
    r = CliRunner().invoke(cli, ["compile", str(prog)])
    assert r.exit_code == 70 and "internal error: RuntimeError: kaput" in r.stderr and "Traceback" not in r.output


def test_a_users_operator_is_used_by_every_stage(tmp_path):
    from support import write_operator

    ops = tmp_path / "ops"
    write_operator(ops, "read_plate", [("method", "read_plate() -> str")], 30,
                   latency={"A6000": 0.2, "A100": 0.1}, image="registry.example/ocr:1")
    prog = tmp_path / "plate.py"
    prog.write_text("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
                    "    return [car.read_plate() for car in image_patch.find('car')]\n")
    r = run("tools", "--format", "json", ops=ops)
    assert "read_plate" in [o["name"] for o in json.loads(r.stdout)["operators"]]
    out = tmp_path / "wf.yaml"
    r = run("compile", str(prog), "-o", str(out), "--no-fuse", ops=ops)
    assert r.exit_code == 0, r.output
    import yaml
    templates = {t["name"]: t for t in yaml.safe_load(out.read_text())["spec"]["templates"]}
    plate = templates["read-plate-a6000"]  # 30 GB: the cheapest pool with its GPU class that fits
    assert plate["container"]["image"] == "registry.example/ocr:1"
    assert plate["container"]["command"] == ["dicec", "op", "read_plate"]
    fan = next(t for t in templates["main"]["dag"]["tasks"] if t["template"] == "read-plate-a6000")
    assert fan["withParam"] == "{{tasks.find-car.outputs.parameters.value}}"


def test_runs_from_a_checkout_on_sys_path(tmp_path):
    """python -m dicec from the repository root (the checkout shadows any installed copy) still works."""
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "dicec", "tools", "--format", "json"], capture_output=True,
                         text=True, cwd=repo)
    assert out.returncode == 0, out.stderr
    assert "find" in [o["name"] for o in json.loads(out.stdout)["operators"]]


def test_help_lists_every_verb_and_the_group_options():
    help_text = CliRunner().invoke(cli, ["--help"]).output
    overview = help_text.split("Exit codes")[0]
    for name in cli.commands:  # every verb, those registered late (cost, simulate, pools, edge, submit) too
        assert f"\n    {name} " in overview or f" {name}," in overview or f", {name} " in overview, name
    for option in ("-V, --version", "-q, --quiet", "-v, --verbose"):
        assert option in help_text


def test_version():
    from dicec import __version__

    for flag in ("--version", "-V"):
        result = CliRunner().invoke(cli, [flag])
        assert result.exit_code == 0 and result.output == f"dicec, version {__version__}\n"


def test_quiet_drops_the_summary_and_verbose_contradicting_quiet_is_a_usage_error(tmp_path, prog, synthetic_dir,
                                                                                monkeypatch):
    from dicec import verbosity

    monkeypatch.setenv(verbosity.ENV, "0")  # restored after the test, whatever the commands set
    loud = run("compile", str(prog), "-o", str(tmp_path / "a.yaml"), ops=synthetic_dir)
    assert "tasks" in loud.stderr
    quiet = run("-q", "compile", str(prog), "-o", str(tmp_path / "b.yaml"), ops=synthetic_dir)
    assert quiet.exit_code == 0 and quiet.stderr == "" and (tmp_path / "b.yaml").read_text()
    assert os.environ[verbosity.ENV] == "-1"  # what the steps dicec run starts inherit
    both = CliRunner().invoke(cli, ["-q", "-v", "tools"])
    assert both.exit_code == 2 and "cannot be given together" in both.output
