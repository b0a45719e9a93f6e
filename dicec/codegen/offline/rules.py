"""The rule table: which families of question are tried, and in what order.

:func:`~dicec.codegen.offline.generator.generate_offline` tries :data:`RULES` from the top with a
fresh :class:`~dicec.codegen.offline.program.ProgramWriter` each time; the first handler that
recognises the question writes the program, and the row's family labels it. Two handlers relabel
what they write: ``is_there`` says ``relation`` for "Is there an elephant near the pond?", and
``one_of_options`` says ``scene`` for "Is this place a forest or a garden?". A handler that
recognises a question but needs an operator the registry lacks stops the search: a later rule would
only misread the question, which then goes to the whole image (``families.fallback``).

Order matters where shapes overlap, so the specific families come first: text questions before
everything that would look for "the sign" and ask it ("What is written on the sign?"), the damage check before
the general property check ("Is the windshield cracked?" would otherwise verify "cracked" on the
first windshield only, not on every one), the category search before plain existence ("Is there
plastic litter?" would otherwise look for "litter" alone), "which of two" before the general "A or
B" choice ("Which animal is larger, the dog or the cat?" would otherwise look for a "larger").
``what_object_does``, which asks about any object it can find in a "what is/does ..." question,
comes last. Each handler's docstring lists the questions it takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dicec.codegen.offline.families import (attributes, choices, comparisons, counting, damage, existence, logic,
                                            objects, position, relations, scene, search, text, which)
from dicec.codegen.offline.program import ProgramWriter
from dicec.codegen.offline.question import Question


@dataclass(frozen=True)
class Rule:
    """One entry of the rule table: a family name and the handler that writes its programs.

    A handler gets the question and a fresh program; it returns ``True`` when it recognised the
    question and wrote the program, ``False`` to let the next rule try.
    """

    family: str
    handler: Callable[[Question, ProgramWriter], bool]


#: The rule table, tried in order; the first handler that writes a program wins.
RULES: tuple[Rule, ...] = (
    Rule("scene", scene.whole_scene),                # Is it outdoors?  What room is this?
    Rule("text", text.read_written),                 # What does the licence plate say?  What is written on the sign?
    Rule("damage", damage.damage_check),             # Which parts of the car are damaged?  Is the bumper dented?
    Rule("search", search.category_search),          # Is there plastic litter in this frame?
    Rule("count", counting.how_many),                # How many dogs are there?  Are there two dogs?
    Rule("position", position.where_in_frame),       # On which side is the car?  Is the bottle at the bottom?
    Rule("position", position.where_is),             # Where is the car?  Show me the dogs.
    Rule("compare", comparisons.compare_two),        # Is the car bigger than the truck?  Same colour?
    Rule("which", which.which_of_two),               # Which animal is larger, the dog or the cat?
    Rule("logic", logic.and_or),                     # Is there a cat or a dog?  Is the field green and small?
    Rule("choice", choices.one_of_options),          # Is the car red or blue?  What color is the fence, tan or black?
    Rule("attribute", attributes.what_attribute),    # What colour is the car?  What is the sink made of?
    Rule("which", which.who_does),                   # Who is holding the umbrella?
    Rule("relation", relations.what_is_related),     # What is on the table?  What is to the left of the taxi?
    Rule("relation", relations.which_is_related),    # What device is to the right of the cake?
    Rule("which", which.which_has_property),         # What animal is white?
    Rule("which", which.what_kinds_are_there),       # What animals are there?  List the vehicles.
    Rule("relation", relations.is_related),          # Is the cup to the left of the plate?
    Rule("existence", existence.is_there),           # Is there a dog?  Are there helmets that are not white?
    Rule("attribute", attributes.has_property),      # Is the table wooden?  Does the man wear a cap?
    Rule("object", objects.what_object_does),        # What is the man wearing?  What is the glass on?
)
