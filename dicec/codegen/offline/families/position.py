"""The ``position`` family: where an object is, from its detection's box.

"On which side is the car, the left or the right?", "In which part is the remote, the bottom or the
top?", "Is the bottle in the bottom of the image?", "Are the black cars in the top part of the
photo?": no operator beyond ``find``, the box's centre against the image's. "Where is the car?"
(and "Show me the car", "Find the dogs", which the normaliser reads so): the object's box grown by
its own size on every side, clipped to the image, asked where the object is, so the answer can
name what is around it ("on the street").
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import DETERMINERS
from dicec.codegen.offline.literals import comment_words, literal, slug
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


def where_is(q: Question, p: ProgramWriter) -> bool:
    """Where an object is: "Where is the car?", "Where are the boats?", "Where is the cat sitting?",
    "Show me the red car", "Find the dogs" -> ``simple_query`` on the object's surroundings (its box,
    or the box around all of them, grown by its own size on every side)."""
    m = re.fullmatch(r"where (?:is|are) (?P<np>.+?)(?: (?:located|placed|positioned|situated|sitting|standing|"
                     r"lying|parked|kept|hanging))?", q.s)
    if not m:
        return False
    np = parse_noun_phrase(m.group("np"))
    if np is None:
        return False
    words = m.group("np").split()
    while words and words[0] in DETERMINERS:
        words.pop(0)
    p.question = f"Where {np.be} the {' '.join(words)}?"  # "Show me the dogs" is asked as "Where are the dogs?"
    (found,) = p.locate(np)
    p.ask_whole_if_empty(found)
    if np.plural:
        box = [p.name(side) for side in ("left", "lower", "right", "upper")]
        item = p.name(f"{slug(np.head)}_patch")
        for var, side, pick in zip(box, ("left", "lower", "right", "upper"), ("min", "min", "max", "max")):
            p.add(1, f"{var} = {pick}({item}.{side} for {item} in {found})")
    else:
        patch = p.name(f"{slug(np.head)}_patch")
        p.add(1, f"{patch} = {found}[0]")
        box = [f"{patch}.{side}" for side in ("left", "lower", "right", "upper")]
    width, height = p.name("width"), p.name("height")
    p.add(1, f"{width} = {box[2]} - {box[0]}")
    p.add(1, f"{height} = {box[3]} - {box[1]}")
    region = p.name("surroundings")
    p.add(1, f"# Ask about the {comment_words(np.head)} with what is around it: the box grown by its size on every side")
    p.add(1, f"{region} = image_patch.crop(max(image_patch.left, {box[0]} - {width}), max(image_patch.lower, {box[1]} - {height}), "
             f"min(image_patch.right, {box[2]} + {width}), min(image_patch.upper, {box[3]} + {height}))")
    p.add(1, f"return {p.query(region, p.question)}")
    return True
