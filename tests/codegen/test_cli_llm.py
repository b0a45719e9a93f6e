"""`dicec codegen` and `dicec compile` with --backend anthropic/replay, as a user runs them.

Exit codes, one-line errors with no traceback, token accounting in --format json, pinned builds that
make no LLM call, and the flags' help. The LLM is the loopback stand-in (tests/messages_standin.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from messages_standin import KEY, error, reply
from support import write_operator
from dicec.cli import cli

GOOD = '''def execute_command(image):
    image_patch = ImagePatch(image)
    return str(len(image_patch.find("car")))
'''
BAD = 'def execute_command(image):\n    import os\n    return os.getcwd()\n'


@pytest.fixture
def question(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("How many cars are there?\n")
    return q


def invoke(*args, key=KEY):
    env = {"ANTHROPIC_API_KEY": key} if key else {}
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def dicec(*args, key=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_") and "proxy" not in k.lower()}
    if key:
        env["ANTHROPIC_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "dicec", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_codegen_json_reports_tokens(question, standin):
    server = standin(reply("Here it is:\n```python\n" + GOOD + "```", input_tokens=900, output_tokens=40))
    result = invoke("codegen", question, "--backend", "anthropic", "--base-url", server.url, "--format", "json",
                    "--model", "claude-test", "--max-tokens", "500", "--timeout", "5")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["program"] == GOOD and out["backend"] == "anthropic" and out["rounds"] == 1
    assert (out["llm_calls"], out["input_tokens"], out["output_tokens"]) == (1, 900, 40)
    body = server.bodies()[0]
    assert body["model"] == "claude-test" and body["max_tokens"] == 500


def test_operator_from_operators_dir_is_in_the_prompt(question, standin, tmp_path):
    write_operator(tmp_path / "ops", "read_plate", [("method", "read_plate(region: str) -> str")], 2)
    program = 'def execute_command(image):\n    return ImagePatch(image).read_plate("front")\n'
    server = standin(reply(program))
    result = invoke("codegen", question, "--backend", "anthropic", "--base-url", server.url,
                    "--operators", tmp_path / "ops")
    assert result.exit_code == 0, result.output
    assert result.stdout == program
    assert "def read_plate(self, region: str) -> str:" in server.bodies()[0]["system"][0]["text"]


def test_compile_pins_and_replay_rebuilds_the_same_bytes_without_llm(question, standin, tmp_path):
    server = standin(reply(GOOD, input_tokens=10, output_tokens=5))
    lock, wf1, wf2 = tmp_path / "dicec.lock", tmp_path / "wf1.yaml", tmp_path / "wf2.yaml"
    first = invoke("compile", question, "-o", wf1, "--backend", "anthropic", "--base-url", server.url,
                   "--lock", lock, "--format", "json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["llm_calls"], summary["input_tokens"], summary["output_tokens"]) == (1, 10, 5)
    second = invoke("compile", question, "-o", wf2, "--backend", "replay", "--lock", lock, "--format", "json", key=None)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["llm_calls"] == 0 and len(server.requests) == 1
    assert wf1.read_bytes() == wf2.read_bytes()
    assert yaml.safe_load(wf1.read_text())["kind"] == "Workflow"
    assert invoke("validate", wf2).exit_code == 0


def test_offline_json_reports_zero(question):
    result = invoke("codegen", question, "--format", "json")
    out = json.loads(result.stdout)
    assert (out["llm_calls"], out["input_tokens"], out["output_tokens"]) == (0, 0, 0)


def test_replay_of_unpinned_question_is_one_line(question, tmp_path):
    lock = tmp_path / "dicec.lock"
    lock.write_text(json.dumps({"kind": "dicec/lock", "version": 1, "entries": []}))
    result = invoke("compile", question, "-o", tmp_path / "wf.yaml", "--backend", "replay", "--lock", lock)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and 'question "How many cars are there?" is not pinned' in result.stderr
    assert not (tmp_path / "wf.yaml").exists()


def test_replayed_code_is_checked_again(question, tmp_path):
    from dicec.codegen.lock import Lock, Pin
    from dicec.codegen.prompt import prompt_hash, render_prompt
    from dicec.tools import discover

    lock = tmp_path / "dicec.lock"
    digest = prompt_hash(render_prompt(discover()))
    from dicec.codegen.llm import DEFAULT_MODEL

    Lock(path=str(lock)).with_pin(Pin(question="How many cars are there?", model=DEFAULT_MODEL, prompt_sha256=digest,
                                      code=BAD)).save()
    result = invoke("codegen", question, "--backend", "replay", "--lock", lock)
    assert result.exit_code == 1 and "import is not allowed in programs" in result.stderr


def test_lock_with_offline_is_a_usage_error(question, tmp_path):
    result = invoke("codegen", question, "--lock", tmp_path / "x.lock")
    assert result.exit_code == 2 and "--lock needs --backend anthropic" in result.stderr


# -- as a process: exit codes, one line on stderr, no traceback ------------------------------------------
def test_process_good_reply(question, standin):
    server = standin(reply(GOOD))
    done = dicec("codegen", question, "--backend", "anthropic", "--base-url", server.url, key=KEY)
    assert done.returncode == 0, done.stderr
    assert done.stdout == GOOD
    assert "1 LLM call(s)" in done.stderr


def test_process_no_key(question, standin):
    server = standin(reply(GOOD))
    done = dicec("codegen", question, "--backend", "anthropic", "--base-url", server.url)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("dicec: --backend anthropic needs an API key: set ANTHROPIC_API_KEY")
    assert server.requests == []


def test_5xx_until_retries_run_out(question, standin, tmp_path):
    server = standin(*[error(529, "overloaded_error", "Overloaded", headers={"retry-after-ms": "1"})] * 3)
    out = tmp_path / "wf.yaml"
    done = invoke("compile", question, "-o", out, "--backend", "anthropic", "--base-url", server.url, "--llm-retries", "2")
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "answered 529 overloaded_error: Overloaded, 3 attempts in all" in done.stderr
    assert len(server.requests) == 3 and not out.exists()


def test_rejected_key(question, standin):
    server = standin(reply(GOOD))
    done = invoke("codegen", question, "--backend", "anthropic", "--base-url", server.url, key="sk-wrong")
    assert done.exit_code == 1 and done.stderr.count("\n") == 1 and "rejected the API key" in done.stderr


def test_process_always_invalid_lists_what_was_wrong(question, standin):
    server = standin(reply(BAD), reply(BAD))
    done = dicec("codegen", question, "--backend", "anthropic", "--base-url", server.url, "--rounds", "2", key=KEY)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("dicec: the LLM's program (claude-") and "after 2 rounds" in lines[0]
    assert lines[1] == f"{question} (LLM program, round 2):2: import is not allowed in programs"
    assert len(server.requests) == 2
    assert "program.py:2: import is not allowed in programs" in server.bodies()[1]["messages"][2]["content"]


def test_help_describes_the_flags():
    for verb in ("codegen", "compile"):
        text = invoke(verb, "--help").stdout
        for flag in ("--backend [offline|anthropic|replay]", "--model", "--max-tokens", "--timeout", "--base-url",
                     "--api-key", "--rounds", "--lock", "--llm-retries", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            assert flag in text, (verb, flag)
