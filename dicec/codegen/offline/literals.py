"""How text from the question reaches a program: as string literals, and as ASCII names and comments.

The question is untrusted text. Every piece of it that reaches a program -- the question itself, a
noun phrase, a property, an option -- goes in as a Python string literal written by :func:`literal`
(``repr``), never pasted into code. Variable names and comments are built by :func:`slug` and
:func:`comment_words` only from ASCII letters, digits and ``_``. Every family writes question text
through these four functions and no other way, so the argument that no question can inject code
rests on this module alone.
"""

from __future__ import annotations

import re
import unicodedata


def literal(value: str) -> str:
    """``value`` as a Python string literal (``repr``, double-quoted when that needs no escaping)."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        return '"' + text[1:-1] + '"'
    return text


def comment_words(text: str) -> str:
    """``text`` as plain ASCII words, safe in a comment."""
    return slug(text).replace("_", " ")


def list_literal(values) -> str:
    """``values`` as a Python list of string literals."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def slug(text: str) -> str:
    """An ASCII identifier fragment for ``text`` (variable names and comments only)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    fragment = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:30].strip("_")
    if not fragment or fragment[0].isdigit():
        fragment = "object" + ("_" + fragment if fragment else "")
    return fragment
