"""``dicec run``: what acting as Argo on one machine needs.

* :mod:`~dicec.runner.workflow` -- executes a workflow file: tasks in dependency order and in
  parallel, fan-outs, ``when``, retries, parameter substitution, each step's command as its container
  runs it (in this process or as a subprocess);
* :mod:`~dicec.runner.documents` -- reads the file's YAML documents and finds the Workflow;
* :mod:`~dicec.runner.when` -- Argo's ``when`` conditions;
* :mod:`~dicec.runner.artifacts` -- input artifacts, fetched from this machine;
* :mod:`~dicec.runner.localservices` -- a services-mode workflow's model servers, on loopback;
* :mod:`~dicec.runner.launcher` -- how a step or a model server starts as a subprocess;
* :mod:`~dicec.runner.batch` -- a batch workflow's answers, one per image;
* :mod:`~dicec.runner.argostatus` -- the node statuses Argo keeps for a run, built as v4.1.2 builds them;
* :mod:`~dicec.runner.modelled` -- modelled steps: what each step would write, with no model and no image;
* :mod:`~dicec.runner.weight` -- a workflow's weight in Argo (nodes, status bytes per image, the most images
  one Workflow takes), estimated by a modelled run and measured by a real one; splitting a batch;
* :mod:`~dicec.runner.commands` -- the ``run`` click verb.

Imports: :mod:`dicec.runtime` (the steps' verbs and code) and :mod:`dicec.serving` (the model server);
neither imports this package.
"""
