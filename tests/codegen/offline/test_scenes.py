"""Reworded questions answered right on drawn scenes: generated programs run with ``dicec exec --models builtin``.

The built-in scene models (dicec.runtime.scene) see solid shapes on a plain background, so the ground
truth follows from the drawn shapes; a licence plate rendered as in tests/operators/test_read_text.py
is read by the built-in read_text (PP-OCR, shipped by rapidocr-onnxruntime).
"""

from __future__ import annotations

import collections
import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dicec.codegen import generate_offline
from dicec.runtime.__main__ import main
from dicec.runtime.images import encode_png
from dicec.runtime.scene import COLOURS, SHAPES
from dicec.runtime.scene.generate import make_scene, render

SEEDS = range(8)


@pytest.fixture(scope="module")
def registry():
    from dicec.runtime.backend import registry_for

    return registry_for()


def answer(tmp_path: Path, registry, question: str, image: Path) -> tuple[str, str]:
    """The answer ``dicec exec`` gives to the generated program for ``question``, and the program's family."""
    g = generate_offline(question, registry)
    program = tmp_path / "program.py"
    program.write_text(g.code)
    result = CliRunner().invoke(main, ["exec", str(program), "--image", str(image), "--models", "builtin", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["answer"], g.family


def yes_no(value) -> str:
    return "yes" if value else "no"


def scene_questions(seed: int) -> list[tuple[str, str]]:
    """(question, ground truth) for scene ``seed``, in reworded forms."""
    shapes = make_scene(seed)
    kinds = collections.Counter(s.shape for s in shapes)
    a, b, c = SHAPES[seed % 4], SHAPES[(seed + 1) % 4], SHAPES[(seed + 2) % 4]
    out = [(f"Count the {a}s.", str(kinds[a])), (f"How many {b}s are there in total?", str(kinds[b])),
           (f"Can you tell me how many {c}s there are?", str(kinds[c])),
           (f"Isn't there a {a}?", yes_no(kinds[a])), (f"Can you see a {b}?", yes_no(kinds[b])),
           (f"Is there a {a} or a {b}?", yes_no(kinds[a] or kinds[b])),
           (f"Is there a {a}, a {b} or a {c}?", yes_no(kinds[a] or kinds[b] or kinds[c])),
           (f"Are there both {a}s and {c}s?", yes_no(kinds[a] and kinds[c]))]
    for s in (s for s in shapes if kinds[s.shape] == 1):
        others = sorted(set(COLOURS) - {s.colour})[seed % 5: seed % 5 + 2]
        options = sorted([s.colour, *others])
        out += [(f"Tell me what colour the {s.shape} is.", s.colour),
                (f"What color is the {s.shape}: {options[0]}, {options[1]} or {options[2]}?", s.colour)]
    unique = [s for s in shapes if sum((t.shape, t.colour) == (s.shape, s.colour) for t in shapes) == 1]
    if len(unique) >= 2:
        x, y = unique[:2]
        out += [(f"Is the {x.colour} {x.shape} to the left of the {y.colour} {y.shape}?", yes_no(x.centre_x < y.centre_x)),
                (f"Is the {x.colour} {x.shape} to the left or to the right of the {y.colour} {y.shape}?",
                 "left" if x.centre_x < y.centre_x else "right")]
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_reworded_questions_are_answered_as_the_scene_says(tmp_path, registry, seed):
    image = tmp_path / "scene.png"
    image.write_bytes(encode_png(render(make_scene(seed))))
    wrong = []
    for question, truth in scene_questions(seed):
        got, family = answer(tmp_path, registry, question, image)
        assert family != "fallback", question
        if got != truth:
            wrong.append((question, truth, got))
    assert not wrong


def _plate_renderer():
    """``render(text, scale)`` from the read_text operator's test: a licence plate drawn with numpy."""
    path = Path(__file__).resolve().parents[2] / "operators" / "test_read_text.py"
    spec = importlib.util.spec_from_file_location("read_text_plates", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render


@pytest.mark.parametrize("question", ["What does the licence plate say?", "Read the licence plate.",
                                      "What is the licence plate number?"])
def test_licence_plate_is_read_with_read_text(tmp_path, registry, question):
    """The issue's plate: the program calls read_text (the scene models find no plate, so it reads the whole
    image) and answers the plate's text, where a whole-image simple_query said "white rectangle"."""
    from dicec.runtime.onnxops import packaged_folder

    try:
        packaged_folder("read_text")
    except Exception as exc:  # noqa: BLE001 - as tests/operators/test_read_text.py: a missing install is a failure
        pytest.fail(f"the PP-OCR models are missing ({exc}); pip install --no-deps 'rapidocr-onnxruntime==1.4.4'")
    image = tmp_path / "plate.png"
    image.write_bytes(encode_png(_plate_renderer()("AB12 CDE", 8)))
    got, family = answer(tmp_path, registry, question, image)
    assert family == "text"
    assert "read_text()" in generate_offline(question, registry).code
    assert got == "AB12 CDE"
