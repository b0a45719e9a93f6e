"""Deterministic YAML: same document, same bytes (for GitOps diffs).

Keys keep the order the emitter builds them in (``apiVersion``, ``kind``, ``metadata``, ``spec`` first,
then hera's sorted order below), strings are quoted by PyYAML's safe dumper whenever YAML would read
them as something else, lines are never folded, and the output always ends with one newline. Only the
safe dumper is used, so no Python object tags can appear.
"""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """SafeDumper that indents lists under their key, as kubectl and Argo's docs do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: D401
        return super().increase_indent(flow, False)


def _str_presenter(dumper: yaml.SafeDumper, data: str):
    # Multi-line strings as literal blocks would be prettier, but a block scalar's indentation and
    # trailing-newline rules make round-trips fragile; quoted scalars are exact.
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(documents: list[dict[str, Any]]) -> str:
    """Dump one or more documents (``---`` between them) deterministically."""
    parts = [yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                       allow_unicode=False, width=2**31 - 1, indent=2) for doc in documents]
    return "---\n".join(parts)
