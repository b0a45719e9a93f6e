"""Stage 7, cost: what a placed graph costs per query, against baselines, and the timing model behind it.

:mod:`dicec.cost.model` holds the timing model (every constant with its source or labelled an
assumption) and turns a placed graph into schedulable units; :mod:`dicec.cost.report` prices a plan
against the serial-on-one-A100 and identical-A100-nodes baselines; :mod:`dicec.cost.html` renders the
report (Gantt chart per node, cost bars); :mod:`dicec.cost.commands` is the ``dicec cost`` verb.
"""
