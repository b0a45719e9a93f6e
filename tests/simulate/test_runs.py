"""Scaling runs: the jobs on one pool, with fusion decided again there under the placement's own bound."""

from __future__ import annotations

import pytest

from dicec.analysis import analyse
from dicec.placement import place
from dicec.simulate.runs import jobs_for, scaling_runs
from dicec.timing.model import TimingModel

PROGRAM = ("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
           "    return image_patch.exists('dog') or image_patch.exists('cat')\n")


def test_one_pool_regrouping_keeps_the_latency_bound(registry, small_big):
    """Known fault: moving every task onto one pool decided fusion again without --max-latency."""
    graph = analyse(PROGRAM, registry, path="p.py")
    placed = place(graph, registry, small_big, max_latency_s=10.3)
    # on big (A100): the two checks apart take 10 + 0.2 s side by side; one pod would take 10 + 0.4 s
    free, _ = jobs_for([placed], ["p"], registry, small_big, TimingModel(), pool="big", mode="pods", spot=False,
                       fuse=True)
    assert [u.name for u in free[0].units] == ["exists-dog +1 fused", "answer"]
    bounded, _ = jobs_for([placed], ["p"], registry, small_big, TimingModel(), pool="big", mode="pods", spot=False,
                          fuse=True, max_latency_s=10.3)
    assert [u.name for u in bounded[0].units] == ["exists-dog", "exists-cat", "answer"]


def test_every_run_carries_the_warm_serial_figure_the_cold_one_and_the_bound(registry, small_big):
    placed = place(analyse(PROGRAM, registry, path="p.py"), registry, small_big, mode="services")
    body = scaling_runs([placed], ["p"], registry, small_big, TimingModel(), nodes=[1, 2], pool="big",
                        mode="services", batch=10)
    for run in body["runs"]:
        assert run["serial_s"] == pytest.approx(10 * (0.2 + 0.2 + 0.2))  # two calls and the CPU work, warm
        assert run["serial_cold_s"] > run["serial_s"] and 0 < run["bound_s"] <= run["makespan_s"]
        assert run["speedup"] == round(run["serial_s"] / run["makespan_s"], 6)


def test_a_batch_workflow_of_the_gqa_corpus_on_8_nodes_is_within_1_5x_its_bound(tmp_path):
    """Issue 12's done-criterion, as a user runs it: the 118 GQA-style questions compiled as one batch workflow,
    then dicec simulate --batch 1000 --nodes 8 (pods mode: shards of stage pods, each model loaded once a pod)."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from dicec.cli import cli

    corpus = Path(__file__).resolve().parents[2] / "benchmarks" / "gqa_corpus" / "questions.txt"
    paths = []
    for i, question in enumerate(q.strip() for q in corpus.read_text().splitlines() if q.strip()):
        paths.append(tmp_path / f"q{i:03d}.txt")
        paths[-1].write_text(question + "\n")
    wf = tmp_path / "wf.yaml"
    assert CliRunner().invoke(cli, ["compile", *map(str, paths), "--batch", "-o", str(wf)]).exit_code == 0
    r = CliRunner().invoke(cli, ["simulate", str(wf), "--batch", "1000", "--nodes", "8", "--format", "json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    (run,) = body["runs"]
    assert body["mode"] == "pods" and body["stages"]["questions"] == 118 and run["queries"] == 118 * 9
    assert 0 < run["bound_s"] <= run["makespan_s"] <= 1.5 * run["bound_s"]
    assert run["speedup"] == pytest.approx(run["serial_s"] / run["makespan_s"], rel=1e-5) and run["speedup"] > 1
