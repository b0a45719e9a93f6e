"""The verbs through click: exec and run print the same answer; failures are clear lines and exit 1."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from runtime.helpers import write_image

from dicec.cli import cli as main

PROGRAM = """def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    colours = [c.simple_query("What color is the car?") for c in cars]
    return bool_to_yesno(len(cars) > 0) + " " + ",".join(colours)
"""


@pytest.fixture
def files(tmp_path):
    from dicec.placement import load_pools
    from dicec.pipeline import compile_text
    from dicec.runtime.backend import registry_for

    prog = tmp_path / "prog.py"
    prog.write_text(PROGRAM)
    wf = tmp_path / "wf.yaml"
    wf.write_text(compile_text(PROGRAM, "program", path=str(prog), registry=registry_for(), catalogue=load_pools()).yaml)
    return {"prog": prog, "wf": wf, "image": write_image(tmp_path / "a.png", seed=7)}


def test_exec_and_run_print_the_same_answer(files):
    r = CliRunner()
    e = r.invoke(main, ["exec", str(files["prog"]), "--image", str(files["image"]), "--models", "seeded", "--format", "json"])
    assert e.exit_code == 0, e.output
    w = r.invoke(main, ["run", str(files["wf"]), "-p", f"image={files['image']}", "--models", "seeded", "--format", "json"])
    assert w.exit_code == 0, w.output
    assert json.loads(e.output)["answer"] == json.loads(w.output)["answer"]
    text = r.invoke(main, ["run", str(files["wf"]), "-p", f"image={files['image']}", "--models", "seeded"])
    assert text.output.strip() == json.loads(e.output)["answer"]


def test_run_reports_the_failing_step_and_its_log(files, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def execute_command(image):\n    p = ImagePatch(image)\n    return p.find('car')[7].width\n")
    from dicec.placement import load_pools
    from dicec.pipeline import compile_path
    from dicec.runtime.backend import registry_for

    wf = tmp_path / "bad.yaml"
    wf.write_text(compile_path(str(bad), registry=registry_for(), catalogue=load_pools()).yaml)
    result = CliRunner().invoke(main, ["run", str(wf), "-p", f"image={files['image']}", "--models", "seeded"])
    assert result.exit_code == 1
    assert "step answer failed" in result.output and "IndexError: list index out of range" in result.output
    e = CliRunner().invoke(main, ["exec", str(bad), "--image", str(files["image"]), "--models", "seeded"])
    assert e.exit_code == 1 and e.output.strip() == f"{bad}:3: IndexError: list index out of range"


def test_exec_bad_image_is_one_line(files, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"junk")
    result = CliRunner().invoke(main, ["exec", str(files["prog"]), "--image", str(junk), "--models", "seeded"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "unreadable image" in result.output


@pytest.fixture
def stores(monkeypatch, tmp_path, files):
    """The test image served by an HTTP server, an S3 stand-in (moto) and a GCS stand-in, on loopback."""
    from object_stores import GcsStandIn, HttpImages, loopback_env, moto_s3, put_s3

    from dicec.runtime import images

    loopback_env(monkeypatch, tmp_path)
    images._CACHE.clear()
    data = files["image"].read_bytes()
    with HttpImages({"/a.png": data}) as http, GcsStandIn({("photos", "a.png"): data}) as gcs, \
            moto_s3(monkeypatch) as s3:
        put_s3(s3, "photos", "cars/a.png", data)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        yield {"http": f"{http.url}/a.png", "s3": "s3://photos/cars/a.png", "gs": "gs://photos/a.png"}
    images._CACHE.clear()


@pytest.mark.parametrize("scheme", ["http", "s3", "gs"])
def test_exec_reads_images_by_uri(files, stores, scheme):
    r = CliRunner()
    local = r.invoke(main, ["exec", str(files["prog"]), "--image", str(files["image"]), "--models", "seeded"])
    remote = r.invoke(main, ["exec", str(files["prog"]), "--image", stores[scheme], "--models", "seeded"])
    assert remote.exit_code == 0, remote.output
    assert remote.output == local.output  # the seeded answers hash the image's bytes: the same image


@pytest.mark.parametrize("scheme, isolation", [("s3", "thread"), ("gs", "thread"), ("http", "process")])
def test_run_reads_images_by_uri(files, stores, scheme, isolation):
    r = CliRunner()
    local = r.invoke(main, ["run", str(files["wf"]), "-p", f"image={files['image']}", "--models", "seeded"])
    remote = r.invoke(main, ["run", str(files["wf"]), "-p", f"image={stores[scheme]}", "--models", "seeded",
                             "--isolation", isolation])
    assert remote.exit_code == 0, remote.output
    assert remote.output == local.output


def test_a_missing_remote_image_is_one_line(files, stores):
    missing = stores["s3"].replace("a.png", "none.png")
    result = CliRunner().invoke(main, ["exec", str(files["prog"]), "--image", missing, "--models", "seeded"])
    assert result.exit_code == 1
    assert result.output.strip() == f"{missing}: cannot read image: no such object"


def test_run_refuses_a_foreign_command_in_one_line_and_the_flag_says_the_danger(tmp_path, monkeypatch):
    import yaml

    monkeypatch.chdir(tmp_path)
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "hello-"},
          "spec": {"entrypoint": "main", "templates": [
              {"name": "main", "container": {"image": "busybox", "command": ["sh", "-c"], "args": ["touch MARK"]}}]}}
    (tmp_path / "hello.yaml").write_text(yaml.safe_dump(wf))
    r = CliRunner()
    refused = r.invoke(main, ["run", "hello.yaml"])
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1
    assert "not a dicec step command" in refused.output and not (tmp_path / "MARK").exists()
    assert "--run-any-command" in refused.output
    help_text = " ".join(r.invoke(main, ["run", "--help"]).output.split())
    assert "DANGER" in help_text and "on this machine, as this user, outside any container" in help_text
    ran = r.invoke(main, ["run", "hello.yaml", "--run-any-command"])
    assert ran.exit_code == 0 and (tmp_path / "MARK").exists()
