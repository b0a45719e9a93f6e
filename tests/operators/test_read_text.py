"""read_text: PP-OCRv4 mobile (the models rapidocr-onnxruntime ships) on a rendered licence plate, and the
install keeping onnxruntime-gpu in place (rapidocr-onnxruntime depends on the CPU onnxruntime wheel)."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dicec.builtin_operators import _ppocr
from dicec.runtime.__main__ import main
from dicec.runtime.contract import b64
from dicec.runtime.images import encode_png

INSTALL = "pip install --no-deps 'rapidocr-onnxruntime==1.4.4'"

# A 5x7 bitmap font (numpy only; no imaging library needed), enough for plates.
GLYPHS = {
"0":["01110","10001","10001","10001","10001","10001","01110"],
"1":["00100","01100","00100","00100","00100","00100","01110"],
"2":["01110","10001","00001","00010","00100","01000","11111"],
"3":["11110","00001","00001","01110","00001","00001","11110"],
"4":["00010","00110","01010","10010","11111","00010","00010"],
"5":["11111","10000","11110","00001","00001","10001","01110"],
"6":["00110","01000","10000","11110","10001","10001","01110"],
"7":["11111","00001","00010","00100","01000","01000","01000"],
"8":["01110","10001","10001","01110","10001","10001","01110"],
"9":["01110","10001","10001","01111","00001","00010","01100"],
"A":["01110","10001","10001","11111","10001","10001","10001"],
"B":["11110","10001","10001","11110","10001","10001","11110"],
"C":["01110","10001","10000","10000","10000","10001","01110"],
"D":["11110","10001","10001","10001","10001","10001","11110"],
"E":["11111","10000","10000","11110","10000","10000","11111"],
"F":["11111","10000","10000","11110","10000","10000","10000"],
"G":["01110","10001","10000","10111","10001","10001","01111"],
"H":["10001","10001","10001","11111","10001","10001","10001"],
"K":["10001","10010","10100","11000","10100","10010","10001"],
"L":["10000","10000","10000","10000","10000","10000","11111"],
"M":["10001","11011","10101","10101","10001","10001","10001"],
"N":["10001","11001","10101","10011","10001","10001","10001"],
"P":["11110","10001","10001","11110","10000","10000","10000"],
"R":["11110","10001","10001","11110","10100","10010","10001"],
"T":["11111","00100","00100","00100","00100","00100","00100"],
"X":["10001","10001","01010","00100","01010","10001","10001"],
"Y":["10001","10001","01010","00100","00100","00100","00100"],
" ":["00000"]*7,
}


def render(text: str, scale: int = 8, margin: int = 40) -> np.ndarray:
    """Dark text on a light plate, glyphs scaled by ``scale`` and softened by a 3x3 box blur."""
    cols = []
    for ch in text:
        cols += [np.array([[c == "1" for c in row] for row in GLYPHS[ch]]), np.zeros((7, 1), bool)]
    bitmap = np.kron(np.concatenate(cols, axis=1), np.ones((scale, scale), bool))
    h, w = bitmap.shape
    img = np.full((h + 2 * margin, w + 2 * margin, 3), 250.0)
    img[margin:margin + h, margin:margin + w][bitmap] = 20.0
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
    img = sum(p[dy:dy + img.shape[0], dx:dx + img.shape[1]] for dy in range(3) for dx in range(3)) / 9
    return img.round().astype(np.uint8)


def test_onnxruntime_gpu_is_the_distribution_providing_onnxruntime():
    import onnxruntime

    gpu = importlib.metadata.distribution("onnxruntime-gpu")
    init = next((f for f in gpu.files or [] if str(f) == "onnxruntime/__init__.py"), None)
    assert init is not None, "onnxruntime-gpu does not own onnxruntime/__init__.py"
    assert Path(gpu.locate_file(init)).resolve() == Path(onnxruntime.__file__).resolve()
    with pytest.raises(importlib.metadata.PackageNotFoundError):   # the CPU wheel would overwrite its files
        importlib.metadata.distribution("onnxruntime")
    # the GPU wheel lists the CUDA provider among those it was built with, with or without a GPU
    assert "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def test_ctc_decode_merges_repeats_and_drops_blank():
    table = ["blank", "A", "B", " "]
    steps = [1, 1, 0, 1, 2, 2, 0, 3, 2]
    scores = np.full((1, len(steps), 4), 0.01, dtype=np.float32)
    scores[0, np.arange(len(steps)), steps] = 0.9
    assert _ppocr.ctc_decode(scores, table) == [("AAB B", pytest.approx(0.9))]


def test_db_boxes_are_grown_and_mapped_back_in_reading_order():
    prob = np.zeros((1, 1, 64, 128), dtype=np.float32)
    prob[0, 0, 10:20, 70:110] = 0.9          # right word, first row
    prob[0, 0, 12:20, 10:50] = 0.9           # left word, same row
    prob[0, 0, 40:50, 10:60] = 0.9           # second row
    boxes = _ppocr.det_boxes(prob, 32, 64)   # the map is twice the image size
    # left word first although its top is lower (same row); each region, dilated by 2x2, grows by
    # area * 1.6 / perimeter (41x9 px -> 5.9 px) and is halved back to the image
    assert [b[:4] for b in boxes] == [(2, 3, 28, 13), (32, 2, 59, 14), (1, 16, 34, 29)]
    assert all(0.7 < b[4] < 0.9 for b in boxes)


@pytest.fixture(scope="module")
def ppocr_installed():
    from dicec.runtime.onnxops import packaged_folder

    try:
        return packaged_folder("read_text")
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the PP-OCR models are missing ({exc}); install them with {INSTALL}")


def _read(tmp_path: Path, image: np.ndarray, models: str, operator_dirs: tuple[str, ...] = ()) -> tuple[str, str]:
    path = tmp_path / "plate.png"
    path.write_bytes(encode_png(image))
    call = b64(json.dumps({"task": "t1", "operator": "read_text", "form": "method", "args": []}))
    args = ["op", "read_text", "--image", str(path), "--call", call, "--value-out", str(tmp_path / "v.json"),
            "--record-out", str(tmp_path / "r.json"), "--models", models]
    for d in operator_dirs:
        args += ["--operators", d]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "v.json").read_text()), result.output


@pytest.mark.parametrize("text, scale", [("AB12 CDE", 8), ("KX70 TRY", 6), ("GF 2083", 4)])
def test_read_text_reads_a_rendered_plate_with_the_builtin_models(ppocr_installed, tmp_path, text, scale):
    assert _read(tmp_path, render(text, scale), "builtin")[0] == text


def test_read_text_on_a_blank_patch_is_empty(ppocr_installed, tmp_path):
    assert _read(tmp_path, np.full((80, 200, 3), 240, dtype=np.uint8), "builtin")[0] == ""


def test_read_text_under_onnx_uses_the_spec_path_and_loads_the_recogniser_beside_it(ppocr_installed, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setenv("DICEC_VERBOSITY", "1")  # the provider lines are said when verbose (dicec -v)
    from dicec.runtime.onnxops import copy_packaged
    from dicec.tools.registry import builtin_folder

    copied = copy_packaged(tmp_path / "models")
    assert {p.name for p in copied} >= {"ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"}
    ops = tmp_path / "ops" / "read_text"
    ops.mkdir(parents=True)
    spec = (builtin_folder() / "read_text" / "spec.yaml").read_text()
    spec = spec.replace("/opt/dicec/models/read_text/", f"{tmp_path / 'models' / 'read_text'}/")
    (ops / "spec.yaml").write_text(spec)
    (ops / "operator.py").write_text((builtin_folder() / "read_text" / "operator.py").read_text())
    value, log = _read(tmp_path, render("7HNP 459", 5), "onnx", (str(ops.parent),))
    assert value == "7HNP 459"
    # a fresh path: both sessions are created here, each with its one provider line (verbose)
    assert re.search(r"onnxruntime: read_text \(PP-OCRv4 mobile \(det \+ rec\)\) runs on (CPU|CUDA)", log), log
    assert re.search(r"onnxruntime: read_text \(ch_PP-OCRv4_rec_infer.onnx\) runs on (CPU|CUDA)", log), log
