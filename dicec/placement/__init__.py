"""Stage 4, placement: each task goes to the cheapest GPU pool that fits, with time and dollar estimates.

:func:`load_pools` reads a pool catalogue (the shipped default or ``--pools FILE``); :func:`place`
turns a task graph into a :class:`PlacedGraph`, with the groups of tasks one pod runs
(:mod:`dicec.placement.fusion`), offloads to an edge device (:mod:`dicec.placement.edge`) and a
catalogue read from a cluster's nodes (:mod:`dicec.placement.cluster`).

Imports: the task graph (:mod:`dicec.analysis`), the operators (:mod:`dicec.tools`) and the timing
model (:mod:`dicec.timing`, for fusion's start-up and load figures); never :mod:`dicec.cost` or
:mod:`dicec.simulate`, which build on placed graphs.
"""

from dicec.placement.place import Placement, PlacedGraph, place, placed_from_json
from dicec.placement.pools import Pool, PoolCatalogue, load_pools

__all__ = ["Placement", "PlacedGraph", "Pool", "PoolCatalogue", "load_pools", "place", "placed_from_json"]
