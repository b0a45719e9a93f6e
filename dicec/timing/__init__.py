"""The timing model: what each step of a placed graph costs in seconds and dollars, in one place.

Below placement, cost and simulation, so that fusion (:mod:`dicec.placement.fusion`), the cost report
(:mod:`dicec.cost`) and the simulator (:mod:`dicec.simulate`) agree on every figure:

* :mod:`dicec.timing.model`: the figures that are not an operator's own (pod start-up, image pull, step
  overhead, request overhead, answer run, fan-out width, Argo's agent and controller, replica sizing,
  CPU pod requests), each a ``Constant`` with its source;
  ``TimingModel``, ``SOURCES``, ``with_model_overrides`` and ``read_timing`` (a ``--timing`` file);
* :mod:`dicec.timing.figures`: one call's figures -- latency per operator and pool (listed, or derived
  from the spec's work and the pool's datasheet), whether it fits, the model it loads (``model_key``),
  the pool's price per second, a CPU pod's;
* :mod:`dicec.timing.job`: a placed graph as the units one query runs (``Unit``, ``Job``,
  ``build_job``), the two execution modes, and the serial baseline;
* :mod:`dicec.timing.schedule`: list scheduling of jobs on a modelled cluster (the Gantt chart of the
  cost report, the scaling runs of ``dicec simulate``), Argo's agent and controller included;
* :mod:`dicec.timing.bill`: what a day at a stated load costs per query (always-on servers billed busy
  or idle, every pod and CPU pod priced), the warm serial fleet and the zero-idle bound: the figure
  ``dicec cost``, the compile summary and the workflow's cost label share.

Imports: :mod:`dicec.errors` and :mod:`dicec.files` only -- never placement, cost or simulate. Placed
graphs, pools, registries and operator specs are passed in and used by their attributes, and the one
placement decision a job needs (which tasks share a pod) is the placed graph's, or a function passed in.
"""
