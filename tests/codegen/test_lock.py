"""Pinned builds: --lock records (question, model, prompt hash) -> checked code; replay builds only from it."""

from __future__ import annotations

import json

import pytest

from messages_standin import KEY, reply
from dicec.codegen.backends import generate_program
from dicec.codegen.llm import LLMOptions
from dicec.codegen.lock import KIND, Pin, load_lock
from dicec.codegen.prompt import prompt_hash, render_prompt
from dicec.errors import DicecError

Q1 = "How many cars are there?"
Q2 = "Is there a dog?"
P1 = 'def execute_command(image):\n    return str(len(ImagePatch(image).find("car")))\n'
P2 = 'def execute_command(image):\n    return bool_to_yesno(ImagePatch(image).exists("dog"))\n'


def pin(question, registry, server, lock, **kw):
    opts = LLMOptions(base_url=server.url, api_key=KEY, lock=str(lock), backoff_s=0, **kw)
    return generate_program(question, registry, backend="anthropic", options=opts)


def replay(question, registry, lock, **kw):
    return generate_program(question, registry, backend="replay", options=LLMOptions(lock=str(lock), **kw))


def test_pin_then_replay(viper_registry, standin, tmp_path):
    lock = tmp_path / "dicec.lock"
    server = standin(reply("```python\n" + P1 + "```"))
    g = pin(Q1, viper_registry, server, lock)
    assert g.code == P1 and g.usage.llm_calls == 1
    data = json.loads(lock.read_text())
    assert data["kind"] == KIND and len(data["entries"]) == 1
    entry = data["entries"][0]
    assert entry["question"] == Q1 and entry["code"] == P1
    assert entry["prompt_sha256"] == prompt_hash(render_prompt(viper_registry))
    # a pinned question is answered from the lock: no second request
    again = pin(Q1, viper_registry, server, lock)
    assert again.code == P1 and again.usage.llm_calls == 0 and len(server.requests) == 1
    r = replay(Q1, viper_registry, lock)
    assert r.code == P1 and r.backend == "replay" and r.usage.llm_calls == 0


def test_lock_bytes_do_not_depend_on_order(viper_registry, standin, tmp_path):
    a, b = tmp_path / "a.lock", tmp_path / "b.lock"
    pin(Q1, viper_registry, standin(reply(P1)), a)
    pin(Q2, viper_registry, standin(reply(P2)), a)
    pin(Q2, viper_registry, standin(reply(P2)), b)
    pin(Q1, viper_registry, standin(reply(P1)), b)
    assert a.read_bytes() == b.read_bytes()
    assert load_lock(str(a), missing_ok=False).dumps() == a.read_text()


def test_replay_names_the_question_not_pinned(viper_registry, standin, tmp_path):
    lock = tmp_path / "dicec.lock"
    pin(Q1, viper_registry, standin(reply(P1)), lock)
    with pytest.raises(DicecError) as info:
        replay(Q2, viper_registry, lock)
    line = str(info.value)
    assert line.startswith(f"{lock}: question \"Is there a dog?\" is not pinned") and "--backend anthropic" in line
    with pytest.raises(DicecError, match="pinned only for model claude-sonnet"):
        replay(Q1, viper_registry, lock, model="claude-other")


def test_replay_after_the_operators_changed(viper_registry, make_registry, standin, tmp_path):
    lock = tmp_path / "dicec.lock"
    pin(Q1, viper_registry, standin(reply(P1)), lock)
    with pytest.raises(DicecError, match="with another prompt"):
        replay(Q1, make_registry("find", "exists"), lock)


def test_replay_needs_a_lock(viper_registry, tmp_path):
    with pytest.raises(DicecError, match="pass --lock FILE"):
        generate_program(Q1, viper_registry, backend="replay", options=LLMOptions())
    with pytest.raises(DicecError, match="no such lock file"):
        replay(Q1, viper_registry, tmp_path / "missing.lock")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["entries"][0].update(code="def execute_command(image):\n    return 2\n"), "code_sha256 does not match"),
    (lambda d: d.update(kind="other"), "not a dicec lock file"),
    (lambda d: d.update(version=9), "version 9 is not supported"),
    (lambda d: d["entries"][0].update(prompt_sha256="abc"), "64 lowercase hex"),
    (lambda d: d["entries"].append(dict(d["entries"][0])), "pinned twice"),
])
def test_damaged_lock_is_refused(viper_registry, standin, tmp_path, mutate, message):
    lock = tmp_path / "dicec.lock"
    pin(Q1, viper_registry, standin(reply(P1)), lock)
    data = json.loads(lock.read_text())
    mutate(data)
    lock.write_text(json.dumps(data))
    with pytest.raises(DicecError, match=message):
        replay(Q1, viper_registry, lock)


def test_not_json(tmp_path, viper_registry):
    lock = tmp_path / "dicec.lock"
    lock.write_text("{\n  <<<<<<< HEAD\n")
    with pytest.raises(DicecError, match=r"dicec.lock:2: not a valid lock file"):
        replay(Q1, viper_registry, lock)


def test_pin_validates():
    with pytest.raises(ValueError):
        Pin(question="", model="m", prompt_sha256="0" * 64, code="x")
