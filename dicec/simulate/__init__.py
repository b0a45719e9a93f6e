"""Stage 7, scale: compiled workflows on modelled GPU clusters of N nodes, and calibrating a local pool.

:mod:`dicec.simulate.runs` builds each input's job (:func:`dicec.timing.job.build_job`, on the pool
asked for) and runs it on clusters of N nodes with the list-scheduling engine of
:mod:`dicec.timing.schedule`; :mod:`dicec.simulate.commands` is the ``dicec simulate`` verb;
:mod:`dicec.simulate.calibrate` measures this machine as a ``local`` pool and its timing models.

Imports: the timing model (:mod:`dicec.timing`), placement (:mod:`dicec.placement`: fusion's rule
when every task moves to one pool, the pool catalogue), the shared input reading (:mod:`dicec.plans`)
and options (:mod:`dicec.output`); calibration also runs steps with :mod:`dicec.runtime`. Never
:mod:`dicec.cost`.
"""
