"""Deterministic YAML: same document, same bytes (for GitOps diffs).

Keys keep the order the emitter builds them in (``apiVersion``, ``kind``, ``metadata``, ``spec`` first,
then hera's sorted order below), strings are quoted by PyYAML's safe dumper whenever YAML would read
them as something else, lines are never folded, and the output always ends with one newline. Only the
safe dumpers are used, so no Python object tags can appear. libyaml's emitter is used when PyYAML has
it (about 20 times faster); the pure-Python one writes the same bytes (a test holds them equal), so
the output does not depend on how PyYAML was built.
"""

from __future__ import annotations

from typing import Any

import yaml

SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_OPTIONS = dict(sort_keys=False, default_flow_style=False, allow_unicode=False, width=2**31 - 1, indent=2)


def dump_yaml(documents: list[dict[str, Any]], *, dumper: type = SafeDumper) -> str:
    """Dump one or more documents (``---`` between them) deterministically."""
    return "---\n".join(yaml.dump(doc, Dumper=dumper, **_OPTIONS) for doc in documents)
