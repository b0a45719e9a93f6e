"""Serial == batch of stage pods: ``dicec run`` of a pods-mode ``--batch`` workflow answers every image (and every
question) exactly as ``dicec exec`` answers it on that image alone.

Checked for every example question, for the example questions and the GQA-style corpus compiled together
(several questions over one batch share the stage pods), for the ViperGPT programs in ../shared/dev that
compile, and for drawn scenes with the built-in models (each with ``--models seeded`` elsewhere); with
thread and process isolation, batches of 0 and 1 image, an image that cannot be read, and PNG and JPEG
images mixed in one batch. A program that raises on an image makes that image's answer the same error.
Every run's answer pods report one replay per answered image and question, checked against that question's
compiled plan (tests/plan_checks.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "runtime"))

from helpers import exec_answer, write_image  # noqa: E402
from plan_checks import assert_plan_was_right  # noqa: E402
from support import REPO, viper_programs  # noqa: E402

EXAMPLES = sorted((REPO / "examples" / "questions").glob("*.txt"))
GQA = [line.strip() for line in (REPO / "benchmarks" / "gqa_corpus" / "questions.txt").read_text().splitlines()
       if line.strip()]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    tmp = tmp_path_factory.mktemp("eqb")
    images = [write_image(tmp / f"image{s}.png", width=300 + 30 * s, height=220 + 10 * s, seed=60 + s)
              for s in range(3)]
    return {"registry": registry_for(), "pools": load_pools(), "tmp": tmp, "images": images}


def expected(e: dict) -> dict:
    """``exec``'s result as the answer pod reports it: the answer, or the error line the program raised."""
    if "answer" in e:
        return {"answer": e["answer"]}
    kind, detail, line = e["error"]
    where = f"<program>:{line}" if line else "<program>"
    return {"error": f"{where}: " + " ".join((f"{kind}: {detail}" if detail else kind).split())}


def compile_batch(setup, planned: list, **options):
    from dicec.emit import EmitOptions
    from dicec.pipeline import emit_planned

    return emit_planned(planned, registry=setup["registry"], options=EmitOptions(batch=True, **options))


def planned_of(setup, text: str, kind: str, path: str):
    from dicec.pipeline import plan_text

    return plan_text(text, kind, path=path, registry=setup["registry"], catalogue=setup["pools"])


def run_batch(compiled, tmp: Path, images: list, *, models: str = "seeded", isolation: str = "thread",
              parallelism: int = 4) -> list[list[dict]]:
    """``dicec run`` of a batch workflow: per image, per question, ``{"answer"}`` or ``{"error"}``."""
    from dicec.runner.batch import stage_answers
    from dicec.runner.workflow import RunOptions, run_workflow

    wf = tmp / "batch.yaml"
    wf.write_text(compiled.yaml)
    params = {"images": json.dumps([str(i) for i in images])}
    result = run_workflow(str(wf), RunOptions(parameters=params, parallelism=parallelism, isolation=isolation,
                                              env={"DICEC_MODELS": models}))
    outcomes = stage_answers(result.outputs["answers"], params, len(compiled.plan.queries), str(wf))[1]
    check_plans(compiled, outcomes, result.answer_counts)
    return outcomes


def check_plans(compiled, outcomes: list[list[dict]], reported) -> None:
    """One reported replay per answered (image, question), each as its question's compiled plan says."""
    answered = sorted((i, k + 1) for i, row in enumerate(outcomes) for k, o in enumerate(row) if "answer" in o)
    assert sorted((r.where["index"], r.where["question"]) for r in reported) == answered
    for r in reported:
        planned = compiled.inputs[r.where["question"] - 1]
        assert_plan_was_right(planned.graph, r.counts, (planned.path, r.where))


def exec_all(compiled, images: list, models: str = "seeded") -> list[list[dict]]:
    return [[expected(exec_answer(p.program, image, models=models)) for p in compiled.inputs] for image in images]


