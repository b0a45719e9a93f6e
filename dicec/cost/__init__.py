"""Stage 7, cost: what a placed graph costs per query, against baselines.

:mod:`dicec.cost.report` prices a plan at a stated load (a day's bill, :mod:`dicec.timing.bill`)
against the warm serial program on A100 machines sized to the load, the same plan on identical A100
nodes and the zero-idle bound; :mod:`dicec.cost.html` renders the report (cost bars, dollars per query
against load, a Gantt chart per node);
:mod:`dicec.cost.commands` is the ``dicec cost`` verb. :mod:`dicec.cost.edge` figures an edge-cloud
plan against cloud-only, :mod:`dicec.cost.edge_report` compares and renders them, and
:mod:`dicec.cost.edge_commands` is the ``dicec edge`` verb.

Imports: the timing model (:mod:`dicec.timing`: the figures, the units of a job, the schedule of the
Gantt chart), placement (:mod:`dicec.placement`: the baselines are placed again), the shared input
reading (:mod:`dicec.plans`) and options (:mod:`dicec.output`); never :mod:`dicec.simulate`.
"""
