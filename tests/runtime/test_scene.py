"""The built-in scene models: pinned ONNX graphs, model loading rules, and answers on generated scenes."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dicec.errors import DicecError
from dicec.runtime.models import ModelFile, load_session, verified_path
from dicec.runtime.scene.graphs import BUILDERS, PINNED, build_models

REPO = Path(__file__).resolve().parents[2]


def test_built_graphs_match_their_pinned_checksums():
    for name, build in BUILDERS.items():
        assert hashlib.sha256(build()).hexdigest() == PINNED[name], name


def test_model_files_missing_corrupt_or_remote_are_clear_errors(tmp_path):
    (path,) = [p for p in build_models(tmp_path) if p.name == "scene_colour.onnx"]
    good = ModelFile(name="scene_colour", file=f"file://{path}", sha256=PINNED["scene_colour.onnx"])
    assert verified_path(good) == path
    with pytest.raises(DicecError, match="not found"):
        verified_path(ModelFile(name="m", file=str(tmp_path / "none.onnx"), sha256=None))
    with pytest.raises(DicecError, match="fails its checksum"):
        verified_path(ModelFile(name="m", file=str(path), sha256="0" * 64))
    with pytest.raises(DicecError, match="not supported here"):
        verified_path(ModelFile(name="m", file="s3://bucket/m.onnx", sha256=None))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(DicecError, match="cannot be loaded"):
        load_session(ModelFile(name="junk", file=str(junk), sha256=None), log=lambda s: None)


def test_one_session_per_process_and_one_provider_line(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    path.write_bytes(model.SerializeToString())
    ref = ModelFile(name="tiny", file=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    lines: list[str] = []
    a = load_session(ref, log=lines.append)
    b = load_session(ref, log=lines.append)
    assert a is b and len(lines) == 1 and lines[0].startswith("onnxruntime: tiny runs on ")
    assert a.run(["y"], {"x": np.array([2.5], dtype=np.float32)})[0][0] == 2.5


def test_providers_check_reports_a_silent_cuda_fallback(tmp_path):
    path = build_models(tmp_path)[0]

    class FakeSession:
        def __init__(self, path, sess_options=None, providers=None):
            self.asked = providers

        def get_providers(self):
            return ["CPUExecutionProvider"]

    class FakeOrt:
        SessionOptions = type("SessionOptions", (), {})
        InferenceSession = FakeSession

        @staticmethod
        def get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    lines: list[str] = []
    session = load_session(ModelFile(name="fake", file=str(path), sha256=None), log=lines.append, ort=FakeOrt)
    assert session.asked == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert lines == ["onnxruntime: fake runs on CPU"]


def test_scene_questions_are_answered_as_the_ground_truth_says(tmp_path, monkeypatch):
    monkeypatch.setenv("DICEC_MODEL_DIR", str(tmp_path / "models"))
    build_models(tmp_path / "models")
    sys.path.insert(0, str(REPO / "examples" / "scenes"))
    from evaluate import evaluate

    from dicec.runtime import backend

    monkeypatch.setattr(backend, "_BACKENDS", {})
    result = evaluate(12, tmp_path / "scenes", parallelism=2)
    assert sum(result["total"].values()) >= 40
    assert result["misses"] == []
    lines = (tmp_path / "scenes" / "scenes.jsonl").read_text().splitlines()
    assert len(lines) == 12 and {"shapes", "questions", "image"} <= set(json.loads(lines[0]))


def test_the_cuda_fallback_is_said_once_and_only_when_verbose(tmp_path, monkeypatch, capsys):
    from dicec import verbosity
    from dicec.runtime import models

    model = build_models(tmp_path)[0]
    paths = [tmp_path / f"copy-{i}.onnx" for i in range(3)]
    for path in paths:
        path.write_bytes(model.read_bytes())

    class FakeOrt:
        SessionOptions = type("SessionOptions", (), {})

        class InferenceSession:
            def __init__(self, path, sess_options=None, providers=None):
                pass

            def get_providers(self):
                return ["CPUExecutionProvider"]

        @staticmethod
        def get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    monkeypatch.setattr(models, "_SESSIONS", {})
    monkeypatch.setattr(verbosity, "_SAID", set())
    monkeypatch.setenv(verbosity.ENV, "0")
    load_session(ModelFile(name="first", file=str(paths[0]), sha256=None), ort=FakeOrt)
    assert capsys.readouterr().err == ""  # the default: nothing said
    monkeypatch.setenv(verbosity.ENV, "1")
    for i, name in enumerate(("second", "third")):
        load_session(ModelFile(name=name, file=str(paths[i + 1]), sha256=None), ort=FakeOrt)
    assert capsys.readouterr().err.splitlines() == [
        "onnxruntime: CUDA was requested but is not usable here; models run on CPU",
        "onnxruntime: second runs on CPU", "onnxruntime: third runs on CPU"]


def test_onnxruntimes_ep_error_banner_stays_off_standard_output(tmp_path, monkeypatch, capsys):
    """onnxruntime prints an "EP Error" banner to stdout when CUDA cannot be created (seen on an H200 with
    CUDA_VISIBLE_DEVICES=""); stdout carries exec's JSON and the model server's URL, so the banner is kept
    off it -- for the loading thread only: another thread's line printed meanwhile still gets through."""
    import threading

    from dicec import verbosity
    from dicec.runtime import models

    path = build_models(tmp_path)[0]
    other_thread_printed = threading.Event()

    class FakeOrt:
        SessionOptions = type("SessionOptions", (), {})

        class InferenceSession:
            def __init__(self, path, sess_options=None, providers=None):
                print("*************** EP Error ***************")
                print("EP Error CUDA failure 100: no CUDA-capable device is detected")
                worker = threading.Thread(target=lambda: (print("http://127.0.0.1:8080"), other_thread_printed.set()))
                worker.start()
                worker.join()

            def get_providers(self):
                return ["CPUExecutionProvider"]

        @staticmethod
        def get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    monkeypatch.setattr(models, "_SESSIONS", {})
    monkeypatch.setattr(verbosity, "_SAID", set())
    monkeypatch.setenv(verbosity.ENV, "1")
    load_session(ModelFile(name="banner", file=str(path), sha256=None), ort=FakeOrt)
    out, err = capsys.readouterr()
    assert other_thread_printed.is_set() and out == "http://127.0.0.1:8080\n"
    assert "onnxruntime said, loading banner: *************** EP Error" in err and "no CUDA-capable device" in err
