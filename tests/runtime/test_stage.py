"""``dicec op stage``: a batch pod runs its tasks for every image of its shard, then the answer pod replays.

The end-to-end equivalence (``dicec run`` of compiled batch workflows against ``dicec exec``) is in
tests/test_equivalence_batch.py; here the pod's own rules: what an empty shard does, what fails an image
and what fails the pod, that the records are the fused step's, and that the onnx batch path is used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import exec_answer, write_image  # noqa: E402

from dicec.analysis import analyse  # noqa: E402
from dicec.emit.steps import call_body  # noqa: E402
from dicec.errors import DicecError  # noqa: E402
from dicec.runtime.backend import registry_for  # noqa: E402
from dicec.runtime.contract import b64  # noqa: E402
from dicec.runtime.stage import run_stage  # noqa: E402

CARS = """
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    damaged = [car for car in cars if car.verify_property("car", "damaged")]
    return f"{len(damaged)} of {len(cars)} damaged"
"""


def payload(graphs) -> str:
    return b64(json.dumps({"stage": "s1", "calls": [[call_body(t) for t in g.tasks] for g in graphs]}))


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stage")
    return [write_image(tmp / f"i{s}.png", width=200 + 10 * s, height=150, seed=40 + s) for s in range(5)]


def images_file(tmp: Path, entries: list) -> str:
    path = tmp / "images.json"
    path.write_text(json.dumps(entries))
    return str(path)


def shard_chain(tmp: Path, programs: list[str], entries: list, shards: int, **kw) -> list[dict]:
    """Stage pod then answer pod for every shard (seeded models); the answer lines in image order."""
    registry = registry_for()
    graphs = [analyse(p, registry, path="p.py") for p in programs]
    listing = images_file(tmp, entries)
    out = []
    for shard in range(shards):
        records = tmp / f"records-{shard}.jsonl"
        run_stage(images_file=listing, shard=shard, shards=shards, stage_payload=payload(graphs),
                  records_out=str(records), models="seeded", **kw)
        got = run_stage(images_file=listing, shard=shard, shards=shards, program_payloads=tuple(map(b64, programs)),
                        records_in=str(records), answers_out=str(tmp / f"a-{shard}.jsonl"),
                        answers_list_out=str(tmp / f"a-{shard}.json"), models="seeded", **kw)
        assert lines(tmp / f"a-{shard}.jsonl") == got
        assert json.loads((tmp / f"a-{shard}.json").read_text()) == [
            {k: v for k, v in a.items() if k != "image"} for a in got]
        out.extend(got)
    return out


def test_each_image_is_answered_as_exec_answers_it(images, tmp_path):
    got = shard_chain(tmp_path, [CARS], [str(i) for i in images], shards=2)
    assert [a["index"] for a in got] == list(range(5)) and [a["image"] for a in got] == [str(i) for i in images]
    assert [a["answers"] for a in got] == [[{"answer": exec_answer(CARS, i)["answer"]}] for i in images]
    assert len({a["answers"][0]["answer"] for a in got}) > 1  # the images differ, so a mix-up would show


def test_the_records_are_what_a_fused_groups_step_writes(images, tmp_path):
    from dicec.emit.steps import group_payload
    from dicec.runtime.group import run_group
    from dicec.runtime.images import load_image

    graph = analyse(CARS, registry_for(), path="p.py")
    run_stage(images_file=images_file(tmp_path, [str(i) for i in images[:2]]), shard=0, shards=1,
              stage_payload=payload([graph]), records_out=str(tmp_path / "r.jsonl"), models="seeded")
    for line, image in zip(lines(tmp_path / "r.jsonl"), images):
        out = tmp_path / "group" / image.stem
        values = run_group(image=load_image(str(image)), group_payload=group_payload(list(graph.tasks)),
                           inputs_json="{}", out_dir=str(out), models="seeded")
        assert line["error"] is None and line["values"] == [values]
        assert line["records"] == [{t.id: json.loads((out / t.id / "record.json").read_text()) for t in graph.tasks}]


def test_an_empty_shard_loads_no_model_and_a_full_one_does(images, tmp_path, synthetic_dir):
    """The synthetic operators name no model file: the onnx backend fails on the first call, not before."""
    graph = analyse(CARS, registry_for((str(synthetic_dir),)), path="p.py")
    listing = images_file(tmp_path, [str(images[0])])
    for shard in (0, 1):  # one image in three shards: shards 0 and 1 are empty
        run_stage(images_file=listing, shard=shard, shards=3, stage_payload=payload([graph]),
                  records_out=str(tmp_path / f"r{shard}.jsonl"), models="onnx", operator_dirs=(str(synthetic_dir),))
        assert (tmp_path / f"r{shard}.jsonl").read_text() == ""
    with pytest.raises(DicecError, match="names no model file"):
        run_stage(images_file=listing, shard=2, shards=3, stage_payload=payload([graph]),
                  records_out=str(tmp_path / "r2.jsonl"), models="onnx", operator_dirs=(str(synthetic_dir),))
    assert not (tmp_path / "r2.jsonl").exists()  # nothing half-written


def test_an_unreadable_image_is_that_images_answer_not_the_shards(images, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    entries = [str(images[0]), str(tmp_path / "missing.png"), 7, str(junk), str(images[1])]
    got = shard_chain(tmp_path, [CARS, "def execute_command(image):\n    return 'fine'\n"], entries, shards=2)
    assert got[0]["answers"] == [{"answer": exec_answer(CARS, images[0])["answer"]}, {"answer": "fine"}]
    assert got[4]["answers"][0] == {"answer": exec_answer(CARS, images[1])["answer"]}
    (missing,), (number,), (broken,) = ({a["error"] for a in got[i]["answers"]} for i in (1, 2, 3))
    assert missing.endswith("missing.png: image not found")
    assert number == "images[2] is not a string (a path or URI): 7"
    assert "junk.png: unreadable image" in broken
    records = lines(tmp_path / "records-0.jsonl") + lines(tmp_path / "records-1.jsonl")
    assert [r["error"] is None for r in records] == [True, False, False, False, True]
    assert records[1]["values"] == [{}, {}]  # nothing computed for it


def test_a_program_that_raises_fails_only_that_answer(images, tmp_path):
    program = ("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
               "    cars = image_patch.find('car')\n    return 10 // (len(cars) - len(cars))\n")
    got = shard_chain(tmp_path, [program, CARS], [str(i) for i in images[:2]], shards=1)
    kind, detail, line = exec_answer(program, images[0])["error"]
    assert got[0]["answers"][0] == {"error": f"<program>:{line}: {kind}: {detail}"}
    assert got[0]["answers"][1] == {"answer": exec_answer(CARS, images[0])["answer"]}


def test_the_onnx_batch_path_computes_a_stages_calls_together(tmp_path):
    onnx = pytest.importorskip("onnx")  # noqa: F841
    from test_batching import CountingSession, dpt_batch_model
    from test_onnx_backend import operator_dir, png

    from dicec.runtime.backend import evaluate, get_backend
    from dicec.runtime.calls import Call

    ops = operator_dir(tmp_path / "ops", "compute_depth", dpt_batch_model(tmp_path / "dpt.onnx"))
    registry = registry_for((str(ops),))
    program = "def execute_command(image):\n    return ImagePatch(image).compute_depth()\n"
    graph = analyse(program, registry, path="p.py")
    rng = np.random.default_rng(5)
    files = [png(tmp_path / f"{i}.png", rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)) for i in range(5)]
    backend = get_backend("onnx")
    spec = registry.get("compute_depth")
    op = backend.operator(spec)
    op.session = CountingSession(op.session)
    run_stage(images_file=images_file(tmp_path, [str(f) for f in files]), shard=0, shards=1,
              stage_payload=payload([graph]), records_out=str(tmp_path / "r.jsonl"), models="onnx",
              operator_dirs=(str(ops),))
    assert op.session.runs == [5]  # the five images' calls in one stacked session.run
    from dicec.runtime.images import load_image

    whole = [load_image(str(f)) for f in files]
    one_by_one = [evaluate(backend, spec, spec.form("method"), image, Call(
        operator="compute_depth", form="method", patch={"left": 0, "lower": 0, "right": 40, "upper": 30}, args=()))
        for image in whole]
    assert [line["values"][0]["compute-depth"] for line in lines(tmp_path / "r.jsonl")] == [v for v, _ in one_by_one]


@pytest.mark.parametrize("change, message", [
    ({"stage_payload": "!!"}, "--stage is not base64url"),
    ({"stage_payload": b64('{"calls": []}')}, "--stage must hold"),
    ({"program_payloads": (b64("x"),)}, "--stage .* or --program .*, not both"),
    ({"shard": 3}, "the shard must be one of 0..shards-1"),
    ({"max_images": 2}, "the batch has 3 images but this workflow was compiled for at most 2"),
    ({"records_in": "RECORDS-2"}, "has 2 lines but this shard has 3 images"),
    ({"records_in": "RECORDS-OTHER"}, "not the records of image 0 of this batch"),
    ({"records_out": None}, "writes --records-out FILE"),
])
def test_set_up_problems_fail_the_pod_in_one_line(images, tmp_path, change, message):
    graph = analyse(CARS, registry_for(), path="p.py")
    listing = images_file(tmp_path, [str(i) for i in images[:3]])
    good = tmp_path / "good.jsonl"
    run_stage(images_file=listing, shard=0, shards=1, stage_payload=payload([graph]), records_out=str(good),
              models="seeded")
    (tmp_path / "two.jsonl").write_text("".join(good.read_text().splitlines(keepends=True)[:2]))
    other = [dict(r, image="elsewhere.png") for r in lines(good)]
    (tmp_path / "other.jsonl").write_text("".join(json.dumps(r) + "\n" for r in other))
    params = {"images_file": listing, "shard": 0, "shards": 1, "stage_payload": payload([graph]),
              "records_out": str(tmp_path / "out.jsonl"), "models": "seeded", **change}
    params["records_in"] = {"RECORDS-2": str(tmp_path / "two.jsonl"),
                            "RECORDS-OTHER": str(tmp_path / "other.jsonl")}.get(params.get("records_in"))
    with pytest.raises(DicecError, match=message) as err:
        run_stage(**params)
    assert "\n" not in str(err.value)


def test_an_images_parameter_that_is_not_a_list_is_one_line(tmp_path):
    path = tmp_path / "images.json"
    for text, message in (("car.png", "must be a JSON list of image paths or URIs"), ('{"a": 1}', "not dict")):
        path.write_text(text)
        with pytest.raises(DicecError, match=message):
            run_stage(images_file=str(path), shard=0, shards=1, program_payloads=(b64("x"),),
                      answers_out=str(tmp_path / "a"), answers_list_out=str(tmp_path / "b"))
