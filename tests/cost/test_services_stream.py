"""dicec cost and simulate read a services-mode stream (RBAC, Deployments and Services before the Workflow)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dicec.cli import cli

QUESTION = Path(__file__).resolve().parents[2] / "examples" / "questions" / "damage-parts.txt"


def test_cost_and_simulate_read_the_services_stream_as_the_workflow_alone(tmp_path):
    from dicec.plans import program_of_workflow

    services, pods = tmp_path / "services.yaml", tmp_path / "pods.yaml"
    runner = CliRunner()
    assert runner.invoke(cli, ["compile", str(QUESTION), "--mode", "services", "-o", str(services)]).exit_code == 0
    assert runner.invoke(cli, ["compile", str(QUESTION), "-o", str(pods)]).exit_code == 0
    assert services.read_text().startswith("apiVersion: v1\nkind: ServiceAccount\n")  # the agent's, then the servers
    assert program_of_workflow(str(services)) == program_of_workflow(str(pods))
    for verb in (["cost"], ["simulate", "--nodes", "1,2"]):
        got = {}
        for path in (services, pods):
            result = runner.invoke(cli, [*verb, str(path), "--mode", "services", "--format", "json"])
            assert result.exit_code == 0, result.output
            body = json.loads(result.output)
            body.pop("input", None)
            body.pop("inputs", None)
            got[path.name] = body
        assert got["services.yaml"] == got["pods.yaml"]


def test_without_mode_the_verbs_take_the_mode_the_workflow_was_compiled_in(tmp_path):
    services, pods = tmp_path / "services.yaml", tmp_path / "pods.yaml"
    runner = CliRunner()
    assert runner.invoke(cli, ["compile", str(QUESTION), "--mode", "services", "-o", str(services)]).exit_code == 0
    assert runner.invoke(cli, ["compile", str(QUESTION), "-o", str(pods)]).exit_code == 0

    def usd(*args: str) -> float:
        result = runner.invoke(cli, ["cost", *args, "--format", "json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["per_query_usd"]

    assert usd(str(services)) == usd(str(services), "--mode", "services")
    assert usd(str(pods)) == usd(str(pods), "--mode", "pods")
    assert usd(str(services)) != usd(str(services), "--mode", "pods")
    mixed = runner.invoke(cli, ["simulate", str(pods), str(services), "--nodes", "1"])
    assert mixed.exit_code == 1
    assert "different modes" in mixed.output and "--mode" in mixed.output
    assert runner.invoke(cli, ["simulate", str(pods), str(services), "--nodes", "1", "--mode", "pods"]).exit_code == 0
