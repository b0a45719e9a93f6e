"""Stage 3, analysis: a serial program becomes a task graph exposing API-level parallelism.

:func:`analyse` (astroid def-use over ``execute_command``) returns a :class:`TaskGraph`; the graph's
JSON form (:meth:`TaskGraph.dumps`, :func:`graph_from_json`) is what ``dicec plan`` writes.
"""

from dicec.analysis.analyser import analyse
from dicec.analysis.graph import TaskGraph, graph_from_json

__all__ = ["TaskGraph", "analyse", "graph_from_json"]
