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
    models.preload_cuda(ort)
    models.preload_cuda(ort)
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


class FakeOrt:
    """onnxruntime as seen by :func:`models.load_session`: what it offers, and the order of the calls made to it."""

    def __init__(self, providers: list[str]) -> None:
        self.providers, self.calls = providers, []
        outer = self

        class Session:
            def __init__(self, path, *, sess_options, providers) -> None:
                outer.calls.append(("session", tuple(providers)))
                self.providers = providers

            def get_providers(self) -> list[str]:
                return list(self.providers)

        self.InferenceSession = Session
        self.SessionOptions = type("SessionOptions", (), {})

    def get_available_providers(self) -> list[str]:
        return list(self.providers)

    def preload_dlls(self) -> None:
        import warnings

        self.calls.append(("preload",))
        print("Failed to load libcudnn.so.9")
        warnings.warn("Failed to register bundled CUDA plugin EP")


@pytest.mark.parametrize("providers, expected", [
    (["CUDAExecutionProvider", "CPUExecutionProvider"],
     [("preload",), ("session", ("CUDAExecutionProvider", "CPUExecutionProvider")),
      ("session", ("CUDAExecutionProvider", "CPUExecutionProvider"))]),
    (["CPUExecutionProvider"], [("session", ("CPUExecutionProvider",)), ("session", ("CPUExecutionProvider",))]),
])
def test_the_cuda_libraries_are_preloaded_once_before_the_first_cuda_session(providers, expected, tmp_path, monkeypatch,
                                                                               capsys, recwarn):
    """With the CUDA provider offered, preload_dlls runs before the first session is created (the provider needs
    the pip CUDA libraries loaded by then) and not again for the second; the CPU wheel is never asked. What it
    printed and warned reaches neither standard output nor the warnings."""
    monkeypatch.setattr(models, "_PRELOADED", [])
    monkeypatch.setattr(models, "_SESSIONS", {})
    ort = FakeOrt(providers)
    for name in ("a.onnx", "b.onnx"):
        (tmp_path / name).write_bytes(b"onnx")
        models.load_session(models.ModelFile(name=name, file=str(tmp_path / name), sha256=None), ort=ort)
    assert ort.calls == expected
    assert capsys.readouterr().out == "" and not [w for w in recwarn if "CUDA plugin" in str(w.message)]
