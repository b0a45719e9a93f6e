"""What a Deployment runs: the model server of services mode (``dicec op serve``).

* :mod:`~dicec.serving.model_server` -- serves operators over HTTP, batching concurrent requests, with
  the step side's backends, so a value served is exactly the value a pod step computes;
* :mod:`~dicec.serving.commands` -- its click verb, ``op serve``, and the whole ``dicec op`` group.

Imports: :mod:`dicec.runtime` (the backends, images, crop bundles, the step verbs), never
:mod:`dicec.runner`; the runner starts these servers for ``dicec run`` of a services-mode workflow.
"""
