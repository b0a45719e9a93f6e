"""What one operator call costs on one pool: its latency, whether it fits, the model it loads, the price.

These are the per-call figures every plan's timing is built from -- fusion's decision
(:mod:`dicec.placement.fusion`), the units of a job (:mod:`dicec.timing.job`) and the edge-cloud
figures (:mod:`dicec.cost.edge`) -- read from an operator's spec (its profile: GPU memory, model load,
latency per GPU class; its model file) and a pool (GPU class and memory, price). Specs and pools are
passed in and used by their attributes only, so this room imports neither the tool registry nor the
pool catalogue.
"""

from __future__ import annotations

from dicec.errors import DicecError


def latency(spec, pool) -> float:
    """Seconds per call of ``spec`` on ``pool``'s GPU class (0 on a CPU pool)."""
    if pool.gpu_class is None:
        return 0.0 if not spec.uses_gpu else _no_class(spec, pool)
    try:
        return spec.profile.latency_s[pool.gpu_class]
    except KeyError:
        return _no_class(spec, pool)


def _no_class(spec, pool) -> float:
    raise DicecError(f"operator {spec.name!r} has no latency for GPU class {pool.gpu_class or 'CPU'} "
                     f"(pool {pool.name!r}); its spec gives {', '.join(sorted(spec.profile.latency_s)) or 'none'}")


def model_key(spec) -> str:
    """What one process loads once however many operators use it: the operator's model file (two
    operators naming the same file share one load and its memory); the operator itself without one."""
    model = getattr(spec, "model", None)
    return model.file if model is not None and getattr(model, "file", None) else f"operator:{spec.name}"


def fits(spec, pool) -> bool:
    """Whether ``pool`` can run ``spec``: no GPU needed, or enough GPU memory and a latency for its class."""
    return not spec.uses_gpu or (pool.has_gpu and pool.gpu_memory_gb >= spec.profile.gpu_memory_gb
                                 and pool.gpu_class in spec.profile.latency_s)


def price_per_s(pool, *, spot: bool = False) -> float:
    """The pool's dollars per second (spot where asked and listed); 0 when unpriced."""
    hourly = pool.hourly(spot=spot)
    return 0.0 if hourly is None else hourly / 3600.0
