"""Running checked programs: restricted builtins, budget, call keys, records versus on-demand calls."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import write_image  # noqa: E402

from dicec.check import CheckFailed  # noqa: E402
from dicec.runtime.backend import get_backend, registry_for  # noqa: E402
from dicec.runtime.calls import Call  # noqa: E402
from dicec.runtime.images import load_image  # noqa: E402
from dicec.runtime.program import Limits, ProgramError, run_program, safe_builtins  # noqa: E402


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return load_image(str(write_image(tmp_path_factory.mktemp("img") / "a.png", seed=3)))


def run(source, image, **kw):
    return run_program(source, registry=registry_for(), image=image, backend=get_backend("seeded"), **kw)


def test_the_checker_runs_first(image):
    with pytest.raises(CheckFailed):
        run("def execute_command(image):\n    return open('/etc/passwd').read()\n", image)


def test_builtins_are_only_what_the_checker_allows():
    names = set(safe_builtins())
    assert "open" not in names and "__import__" not in names and "getattr" not in names and "eval" not in names
    assert {"len", "sorted", "range", "str", "min", "max"} <= names


def test_program_errors_carry_kind_and_line(image):
    src = "def execute_command(image):\n    x = []\n    return x[3]\n"
    with pytest.raises(ProgramError) as info:
        run(src, image, path="p.py")
    assert (info.value.kind, info.value.line) == ("IndexError", 3)
    assert str(info.value) == "p.py:3: IndexError: list index out of range"


def test_line_budget_stops_a_runaway_loop(image):
    src = ("def execute_command(image):\n    n = 0\n    for i in range(10000):\n        for j in range(10000):\n"
           "            n += 1\n    return n\n")
    with pytest.raises(ProgramError, match="budget"):
        run(src, image, limits=Limits(max_lines=50_000))


def test_a_bare_except_that_could_swallow_the_budget_is_refused_before_running(image):
    from dicec.check.checker import CheckFailed

    src = ("def execute_command(image):\n    n = 0\n    for i in range(10000):\n        try:\n            n += 1\n"
           "        except:\n            n -= 1\n    return n\n")
    with pytest.raises(CheckFailed, match=r"<program>:6: .*except"):
        run(src, image, limits=Limits(max_lines=50_000))


def test_keywords_and_defaults_give_the_same_call_key(image):
    a = run("def execute_command(image):\n    p = ImagePatch(image)\n    return p.best_text_match(['a', 'b'])\n", image)
    b = run("def execute_command(image):\n    p = ImagePatch(image)\n"
            "    return p.best_text_match(option_list=['a', 'b'], prefix=None)\n", image)
    assert a.answer == b.answer


def test_records_answer_calls_and_their_values_are_used(image):
    src = "def execute_command(image):\n    p = ImagePatch(image)\n    return p.simple_query('What is this?')\n"
    box = {"left": 0, "lower": 0, "right": image.width, "upper": image.height}
    call = Call(operator="simple_query", form="method", patch=box, args=("What is this?",))
    records = {call.key: call.record("a recorded answer")}
    out = run(src, image, records=records)
    assert out.answer == "a recorded answer" and out.stats.from_records == 1 and out.stats.on_demand == 0
    failing = {call.key: call.record(None, "simple_query: model failed")}
    with pytest.raises(ProgramError, match="model failed"):
        run(src, image, records=failing)


def test_find_results_are_patches_with_the_crop_margin(image):
    src = ("def execute_command(image):\n    p = ImagePatch(image)\n    out = []\n"
           "    for name in ['a', 'b', 'c', 'd', 'e', 'f']:\n        out.extend(p.find(name))\n    return out\n")
    boxes = run(src, image).answer
    assert boxes, "the seeded backend finds something for some name"
    for b in boxes:
        assert 0 <= b["left"] < b["right"] <= image.width and 0 <= b["lower"] < b["upper"] <= image.height
        assert b["right"] - b["left"] >= 11  # at least a pixel plus the margin


def test_best_image_match_returns_one_of_the_patches(image):
    src = ("def execute_command(image):\n    p = ImagePatch(image)\n    parts = [p.crop(0, 0, 50, 50), p.crop(60, 0, 120, 50)]\n"
           "    best = best_image_match(parts, ['x'])\n    i = best_image_match(parts, ['x'], return_index=True)\n"
           "    return [best is parts[0] or best is parts[1], parts[i].width > 0]\n")
    assert run(src, image).answer == [True, True]


def test_print_goes_to_the_log(image):
    lines = []
    run("def execute_command(image):\n    print('hello', 3)\n    return 1\n", image, log=lines.append)
    assert lines == ["program: hello 3"]
