"""Hostile questions through `dicec compile q.txt -o wf.yaml`: Argo expressions, YAML structure, shell
metacharacters, huge and binary input.

Each either compiles to a workflow in which none of the text is read by Argo or YAML -- the test loads
the YAML, walks every string, finds the raw text nowhere (it travels only inside base64 payloads,
where the test finds it again), sees no ``{{`` but the workflow's own references, and runs
``dicec validate`` -- or is refused with one line on stderr, exit 1 and no output file.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import re

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli
from dicec.validate import validate_path

#: The references dicec itself writes: template inputs, task outputs, fan-out items, workflow parameters.
KNOWN_REFERENCE = re.compile(
    r"\{\{(inputs\.parameters\.[a-z0-9-]+|tasks\.[a-z0-9-]+\.outputs\.(parameters\.[a-z0-9-]+|result)"
    r"|item|workflow\.parameters\.[a-z0-9-]+)\}\}")

COMPILES = [
    "How many {{workflow.name}} are there?",
    'Is there a {{=sprig.env("AWS_SECRET_ACCESS_KEY")}} in the image?',
    "What is {{workflow.parameters.image}} showing?",
    "Is the {{inputs.parameters.program}} red?",
    "{{tasks.answer.outputs.parameters.answer}}",
    "Which {{steps.x.outputs.result}} and {{workflow.uid}} {{ item }}?",
    "Is the sign saying \"stop\" or 'go'?",
    "Why is there a dog,\r\n\ta cat\r\n\tand a bird?",      # one question wrapped over lines
    "Is there a car\n---\napiVersion: v1\nkind: Pod\nspec: {}",
    "Is there a &anchor dog or a *anchor cat? <<: *anchor",
    "!!python/object/apply:os.system ['id']",
    "%YAML 1.1\n--- !<tag:yaml.org,2002:python/object:os.system> x",
    "Is there a $(rm -rf /) or `id` or ${HOME}; echo pwned | sh && true > /etc/passwd?",
    "Is there a dog'); import os; os.system('id') #",
    '"""; __import__("os").system("id"); """',
    "{% raw %}{{ 7*7 }}{% endraw %} ${{ secrets.TOKEN }}",
    "Is there a cat? # comment: value\n- item: [a, b]\n? key",
    "yes",
    "null",
    "Is there a \u202edog\u202c? \u2028 next\u2029 para \x85 nel \x1b[31m red",
    "Ist da ein Hund? 🐕 ñ 猫 café",
    "What colour is the " + "very {{ " * 150 + "big car?",
]

REFUSED = [
    (b"Is there a " + b"{{workflow.name}} " * 6000 + b"?", "over the 2000-character limit"),  # ~100 KB
    (b"Is there a \xff\xfe dog?", "not UTF-8 text"),
    (b"Is there\x00 a dog?", "NUL bytes"),
    (b"   \n\t  \n", "empty"),
    (b"\xef\xbb\xbf", "empty"),
    # several questions in one file are refused, not joined into one nobody asked (dicec.pipeline.read_question)
    (b"Is there a dog?\nIs there a cat?\r\n\tOr a bird?", "holds 3 questions (starting on lines 1, 2 and 3)"),
    (b"Is there a car?\n---\napiVersion: v1\nkind: Pod\nspec: {}", "holds 2 questions"),
]


def compile_question(tmp_path, data: bytes, *extra):
    q, out = tmp_path / "q.txt", tmp_path / "wf.yaml"
    q.write_bytes(data)
    result = CliRunner().invoke(cli, ["compile", str(q), "-o", str(out), *extra], catch_exceptions=False)
    return result, out


def strings(node):
    """Every string in a YAML document: keys and values."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def decode(text: str) -> str | None:
    """A base64url payload's text, or None when ``text`` is not one."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,}", text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The strings of a plain question's workflow (same shape: a whole-image query)."""
    result, out = compile_question(tmp_path_factory.mktemp("baseline"), b"What is shown in the image?")
    assert result.exit_code == 0, result.stderr
    return [s for s in strings(yaml.safe_load(out.read_text())) if decode(s) is None]


def assert_inert(out, question: str, baseline: list[str]):
    text = out.read_text()
    docs = list(yaml.safe_load_all(text))
    assert len(docs) == 1 and docs[0]["kind"] == "Workflow"  # no document smuggled in with ---
    assert "!!python" not in text and "&anchor" not in text and "*anchor" not in text
    norm = " ".join(question.split())
    payloads = []
    for s in strings(docs[0]):
        decoded = decode(s)
        if decoded is not None:
            payloads.append(decoded)
            continue
        for ref in re.findall(r"\{\{.*?\}\}", s):
            assert KNOWN_REFERENCE.fullmatch(ref), f"unknown Argo reference {ref!r} in {s[:80]!r}"
        assert "{{=" not in s and "{{ " not in s
        for marker in ("$(rm", "`id`", "sprig.env", "os.system", "workflow.uid", "secrets.TOKEN", "\u202e"):
            assert marker not in s, (marker, s[:80])
    if re.search(r"[^A-Za-z0-9 -]", norm):  # (a plain word may name a task; it cannot be interpreted)
        outside = [s for s in strings(docs[0]) if decode(s) is None]
        assert sum(s.count(norm) for s in outside) == sum(s.count(norm) for s in baseline), "raw question text"
    # the question landed where it belongs: a Python string literal inside the base64 program
    programs = [p for p in payloads if p.startswith("def execute_command(image):")]
    assert len(programs) == 1
    literals = {n.value for n in ast.walk(ast.parse(programs[0])) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert norm in literals or any(norm in json.loads(p).get("args", [{}])[0].get("literal", "")
                                   for p in payloads if p.startswith("{"))
    assert [str(p) for p in validate_path(str(out))] == []


@pytest.mark.parametrize("question", COMPILES, ids=range(len(COMPILES)))
def test_hostile_question_compiles_to_an_inert_workflow(tmp_path, question, baseline):
    result, out = compile_question(tmp_path, question.encode("utf-8"))
    assert result.exit_code == 0, result.stderr
    assert_inert(out, question, baseline)
    again, out2 = compile_question(tmp_path / ".." / tmp_path.name, question.encode("utf-8"))
    assert out2.read_bytes() == out.read_bytes()  # deterministic


@pytest.mark.parametrize("data, message", REFUSED, ids=["100KB", "non-utf8", "nul", "blank", "bom-only",
                                                      "three-questions", "yaml-document"])
def test_hostile_input_is_refused_in_one_line(tmp_path, data, message):
    result, out = compile_question(tmp_path, data)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert str(tmp_path / "q.txt") in result.stderr
    assert not out.exists()


def test_hostile_question_through_the_llm_backend(tmp_path, llm_env, baseline):
    """The LLM echoes the hostile question into its program: the workflow is still inert."""
    from messages_standin import KEY, MessagesStandIn, reply

    question = 'Is there a {{workflow.name}} or $(rm -rf /) or {{=sprig.env("X")}}?'
    program = f"def execute_command(image):\n    return ImagePatch(image).simple_query({question!r})\n"
    with MessagesStandIn([reply(f"```python\n{program}```")]) as server:
        result, out = compile_question(tmp_path, question.encode(), "--backend", "anthropic", "--base-url", server.url,
                                       "--api-key", KEY)
    assert result.exit_code == 0, result.stderr
    assert_inert(out, question, baseline)
