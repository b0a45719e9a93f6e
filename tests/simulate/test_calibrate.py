"""The calibration machinery (dicec.simulate.calibrate): files that load back, and the arithmetic the
simulator does with them, checked by hand. Timing itself is benchmarks/calibrate.py's job."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dicec.cli import cli
from dicec.errors import DicecError
from dicec.simulate.calibrate import SAMPLE_CALLS, Measured, measure, write
from dicec.timing.model import read_timing

OPS = sorted(SAMPLE_CALLS)


def fake() -> Measured:
    return Measured(step_start_s=1.0, thread_step_s=0.01, answer_run_s=0.5, thread_answer_s=0.02, thread_cold_s=0.3,
                    load_s={op: 0.25 for op in OPS}, latency_s={op: 0.1 for op in OPS},
                    memory_gb={op: 0.05 for op in OPS}, repeats=1, host="test, 1 CPUs", as_of="2026-01-01")


@pytest.fixture()
def calibrated(tmp_path):
    return write(fake(), tmp_path / "local")


def test_the_files_load_back_as_a_catalogue_an_overlay_and_timing_models(calibrated):
    from dicec.placement import load_pools
    from dicec.timing.figures import model_key
    from dicec.timing.model import TimingModel
    from dicec.tools import discover

    local = load_pools(str(calibrated["pools"])).get("local")
    assert local.gpu_class == "LOCAL" and local.usd_per_hour == 0.0 and local.gpu_memory_gb > 0
    registry = discover([str(calibrated["operators"])])
    for op in OPS:
        spec = registry.get(op)
        assert spec.profile.latency_s["LOCAL"] == 0.1 and spec.profile.model_load_s == 0.25
        assert spec.profile.latency_s["A100"] > 0  # the shipped figures stay
    assert len({model_key(registry.get(op)) for op in OPS}) == 1  # one set of scene models for all
    process = TimingModel(**read_timing(str(calibrated["timing-process"])))
    assert (process.step_start_s, process.image_pull_s, process.answer_run_s) == (1.0, 0.0, 0.5)
    thread = TimingModel(**read_timing(str(calibrated["timing-thread"])))
    assert (thread.step_start_s, thread.request_overhead_s) == (0.0, 0.01)
    # dicec run has no Argo agent: no start, no patch tick; the answer is the in-process answer step
    assert (thread.agent_startup_s, thread.agent_patch_rate_s, thread.answer_request_s) == (0.0, 0.0, 0.02)
    assert json.loads(calibrated["calibration"].read_text())["step_start_s"] == 1.0


def test_simulate_on_the_local_pool_is_the_hand_computed_time(calibrated, tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
                    "    return image_patch.exists('red circle') and image_patch.find('square')\n")
    common = ["--pools", str(calibrated["pools"]), "--operators", str(calibrated["operators"])]
    wf = tmp_path / "wf.yaml"
    r = CliRunner().invoke(cli, ["compile", str(prog), "-o", str(wf), "--format", "json", *common])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pools"] == ["local"] and len(json.loads(r.stdout)["fused"]) == 1
    r = CliRunner().invoke(cli, ["simulate", str(wf), "--pool", "local", "--nodes", "2", "--format", "json",
                                 "--timing", str(calibrated["timing-process"]), *common])
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["runs"][0]
    # one step process: start 1 + the shared scene models loaded once 0.25 + two calls 0.2; answer: 1 + 0.5
    assert run["makespan_s"] == pytest.approx(1.0 + 0.25 + 0.2 + 1.0 + 0.5)
    r = CliRunner().invoke(cli, ["simulate", str(wf), "--pool", "local", "--nodes", "2", "--format", "json",
                                 "--timing", str(calibrated["timing-process"]), "--no-fuse", *common])
    # two step processes side by side, each loading the models: 1 + 0.25 + 0.1, then the answer
    assert json.loads(r.stdout)["runs"][0]["makespan_s"] == pytest.approx(1.35 + 1.5)
    r = CliRunner().invoke(cli, ["simulate", str(wf), "--pool", "local", "--nodes", "2", "--format", "json",
                                 "--mode", "services", "--timing", str(calibrated["timing-thread"]), *common])
    # in-process, models warm: the two calls side by side (0.1 + 0.01 each), then the answer's 0.02
    assert json.loads(r.stdout)["runs"][0]["makespan_s"] == pytest.approx(0.11 + 0.02)


@pytest.mark.parametrize("text, message", [
    ('{"pod_startup": 1}', "unknown timing figure 'pod_startup'"),
    ("[1, 2]", "a timing model must be a mapping"),
    ('{"image_pull_s": -1}', "image_pull_s must be a number >= 0"),
])
def test_a_bad_timing_file_is_one_line(tmp_path, text, message):
    path = tmp_path / "t.json"
    path.write_text(text)
    r = CliRunner().invoke(cli, ["simulate", "examples/questions/count-dogs.txt", "--timing", str(path)])
    assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    with pytest.raises(DicecError):
        from dicec.timing.model import TimingModel

        TimingModel(**read_timing(str(path)))


def test_measure_times_a_step_an_operator_and_the_answer(tmp_path):
    from dicec.runtime.images import encode_png
    from dicec.runtime.scene.generate import make_scene, render

    image = tmp_path / "scene.png"
    image.write_bytes(encode_png(render(make_scene(0))))
    m = measure(str(image), operators=["find"], repeats=1)
    assert m.step_start_s > 0 and m.answer_run_s >= 0 and m.thread_step_s > 0
    assert set(m.load_s) == set(m.latency_s) == set(m.memory_gb) == {"find"} and m.latency_s["find"] > 0
    assert len(m.samples["step:find"]) == 1
    with pytest.raises(DicecError, match="no sample call to time operator 'llm_query'"):
        measure(str(image), operators=["llm_query"])


def test_a_fan_out_over_nothing_runs_no_step(calibrated, tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
                    "    return [c.exists('dot') for c in image_patch.find('circle')]\n")
    common = ["--pools", str(calibrated["pools"]), "--operators", str(calibrated["operators"]), "--no-fuse",
              "--pool", "placed", "--nodes", "1", "--format", "json"]
    timing = json.loads(calibrated["timing-process"].read_text())
    for widths, expected in (({}, 1.35 + 3 * 1.35 + 1.5), ({"exists-dot": 0}, 1.35 + 1.5), ({"exists-dot": 2}, 3 * 1.35 + 1.5)):
        path = tmp_path / "t.json"
        path.write_text(json.dumps({**timing, "widths": widths}))
        r = CliRunner().invoke(cli, ["simulate", str(prog), "--timing", str(path), *common])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["runs"][0]["makespan_s"] == pytest.approx(expected), widths
