"""The English the rules read: word lists, singular and plural, and phrasings several families share.

Everything here is data or a pure function of a word; nothing writes code. The lexicon says which
adjectives are attributes to verify rather than things to find (colours, sizes, materials ...),
which words can never be part of a noun phrase, which participles and posture verbs start a
qualifier, and the relation phrases with their canonical names ("to the left of" -> ``left``).
:func:`singular` gives the form a detector is prompted with ("knives" -> "knife"). The phrasings at
the end (how a question asks whether something is there, the image as a subject, the kinds of
attribute) are read by more than one family, so they live here rather than in one of them.

A new word for the rules to know (a colour, a relation, an irregular plural, a way of asking "is
there") goes here.
"""

from __future__ import annotations

import re

# -- the lexicon -----------------------------------------------------------------------------------
COLORS = ("white", "black", "red", "blue", "green", "yellow", "orange", "purple", "pink", "brown",
          "gray", "silver", "gold", "tan", "beige")
MATERIALS = ("wood", "metal", "plastic", "glass", "fabric", "leather", "stone", "brick", "concrete",
             "ceramic", "paper")
SHAPES = ("round", "square", "rectangular", "triangular", "oval")
SIZES = ("small", "large")
PATTERNS = ("striped", "checkered", "plaid", "floral", "dotted", "solid")

#: Adjectives that qualify a noun for ``verify_property`` rather than name it for ``find``.
ATTRIBUTE_WORDS = frozenset(COLORS + SIZES + SHAPES + PATTERNS + (
    "grey", "golden", "maroon", "navy", "teal", "cream", "khaki", "colorful",
    "big", "little", "tall", "short", "long", "huge", "tiny", "giant", "wide", "thin", "thick",
    "wooden", "metal", "metallic", "plastic", "leather", "brick", "stone", "concrete", "ceramic",
    "wicker", "steel", "cardboard",
    "closed", "open", "empty", "full", "wet", "dry", "old", "young", "adult", "male", "female",
    "cooked", "sliced", "bare", "cloudy", "clear", "dirty", "clean", "lit", "leafy", "shiny",
    "spotted", "fluffy", "soft", "hard", "smooth", "rough", "bright", "dark", "light", "sunny",
))

#: Attribute words that are also things ("the metal", "the plastic").
MATERIAL_NOUNS = frozenset({"metal", "plastic", "leather", "brick", "stone", "concrete", "steel", "cardboard"})
#: Attribute words that name a thing when nothing else in the phrase does ("a square", "an orange", "the light").
NOUN_ATTRIBUTES = MATERIAL_NOUNS | frozenset({"square", "oval", "orange", "light", "gold", "silver"})

#: The words ``best_text_match`` chooses among for an attribute kind, when ``simple_query`` is missing.
KIND_WORDS = {"color": COLORS, "material": MATERIALS, "shape": SHAPES, "size": SIZES, "pattern": PATTERNS}

#: The image itself, named in a question ("in the picture", "this frame").
SCENE_WORDS = r"(?:picture|image|photo|photograph|pic|scene|frame|shot|snapshot|video)"
#: The image itself as the subject of a question ("does this frame contain ...").
SCENE_SUBJECT = rf"(?:it|this|(?:this|the) {SCENE_WORDS})"

#: Determiners: a definite one ("the", "his") names a particular object, an indefinite one ("a", "any") any.
DEFINITE = frozenset({"the", "this", "that", "these", "those", "his", "her", "their", "its", "my", "your",
                      "our", "both", "each", "every", "all"})
INDEFINITE = frozenset({"a", "an", "any", "some", "another", "either"})
DETERMINERS = DEFINITE | INDEFINITE

