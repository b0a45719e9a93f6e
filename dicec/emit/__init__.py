"""Stage 5, emission: a placed graph becomes an Argo Workflow (built with hera), as deterministic YAML.

:func:`emit_workflow` returns the Workflow as a plain dict; :func:`dump_yaml` writes it byte-stable.
The step commands it writes (``dicec op``, ``dicec answer``) are the contract with the operator
runtime, described in :mod:`dicec.emit.steps`.

The names below are loaded on first use, so that importing a light submodule (the CLI's option
decorator in :mod:`dicec.emit.commands`, :mod:`dicec.emit.hardening`) does not load hera.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {"EmitOptions": "dicec.emit.argo", "emit_workflow": "dicec.emit.argo", "dump_yaml": "dicec.emit.yamlio"}

__all__ = ["EmitOptions", "dump_yaml", "emit_workflow"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dicec.emit' has no attribute {name!r}")
