"""``--strict`` on ``dicec codegen`` and ``dicec compile``, and question files: one question, perhaps wrapped."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dicec.cli import cli
from dicec.codegen.offline import FALLBACK_WARNING


def run(tmp_path, verb: str, text: str, *extra: str):
    question, out = tmp_path / "q.txt", tmp_path / ("wf.yaml" if verb == "compile" else "prog.py")
    question.write_text(text)
    result = CliRunner().invoke(cli, [verb, str(question), "-o", str(out), *extra], catch_exceptions=False)
    return result, out, question


@pytest.mark.parametrize("verb", ["codegen", "compile"])
def test_strict_refuses_the_whole_image_fallback_in_one_line(tmp_path, verb):
    result, out, question = run(tmp_path, verb, "Why is the man smiling?\n", "--strict")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{question}: could not decompose the question") and "--strict" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("verb", ["codegen", "compile"])
def test_without_strict_the_fallback_is_a_warning(tmp_path, verb):
    result, out, question = run(tmp_path, verb, "Why is the man smiling?\n")
    assert result.exit_code == 0, result.stderr
    assert f"{question}: warning: {FALLBACK_WARNING}" in result.stderr and out.exists()


@pytest.mark.parametrize("verb", ["codegen", "compile"])
def test_strict_passes_a_decomposed_question(tmp_path, verb):
    result, out, _ = run(tmp_path, verb, "Count the circles.\n", "--strict")
    assert result.exit_code == 0, result.stderr
    assert out.exists() and "warning" not in result.stderr


def test_strict_does_not_concern_a_program(tmp_path):
    program = tmp_path / "p.py"
    program.write_text('def execute_command(image):\n    return ImagePatch(image).simple_query("Why?")\n')
    result = CliRunner().invoke(cli, ["compile", str(program), "-o", str(tmp_path / "wf.yaml"), "--strict"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("text, starts", [
    ("Is there a dog?\nIs there a cat?\n", "1 and 2"),
    ("Is there a dog\n\nHow many cats are there\n", "1 and 3"),
    ("How many dogs are there?\nWhat colour is the car?\nWhy?\n", "1, 2 and 3"),
    ("Is there a dog.\r\nis there a cat\r\n", "1 and 2"),
    ("Count the dogs\nShow me the cats\n", "1 and 2"),
])
def test_a_file_of_several_questions_is_refused_naming_their_lines(tmp_path, text, starts):
    result, out, question = run(tmp_path, "codegen", text)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"{question}: the file holds ") and f"lines {starts}" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("text", [
    "Which parts of the truck\nare scratched or dented?\n",
    "  Is there a cat,\n  a dog\n  or a bird?  \n\n",
    "Is the car to the left of\nBig Ben's tower -\nThe one on the corner?\n",
    "Is the car parked next to\nBig Ben?\n",
])
def test_one_question_wrapped_over_lines_is_one_question(tmp_path, text):
    result, out, _ = run(tmp_path, "codegen", text, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text())["question"] == " ".join(text.split())


@pytest.mark.parametrize("strict", [False, True])
def test_a_batch_names_the_question_file_a_warning_or_refusal_is_about(tmp_path, strict):
    """With several question files, the fallback's warning (or --strict's refusal) names the one file whose
    question fell back, not every input."""
    plain, odd = tmp_path / "dogs.txt", tmp_path / "why.txt"
    plain.write_text("How many dogs are there?\n")
    odd.write_text("Why is the man smiling?\n")
    out = tmp_path / "wf.yaml"
    result = CliRunner().invoke(cli, ["compile", str(plain), str(odd), "--batch", "-o", str(out),
                                      *(["--strict"] if strict else [])], catch_exceptions=False)
    if strict:
        assert result.exit_code == 1 and result.stderr.startswith(f"{odd}: could not decompose the question")
        assert not out.exists()
    else:
        assert result.exit_code == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
        assert warnings == [f"{odd}: warning: {FALLBACK_WARNING}"]
