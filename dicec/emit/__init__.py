"""Stage 5, emission: a placed graph becomes an Argo Workflow (built with hera), as deterministic YAML.

:func:`emit_workflow` returns the Workflow as a plain dict; :func:`dump_yaml` writes it byte-stable.
The step commands it writes (``dicec op``, ``dicec answer``) are the contract with the operator
runtime, described in :mod:`dicec.emit.steps`.
"""

from dicec.emit.argo import EmitOptions, emit_workflow
from dicec.emit.yamlio import dump_yaml

__all__ = ["EmitOptions", "dump_yaml", "emit_workflow"]
