"""The code-generation backends behind one call: ``offline``, ``anthropic`` and ``replay``.

* ``offline`` -- the rule-based generator (:mod:`dicec.codegen.offline`); no key, no network.
* ``anthropic`` -- the Messages API with programmatic refinement (:mod:`dicec.codegen.refine`). With a
  lock file, a question already pinned for this model and prompt is answered from the lock (no LLM
  call); otherwise the checked program is pinned in it.
* ``replay`` -- only the lock file: a question that is not pinned is an error naming it.

Whatever the backend, the program is checked again by the caller (``require_valid`` or the
analyser), so a hand-edited lock cannot smuggle code past the checker.
"""

from __future__ import annotations

from dicec.codegen.llm import LLMOptions
from dicec.codegen.offline import GeneratedProgram, generate_offline
from dicec.errors import DicecError
from dicec.tools.registry import Registry

BACKENDS = ("offline", "anthropic", "replay")


def generate_program(question: str, registry: Registry, *, backend: str = "offline",
                     options: LLMOptions | None = None, path: str = "<question>", client=None) -> GeneratedProgram:
    """Stage 2 for any backend: ``question`` -> a program (checked later by the caller)."""
    if backend not in BACKENDS:
        raise DicecError(f"unknown code-generation backend {backend!r} (available: {', '.join(BACKENDS)})")
    if backend == "offline":
        return generate_offline(question, registry)
    from dicec.codegen.lock import Pin, load_lock
    from dicec.codegen.prompt import prompt_hash, render_prompt

    options = options or LLMOptions()
    if not isinstance(question, str) or not question.strip():
        raise DicecError("the question is empty")
    system = render_prompt(registry)
    digest = prompt_hash(system)
    if backend == "replay":
        if options.lock is None:
            raise DicecError("--backend replay builds only from a lock file: pass --lock FILE")
        lock = load_lock(options.lock, missing_ok=False)
        pin = lock.get(question, options.model, digest)
        if pin is None:
            raise lock.not_pinned(question, options.model, digest)
        return GeneratedProgram(code=pin.code, family="pinned", backend="replay")
    lock = load_lock(options.lock, missing_ok=True) if options.lock is not None else None
    if lock is not None:
        pin = lock.get(question, options.model, digest)
        if pin is not None:
            return GeneratedProgram(code=pin.code, family="pinned", backend="anthropic")
    from dicec.codegen.refine import generate_llm

    generated = generate_llm(question, registry, options, client=client, path=path, system=system)
    if lock is not None:  # read again: another build may have pinned a question while the LLM was asked
        fresh = load_lock(options.lock, missing_ok=True)
        fresh.with_pin(Pin(question=question, model=options.model, prompt_sha256=digest, code=generated.code)).save()
    return generated