@pytest.mark.parametrize("question", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_answers_each_image_as_exec_does(question, setup, tmp_path):
    compiled = compile_batch(setup, [planned_of(setup, question.read_text().strip(), "question", question.name)],
                             shards=2)
    images = setup["images"]
    assert run_batch(compiled, tmp_path, images) == exec_all(compiled, images), question.name


def test_the_examples_together_answer_as_each_alone_in_both_isolations(setup, tmp_path):
    planned = [planned_of(setup, q.read_text().strip(), "question", q.name) for q in EXAMPLES]
    compiled = compile_batch(setup, planned, shards=2)
    assert [s.pool for s in compiled.plan.stages] == ["a4000", "a6000"]  # all 33 questions share two stage pods
    images = [*setup["images"], setup["tmp"] / "missing.png"]
    want = exec_all(compiled, images[:3])
    thread = run_batch(compiled, tmp_path, images)
    assert thread[:3] == want
    assert all("missing.png: image not found" in o["error"] for o in thread[3])
    assert run_batch(compiled, tmp_path, images, isolation="process", parallelism=2) == thread


def test_the_gqa_corpus_together_answers_as_exec_does(setup, tmp_path):
    planned = [planned_of(setup, q, "question", f"gqa-{i}.txt") for i, q in enumerate(GQA)]
    compiled = compile_batch(setup, planned, shards=3)
    images = setup["images"]
    assert run_batch(compiled, tmp_path, images) == exec_all(compiled, images)


def test_viper_programs_in_batches_answer_as_exec_does(setup, tmp_path):
    from dicec.errors import DicecError

    planned = []
    for i, row in enumerate(viper_programs()):
        try:
            planned.append(planned_of(setup, row["code"], "program", f"viper-{i}.py"))
        except DicecError:
            continue  # does not parse or fails the checker: neither exec nor run accepts it
    assert len(planned) >= 600
    images = setup["images"][:2]
    compared = raised = 0
    for start in range(0, len(planned), 100):
        compiled = compile_batch(setup, planned[start:start + 100], shards=2)
        got, want = run_batch(compiled, tmp_path, images), exec_all(compiled, images)
        for k, p in enumerate(compiled.inputs):
            assert [g[k] for g in got] == [w[k] for w in want], p.program
            compared += 1
            raised += sum(1 for w in want if "error" in w[k])
    assert compared == len(planned) and raised >= 2  # programs that raise are compared too


def test_batches_of_none_and_one_image(setup, tmp_path):
    compiled = compile_batch(setup, [planned_of(setup, EXAMPLES[0].read_text().strip(), "question", "q.txt")])
    assert compiled.plan.shards == 8
    assert run_batch(compiled, tmp_path, []) == []
    one = setup["images"][2]
    assert run_batch(compiled, tmp_path, [one]) == exec_all(compiled, [one])
    assert run_batch(compiled, tmp_path, [one], isolation="process") == exec_all(compiled, [one])


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    sys.path.insert(0, str(REPO / "examples" / "scenes"))
    from generate import generate

    folder = tmp_path_factory.mktemp("scenes")
    records = generate(folder, 6)
    questions = sorted({q["question"] for r in records for q in r["questions"]})
    return {"folder": folder, "images": [folder / r["image"] for r in records], "questions": questions}


def test_drawn_scenes_with_the_builtin_models(setup, scenes, tmp_path):
    planned = [planned_of(setup, q, "question", f"scene-q{i}.txt") for i, q in enumerate(scenes["questions"])]
    compiled = compile_batch(setup, planned, shards=2)
    images = scenes["images"]
    want = exec_all(compiled, images, models="builtin")
    assert run_batch(compiled, tmp_path, images, models="builtin") == want
    assert sum(1 for row in want for o in row if "answer" in o) >= len(images) * len(planned) * 0.9
    one = compile_batch(setup, planned[:2], shards=3)
    assert run_batch(one, tmp_path, images, models="builtin", isolation="process", parallelism=2) == \
        exec_all(one, images, models="builtin")


def test_png_and_jpeg_images_mixed_in_one_batch(setup, scenes, tmp_path):
    image_module = pytest.importorskip(
        "PIL.Image", reason="writing JPEG test images needs Pillow, and dicec.runtime.images decodes JPEG with it; "
                            "Pillow is not installed in this environment")
    from dicec.errors import DicecError
    from dicec.runtime.images import load_image

    jpegs = []
    for png in scenes["images"][:3]:
        target = tmp_path / (png.stem + ".jpg")
        with image_module.open(png) as im:
            im.convert("RGB").save(target, format="JPEG", quality=92)
        jpegs.append(target)
    try:
        load_image(str(jpegs[0])).pixels
    except DicecError as exc:
        pytest.skip(f"this branch's dicec.runtime.images cannot decode JPEG yet: {exc}")
    mixed = [jpegs[0], scenes["images"][3], jpegs[1], scenes["images"][4], jpegs[2]]
    planned = [planned_of(setup, q, "question", f"scene-q{i}.txt") for i, q in enumerate(scenes["questions"][:4])]
    compiled = compile_batch(setup, planned, shards=2)
    for models in ("seeded", "builtin"):
        assert run_batch(compiled, tmp_path, mixed, models=models) == exec_all(compiled, mixed, models=models)
