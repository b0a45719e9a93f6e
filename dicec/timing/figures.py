"""What one operator call costs on one pool: its latency, whether it fits, the model it loads, the price.

These are the per-call figures every plan's timing is built from -- fusion's decision
(:mod:`dicec.placement.fusion`), the units of a job (:mod:`dicec.timing.job`) and the edge-cloud
figures (:mod:`dicec.cost.edge`) -- read from an operator's spec (its profile: GPU memory, model load,
latency per GPU class, the work of one call; its model file) and a pool (GPU class and memory, its
datasheet figures, price). Specs and pools are passed in and used by their attributes only, so this
room imports neither the tool registry nor the pool catalogue.

**GPU classes are data.** A call's latency on a pool is the figure the operator's spec lists for the
pool's GPU class (measured, or derived once and written down); for a class the spec does not list,
it is derived from the work of one call (the spec's ``profile.work``) and the pool's datasheet
figures, the way the shipped A4000/A6000/A100 figures were derived (``operators/SOURCES.md``)::

    latency = tflop / (fp16_tensor_tflops x tensor_utilisation)             compute-bound parts
            + memory_gb / (memory_bandwidth_gbps x bandwidth_utilisation)    memory-bound parts
            + overhead_s                                                     per-call fixed time

Where the memory-bound part reads model weights (an autoregressive decoder, ``memory_shared``), a
batch of requests reads them once: :func:`shared_seconds` is that part, which a model server's batch
pays once (:mod:`dicec.timing.schedule`).
"""

from __future__ import annotations

from dicec.errors import DicecError


def latency(spec, pool) -> float:
    """Seconds per call of ``spec`` on ``pool``'s GPU class (0 on a CPU pool): listed, else derived."""
    if pool.gpu_class is None:
        return 0.0 if not spec.uses_gpu else _no_class(spec, pool)
    listed = spec.profile.latency_s.get(pool.gpu_class)
    if listed is not None:
        return listed
    derived = derived_latency(spec, pool)
    return derived if derived is not None else _no_class(spec, pool)


def has_latency(spec, pool) -> bool:
    """Whether :func:`latency` has a figure for ``spec`` on ``pool``'s GPU class (listed or derivable)."""
    return pool.gpu_class is not None and (pool.gpu_class in spec.profile.latency_s
                                           or derived_latency(spec, pool) is not None)


def derived_latency(spec, pool) -> float | None:
    """The latency the spec's work and the pool's datasheet give (see the module docstring), or ``None``
    when either is missing."""
    work = getattr(spec.profile, "work", None)
    tflops = getattr(pool, "fp16_tensor_tflops", None)
    bandwidth = getattr(pool, "memory_bandwidth_gbps", None)
    if work is None or not tflops or not bandwidth or getattr(pool, "edge", False):
        return None
    return round(work.tflop / (tflops * work.tensor_utilisation)
                 + work.memory_gb / (bandwidth * work.bandwidth_utilisation) + work.overhead_s, 6)


def shared_seconds(spec, pool) -> float:
    """The part of one call a batch of calls pays once (reading a decoder's weights), 0 when none or unknown."""
    work = getattr(spec.profile, "work", None)
    bandwidth = getattr(pool, "memory_bandwidth_gbps", None)
    if work is None or not work.memory_shared or not bandwidth or pool.gpu_class is None:
        return 0.0
    part = work.memory_gb / (bandwidth * work.bandwidth_utilisation)
    return min(part, latency(spec, pool))


def _no_class(spec, pool) -> float:
    listed = ", ".join(sorted(spec.profile.latency_s)) or "none"
    work = "" if getattr(spec.profile, "work", None) is None else "; its work figures need the pool's datasheet " \
        "(fp16_tensor_tflops, memory_bandwidth_gbps)"
    raise DicecError(f"operator {spec.name!r} has no latency for GPU class {pool.gpu_class or 'CPU'} "
                     f"(pool {pool.name!r}); its spec gives {listed}{work}")


def model_key(spec) -> str:
    """What one process loads once however many operators use it: the operator's model file (two
    operators naming the same file share one load and its memory); the operator itself without one."""
    model = getattr(spec, "model", None)
    return model.file if model is not None and getattr(model, "file", None) else f"operator:{spec.name}"


def model_files(specs) -> dict[str, tuple[float, float]]:
    """The model files one process holding ``specs``' GPU models loads, each once: ``{model_key: (load
    seconds, GPU memory GB)}``, the larger figure where operators sharing a file state different ones (one
    session of the file serves them all, so the process needs the most any of them asks: X-VLM's 2.4 GB
    for ``best_image_match``'s batch of patches against 1.9 GB for ``verify_property``)."""
    out: dict[str, tuple[float, float]] = {}
    for s in specs:
        if not s.uses_gpu:
            continue
        load, gb = out.get(model_key(s), (0.0, 0.0))
        out[model_key(s)] = (max(load, s.profile.model_load_s), max(gb, s.profile.gpu_memory_gb))
    return out


def model_memory(specs) -> float:
    """GPU memory one process holding ``specs``' models needs: each model file counted once."""
    return sum(gb for _, gb in model_files(specs).values())


def model_loads(specs) -> float:
    """Seconds one process spends loading ``specs``' models: each model file loaded once."""
    return sum(load for load, _ in model_files(specs).values())


def fits(spec, pool) -> bool:
    """Whether ``pool`` can run ``spec``: no GPU needed, or enough GPU memory and a latency for its class."""
    return not spec.uses_gpu or (pool.has_gpu and pool.gpu_memory_gb >= spec.profile.gpu_memory_gb
                                 and has_latency(spec, pool))


def price_per_s(pool, *, spot: bool = False) -> float:
    """The pool's dollars per second (spot where asked and listed); 0 when unpriced."""
    hourly = pool.hourly(spot=spot)
    return 0.0 if hourly is None else hourly / 3600.0


def cpu_price_per_s(pool, vcpu: float, memory_gib: float, *, spot: bool = False) -> float:
    """Dollars per second of a pod requesting ``vcpu`` and ``memory_gib`` on CPU pool ``pool``: its share of
    a node (the larger of its CPU and memory shares, what the scheduler packs by) at the node's price;
    0 when the pool is unpriced or does not say its node's size."""
    if pool is None:
        return 0.0
    node_vcpu = getattr(pool, "vcpus", None)
    node_memory = getattr(pool, "memory_gib", None)
    if not node_vcpu or not node_memory:
        return 0.0
    return price_per_s(pool, spot=spot) * max(vcpu / node_vcpu, memory_gib / node_memory)
