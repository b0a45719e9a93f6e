"""Batches as one backend computation: evaluate_batch, the onnx backend's compute_batch, the batch hook.

The model server hands a batch of calls of one operator to
:func:`dicec.runtime.backend.evaluate_batch`. These tests check, on tiny ONNX graphs built here with
onnx.helper, that a batch answers exactly what its calls answer one at a time (values and recorded
errors), that one failing call fails only itself, and that ``compute_depth``'s hook really stacks
same-sized inputs into one ``session.run``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from test_onnx_backend import _const, _save, dpt_model, halves, operator_dir, png  # noqa: E402

from dicec.errors import DicecError  # noqa: E402
from dicec.runtime.backend import evaluate, evaluate_batch, get_backend, registry_for  # noqa: E402
from dicec.runtime.calls import Call  # noqa: E402
from dicec.runtime.images import load_image  # noqa: E402
from dicec.runtime.onnxops import OnnxBackend  # noqa: E402


def dpt_batch_model(path: Path) -> Path:
    """pixel_values (N,3,H,W) -> predicted_depth (N,H,W) = channel mean + 2 + a per-image shift (its mean
    over the whole picture / 4), so every item of a stacked run depends on its own input only."""
    nodes = [helper.make_node("ReduceMean", ["pixel_values"], ["mean"], axes=[1], keepdims=0),          # (N,H,W)
             helper.make_node("ReduceMean", ["pixel_values"], ["whole"], axes=[1, 2, 3], keepdims=1),  # (N,1,1,1)
             helper.make_node("Squeeze", ["whole", "one"], ["shift"]),                                 # (N,1,1)
             helper.make_node("Div", ["shift", "four"], ["shift4"]),
             helper.make_node("Add", ["mean", "shift4"], ["shifted"]),
             helper.make_node("Add", ["shifted", "two"], ["predicted_depth"])]
    graph = helper.make_graph(
        nodes, "tiny_dpt_batch",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("predicted_depth", TensorProto.FLOAT, ["N", "H", "W"])],
        initializer=[_const("two", 2.0), _const("four", 4.0), _const("one", [1], TensorProto.INT64)])
    return _save(graph, path)


class CountingSession:
    """An onnxruntime session that records the batch size of every run."""

    def __init__(self, session):
        self.session, self.runs = session, []

    def get_inputs(self):
        return self.session.get_inputs()

    def run(self, names, feeds):
        self.runs.append(len(feeds["pixel_values"]))
        return self.session.run(names, feeds)


def box(left, lower, right, upper):
    return {"left": left, "lower": lower, "right": right, "upper": upper}


@pytest.fixture
def depth(tmp_path):
    rng = np.random.default_rng(3)
    images = [load_image(str(png(tmp_path / f"{i}.png", rng.integers(0, 256, (60, 80, 3), dtype=np.uint8))))
              for i in range(3)]
    images.append(load_image(str(png(tmp_path / "wide.png", halves(50, 150)))))  # another input size
    image_calls = [(images[0], box(0, 0, 40, 30)), (images[1], box(10, 10, 80, 60)), (images[0], box(40, 30, 80, 60)),
                   (images[2], box(0, 0, 80, 60)), (images[3], box(0, 0, 75, 50)), (images[3], box(75, 0, 150, 50)),
                   (images[1], box(500, 500, 600, 600))]  # the last has no area: its own error
    calls = [(image, Call(operator="compute_depth", form="method", patch=b, args=())) for image, b in image_calls]

    def setup(model_builder):
        ops = operator_dir(tmp_path / model_builder.__name__, "compute_depth", model_builder(tmp_path / "dpt.onnx"))
        spec = registry_for((str(ops),)).get("compute_depth")
        return spec, spec.form("method")

    return {"calls": calls, "setup": setup}


def one_at_a_time(backend, spec, form, calls):
    return [evaluate(backend, spec, form, image, call) for image, call in calls]


def test_a_batch_answers_exactly_its_calls_one_at_a_time_in_stacked_runs(depth):
    spec, form = depth["setup"](dpt_batch_model)
    backend = OnnxBackend()
    op = backend.operator(spec)
    op.session = CountingSession(op.session)
    want = one_at_a_time(backend, spec, form, depth["calls"])
    op.session.runs.clear()
    got = evaluate_batch(backend, spec, form, depth["calls"])
    assert got == want                                     # values and errors, exactly (floats compared ==)
    assert all(isinstance(v, float) and e is None for v, e in want[:-1])
    assert want[-1] == (None, "compute_depth: ValueError: the depth crop has no area")
    # 4 distinct images of 2 input sizes: one stacked run of the 3 same-sized ones, one of the wide one
    assert sorted(op.session.runs) == [1, 3]


def test_a_graph_with_a_fixed_batch_of_one_runs_once_per_image(depth):
    spec, form = depth["setup"](dpt_model)  # pixel_values (1, 3, H, W)
    backend = OnnxBackend()
    op = backend.operator(spec)
    op.session = CountingSession(op.session)
    want = one_at_a_time(backend, spec, form, depth["calls"])
    op.session.runs.clear()
    assert evaluate_batch(backend, spec, form, depth["calls"]) == want
    assert op.session.runs == [1, 1, 1, 1]


def test_a_failing_hook_falls_back_to_one_call_at_a_time(depth):
    spec, form = depth["setup"](dpt_batch_model)
    lines = []
    backend = OnnxBackend(log=lines.append)
    op = backend.operator(spec)
    want = one_at_a_time(backend, spec, form, depth["calls"])

    def broken(calls):
        raise RuntimeError("out of memory")

    op.batch = broken
    assert evaluate_batch(backend, spec, form, depth["calls"]) == want
    assert any("batch hook of compute_depth failed (RuntimeError: out of memory)" in line for line in lines)


def test_an_unreadable_image_fails_only_its_own_call(depth):
    """Alone, such a call raises a set-up problem (the request gets a 500); in a batch it is that call's only."""
    from dicec.runtime.images import SourceImage

    spec, form = depth["setup"](dpt_batch_model)
    backend = OnnxBackend()
    calls = depth["calls"][:3]
    junk = SourceImage(uri="junk", digest="0" * 64, width=10, height=10, data=b"not a png")
    with pytest.raises(DicecError, match="junk: unreadable image") as alone:
        evaluate(backend, spec, form, junk, calls[0][1])
    got = evaluate_batch(backend, spec, form, [calls[0], (junk, calls[0][1]), *calls[1:]])
    assert [got[0], *got[2:]] == one_at_a_time(backend, spec, form, calls)
    assert isinstance(got[1], DicecError) and str(got[1]) == str(alone.value)


def test_backends_without_compute_batch_are_evaluated_call_by_call(depth):
    spec = registry_for().get("compute_depth")
    form = spec.form("method")
    seeded = get_backend("seeded")
    assert not hasattr(seeded, "compute_batch")
    calls = depth["calls"]
    assert evaluate_batch(seeded, spec, form, calls) == one_at_a_time(seeded, spec, form, calls)


def test_a_set_up_problem_fails_the_whole_batch(depth, tmp_path):
    ops = operator_dir(tmp_path / "missing", "compute_depth", tmp_path / "absent.onnx", sha256=None)
    spec = registry_for((str(ops),)).get("compute_depth")
    with pytest.raises(DicecError, match="not found"):
        evaluate_batch(OnnxBackend(), spec, spec.form("method"), depth["calls"])
