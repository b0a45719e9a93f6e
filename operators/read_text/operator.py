"""``ImagePatch.read_text()``: the text written in the patch (licence plates, signs), with PP-OCRv4 mobile.

Not one of ViperGPT's operators: dicec adds it for questions about plates and signs. The models are
the PP-OCRv4 mobile detector and recogniser that the PyPI package ``rapidocr-onnxruntime`` 1.4.4
ships; only their files are used, with rapidocr's pre- and post-processing re-written in numpy in
``_ppocr.py`` (so OpenCV, pyclipper and shapely are not needed, and rapidocr can be installed with
``--no-deps``, keeping onnxruntime-gpu in place).

Runtime contract: ``Operator(session, *, load_model=None, rec_session=None, character=None)``.
``session`` is the detection model (the spec's ``model.file``): ``x`` float32 (1, 3, H, W) -> (1, 1,
H, W) text probabilities. The recogniser is ``rec_session`` when given, else
``load_model(REC_FILE, REC_SHA256)``, which the runtime injects to load a model stored beside the
spec's file through its session cache: ``x`` float32 (N, 3, 48, W) -> (N, T, C) softmax scores,
with its character table in the model metadata (``character``) unless ``character`` is given.
``operator(image) -> str``: ``image`` is the patch crop, a numpy (H, W, 3) uint8 RGB array; the
lines found (mean character confidence at least 0.5) in reading order, joined by single spaces;
``""`` when no text is found.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from dicec.builtin_operators._ppocr import Reader

REC_FILE = "ch_PP-OCRv4_rec_infer.onnx"
REC_SHA256 = "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"


class Operator:
    """PP-OCRv4 mobile detection + recognition for ``ImagePatch.read_text``."""

    def __init__(self, session: Any, *, load_model: Callable[..., Any] | None = None, rec_session: Any = None,
                 character: Sequence[str] | None = None) -> None:
        if rec_session is None:
            if load_model is None:
                raise ValueError("read_text needs the recognition model: pass rec_session or load_model")
            rec_session = load_model(REC_FILE, REC_SHA256)
        self.reader = Reader(session, rec_session, character=character)

    def __call__(self, image: Any) -> str:
        return self.reader.read(image)
