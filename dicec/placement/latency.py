"""Why a latency bound cannot be met: the best estimated critical path, and the task that limits it.

``dicec place --max-latency S`` moves critical-path tasks to faster pools until the estimate fits
(:func:`dicec.placement.place.place`). When even every task on its fastest pool is too slow, the user
needs to know by how much and because of which task: :func:`best_latency` places every task on the
pool that gives it the fewest seconds and reports the critical path it gets, the tasks on it, and the
slowest of them; :func:`infeasible` words it as the one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass

from dicec.errors import DicecError


@dataclass(frozen=True, kw_only=True)
class BestLatency:
    """The fastest placement's estimate.

    Attributes:
        seconds: its estimated critical path.
        path: the task ids on that path, first to last.
        task: the slowest task on the path.
        task_seconds: that task's seconds on its fastest pool.
        pool: that pool's name.
    """

    seconds: float
    path: tuple[str, ...]
    task: str
    task_seconds: float
    pool: str


def best_latency(graph, registry, catalogue, *, mode: str, spot: bool = False) -> BestLatency:
    """Every task on its fastest fitting pool; the critical path that gives (fan-out elements in parallel)."""
    from dicec.placement.place import _candidates, _critical_path, _estimate

    fastest = {}
    for task in graph.tasks:
        spec = registry.get(task.operator)
        options = [_estimate(spec, p, per_element=task.fanout is not None, mode=mode, spot=spot)
                   for p in _candidates(spec, catalogue, what=f"task {task.id!r}", spot=spot)]
        fastest[task.id] = min(options, key=lambda p: (p.seconds, p.usd or 0.0))
    total, path = _critical_path(graph, fastest)
    path = tuple(reversed(path))
    slowest = max(path, key=lambda t: fastest[t].seconds)
    return BestLatency(seconds=total, path=path, task=slowest, task_seconds=fastest[slowest].seconds,
                       pool=fastest[slowest].pool)


def infeasible(graph, registry, catalogue, bound: float, *, mode: str, spot: bool = False) -> DicecError:
    """The one-line error for a bound no placement meets."""
    best = best_latency(graph, registry, catalogue, mode=mode, spot=spot)
    what = "model load + call" if mode == "pods" else "call"
    return DicecError(
        f"no placement meets --max-latency {bound:g} s: the best achievable estimated critical path is "
        f"{best.seconds:.2f} s ({' -> '.join(best.path)}); task {best.task!r} alone takes {best.task_seconds:.2f} s "
        f"({what}) on its fastest pool {best.pool!r}")
