"""The model-free part of ViperGPT's ``ImagePatch`` API, and the builtins programs may use.

Operators (``find``, ``simple_query``, ...) come from the registry; everything here is plain Python
that any program may use without a model: box attributes, ``crop``, ``overlaps_with``, the helper
functions, and a small set of safe builtins and ``str``/``list``/``dict`` methods. The checker
allows exactly this surface plus the discovered operators; the analyser knows which of these return
patches.
"""

from __future__ import annotations

#: ImagePatch attributes (values, not calls).
PATCH_ATTRIBUTES = frozenset({
    "left", "lower", "right", "upper", "width", "height",
    "horizontal_center", "vertical_center", "cropped_image", "original_image",
})

#: Model-free ImagePatch methods: name -> (min args, max args), excluding ``self``.
PATCH_METHODS = {
    "crop": (4, 4),
    "overlaps_with": (4, 4),
    "print_image": (0, 1),
}

#: Keyword parameters of the model-free functions and methods above.
API_KEYWORDS = {
    "ImagePatch": {"image", "left", "lower", "right", "upper"},
    "crop": {"left", "lower", "right", "upper"},
    "overlaps_with": {"left", "lower", "right", "upper"},
    "coerce_to_numeric": {"string", "no_string"},
}

#: Model-free module functions: name -> (min args, max args).
API_FUNCTIONS = {
    "ImagePatch": (1, 5),
    "distance": (2, 2),
    "bool_to_yesno": (1, 1),
    "coerce_to_numeric": (1, 2),
}

#: Builtins a program may call: name -> (min args, max args); None = any count.
SAFE_BUILTINS = {
    "len": (1, 1), "str": (0, 1), "int": (0, 2), "float": (0, 1), "bool": (0, 1),
    "min": (1, None), "max": (1, None), "sorted": (1, 1), "sum": (1, 2), "any": (1, 1),
    "all": (1, 1), "abs": (1, 1), "round": (1, 2), "range": (1, 3), "enumerate": (1, 2),
    "zip": (1, None), "list": (0, 1), "tuple": (0, 1), "dict": (0, 1), "set": (0, 1),
    "reversed": (1, 1), "print": (0, None), "isinstance": (2, 2), "filter": (2, 2), "map": (2, None),
}

#: Names a program may read without assigning them (besides its own parameter).
SAFE_NAMES = frozenset({"True", "False", "None", "int", "float", "str", "bool", "list", "dict", "tuple", "set"})

#: Methods of str, list and dict values that have no side effect outside the program.
VALUE_METHODS = frozenset({
    # str
    "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "join", "replace",
    "startswith", "endswith", "capitalize", "title", "isdigit", "isnumeric", "find", "count",
    "format",
    # list
    "append", "extend", "insert", "pop", "remove", "sort", "reverse", "index", "copy",
    # dict
    "items", "keys", "values", "get", "update", "setdefault",
})

#: Keyword-only options the builtins above accept.
BUILTIN_KEYWORDS = {"sorted": {"key", "reverse"}, "min": {"key", "default"}, "max": {"key", "default"},
                    "print": {"sep", "end"}, "sort": {"key", "reverse"}, "enumerate": {"start"}}

#: The largest literal loop bound allowed (``for i in range(N)``): programs iterate over detections,
#: not over counters, so a large bound is a runaway loop.
MAX_RANGE = 10_000
