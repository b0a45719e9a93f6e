"""Fixtures for the validate stage: checkers for 'valid' and for one expected diagnostic on a marked line."""

from __future__ import annotations

import textwrap

import pytest

#: Marks the line a diagnostic is expected on, in the YAML texts of these tests.
MARK = "#<"


def marked_line(text: str) -> int:
    """The 1-based line holding the ``#<`` marker."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if MARK in line]
    assert len(lines) == 1, f"expected one {MARK} marker, found {len(lines)}"
    return lines[0]


@pytest.fixture
def expect_one():
    """``expect_one(yaml_text, DiagnosticClass)``: exactly one diagnostic, of that class, on the marked line."""
    from dicec.validate import validate_text

    def check(text: str, kind: type, *, contains: str = ""):
        text = textwrap.dedent(text)
        problems = validate_text(text, path="wf.yaml")
        assert [type(p) for p in problems] == [kind], [str(p) for p in problems]
        problem = problems[0]
        line = marked_line(text)
        assert problem.line == line, str(problem)
        text_line = str(problem)
        assert text_line.startswith(f"wf.yaml:{line}: ") and "\n" not in text_line, text_line
        assert contains in text_line, text_line
        return problem

    return check


@pytest.fixture
def valid():
    """``valid(yaml_text)``: no diagnostics at all (they are shown when there are some)."""
    from dicec.validate import validate_text

    def check(text: str) -> None:
        problems = validate_text(textwrap.dedent(text), path="wf.yaml")
        assert problems == [], [str(p) for p in problems]

    return check
