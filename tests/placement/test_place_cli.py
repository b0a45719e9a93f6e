"""``dicec place`` and ``dicec compile`` placement flags, through the CLI as a user types them."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli

PROGRAM = textwrap.dedent("""
    def execute_command(image):
        image_patch = ImagePatch(image)
        cars = image_patch.find("car")
        for car in cars:
            car.verify_property("car", "damaged")
        return image_patch.simple_query("Is it raining?")
""")

# synthetic operators: load 10 s; latency A4000 0.5 s, A6000 0.3 s, A100 0.2 s
POOLS = textwrap.dedent("""
    version: 1
    pools:
      - {name: cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: null}
      - {name: small, gpu_class: A4000, gpu_memory_gb: 16, usd_per_hour: 0.36}
      - {name: mid, gpu_class: A6000, gpu_memory_gb: 48, usd_per_hour: 0.50, spot_usd_per_hour: 0.20}
      - {name: big, gpu_class: A100, gpu_memory_gb: 80, usd_per_hour: 0.54}
""")


@pytest.fixture()
def env(tmp_path, synthetic_dir):
    (tmp_path / "pools.yaml").write_text(POOLS)
    (tmp_path / "p.py").write_text(PROGRAM)
    r = CliRunner().invoke(cli, ["plan", str(tmp_path / "p.py"), "-o", str(tmp_path / "g.json"),
                                 "--operators", str(synthetic_dir)])
    assert r.exit_code == 0, r.output
    return tmp_path, synthetic_dir


def run(tmp, ops, *args):
    return CliRunner().invoke(cli, [*args, "--operators", str(ops), "--pools", str(tmp / "pools.yaml")])


def place(env, *flags):
    tmp, ops = env
    r = run(tmp, ops, "place", str(tmp / "g.json"), *flags)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_the_default_fuses_and_no_fuse_does_not(env):
    fused, apart = place(env), place(env, "--no-fuse")
    assert fused["fusion"][0]["tasks"][0] == "find-car" and apart["fusion"] == []
    assert {k: v["pool"] for k, v in fused["placement"].items()} == {k: v["pool"] for k, v in apart["placement"].items()}


def test_objective_spot_and_mode_reach_placement(env):
    # simple_query (26 GB): price -> mid ($0.50/h x 10.3 s); cost -> big ($0.54/h x 10.2 s) is dearer still
    assert place(env)["placement"]["simple-query-is-it-raining"]["pool"] == "mid"
    spot = place(env, "--spot")["placement"]["simple-query-is-it-raining"]
    assert spot["usd"] == pytest.approx(round(10.3 * 0.20 / 3600, 8))
    services = place(env, "--mode", "services")
    assert services["fusion"] == [] and services["placement"]["find-car"]["seconds"] == pytest.approx(0.5)
    cost = place(env, "--objective", "cost", "--no-fuse")
    assert cost["placement"]["find-car"]["pool"] == "small"  # 10.5 s x $0.36/h is the fewest dollars


def test_max_latency_moves_tasks_and_an_impossible_bound_is_one_line(env):
    tmp, ops = env
    fast = place(env, "--max-latency", "20.5")
    assert fast["totals"]["critical_path_seconds"] <= 20.5
    r = run(tmp, ops, "place", str(tmp / "g.json"), "--max-latency", "5")
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert ("no placement meets --max-latency 5 s: the best achievable estimated critical path is 20.40 s "
            "(find-car -> verify-property-car); task 'find-car' alone takes 10.20 s (model load + call) on its "
            "fastest pool 'big'") in r.stderr
    r = run(tmp, ops, "place", str(tmp / "g.json"), "--max-latency", "-1")
    assert r.exit_code == 1 and "--max-latency must be a number of seconds > 0" in r.stderr


def test_compile_takes_the_same_flags(env):
    tmp, ops = env
    out = tmp / "wf.yaml"
    r = run(tmp, ops, "compile", str(tmp / "p.py"), "-o", str(out), "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["fused"] == [["find-car", "verify-property-car"]]
    templates = {t["name"] for t in yaml.safe_load(out.read_text())["spec"]["templates"]}
    assert "fused-find-verify-property-small" in templates
    r = run(tmp, ops, "compile", str(tmp / "p.py"), "-o", str(out), "--no-fuse", "--spot", "--objective", "cost")
    assert r.exit_code == 1 and "--spot: pool 'mid' is priced at its spot rate, but the catalogue names no labels" in r.stderr
    (tmp / "pools.yaml").write_text(POOLS.replace("spot_usd_per_hour: 0.20}", "spot_usd_per_hour: 0.20, spot: {node_labels: "
                                                  "{capacity: spot}, taints: [{key: spot, operator: Exists, effect: NoSchedule}]}}"))
    r = run(tmp, ops, "compile", str(tmp / "p.py"), "-o", str(out), "--no-fuse", "--spot", "--objective", "cost")
    assert r.exit_code == 0, r.output
    mid = [t for t in yaml.safe_load(out.read_text())["spec"]["templates"] if t["name"].endswith("-mid")]
    assert mid and all(t["nodeSelector"] == {"capacity": "spot", "kubernetes.io/arch": "amd64"} and
                       {"key": "spot", "operator": "Exists", "effect": "NoSchedule"} in t["tolerations"] for t in mid)
    assert not any(t.startswith("fused-") for t in (x["name"] for x in yaml.safe_load(out.read_text())["spec"]["templates"]))
    r = run(tmp, ops, "compile", str(tmp / "p.py"), "-o", str(tmp / "never.yaml"), "--max-latency", "5")
    assert r.exit_code == 1 and "no placement meets --max-latency 5 s" in r.stderr and not (tmp / "never.yaml").exists()
