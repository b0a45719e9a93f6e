"""Stage 4, placement: each task goes to the cheapest GPU pool that fits, with time and dollar estimates.

:func:`load_pools` reads a pool catalogue (the shipped default or ``--pools FILE``); :func:`place`
turns a task graph into a :class:`PlacedGraph`.
"""

from dicec.placement.place import Placement, PlacedGraph, place, placed_from_json
from dicec.placement.pools import Pool, PoolCatalogue, load_pools

__all__ = ["Placement", "PlacedGraph", "Pool", "PoolCatalogue", "load_pools", "place", "placed_from_json"]
