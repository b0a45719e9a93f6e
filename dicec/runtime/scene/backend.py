"""The ``builtin`` backend: ViperGPT's operators answered by the scene models.

A patch is analysed once (cached by image and box): the ``scene_detect`` graph gives the foreground,
numpy the regions, the ``scene_colour`` graph each region's colour. Then:

* ``find(name)``: the regions matching the colour, shape and size words of ``name`` ("red circle",
  "large squares", "shape", "object"); plural and synonyms ("ball" -> circle, "box" -> square)
  understood; a name with no shape or colour word finds nothing. Boxes are in the patch, largest
  first; the runtime adds ViperGPT's crop margin.
* ``exists(name)``: ``find`` is not empty.
* ``verify_property(name, property)``: the main region (the largest) has the colour, shape or size.
* ``simple_query(question)``: colour ("what color ..."), shape ("what shape ..."), size (of the
  largest region the question names, else of the main region), counts
  ("how many red circles ...") and yes/no existence questions; otherwise "<colour> <shape>" of the
  main region.
* ``best_text_match(options, prefix)``: the option sharing most words with the main region's
  description (ties: the first); ``best_image_match``: the patch whose main region best matches
  the texts; ``compute_depth``: larger shapes are nearer (``100 / sqrt(area)``).
* ``read_text`` and anything else (``llm_query``, a user's operator) falls through to the ``onnx``
  backend (:mod:`dicec.runtime.onnxops`): ``read_text`` reads with the PP-OCR models shipped by
  rapidocr-onnxruntime; an operator whose model cannot be set up here raises for that call
  ("no built-in model").
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

import numpy as np

from dicec.runtime.calls import OperatorError
from dicec.runtime.scene import COLOURS, SHAPES
from dicec.runtime.scene.vision import Region, background_colour, regions

SYNONYMS = {"ball": "circle", "disc": "circle", "disk": "circle", "round": "circle", "box": "square",
            "rectangular": "rectangle", "triangular": "triangle", "oblong": "rectangle",
            "grey": "gray", "colour": "color", "big": "large", "little": "small", "tiny": "small",
            "huge": "large"}
GENERIC = {"shape", "object", "thing", "item", "figure"}
SIZES = {"large", "small"}
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def words(text: str) -> list[str]:
    out = []
    for w in re.findall(r"[a-z]+", str(text).lower()):
        w = SYNONYMS.get(w, w)
        if w.endswith("s") and (w[:-1] in SHAPES or w[:-1] in GENERIC or w[:-1] in SYNONYMS):
            w = SYNONYMS.get(w[:-1], w[:-1])
        out.append(w)
    return out


def describe(r: Region) -> set[str]:
    return {r.colour, r.shape, r.size}


class BuiltinBackend:
    """Scene models on onnxruntime plus numpy."""

    name = "builtin"

    def __init__(self, model_folder: Any = None) -> None:
        self.model_folder = model_folder
        self._sessions: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._cache: dict[tuple, list[Region]] = {}
        self._onnx: Any = None

    # -- models ----------------------------------------------------------------------------------------
    def sessions(self) -> tuple[Any, Any]:
        with self._lock:
            if self._sessions is None:
                from pathlib import Path

                from dicec.runtime.models import load_session
                from dicec.runtime.scene.graphs import MODEL_DIR_ENV, build_models, model_dir, model_file

                import os

                folder = Path(self.model_folder) if self.model_folder else model_dir()
                explicit = self.model_folder is not None or bool(os.environ.get(MODEL_DIR_ENV))
                if not explicit and not all((folder / n).is_file() for n in ("scene_detect.onnx", "scene_colour.onnx")):
                    build_models(folder)  # the default cache folder is filled on first use
                self._sessions = (load_session(model_file("scene_detect.onnx", folder)),
                                  load_session(model_file("scene_colour.onnx", folder)))
            return self._sessions

    def analyse(self, image: Any, patch: dict) -> list[Region]:
        # Keyed by the bytes received, not the identity a crop bundle claims (dicec.runtime.crops): a
        # bundle naming another frame's sha256 must not answer for that frame on a shared server.
        key = (image.wire_digest, tuple(patch[k] for k in ("left", "lower", "right", "upper")))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        detect, colour = self.sessions()
        pixels = image.crop(patch)
        if pixels.size == 0:
            return []
        bg = background_colour(image.border()).reshape(1, 1, 1, 3).astype(np.float32)
        mask = detect.run(["foreground"], {"image": pixels[None].astype(np.uint8), "background": bg})[0][0]
        found = regions(mask, pixels)
        if found:
            probs = colour.run(["probabilities"], {"colours": np.array([r.mean for r in found], dtype=np.float32)})[0]
            names = list(COLOURS)
            found = [Region(**{**r.__dict__, "colour": names[int(np.argmax(p))]}) for r, p in zip(found, probs)]
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = found
        return found

    # -- operators -------------------------------------------------------------------------------------
    def compute(self, spec: Any, form: Any, image: Any, patch: dict | None, args: list) -> Any:
        handler = getattr(self, f"op_{spec.name}", None)
        if handler is not None:
            return handler(image, patch, *args)
        return self.fall_through(spec, form, image, patch, args)

    def fall_through(self, spec: Any, form: Any, image: Any, patch: dict | None, args: list) -> Any:
        """Operators without a scene model run on their own ONNX model (see :mod:`dicec.runtime.onnxops`).

        ``read_text`` takes the PP-OCR models shipped by rapidocr-onnxruntime, and its set-up problems
        (package missing, checksum) stop the run. For any other operator a model that cannot be set
        up (no file here, no tokeniser) is an error of that call, as "no built-in model": steps are
        speculative, so a call the program never makes must not fail the run.
        """
        from dicec.errors import DicecError
        from dicec.runtime.onnxops import PACKAGED, OnnxBackend

        with self._lock:
            if self._onnx is None:
                self._onnx = OnnxBackend(packaged=True)
        try:
            return self._onnx.compute(spec, form, image, patch, args)
        except DicecError as exc:
            if spec.name in PACKAGED:
                raise
            raise OperatorError(f"no built-in model for {spec.name!r} ({exc}); use --models seeded to run any "
                                "program without models") from None

    def matching(self, image: Any, patch: dict, name: str) -> list[Region]:
        w = words(name)
        colours = {x for x in w if x in COLOURS}
        shapes = {x for x in w if x in SHAPES}
        sizes = {x for x in w if x in SIZES}
        if not colours and not shapes and not any(x in GENERIC for x in w):
            return []
        return [r for r in self.analyse(image, patch)
                if (not colours or r.colour in colours) and (not shapes or r.shape in shapes)
                and (not sizes or r.size in sizes)]

    def op_find(self, image: Any, patch: dict, object_name: str) -> list[dict]:
        h = patch["upper"] - patch["lower"]
        return [{"left": r.x0, "lower": h - r.y1, "right": r.x1, "upper": h - r.y0}
                for r in self.matching(image, patch, object_name)]

    def op_exists(self, image: Any, patch: dict, object_name: str) -> bool:
        return bool(self.matching(image, patch, object_name))

    def main(self, image: Any, patch: dict) -> Region | None:
        found = self.analyse(image, patch)
        return found[0] if found else None

    def op_verify_property(self, image: Any, patch: dict, object_name: str, property: str) -> bool:
        r = self.main(image, patch)
        if r is None:
            return False
        wanted = set(words(property)) - GENERIC
        return bool(wanted) and wanted <= describe(r)

    def op_simple_query(self, image: Any, patch: dict, question: str) -> str:
        w = words(question)
        if "many" in w or "number" in w:
            subject = " ".join(x for x in w if x in COLOURS or x in SHAPES or x in SIZES or x in GENERIC) or "shape"
            return str(len(self.matching(image, patch, subject)))
        r = self.main(image, patch)
        asked = [x for x in w if x in SHAPES or (x in COLOURS and "color" not in w) or x in SIZES]
        if asked and ("color" in w or "shape" in w):  # "what color is the square?": look at the squares
            named = self.matching(image, patch, " ".join(asked))
            r = named[0] if named else r
        if w and w[0] in ("is", "are", "does", "do") and not ("color" in w or "shape" in w):
            subject = " ".join(x for x in w if x in COLOURS or x in SHAPES or x in SIZES)
            return "yes" if subject and self.matching(image, patch, subject) else "no"
        if r is None:
            return "nothing"
        if "color" in w:
            return r.colour
        if "shape" in w:
            return r.shape
        if "size" in w or "big" in question.lower() or "large" in w or "small" in w:
            return r.size
        return f"{r.colour} {r.shape}"

    def op_best_text_match(self, image: Any, patch: dict, option_list: list, prefix: Any = None) -> str:
        if not isinstance(option_list, list) or not option_list:
            raise OperatorError("best_text_match needs a non-empty list of options")
        r = self.main(image, patch)
        have = describe(r) if r is not None else set()
        scores = [len(set(words(o)) & have) for o in option_list]
        return option_list[int(np.argmax(scores))]

    def op_best_image_match(self, image: Any, patch: Any, list_patches: list, content: Any,
                            return_index: bool = False) -> int | None:
        if not list_patches:
            return None
        texts = [content] if isinstance(content, str) else list(content)
        scores = []
        for box in list_patches:
            r = self.main(image, box)
            have = describe(r) if r is not None else set()
            scores.append(sum(len(set(words(t)) & have) for t in texts))
        return int(np.argmax(scores))

    def op_compute_depth(self, image: Any, patch: dict) -> float:
        r = self.main(image, patch)
        return round(100.0 / math.sqrt(r.area), 6) if r is not None else 100.0
