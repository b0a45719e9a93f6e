"""--backend anthropic: the real anthropic SDK against a loopback stand-in of the Messages API.

Replies, refinement, retries, timeouts and keys; the prompt the SDK sends (cached static part, the
discovered operators, a user's own operator). Nothing here reaches the network: every request goes
to 127.0.0.1.
"""

from __future__ import annotations

import pytest

from messages_standin import KEY, error, reply
from support import write_operator
from dicec.check import check_program
from dicec.codegen.backends import generate_program
from dicec.codegen.llm import LLMOptions, MessagesClient
from dicec.codegen.refine import RefinementFailed
from dicec.errors import DicecError
from dicec.tools import discover

QUESTION = "How many red cars are there?"

GOOD = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    red = [car for car in cars if car.verify_property("car", "red")]
    return str(len(red))
'''

BAD = '''def execute_command(image):
    image_patch = ImagePatch(image)
    return eval("1 + 1")
'''

BAD_MESSAGE = "program.py:3: use of 'eval' is not allowed in programs"


def options(server, **kw) -> LLMOptions:
    kw.setdefault("api_key", KEY)
    kw.setdefault("backoff_s", 0.001)
    return LLMOptions(base_url=server.url, **kw)


def run(question, registry, server, *, sleeps=None, **kw):
    opts = options(server, **kw)
    client = MessagesClient(opts, sleep=(sleeps.append if sleeps is not None else lambda s: None))
    return generate_program(question, registry, backend="anthropic", options=opts, client=client)


def test_good_reply(viper_registry, standin):
    server = standin(reply(GOOD, input_tokens=1234, output_tokens=56))
    g = run(QUESTION, viper_registry, server, model="claude-test-1", max_tokens=777)
    assert g.code == GOOD and g.family == "llm" and g.backend == "anthropic" and g.rounds == 1
    assert (g.usage.llm_calls, g.usage.input_tokens, g.usage.output_tokens) == (1, 1234, 56)
    (req,) = server.requests
    assert req["path"] == "/v1/messages" and KEY in (req["headers"].get("x-api-key"), req["headers"].get("Authorization", "")[7:])
    body = req["body"]
    assert body["model"] == "claude-test-1" and body["max_tokens"] == 777
    assert body["messages"] == [{"role": "user", "content": QUESTION}]
    (system,) = body["system"]
    assert system["cache_control"] == {"type": "ephemeral"}  # the static part is cached
    assert "def find(self, object_name: str) -> list[ImagePatch]:" in system["text"]
    assert QUESTION not in system["text"]  # the question is not part of the cached prefix


def test_fenced_reply_with_prose(viper_registry, standin):
    text = ("Sure! Here's a program that counts the red cars:\n\n```python\n" + GOOD +
            "```\n\nIt finds every car, keeps the red ones and returns how many there are.")
    server = standin(reply(text))
    g = run(QUESTION, viper_registry, server)
    assert g.code == GOOD and g.rounds == 1


def test_invalid_then_valid_reply_sends_the_checker_message(viper_registry, standin):
    server = standin(reply(BAD, input_tokens=100, output_tokens=10), reply(GOOD, input_tokens=150, output_tokens=20,
                                                                            cache_read_input_tokens=900))
    g = run(QUESTION, viper_registry, server)
    assert g.code == GOOD and g.rounds == 2
    assert g.usage.llm_calls == 2 and g.usage.input_tokens == 250 and g.usage.output_tokens == 30
    assert g.usage.cache_read_input_tokens == 900
    first, second = server.bodies()
    assert second["system"] == first["system"]  # same cached prefix every round
    msgs = second["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == BAD
    assert BAD_MESSAGE in msgs[2]["content"]  # the exact checker message goes back


def test_always_invalid_fails_after_the_rounds(viper_registry, standin):
    server = standin(*[reply(BAD) for _ in range(4)])
    with pytest.raises(RefinementFailed) as info:
        run(QUESTION, viper_registry, server, rounds=4)
    assert len(server.requests) == 4
    exc = info.value
    assert "after 4 rounds" in str(exc) and "\n" not in str(exc)
    assert [str(p) for p in exc.problems[1:]] == [
        "<question> (LLM program, round 4):3: use of 'eval' is not allowed in programs"]
    assert exc.usage.llm_calls == 4


def test_reply_without_code_is_sent_back(viper_registry, standin):
    server = standin(reply("I can't see the image, sorry."), reply(GOOD))
    g = run(QUESTION, viper_registry, server)
    assert g.rounds == 2
    assert "no Python code found in the reply" in server.bodies()[1]["messages"][2]["content"]


def test_cut_off_reply_is_told_so(viper_registry, standin):
    server = standin(reply("```python\ndef execute_command(image):\n    x = (", stop_reason="max_tokens"), reply(GOOD))
    run(QUESTION, viper_registry, server)
    feedback = server.bodies()[1]["messages"][2]["content"]
    assert "cut off at the token limit" in feedback and "syntax error" in feedback


def test_analysis_refusals_are_sent_back_too(viper_registry, standin):
    # passes the checker (str methods are allowed) but the reply is refined until it passes analysis as well
    server = standin(reply(GOOD))
    assert run(QUESTION, viper_registry, server).rounds == 1


@pytest.mark.parametrize("status, kind", [(429, "rate_limit_error"), (529, "overloaded_error"), (503, "api_error")])
def test_transient_error_then_success(viper_registry, standin, status, kind):
    server = standin(error(status, kind, "slow down", headers={"retry-after-ms": "7"}), reply(GOOD))
    sleeps = []
    g = run(QUESTION, viper_registry, server, sleeps=sleeps)
    assert g.code == GOOD and len(server.requests) == 2
    assert sleeps == [pytest.approx(0.007)]  # the server's retry-after wins over our backoff
    assert g.usage.llm_calls == 1


def test_5xx_until_retries_run_out(viper_registry, standin):
    server = standin(*[error(500, "api_error", "Internal server error") for _ in range(3)])
    sleeps = []
    with pytest.raises(DicecError) as info:
        run(QUESTION, viper_registry, server, sleeps=sleeps, retries=2, backoff_s=0.5)
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff without retry-after
    line = str(info.value)
    assert "\n" not in line and "500 api_error: Internal server error" in line and "3 attempts" in line


def test_timeout(viper_registry, standin):
    server = standin(reply(GOOD, delay_s=1.5))
    with pytest.raises(DicecError, match=r"did not answer within 0.2s, 1 attempt in all"):
        run(QUESTION, viper_registry, server, timeout_s=0.2, retries=0)


def test_no_key(viper_registry, standin):
    server = standin(reply(GOOD))
    with pytest.raises(DicecError, match="needs an API key: set ANTHROPIC_API_KEY or pass --api-key"):
        generate_program(QUESTION, viper_registry, backend="anthropic",
                         options=LLMOptions(base_url=server.url))
    assert server.requests == []


def test_key_and_base_url_from_the_environment(viper_registry, standin, llm_env):
    server = standin(reply(GOOD))
    llm_env.setenv("ANTHROPIC_API_KEY", KEY)
    llm_env.setenv("ANTHROPIC_BASE_URL", server.url)
    g = generate_program(QUESTION, viper_registry, backend="anthropic", options=LLMOptions())
    assert g.code == GOOD and len(server.requests) == 1


def test_rejected_key(viper_registry, standin):
    server = standin(reply(GOOD))
    with pytest.raises(DicecError) as info:
        run(QUESTION, viper_registry, server, api_key="sk-wrong")
    assert "rejected the API key (401 authentication_error: invalid x-api-key)" in str(info.value)
    assert len(server.requests) == 1  # a rejected key is not retried


def test_refused_request_is_not_retried(viper_registry, standin):
    server = standin(error(400, "invalid_request_error", "max_tokens: too large\nsecond line"))
    with pytest.raises(DicecError) as info:
        run(QUESTION, viper_registry, server)
    assert "refused the request (400 invalid_request_error: max_tokens: too large second line)" in str(info.value)
    assert len(server.requests) == 1


def test_user_operator_reaches_the_prompt(tmp_path, synthetic_dir, standin):
    write_operator(tmp_path, "read_plate", [("method", "read_plate(region: str) -> str")], 2)
    registry = discover([synthetic_dir, tmp_path], builtin=False, entry_points=False)
    program = 'def execute_command(image):\n    return ImagePatch(image).read_plate("front")\n'
    server = standin(reply(program))
    g = run("What does the licence plate say?", registry, server)
    assert g.code == program
    system = server.bodies()[0]["system"][0]["text"]
    assert "def read_plate(self, region: str) -> str:" in system and "test operator read_plate" in system
    assert check_program(g.code, registry)[1] == []


@pytest.mark.parametrize("bad", [dict(model="two words"), dict(max_tokens=0), dict(timeout_s=0), dict(rounds=0),
                                 dict(rounds=11), dict(base_url="ftp://x"), dict(api_key="a\nb")])
def test_options_are_validated(bad):
    with pytest.raises(DicecError):
        LLMOptions(**bad)


def test_key_is_not_in_repr():
    assert "sk-secret" not in repr(LLMOptions(api_key="sk-secret"))
