"""Issue 14, item 4: sessions preload the pip CUDA libraries once (their printed complaints kept off standard
output), and a missing model file says exactly what to mount where."""

from __future__ import annotations

import pytest

from dicec.errors import DicecError
from dicec.runtime import models


class PrintingOrt:
    """An onnxruntime stand-in whose preload_dlls prints, as the real one does when a library is missing."""

    def __init__(self) -> None:
        self.calls = 0

    def preload_dlls(self) -> None:
        self.calls += 1
        print("Failed to load libcublasLt.so.13: cannot open shared object file")


def test_preload_runs_once_per_process_and_prints_nothing_to_stdout(capsys, monkeypatch):
    monkeypatch.setattr(models, "_PRELOADED", [])
    monkeypatch.setenv("DICEC_VERBOSITY", "1")
    ort = PrintingOrt()
    models._preload_cuda(ort)
    models._preload_cuda(ort)
    out, err = capsys.readouterr()
    assert ort.calls == 1 and out == ""
    assert "onnxruntime.preload_dlls said: Failed to load libcublasLt.so.13" in err  # verbose only


def test_a_real_session_still_loads_after_the_preload(tmp_path, monkeypatch):
    from dicec.runtime.scene.graphs import build_models, model_file

    monkeypatch.setattr(models, "_PRELOADED", [])
    build_models(tmp_path)
    session = models.load_session(model_file("scene_colour.onnx", tmp_path))
    assert session.get_providers()


def test_a_missing_model_file_says_what_to_mount_where(tmp_path):
    missing = models.ModelFile(name="find (GLIP-L)", file=str(tmp_path / "find" / "glip.onnx"), sha256=None)
    with pytest.raises(DicecError) as failed:
        models.verified_path(missing)
    text = str(failed.value)
    assert f"put the exported ONNX file at {tmp_path / 'find' / 'glip.onnx'}" in text
    assert f"mount a volume holding it at {tmp_path / 'find'}" in text and "DICEC_MODELS=builtin" in text
    assert "\n" not in text


def test_the_onnx_backend_says_the_model_is_missing_before_the_tokeniser(tmp_path):
    """find's spec names /opt/dicec/models/find/glip_l_fp16.onnx and needs a tokeniser; with neither, the first
    error is the model file's (what the vision image's onnx default used to fail on was the tokeniser)."""
    from dicec.runtime.onnxops import OnnxBackend
    from dicec.runtime.backend import registry_for

    spec = registry_for().get("find")
    with pytest.raises(DicecError, match="model file for find .* not found: put the exported ONNX file at /opt/dicec"):
        OnnxBackend().operator(spec)
