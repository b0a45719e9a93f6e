"""Stage 7, scale: a discrete-event simulation of compiled workflows on a modelled GPU cluster.

:mod:`dicec.simulate.engine` replays the units of one or many queries (from
:func:`dicec.cost.model.build_units`) on N nodes with heapq, and :mod:`dicec.simulate.commands` is the
``dicec simulate`` verb.
"""
