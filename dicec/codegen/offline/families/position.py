"""The ``position`` family: where an object is in the frame, from its detection's box.

"On which side is the car, the left or the right?", "In which part is the remote, the bottom or the
top?", "Is the bottle in the bottom of the image?", "Are the black cars in the top part of the
photo?". No operator beyond ``find``: the box's centre against the image's.
"""

from __future__ import annotations

import re

from dicec.codegen.offline.literals import literal, slug
from dicec.codegen.offline.phrases import parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


def where_in_frame(q: Question, p: ProgramWriter) -> bool:
    """Where an object is in the frame: "On which side is the car, the left or the right?", "In which
    part is the remote, the bottom or the top?", "Is the bottle in the bottom of the image?", "Are the
    black cars in the top part of the photo?" (from the detection's box, no further operator)."""
    m = re.fullmatch(r"(?:on )?(?:which|what) side (?:is|are) (?P<np>.+?)(?:, (?:on )?(?:the )?(?:left|right) or (?:on )?(?:the )?(?:left|right)(?: side)?)?", q.s)
    if m:
        return _which_side(p, m.group("np"), ("left", "right"))
    m = re.fullmatch(r"(?:in |on |at )?(?:which|what) (?:part|half) (?:is|are) (?P<np>.+?)(?:, (?:in |at )?(?:the )?(?:top|bottom) or (?:in |at )?(?:the )?(?:top|bottom)(?: part)?)?", q.s)
    if m:
        return _which_side(p, m.group("np"), ("bottom", "top"))
    m = re.fullmatch(r"(?:is|are) (?P<np>.+?) (?:on|in|at|to) the (?P<a>left|right|top|bottom)(?: side| part| half)? or (?:on |in |at |to )?(?:the )?(?P<b>left|right|top|bottom)(?: side| part| half)?", q.s)
    if m and {m.group("a"), m.group("b")} in ({"left", "right"}, {"top", "bottom"}):
        return _which_side(p, m.group("np"), ("left", "right") if m.group("a") in ("left", "right") else ("bottom", "top"))
    m = re.fullmatch(r"(?:is|are) (?P<np>.+?) (?:on|in|at|to) the (?P<side>left|right|top|bottom)(?: side| part| half)?", q.s)
    if not m:
        return False
    np = parse_noun_phrase(m.group("np"))
    if np is None or np.relation is not None:
        return False
    p.default = "no"
    (patches,) = p.locate(np)
    if np.plural and np.definite:
        p.ask_whole_if_empty(patches)
        item = p.name(f"{slug(np.head)}_patch")
        p.add(1, f"return bool_to_yesno(all({p.on_side(item, m.group('side'))} for {item} in {patches}))")
    else:
        (patch,) = p.firsts(np)
        p.add(1, f"return bool_to_yesno({p.on_side(patch, m.group('side'))})")
    return True


def _which_side(p: ProgramWriter, text: str, sides: tuple[str, str]) -> bool:
    """Return ``sides[0]`` if the object's box centre is below/left of the image's, else ``sides[1]``."""
    np = parse_noun_phrase(text)
    if np is None:
        return False
    p.locate(np)
    (patch,) = p.firsts(np)
    axis = "horizontal_center" if sides[0] == "left" else "vertical_center"
    p.add(1, f"if {patch}.{axis} < image_patch.{axis}:")
    p.add(2, f"return {literal(sides[0])}")
    p.add(1, f"return {literal(sides[1])}")
    return True