#: Words that can never be part of a noun phrase the rules hand to ``find``.
STOP_WORDS = frozenset("""
is are was were be been being am do does did done have has had having could would should will
shall may might must there here what which who whom whose where when why how it they them he she him
we us i me you one ones someone something anything everything anyone everyone nothing and or but nor
not no yes if than as so then also too very either neither both all any some each every same
different more less most least many much few several of for from into onto by about against between
through during without toward towards up down out off around across along a an the this that these
those his her their its my your our kind type sort color material shape size pattern called made
look looks see seen else other another own such only just really maybe perhaps likely two three four
five six seven eight nine ten in on at to near over under behind above below beside inside atop within
beneath underneath
""".split())

#: One word as the rules accept it in a noun phrase or property: letters and digits, inner ' and -.
WORD = re.compile(r"[^\W_](?:[\w'-]*[^\W_])?")

#: Participles that start a qualifying phrase after a noun ("the man riding the train").
PARTICIPLES = frozenset("""
riding holding wearing carrying using eating drinking playing looking watching sitting standing lying
laying walking running talking pulling pushing hanging flying swimming surfing skiing skating
throwing catching touching reading sleeping leaning resting facing grazing covering floating
parked covered filled kept perched placed located seen shown lying driving crossing waiting
""".split())

#: Verbs of posture that may come between a subject and a relation ("sitting on", "parked next to").
POSTURE_VERBS = frozenset("""
sitting standing lying laying hanging resting parked perched placed located floating walking
swimming flying kept seen
""".split())

#: Relation phrases and their canonical name, longest first.
RELATIONS = tuple(sorted((
    ("to the left of", "left"), ("on the left of", "left"), ("left of", "left"),
    ("to the right of", "right"), ("on the right of", "right"), ("right of", "right"),
    ("in front of", "front"), ("on top of", "on"), ("in back of", "behind"), ("behind", "behind"),
    ("next to", "near"), ("close to", "near"), ("near", "near"), ("beside", "near"),
    ("above", "above"), ("over", "above"), ("below", "below"), ("beneath", "under"),
    ("underneath", "under"), ("under", "under"), ("on", "on"), ("atop", "on"), ("inside", "in"),
    ("in", "in"), ("within", "in"), ("around", "near"),
), key=lambda pair: (-len(pair[0]), pair[0])))
#: A regular-expression alternation of the relation phrases, longest first.
RELATION_RE = "|".join(re.escape(p) for p, _ in RELATIONS)
RELATION_NAMES = dict(RELATIONS)
RELATION_FIRST_WORDS = frozenset(p.split()[0] for p, _ in RELATIONS)
#: A canonical relation seen from the other object ("the towel is on the bathtub": the bathtub is under the towel).
INVERSE_RELATIONS = {"left": "right", "right": "left", "above": "below", "below": "above", "on": "under",
                     "under": "on", "in": "in", "near": "near", "behind": "front", "front": "behind"}

#: Who or what owns things in a compound without "'s" ("the boy shorts", "the dog collar"), and the things
#: they have on or about them: the compound is read as a possessive ("the boy's shorts").
OWNER_NOUNS = frozenset("""
man woman boy girl person child kid lady guy baby player skier surfer snowboarder skateboarder batter
catcher pitcher umpire rider driver chef cook officer soldier worker student teacher dog cat horse cow
elephant giraffe zebra bear sheep bird puppy kitten
""".split())
BELONGING_NOUNS = frozenset("""
shirt dress shorts pants jeans trousers skirt jacket coat sweater hoodie vest uniform jersey suit wetsuit
hat cap helmet hood shoe boot sneaker sock glove mitten scarf tie belt apron mask glasses sunglasses
goggles necklace bracelet earring ring backpack purse handbag collar leash saddle hair head face hand arm
leg foot ear eye nose mouth beard mustache tail mane trunk neck tusk horn paw fur wing beak feather
""".split())

