"""The ONNX graphs of the scene models, built with onnx.helper, and where their files live.

``scene_detect``: ``image`` uint8 (1, H, W, 3) and ``background`` float32 (1, 1, 1, 3) -> ``foreground``
uint8 (1, H, W): 1 where some channel differs from the background by more than 40.

``scene_colour``: ``colours`` float32 (N, 3) -> ``probabilities`` float32 (N, 8): softmax over the
palette of ``-(|x - p|^2) / T``, written as ``(2 x.p - |p|^2) / T`` (the ``|x|^2`` term is the same
for every colour), T = 200.

The files are built once into the model folder (``$DICEC_MODEL_DIR``, else ``~/.cache/dicec/models``)
by :func:`build_models` (``python -m dicec.runtime.scene.graphs DIR``; the vision image does this at
build time) and loaded through :mod:`dicec.runtime.models`, checked against the sha256 pinned here.
The serialisation is deterministic (fixed IR version, opset and producer), so the pins hold.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from dicec.runtime.models import ModelFile
from dicec.runtime.scene import COLOURS

MODEL_DIR_ENV = "DICEC_MODEL_DIR"
IR_VERSION = 8
OPSET = 17
THRESHOLD = 40.0
TEMPERATURE = 200.0

#: File name -> pinned sha256 of the file :func:`build_models` writes.
PINNED = {
    "scene_detect.onnx": "90f06a43ca1f2f1548871fa47960f8245456d02e9128523af543247af49d2842",
    "scene_colour.onnx": "b186fd9e39988ed057332546e60783e3546a7cf48eb0a8343ee4d88b481d88b6",
}


def model_dir() -> Path:
    return Path(os.environ.get(MODEL_DIR_ENV) or Path.home() / ".cache" / "dicec" / "models")


def model_file(name: str, folder: Path | None = None) -> ModelFile:
    return ModelFile(name=name.removesuffix(".onnx"), file=str((folder or model_dir()) / name), sha256=PINNED[name])


def detect_graph() -> bytes:
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["pixels", "background"], ["diff"]),
        helper.make_node("Abs", ["diff"], ["distance"]),
        helper.make_node("ReduceMax", ["distance"], ["largest"], axes=[3], keepdims=0),
        helper.make_node("Greater", ["largest", "threshold"], ["mask"]),
        helper.make_node("Cast", ["mask"], ["foreground"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes, "scene_detect",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, "H", "W", 3]),
         helper.make_tensor_value_info("background", TensorProto.FLOAT, [1, 1, 1, 3])],
        [helper.make_tensor_value_info("foreground", TensorProto.UINT8, [1, "H", "W"])],
        initializer=[helper.make_tensor("threshold", TensorProto.FLOAT, [], [THRESHOLD])])
    return _model(graph)


def colour_graph() -> bytes:
    from onnx import TensorProto, helper

    palette = np.array(list(COLOURS.values()), dtype=np.float32)  # (8, 3)
    weights = (2.0 * palette.T / TEMPERATURE).astype(np.float32)  # (3, 8)
    bias = (-(palette ** 2).sum(axis=1) / TEMPERATURE).astype(np.float32)  # (8,)
    nodes = [
        helper.make_node("Gemm", ["colours", "weights", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "scene_colour",
        [helper.make_tensor_value_info("colours", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(COLOURS)])],
        initializer=[helper.make_tensor("weights", TensorProto.FLOAT, list(weights.shape), weights.ravel().tolist()),
                     helper.make_tensor("bias", TensorProto.FLOAT, list(bias.shape), bias.tolist())])
    return _model(graph)


def _model(graph) -> bytes:
    from onnx import checker, helper

    model = helper.make_model(graph, producer_name="dicec", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    checker.check_model(model)
    return model.SerializeToString(deterministic=True)


BUILDERS = {"scene_detect.onnx": detect_graph, "scene_colour.onnx": colour_graph}


def build_models(folder: Path) -> list[Path]:
    """Write the scene model files into ``folder`` (atomically); returns their paths."""
    from dicec.files import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, build in BUILDERS.items():
        write_atomic(folder / name, build())
        out.append(folder / name)
    return out


if __name__ == "__main__":
    for p in build_models(Path(sys.argv[1] if len(sys.argv) > 1 else model_dir())):
        print(p)
