"""The ``text`` family: what is written on something, read with ``read_text``.

"What does the licence plate say?", "What is written on the sign?", "What number is on the bus?",
"What is the licence plate number?", "Read the label." (the normaliser makes it "what does the label
say"): find the object and read the text in its box; if it is not found, read the whole image. A
plural ("What do the signs say?") reads every detection, a fan-out. "What is written here?", "What
does it say?": read the whole image. Without ``read_text`` in the registry the patch is asked the
question with ``simple_query`` instead (see ``ProgramWriter.read_text``).
"""

from __future__ import annotations

import re

from dicec.codegen.offline.english import SCENE_WORDS
from dicec.codegen.offline.literals import slug
from dicec.codegen.offline.phrases import parse_noun_phrase
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question

#: What a question may call the text it asks for.
_WRITING = r"(?:text|writing|words?|letters|numbers?|digits|message|inscription|caption)"
#: Questions about the text on one object; ``np`` is the object.
_ON_OBJECT = [
    re.compile(r"what (?:does|do) (?P<np>.+?) (?:say|read|spell)"),
    re.compile(r"what (?P<np>(?:the|this|that|these|those) .+?) (?:says|say|reads)"),   # "tell me what the sign says"
    re.compile(r"what (?:is|are) (?:written|printed|painted|displayed|shown|engraved) (?:on|in|across) (?P<np>.+)"),
    re.compile(rf"what {_WRITING} (?:is|are) (?:written |printed |painted |displayed |shown )?(?:on|in|across) (?P<np>.+)"),
    re.compile(rf"what (?:is|are) the (?:{_WRITING}|name) (?:written |printed |painted )?(?:on|in) (?P<np>.+)"),
    re.compile(rf"what (?:is|are) the {_WRITING} of (?P<np>.+)"),
    re.compile(r"what (?:is|are) (?P<np>.+?)(?:'s)? (?:number|text|writing|registration(?: number)?)"),
]
#: Questions about the text anywhere in the image.
_ANYWHERE = re.compile(rf"what (?:does|do) (?:it|this|that|(?:this|the) {SCENE_WORDS}) (?:say|read)|"
                       rf"what (?:is|are) (?:written|printed)(?: here| there)?|what {_WRITING} (?:is|are) (?:there|visible|written)")
#: Things whose "number" is text on them, not a count ("the bus number"); others read as counting questions.
_NUMBERED = re.compile(r"(?:licen[cs]e |number |registration )?plate|bus|train|jersey|shirt|house|door|room|"
                       r"player|car|truck|boat|ship|plane|airplane|sign|street sign|page|badge|tag|taxi")


def read_written(q: Question, p: ProgramWriter) -> bool:
    """Text in the image: "What does the licence plate say?", "What is written on the sign?", "What
    number is on the bus?", "What is the licence plate number?", "What does it say?" -> ``read_text`` on
    the object's patch (the whole image when the object is not found, or none is named)."""
    if _ANYWHERE.fullmatch(q.s):
        p.add(1, f"return {p.read_text('image_patch', q.text)}")
        return True
    for pattern in _ON_OBJECT:
        m = pattern.fullmatch(q.s)
        if not m:
            continue
        text = m.group("np")
        if pattern is _ON_OBJECT[-1] and not _NUMBERED.fullmatch(re.sub(r"^(?:the|this|that|a) ", "", text)):
            return False  # "What is the total number": not text on a thing the rules know to carry one
        np = parse_noun_phrase(text)
        if np is None:
            return False
        (found,) = p.locate(np)
        p.add(1, f"if len({found}) == 0:")
        p.add(2, f"return {p.read_text('image_patch', q.text)}")
        item = p.name(f"{slug(np.head)}_patch")
        if np.plural:
            texts = p.name(f"{slug(np.head)}_texts")
            p.add(1, f"{texts} = [{p.read_text(item, q.text)} for {item} in {found}]")
            p.add(1, f'return ", ".join({texts})')
        else:
            p.add(1, f"{item} = {found}[0]")
            p.add(1, f"return {p.read_text(item, q.text)}")
        return True
    return False