#: Verbs after "who"/"does" and the participle a qualifier or property uses ("wears a cap" -> "wearing a cap").
THIRD_PERSON = {"wears": "wearing", "wear": "wearing", "holds": "holding", "hold": "holding",
                "carries": "carrying", "carry": "carrying", "rides": "riding", "ride": "riding",
                "uses": "using", "use": "using", "eats": "eating", "eat": "eating", "has": "with",
                "have": "with", "drinks": "drinking", "watches": "watching", "plays": "playing"}

# -- singular and plural -------------------------------------------------------------------------------
_IRREGULAR = {
    "men": "man", "women": "woman", "people": "person", "persons": "person", "children": "child",
    "feet": "foot", "teeth": "tooth", "geese": "goose", "mice": "mouse", "oxen": "ox",
    "knives": "knife", "leaves": "leaf", "shelves": "shelf", "wolves": "wolf", "halves": "half",
    "loaves": "loaf", "scarves": "scarf", "calves": "calf", "wives": "wife", "lives": "life",
    "thieves": "thief", "buses": "bus", "gases": "gas", "lenses": "lens", "tomatoes": "tomato",
    "potatoes": "potato", "heroes": "hero", "mangoes": "mango", "volcanoes": "volcano",
    "cacti": "cactus", "fungi": "fungus", "dice": "die", "skis": "ski", "taxis": "taxi",
    "hooves": "hoof", "kiwis": "kiwi",
}
_PLURAL_ONLY = frozenset("""
glasses sunglasses eyeglasses goggles pants jeans shorts trousers scissors clothes headphones
earphones binoculars tongs pliers overalls leggings tights pajamas slacks sweatpants
""".split())
_INVARIANT = _PLURAL_ONLY | frozenset("""
sheep deer fish moose aircraft spacecraft watercraft hovercraft bison salmon trout shrimp squid
species series news lens canvas gas atlas bus tennis chess debris chassis iris axis pelvis
""".split())
_IE_WORDS = frozenset("""
cookies movies pies ties brownies hoodies goalies veggies selfies smoothies zombies calories rookies
lies magpies pixies collies
""".split())
_ES_EXCEPTIONS = frozenset("mustaches moustaches niches caches avalanches headaches quiches cliches".split())


def singular(word: str) -> str:
    """The singular of an English noun (good enough for detector prompts)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _INVARIANT or len(word) <= 3 or not word.endswith("s"):
        return word
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("men") and word not in ("specimen", "abdomen", "omen", "stamen"):
        return word[:-3] + "man"
    if word.endswith("ies"):
        return word[:-1] if word in _IE_WORDS else word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zzes")) and word not in _ES_EXCEPTIONS:
        return word[:-2]
    return word[:-1]


def is_plural(word: str) -> bool:
    """Whether ``word`` names more than one thing ("dogs", "people", "glasses")."""
    return word in _PLURAL_ONLY or singular(word) != word


# -- phrasings that several families read --------------------------------------------------------------
#: The kinds of attribute a question may name ("the same colour", "have large size"), as a regex alternation.
ATTRIBUTE_KINDS_RE = r"color|material|size|shape|pattern|type|kind"

#: Verbs that link a subject to how it looks ("does the giraffe look adult", "that seems open").
LINKING_VERBS = ("look", "looks", "seem", "seems", "appear", "appears")
LINKING_VERB_RE = "|".join(LINKING_VERBS)

#: How a question asks whether something is there ("is there", "do you see", "does this frame contain").
EXIST_PREFIX = (rf"(?:(?:is|are) there(?: either| both)?|(?:do|can) you see(?: either| both)?|(?:does|do) {SCENE_SUBJECT} "
                r"(?:contain|show|have|include)(?: either| both)?)")

#: The place or picture as the subject of a question about the whole scene ("is this place ...", "was it ...").
IMAGE_SUBJECT = "(?:" + "|".join(sorted((
    "it", "this", "this place", "this room", "this scene", "this area", "this location", "this picture", "this photo",
    "this image", "the picture", "the photo", "the image", "the scene", "the place", "the room"), key=lambda w: (-len(w), w))) + ")"
