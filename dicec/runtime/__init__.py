"""Stage 6, execution: the operator runtime (``dicec op``/``dicec answer``) and local runs (``exec``/``run``).

* :mod:`~dicec.runtime.patch` -- ViperGPT's ``ImagePatch`` and helpers, model-free;
* :mod:`~dicec.runtime.program` -- runs a checked program with restricted builtins and a budget;
* :mod:`~dicec.runtime.calls` -- the canonical call key shared by steps and the final step;
* :mod:`~dicec.runtime.backend`, :mod:`~dicec.runtime.seeded`, :mod:`~dicec.runtime.scene` -- who
  answers operator calls (hash-seeded answers, or the built-in ONNX scene models);
* :mod:`~dicec.runtime.step` -- what the emitted steps run;
* :mod:`~dicec.runtime.workflow` and :mod:`~dicec.runtime.when` -- ``dicec run``, executing the
  Argo Workflow file itself;
* :mod:`~dicec.runtime.commands` -- the click verbs.

Nothing here is imported by the compile path, so ``dicec compile`` never loads numpy or onnxruntime.
"""
