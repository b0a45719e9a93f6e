"""Argo's own example workflows (v4.1.2, in ../shared/argo/examples) validate cleanly.

Three of the 198 examples are genuinely broken YAML, checked by hand; each is listed in KNOWN_BAD with
the exact diagnostics dicec reports and why Argo's example is wrong. Every other example must produce
no diagnostic at all.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dicec.validate import messages as m
from dicec.validate import validate_path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EXAMPLES_DIR = SHARED / "argo" / "examples"
EXAMPLES = sorted(p for p in EXAMPLES_DIR.rglob("*") if p.suffix in (".yaml", ".yml")) if EXAMPLES_DIR.is_dir() else []
ABSENT = f"{EXAMPLES_DIR} is absent (a user's clone has no ../shared folder beside it)"

#: Examples that are wrong in Argo's repository: file -> [(diagnostic class, line, text in the message)].
KNOWN_BAD = {
    # `generateName:` is indented under `labels:`, so the workflow has no name at all and gets a label
    # whose value ends in '-' (Kubernetes refuses both).
    "fun-with-gifs.yaml": [
        (m.MissingName, 12, "metadata: needs a name or a generateName"),
        (m.BadName, 15, "label value 'fun-with-gifs-' is not valid"),
    ],
    # `name: k8s-jobs` is indented into the `|` block of the annotation above it, so it is annotation
    # text and the workflow has no name.
    "k8s-jobs.yaml": [
        (m.MissingName, 8, "metadata: needs a name or a generateName"),
    ],
    # `metadata.annotations` appears twice; YAML keeps the second, Kubernetes' YAML reader refuses the
    # document ("mapping key already defined").
    "k8s-patch-json-workflow.yaml": [
        (m.DuplicateKey, 13, "key 'annotations' appears more than once"),
    ],
}


def _id(path: Path) -> str:
    return str(path.relative_to(EXAMPLES_DIR))


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_argo_example_validates(path: Path):
    problems = validate_path(path)
    expected = KNOWN_BAD.get(path.name)
    if expected is None:
        assert problems == [], "\n".join(str(p) for p in problems)
    else:
        got = [(type(p), p.line) for p in problems]
        assert got == [(kind, line) for kind, line, _ in expected], [str(p) for p in problems]
        for problem, (_, _, text) in zip(problems, expected):
            assert text in str(problem)


def test_all_argo_examples_are_there():
    if not EXAMPLES:
        pytest.skip(ABSENT)
    assert len(EXAMPLES) == 198
    assert {p.parent.name for p in EXAMPLES} >= {"examples", "workflow-template", "cluster-workflow-template"}
    assert all((EXAMPLES_DIR / name).is_file() for name in KNOWN_BAD)


def test_multi_document_example_checks_every_document():
    """cron-backfill.yaml holds a WorkflowTemplate, a CronWorkflow and two Workflows: all are checked."""
    if not EXAMPLES:
        pytest.skip(ABSENT)
    text = (EXAMPLES_DIR / "cron-backfill.yaml").read_text()
    from dicec.validate import validate_text

    assert validate_text(text) == []
    broken = text.replace("  name: backfill-v2", "  name: Backfill_v2").replace("schedules:", "schedulez:")
    kinds = [type(p).__name__ for p in validate_text(broken)]
    assert kinds == ["SchemaViolation", "UnknownField", "BadName"]  # schedules missing, schedulez unknown


def test_validation_is_fast():
    """Validating a typical example takes milliseconds once the schema is loaded (the first use loads it)."""
    if not EXAMPLES:
        pytest.skip(ABSENT)
    validate_path(EXAMPLES[0])
    start = time.perf_counter()
    for path in EXAMPLES:
        validate_path(path)
    per_file = (time.perf_counter() - start) / len(EXAMPLES)
    assert per_file < 0.05, f"{per_file * 1000:.1f} ms per file"
