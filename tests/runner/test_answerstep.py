"""What ``dicec run`` reports of the answer step (dicec.runner.answerstep): counts read from a step's log or an
HTTP response's header, ``answer_step`` of ``--format json`` for one query and for a batch (summed, with
``per_query`` in batch order), and the ``-v`` line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

from dicec.cli import cli  # noqa: E402
from dicec.runner.answerstep import (answer_step_json, answer_step_text, counts_in_headers,  # noqa: E402
                                     counts_in_log)
from dicec.runtime.replaycounts import COUNTS_HEADER, ComputedSite, ReplayCounts, counts_line, counts_text  # noqa: E402
from helpers import write_image  # noqa: E402

#: Finds cars and asks each's colour (a fan-out), then asks the whole image only when there is none.
PROGRAM = """def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    if len(cars) == 0:
        return image_patch.simple_query("What is it?")
    return ",".join(c.simple_query("What colour is the car?") for c in cars)
"""


def counts(calls: int, unused: int = 0, computed: int = 0) -> ReplayCounts:
    sites = (ComputedSite(operator="exists", line=3, calls=computed, residual="r"),) if computed else ()
    return ReplayCounts(calls=calls, records_used=calls - computed, records_unused=unused,
                        calls_computed={"exists": computed} if computed else {}, computed=sites,
                        unused={"find-cat": unused} if unused else {})


def test_counts_come_from_a_logs_counts_lines_and_a_responses_header():
    log = ["program: hello", counts_line(counts(2), image="a.png"), "answer: 2 operator calls ...",
           counts_line(counts(1, unused=1), image="b.png", index=1, question=2)]
    found = counts_in_log(log, step="answer", indices=(4,))
    assert [(f.step, f.indices, f.where, f.counts.calls) for f in found] == [
        ("answer", (4,), {"image": "a.png"}, 2), ("answer", (4,), {"image": "b.png", "index": 1, "question": 2}, 1)]
    assert counts_in_log(["program: answer: counts {"], step="x") == []
    header = counts_in_headers({COUNTS_HEADER: counts_text(counts(3, computed=1), image="c.png")}, step="answer")
    assert header[0].counts == counts(3, computed=1) and header[0].where == {"image": "c.png"}
    assert counts_in_headers({"Content-Type": "application/json"}, step="answer") == []


def test_answer_step_json_for_one_query_and_for_a_batch_in_batch_order():
    assert answer_step_json([], batch=False) is None and answer_step_text([]) is None
    one = counts_in_log([counts_line(counts(2, unused=1), image="a.png")], step="answer")
    assert answer_step_json(one, batch=False) == {"image": "a.png", **counts(2, unused=1).to_json()}
    reported = [*counts_in_log([counts_line(counts(1, computed=1), index=1, question=1)], step="answer-1"),
                *counts_in_log([counts_line(counts(2), index=0, question=2),
                                counts_line(counts(3, unused=2), index=0, question=1)], step="answer-0")]
    body = answer_step_json(reported, batch=True, questions=["q1.txt", "q2.txt"])
    assert [(q["index"], q["question"], q["calls"]) for q in body["per_query"]] == [
        (0, "q1.txt", 3), (0, "q2.txt", 2), (1, "q1.txt", 1)]
    assert (body["queries"], body["calls"], body["records_unused"], body["calls_computed"]) == (3, 6, 2, {"exists": 1})
    assert answer_step_text(reported) == ("answer step: 6 operator calls over 3 queries; 5 of 7 records used "
                                          "(2 unused: 2 speculated, 0 mispredicted); 1 computed "
                                          "(exists 1: 1 residual, 0 mispredicted)")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("answerstep")
    prog = tmp / "prog.py"
    prog.write_text(PROGRAM)
    out = {"images": [write_image(tmp / f"img{s}.png", width=300 + 20 * s, seed=s) for s in range(3)]}
    for name, flags in (("single", []), ("batch", ["--batch", "--shards", "2"])):
        out[name] = tmp / f"{name}.yaml"
        r = CliRunner().invoke(cli, ["compile", str(prog), "-o", str(out[name]), *flags])
        assert r.exit_code == 0, r.output
    return out


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def test_dicec_run_reports_the_answer_step_for_one_query(compiled, monkeypatch):
    from dicec import verbosity

    monkeypatch.setenv(verbosity.ENV, "0")  # restored after the test, whatever -v sets
    image = compiled["images"][0]
    r = run("run", compiled["single"], "-p", f"image={image}", "--models", "seeded", "--format", "json")
    assert r.exit_code == 0, r.output
    step = json.loads(r.stdout)["answer_step"]
    assert step["image"] == str(image) and step["queries"] == 1
    assert step["calls_computed"] == {} and step["calls_mispredicted"] == 0 and step["records_mispredicted"] == 0
    assert step["records_used"] == step["calls"] >= 2  # find, then one per car or the whole image's query
    assert step["records_unused"] >= 1 and set(step["unused"]) <= {"simple-query-what-is-it",
                                                                  "simple-query-what-colour-is-t"}
    quiet = run("run", compiled["single"], "-p", f"image={image}", "--models", "seeded")
    assert quiet.exit_code == 0 and "answer step" not in quiet.output
    v = run("-v", "run", compiled["single"], "-p", f"image={image}", "--models", "seeded")
    assert v.exit_code == 0 and f"answer step: {step['calls']} operator calls; " in v.stderr


def test_dicec_run_reports_the_answer_step_of_a_batch_summed_and_per_query(compiled):
    images = compiled["images"]
    r = run("run", compiled["batch"], "-p", "images=" + json.dumps([str(i) for i in images]), "--models", "seeded",
            "--format", "json")
    assert r.exit_code == 0, r.output
    step = json.loads(r.stdout)["answer_step"]
    per = step["per_query"]
    assert [q["index"] for q in per] == [0, 1, 2] and step["queries"] == 3
    assert step["calls"] == sum(q["calls"] for q in per) and step["records_unused"] == sum(q["records_unused"] for q in per)
    assert step["calls_mispredicted"] == 0 and step["records_mispredicted"] == 0 and step["calls_computed"] == {}
