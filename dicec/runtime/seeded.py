"""The seeded backend (``--models seeded``): model-free answers for testing and simulation.

Every answer depends only on (operator, image bytes, receiver box, arguments) through sha256, so the
same call gives the same answer in any process, on any machine, in a step or in the serial run; the
serial and parallel answers of any program can therefore be compared exactly without a model. The
answers are shaped like real ones, chosen by the operator's result kind, so it also works for
operators a user adds:

* ``patches`` (``find``): 0 to 3 boxes inside the receiver, in its coordinates;
* ``patch`` (``best_image_match``): an index into the list of patches (``None`` when it is empty);
* ``bool`` (``exists``, ``verify_property``): a coin flip;
* ``str`` (``simple_query``, ``llm_query``): a word from a small vocabulary, or one of the options
  when the first argument is a list of strings (``best_text_match``);
* ``float`` (``compute_depth``): a depth in [0.5, 20); ``int``: 0 to 9.

The answers mean nothing about the image; they are not for judging accuracy. The backend still cuts
the pixels of each box a call reads, so a step that was not sent them fails as with a real model.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any, Callable

VOCABULARY = ("yes", "no", "red", "blue", "green", "white", "black", "two", "three", "left", "right",
              "wood", "metal", "dog", "cat", "person", "car", "table", "outdoors", "sitting")


def answer_of_kind(rng: random.Random, kind: str, args: list, *, text: Callable[[], str]) -> Any:
    """A pseudo-answer of result ``kind`` (any but ``patches``) drawn from ``rng``: an index into the first list
    argument (``patch``), a bool, a float, an int, one of a list of string options, else ``text()``. The seeded
    backend and the modelled steps of :mod:`dicec.runner.modelled` answer alike, each from its own seed."""
    if kind == "patch":
        lists = [a for a in args if isinstance(a, list)]
        return rng.randrange(len(lists[0])) if lists and lists[0] else None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "float":
        return round(rng.uniform(0.5, 20.0), 4)
    if kind == "int":
        return rng.randrange(10)
    if args and isinstance(args[0], list) and args[0] and all(isinstance(o, str) for o in args[0]):
        return rng.choice(args[0])
    return text()


class SeededBackend:
    """Deterministic pseudo-answers from a hash of the call."""

    name = "seeded"

    def rng(self, operator: str, image: Any, patch: dict | None, args: list) -> random.Random:
        text = json.dumps([operator, image.digest, patch, args], sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True)
        return random.Random(int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big"))

    def compute(self, spec: Any, form: Any, image: Any, patch: dict | None, args: list) -> Any:
        self.read_pixels(image, patch, args)
        rng = self.rng(spec.name, image, patch, args)
        kind = form.result
        if kind == "patches":
            return self.boxes(rng, patch)
        return answer_of_kind(rng, kind, args, text=lambda: rng.choice(VOCABULARY))

    @staticmethod
    def read_pixels(image: Any, patch: dict | None, args: list) -> None:
        """Cut the pixels a real model would read (the receiver and patch arguments), and drop them: the
        answer does not depend on them, but a step given the wrong crops (:mod:`dicec.runtime.crops`)
        fails here as it would with a real model."""
        from dicec.runtime.calls import boxes_read

        for box in boxes_read(patch, args):
            image.crop(box)

    @staticmethod
    def boxes(rng: random.Random, patch: dict | None) -> list[dict[str, int]]:
        if patch is None:
            return []
        w, h = patch["right"] - patch["left"], patch["upper"] - patch["lower"]
        if w < 2 or h < 2:
            return []
        out = []
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            x0, x1 = sorted(rng.sample(range(w + 1), 2))
            y0, y1 = sorted(rng.sample(range(h + 1), 2))
            out.append({"left": x0, "lower": y0, "right": x1, "upper": y1})
        return out
