"""``dicec cost`` and ``dicec simulate`` end to end: JSON figures, reports, and one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dicec.cli import cli
from dicec.cost.commands import cost
from dicec.simulate.commands import simulate
from support import CPU_POD_USD_S

cli.add_command(cost)
cli.add_command(simulate)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def env(tmp_path, synthetic_dir, program_file, pools_text):
    pools = tmp_path / "pools.yaml"
    pools.write_text(pools_text)
    return {"pools": str(pools), "ops": str(synthetic_dir), "prog": str(program_file), "tmp": tmp_path}


def common(env) -> list[str]:
    return ["--pools", env["pools"], "--operators", env["ops"]]


#: The answer pod (6.2 s at $0.000025/s) and one node's daily image pull (30 s over the day's queries).
def extras(load: float, usd_per_s: float) -> float:
    return 6.2 * CPU_POD_USD_S + 30 * usd_per_s / (load * 24)


def test_cost_json_gives_the_documented_figures(env):
    r = run("cost", env["prog"], "--format", "json", "--load", "36", "--no-fuse", *common(env))
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert set(body["baselines"]) == {"serial_a100", "a100_nodes", "bound", "chosen"}
    assert {"load_qph", "per_query_usd", "cpu_usd_per_query"} <= set(body)
    assert set(body["savings"]) >= {"vs_serial_a100", "vs_a100_nodes"}
    chosen = 4 * 16.5 * 0.0001 + extras(36, 0.0001)
    assert body["load_qph"] == 36 and body["per_query_usd"] == pytest.approx(chosen)
    assert body["cpu_usd_per_query"] == pytest.approx(6.2 * CPU_POD_USD_S)
    assert body["baselines"]["serial_a100"] == pytest.approx(3.6 / 36)  # one warm machine, idle most of the hour
    assert body["savings"]["vs_serial_a100"] == pytest.approx(1 - chosen / 0.1, abs=1e-6)
    a100 = 4 * 16.2 * 0.001 + extras(36, 0.001)
    assert body["savings"]["vs_a100_nodes"] == pytest.approx(1 - chosen / a100, abs=1e-6)
    assert body["baselines"]["bound"] < body["per_query_usd"]


def test_cost_json_counts_a_fused_group_as_one_pod(env):
    body = json.loads(run("cost", env["prog"], "--format", "json", "--load", "36", *common(env)).stdout)
    # find + 3 verify_property calls in one pod: start 6 + loads 10 + 10 + calls; small $0.0001/s, big $0.001/s
    assert body["fuse"] is True
    chosen = (6 + 20 + 0.5 + 1.5) * 0.0001 + extras(36, 0.0001)
    a100 = (6 + 20 + 0.2 + 0.6) * 0.001 + extras(36, 0.001)
    assert body["per_query_usd"] == pytest.approx(chosen)
    assert body["baselines"]["a100_nodes"] == pytest.approx(a100)
    assert body["savings"]["vs_a100_nodes"] == pytest.approx(1 - chosen / a100, abs=1e-6)


@pytest.mark.parametrize("mode", ["pods", "services"])
def test_the_compile_label_and_summary_are_the_cost_figure_at_the_default_load(env, mode):
    wf = env["tmp"] / f"wf-{mode}.yaml"
    r = run("compile", env["prog"], "-o", str(wf), "--mode", mode, *common(env))
    assert r.exit_code == 0, r.output
    body = json.loads(run("cost", str(wf), "--format", "json", *common(env)).stdout)
    import yaml

    docs = [d for d in yaml.safe_load_all(wf.read_text()) if d and d.get("kind") == "Workflow"]
    meta = docs[0]["metadata"]
    assert body["load_qph"] == 3600
    assert meta["labels"]["dicec.dev/estimated-usd-per-query"] == f"{body['per_query_usd']:.6f}"
    assert meta["annotations"]["dicec.dev/estimated-usd-per-query"] == f"{body['per_query_usd']:.6f}"
    assert f"est. ${body['per_query_usd']:.6f} per query at 3600 queries/hour" in r.stderr


def test_cost_load_is_validated_in_one_line(env):
    r = CliRunner().invoke(cli, ["cost", env["prog"], "--load", "0", *common(env)])
    assert r.exit_code == 1 and "--load must be a number of queries per hour > 0" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cost_reads_the_compiled_workflow_and_writes_html_and_md(env):
    wf = env["tmp"] / "wf.yaml"
    r = run("compile", env["prog"], "-o", str(wf), *common(env))
    assert r.exit_code == 0, r.output
    direct = json.loads(run("cost", env["prog"], "--format", "json", *common(env)).stdout)
    via_wf = json.loads(run("cost", str(wf), "--format", "json", *common(env)).stdout)
    assert via_wf["baselines"] == direct["baselines"] and via_wf["tasks"] == direct["tasks"]
    html = env["tmp"] / "r.html"
    assert run("cost", str(wf), "--format", "html", "-o", str(html), *common(env)).exit_code == 0
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3 and "small-0" in page
    assert "at 3,600 queries/hour" in page and "queries per hour (log)" in page
    md = run("cost", str(wf), *common(env)).stdout
    assert "| find-car +1 fused | find, verify_property | small | pod | 1 |" in md and "pod_startup_latency.md" in md
    assert md.startswith("# Cost of") and "at 3,600 queries/hour" in md.splitlines()[0]


def test_the_headline_is_red_when_the_plan_costs_more(env):
    html = env["tmp"] / "r.html"
    # pods at 10,000 queries/hour: 28 GPU s a pod a query against 1 s in a warm process: the plan costs more
    assert run("cost", env["prog"], "--format", "html", "--load", "10000", "-o", str(html), *common(env)).exit_code == 0
    page = html.read_text()
    assert '<h1 class="neg">' in page and "more\nagainst the warm serial program" in page
    md = run("cost", env["prog"], "--load", "10000", *common(env)).stdout
    assert "MORE (the plan costs more)" in md
    body = json.loads(run("cost", env["prog"], "--load", "10000", "--format", "json", *common(env)).stdout)
    assert body["savings"]["vs_serial_a100"] < 0
    cheap = json.loads(run("cost", env["prog"], "--load", "36", "--format", "json", *common(env)).stdout)
    assert cheap["savings"]["vs_serial_a100"] > 0
    page = run("cost", env["prog"], "--load", "36", "--format", "html", *common(env)).stdout
    assert '<h1 class="">' in page


def test_simulate_json_runs_per_node_count(env):
    steps = env["tmp"] / "steps.json"
    steps.write_text('{"controller_requeue_s": 0}')  # the scheduling arithmetic first, without Argo's requeue
    r = run("simulate", env["prog"], "--nodes", "1,2", "--pool", "big", "--format", "json", "--no-fuse",
            "--timing", str(steps), *common(env))
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert [x["nodes"] for x in runs] == [1, 2]
    # pods on big: find 16.2 s, then 3 verify pods of 16.2 s, answer 6.2 s on CPU; image pull 30 s per node
    one, two = runs
    assert one["makespan_s"] == pytest.approx(30 + 4 * 16.2 + 6.2)
    assert one["serial_s"] == pytest.approx(1.0)  # warm: calls 0.8 + answer 0.2
    assert one["serial_cold_s"] == pytest.approx(27.0 + 30)  # start 6 + loads 20 + calls 0.8 + answer 0.2, one pull
    # two nodes: find (with pull) ends 46.2; node 0 runs verify 0 and 2, node 1 pulls then runs verify 1
    assert two["makespan_s"] == pytest.approx(46.2 + 46.2 + 6.2)
    assert two["speedup"] == pytest.approx(1.0 / 98.6, abs=1e-6)
    # the bound: the one query alone (16.2 + 16.2 + 6.2, no pull) beats its work (0.8 + loads 20) over 2 nodes
    assert two["bound_s"] == pytest.approx(38.6)
    assert two["efficiency"] == pytest.approx(two["speedup"] / 2, abs=1e-6)
    assert two["usd"] == pytest.approx(2 * 98.6 * 0.001)
    # fused (the default): one pod of 6 + 20 + 0.2 + 3 x 0.2 = 26.8 s after the pull; a second node idles
    fused = json.loads(run("simulate", env["prog"], "--nodes", "1,2", "--pool", "big", "--format", "json",
                           "--timing", str(steps), *common(env)).stdout)["runs"]
    assert [x["makespan_s"] for x in fused] == [pytest.approx(30 + 26.8 + 6.2)] * 2
    # Argo's default requeue (10 s), one node: find ends 46.2, seen at 56.2; the checks 56.2-72.4-88.6-104.8, the
    # last seen at 114.8 (the reconcile due at 102.4 came before it); the answer pod 114.8-121, seen at the reconcile
    # due at 124.8 (after the update at 114.8)
    argo = json.loads(run("simulate", env["prog"], "--nodes", "1", "--pool", "big", "--format", "json", "--no-fuse",
                          *common(env)).stdout)["runs"]
    # the bound is the query alone with a node per pod: find 0-16.2 seen at 26.2, the checks side by side 26.2-42.4
    # seen at 52.4, the answer 52.4-58.6 seen at 62.4
    assert argo[0]["makespan_s"] == pytest.approx(124.8) and argo[0]["bound_s"] == pytest.approx(62.4)


def test_simulate_several_inputs_gives_each_ones_figures(env):
    r = run("simulate", env["prog"], env["prog"], "--nodes", "2", "--batch", "4", "--mode", "services",
            "--format", "json", *common(env))
    body = json.loads(r.stdout)
    assert body["batch"] == 4 and list(body["each"]) == [env["prog"]]  # the same file twice: one entry
    assert body["runs"][0]["queries"] == 4


def test_simulate_text_shows_what_its_help_promises(env, tmp_path):
    other = tmp_path / "other.py"
    other.write_text("def execute_command(image):\n    return ImagePatch(image).exists('dog')\n")
    r = run("simulate", env["prog"], str(other), "--nodes", "2", "--mode", "services", *common(env))
    assert r.exit_code == 0, r.output
    text = r.stdout
    help_text = run("simulate", "--help").stdout
    for promised, column in (("makespan", "makespan s"), ("lower bound", "bound s"), ("speed-up", "speed-up"),
                             ("efficiency", "effic."), ("GPU busy and idle", "GPU idle s"), ("dollars", "$ cluster"),
                             ("latency", "p95 s")):
        assert promised in " ".join(help_text.split()) and column in text
    # each input also alone, as the help says; batch 1 runs the first input only, and says so
    assert f"{env['prog']} alone" in text and f"{other} alone" in text
    assert f"the mixed batch ran {env['prog']} only" in text
    assert "agent: start 5 s once per workflow, patch every 10 s, 16 requests in flight" in text


@pytest.mark.parametrize("args, message", [
    (["--nodes", "0"], "the cluster is empty"),
    (["--nodes", "2,x"], "--nodes expects whole numbers"),
    (["--pool", "small", "--fanout", "0"], "--fanout must be a whole number"),
    (["--pool", "nosuch"], "no pool named 'nosuch'"),
])
def test_simulate_bad_options_are_one_line(env, args, message):
    out = env["tmp"] / "out.json"
    r = CliRunner().invoke(cli, ["simulate", env["prog"], *args, "-o", str(out), *common(env)])
    assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.output and not out.exists()


@pytest.mark.parametrize("change, message", [
    (("usd_per_hour: 0.36", "usd_per_hour: -0.36"), "must not be negative"),
    (("gpu_memory_gb: 16", "gpu_memroy_gb: 16"), "unknown key 'gpu_memroy_gb'"),
])
def test_a_bad_pool_file_is_one_line(env, change, message):
    bad = env["tmp"] / "bad.yaml"
    bad.write_text(open(env["pools"]).read().replace(*change))
    for verb in ("cost", "simulate"):
        r = CliRunner().invoke(cli, [verb, env["prog"], "--pools", str(bad), "--operators", env["ops"]])
        assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_gpu_too_small_for_every_pool_is_one_line(env, tmp_path):
    from support import write_operator

    write_operator(tmp_path / "huge", "find", [("method", "find(object_name: str) -> list[ImagePatch]")], 120)
    r = CliRunner().invoke(cli, ["cost", env["prog"], *common(env), "--operators", str(tmp_path / "huge")])
    assert r.exit_code == 1 and "needs 120 GB of GPU memory" in r.stderr and "largest GPU: 80 GB" in r.stderr
    r = CliRunner().invoke(cli, ["simulate", env["prog"], *common(env), "--pool", "small", "--mode", "pods",
                                 "--operators", str(tmp_path / "huge")])
    assert r.exit_code == 1 and "needs 120 GB" in r.stderr


def test_verbs_import_no_stage_at_module_top():
    import subprocess
    import sys

    code = ("import sys; import dicec.cost.commands, dicec.simulate.commands; "
            "print(','.join(m for m in ('kubernetes', 'hera', 'dicec.analysis', 'dicec.placement', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cost_of_a_workflow_follows_whether_it_was_compiled_fused(env):
    for flags, usd in (([], (6 + 20 + 0.5 + 1.5) * 0.0001 + extras(36, 0.0001)),
                       (["--no-fuse"], 4 * 16.5 * 0.0001 + extras(36, 0.0001))):
        wf = env["tmp"] / "wf.yaml"
        assert run("compile", env["prog"], "-o", str(wf), *flags, *common(env)).exit_code == 0
        body = json.loads(run("cost", str(wf), "--format", "json", "--load", "36", *common(env)).stdout)
        assert body["per_query_usd"] == pytest.approx(usd) and bool(body["fused_groups"]) == (not flags)


@pytest.mark.parametrize("qps", [1, 4])
def test_emitted_replicas_are_what_cost_bills_at_the_compiles_qps(env, qps):
    """One figure: the Deployments dicec compile --qps Q writes are the replicas dicec cost --load 3600Q bills."""
    import yaml

    wf = env["tmp"] / f"wf-{qps}.yaml"
    assert run("compile", env["prog"], "-o", str(wf), "--mode", "services", "--qps", str(qps), *common(env)).exit_code == 0
    emitted = {d["metadata"]["name"]: d["spec"]["replicas"] for d in yaml.safe_load_all(wf.read_text())
               if d and d["kind"] == "Deployment"}
    body = json.loads(run("cost", str(wf), "--format", "json", "--load", str(3600 * qps), *common(env)).stdout)
    billed = {line["what"]: line["replicas"] for line in body["bill"] if line["replicas"] is not None}
    # find (0.5 + 0.01 s) and 3 checks in one request (1.5 + 0.01 s) on one A4000 server, 2.02 s a query;
    # the answer service 0.21 s a query
    assert billed == {"model server find, verify_property": -(-2.02 * qps // 0.7),
                      "answer service (dicec-answer)": -(-0.21 * qps // 0.7)}
    assert emitted == {"dicec-find-verify-property-small": billed["model server find, verify_property"],
                       "dicec-answer": billed["answer service (dicec-answer)"]}


@pytest.fixture()
def batch_wf(env):
    """Two questions over one batch (the car check and a dog check), compiled as shards of stage pods."""
    other = env["tmp"] / "dog.py"
    other.write_text("def execute_command(image):\n    return ImagePatch(image).exists('dog')\n")
    wf = env["tmp"] / "batch.yaml"
    r = run("compile", env["prog"], str(other), "--batch", "--shards", "2", "-o", str(wf), *common(env))
    assert r.exit_code == 0, r.output
    return wf, r


def test_a_batch_workflows_label_and_summary_are_its_cost_at_the_default_load(env, batch_wf):
    import yaml

    wf, compiled = batch_wf
    body = json.loads(run("cost", str(wf), "--format", "json", *common(env)).stdout)
    meta = next(d for d in yaml.safe_load_all(wf.read_text()) if d and d["kind"] == "Workflow")["metadata"]
    assert meta["labels"]["dicec.dev/estimated-usd-per-query"] == f"{body['per_query_usd']:.6f}"
    assert f"est. ${body['per_query_usd']:.6f} per query at 3600 queries/hour" in compiled.stderr
    # an hour of queries at 3600/hour over 2 questions: 1800 images a run, 2 shards of one stage pod on small
    b = body["batch"]
    assert (b["questions"], b["shards"], b["images_per_run"], b["queries_per_run"]) == (2, 2, 1800, 3600)
    assert [p["name"] for p in b["pods"]] == ["stage-1-small", "answer"] and b["nodes_per_run"] == {"small": 2}
    # per query: each shard's pod starts (6 s), loads find, verify_property and exists (30 s), makes 900 images'
    # calls (find, 3 checks, exists: 2.5 s each), and one node per shard pulls (30 s); the answer pods' CPU
    gpu = 2 * (6 + 30 + 900 * 2.5 + 30) * 0.0001 / 3600
    cpu = 2 * (6 + 900 * 2 * 0.2) * CPU_POD_USD_S / 3600
    assert body["per_query_usd"] == pytest.approx(gpu + cpu, rel=1e-6)
    assert body["baselines"]["bound"] < body["per_query_usd"] < body["baselines"]["serial_a100"]
    md = run("cost", str(wf), *common(env)).stdout
    assert "## Per pod (one run, every shard)" in md and "A batch workflow of 2 question(s) in 2 shards" in md


def test_simulate_takes_a_batch_workflow_of_several_questions(env, batch_wf):
    wf, _ = batch_wf
    r = run("simulate", str(wf), "--batch", "7", "--nodes", "2", "--pool", "placed", "--format", "json", *common(env))
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["stages"]["images"] == 4 and body["stages"]["queries"] == 8  # ceil(7 / 2) images, both questions
    (row,) = body["runs"]
    assert row["queries"] == 8 and 0 < row["bound_s"] <= row["makespan_s"] and row["speedup"] > 0
    assert row["serial_s"] == pytest.approx(4 * (1.0 + 0.4))  # per image: the car check 1.0 s, the dog 0.4 s, warm
    text = run("simulate", str(wf), "--batch", "7", "--nodes", "2", *common(env)).stdout
    assert "a batch workflow of 2 question(s) in 2 shards" in text and "4 image(s)" in text
    # services mode: the questions as services mode runs them, a query DAG per image
    services = json.loads(run("simulate", str(wf), "--batch", "7", "--nodes", "2", "--mode", "services",
                              "--format", "json", *common(env)).stdout)
    assert services["mode"] == "services" and services["runs"][0]["queries"] == 7 and len(services["each"]) == 2


@pytest.mark.parametrize("verb, args, message", [
    ("cost", ["--mode", "services"], "is a pods-mode batch workflow"),
    ("simulate", ["EXTRA"], "is a batch workflow (stage pods for all its questions); simulate it alone"),
])
def test_a_batch_workflow_misused_is_one_line(env, batch_wf, verb, args, message):
    wf, _ = batch_wf
    args = [env["prog"] if a == "EXTRA" else a for a in args]
    r = CliRunner().invoke(cli, [verb, str(wf), *args, *common(env)])
    assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_batch_workflow_whose_programs_do_not_match_its_plan_is_one_line(env, batch_wf):
    import base64

    wf, _ = batch_wf
    text = wf.read_text()
    program = base64.urlsafe_b64encode(b"def execute_command(image):\n    return 1\n").decode().rstrip("=")
    import re

    edited = re.sub(r"(- --program\n(\s+)- )\S+", lambda m: m.group(1) + program, text, count=1)
    assert edited != text
    wf.write_text(edited)
    r = CliRunner().invoke(cli, ["cost", str(wf), *common(env)])
    assert r.exit_code == 1 and "do not match the 2 question(s) of its batch plan" in r.stderr
