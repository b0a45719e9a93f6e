"""Stage 6, execution, the step side: what a step container runs (``dicec op``, ``op call``, ``answer``, ``exec``).

* :mod:`~dicec.runtime.patch` -- ViperGPT's ``ImagePatch`` and helpers, model-free;
* :mod:`~dicec.runtime.program` -- runs a checked program with restricted builtins and a budget;
* :mod:`~dicec.runtime.calls` -- the canonical call key shared by steps and the final step;
* :mod:`~dicec.runtime.backend`, :mod:`~dicec.runtime.seeded`, :mod:`~dicec.runtime.onnxops`,
  :mod:`~dicec.runtime.models`, :mod:`~dicec.runtime.scene` -- who answers operator calls (hash-seeded
  answers, each operator's ONNX model, or the built-in ONNX scene models);
* :mod:`~dicec.runtime.client` -- the backend that forwards calls to a model server (services mode);
* :mod:`~dicec.runtime.images`, :mod:`~dicec.runtime.crops` -- the input image, and the crop bundles an
  edge step sends instead of the frame;
* :mod:`~dicec.runtime.contract` -- the step contract's payload encoding and result folder, which
  emission (:mod:`dicec.emit.steps`) imports from here;
* :mod:`~dicec.runtime.step`, :mod:`~dicec.runtime.group`, :mod:`~dicec.runtime.answer` (with
  :mod:`~dicec.runtime.compute` and :mod:`~dicec.runtime.flags`) -- what the emitted steps run: one
  call, a fused group's calls, the final answer;
* :mod:`~dicec.runtime.commands` -- the click verbs (``python -m dicec.runtime VERB`` runs them alone).

Imports: :mod:`dicec.check`, :mod:`dicec.tools` and the shared modules (errors, files, output); never
:mod:`dicec.serving` (the model server), :mod:`dicec.runner` (``dicec run``) or :mod:`dicec.emit`. Nothing
here is imported by the compile path but :mod:`~dicec.runtime.contract`, so ``dicec compile`` never
loads numpy or onnxruntime.
"""
