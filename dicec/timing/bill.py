"""What a day at a stated load costs: every pod, server and machine a cloud bill would show, per query.

The load is queries per hour (``load_qph``; :data:`DEFAULT_LOAD_QPH` unless stated, the load
``dicec compile --qps 1`` sizes its servers for). A day's bill, divided by the day's queries, is the
figure ``dicec cost`` prints, the compile summary prints and the workflow's cost label carries.

* **services** (:func:`services_bill`): the model servers are always on. Each pool's operators are
  packed into server sets as the simulator packs them (:func:`dicec.timing.schedule.server_sets`: per
  container image, model files first fit, largest first); each set gets the replicas that keep its
  busy share at the load at or below ``server_utilisation`` (the latency target), at least one, at
  most the pool's ``max_nodes``; every replica is billed for the whole day, busy or idle, at its
  pool's hourly price. The ``dicec-answer`` service on the CPU pool is sized the same way and billed
  at a CPU pod's share of a CPU node; Argo's agent pod lives as long as its workflow (one query's
  time alone, :func:`dicec.timing.schedule.chain_seconds`) at its request's share; container steps
  (crop-fed cloud tasks) are CPU pods for their seconds. Edge devices are not billed.
* **pods** (:func:`pods_bill`): pay per pod. Each pod's seconds -- start-up, model loads, calls --
  at its pool's price (a perfectly packed autoscaled pool: no idle); each pool's nodes, sized to the
  load the same way, pull the image once a day; CPU pods (the answer step) at a CPU pod's share.
* **the serial program** (:func:`serial_fleet_bill`): warm processes (every model loaded once, a
  ViperGPT server) on machines of one pool, as many as keep each at or below ``server_utilisation``,
  at least one, billed all day.
* **the bound** (:func:`bound_usd`): every call's warm seconds on the pool where it costs least
  (latency x price, among the pools it fits; an edge device costs nothing), and the program's own CPU
  work at a CPU pod's share, with no idle and no start-up: no plan can cost less.

Everything is passed in and used by its attributes (jobs, pools, specs); this room imports no
placement or cost code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from dicec.errors import DicecError
from dicec.timing.figures import cpu_price_per_s, fits, latency, price_per_s, shared_seconds
from dicec.timing.job import Job, calls
from dicec.timing.model import TimingModel
from dicec.timing.schedule import chain_seconds, server_sets

#: Queries as (job, share of the queries) pairs, the shares summing to 1.
Mix = Sequence[tuple[Job, float]]

#: Queries per hour a stated load defaults to: one query a second, what ``dicec compile --qps`` (default 1)
#: sizes the model servers' replicas for.
DEFAULT_LOAD_QPH = 3600.0
HOURS_PER_DAY = 24.0


@dataclass(frozen=True, kw_only=True)
class BillLine:
    """One line of a day's bill.

    Attributes:
        what: what is billed (``server find, exists``, ``pods``, ``answer service``, ``Argo agent`` ...).
        pool: the pool it runs on.
        kind: ``gpu`` or ``cpu``.
        replicas: always-on replicas (machines) billed all day, or ``None`` for pay-per-pod lines.
        busy_s: seconds of its work per query.
        utilisation: its busy share at the load (busy seconds per hour over replica-hours), or ``None``.
        usd_per_query: its dollars per query at the load.
    """

    what: str
    pool: str
    kind: str
    replicas: int | None
    busy_s: float
    utilisation: float | None
    usd_per_query: float

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "pool": self.pool, "kind": self.kind, "replicas": self.replicas,
                "busy_s": round(self.busy_s, 6),
                "utilisation": None if self.utilisation is None else round(self.utilisation, 6),
                "usd_per_query": round(self.usd_per_query, 10)}


@dataclass(frozen=True, kw_only=True)
class Bill:
    """A day at ``load_qph`` queries per hour.

    Attributes:
        load_qph: the load.
        lines: what is billed.
    """

    load_qph: float
    lines: tuple[BillLine, ...]

    def __post_init__(self) -> None:
        check_load(self.load_qph)

    @property
    def per_query_usd(self) -> float:
        return sum(line.usd_per_query for line in self.lines)

    @property
    def cpu_usd_per_query(self) -> float:
        return sum(line.usd_per_query for line in self.lines if line.kind == "cpu")

    @property
    def gpu_usd_per_query(self) -> float:
        return sum(line.usd_per_query for line in self.lines if line.kind == "gpu")

    @property
    def usd_per_day(self) -> float:
        return self.per_query_usd * self.load_qph * HOURS_PER_DAY

    def to_json(self) -> dict[str, Any]:
        return {"load_qph": self.load_qph, "per_query_usd": round(self.per_query_usd, 10),
                "gpu_usd_per_query": round(self.gpu_usd_per_query, 10),
                "cpu_usd_per_query": round(self.cpu_usd_per_query, 10),
                "usd_per_day": round(self.usd_per_day, 6), "lines": [line.to_json() for line in self.lines]}


@dataclass(frozen=True, kw_only=True)
class ServiceFigures:
    """What services mode sizes its servers by, per query of one plan (:func:`service_figures`): recorded on
    the placed graph, so that ``dicec compile`` sizes the Deployments it emits as ``dicec cost`` bills them
    (:func:`replicas_for` at the compile's ``--qps``; the servers packed by
    :func:`dicec.timing.schedule.pack_servers`).

    Attributes:
        busy_s: seconds a query asks of each operator's server, by pool, then operator: its calls' warm
            seconds (a fan-out's elements as one batch) and a request's overhead each.
        models: the model file each operator of the plan loads (:func:`~dicec.timing.figures.model_key`).
        answer_busy_s: seconds a query asks of the answer service.
    """

    busy_s: dict[str, dict[str, float]]
    models: dict[str, str]
    answer_busy_s: float

    def __post_init__(self) -> None:
        if self.answer_busy_s < 0 or any(v < 0 for ops in self.busy_s.values() for v in ops.values()):
            raise ValueError("services figures must not be negative")

    def to_json(self) -> dict[str, Any]:
        return {"busy_s": {p: {op: round(v, 9) for op, v in sorted(ops.items())} for p, ops in sorted(self.busy_s.items())},
                "models": dict(sorted(self.models.items())), "answer_busy_s": round(self.answer_busy_s, 9)}


def service_figures(job: Job, models: dict[str, str]) -> ServiceFigures:
    """A services-mode job's :class:`ServiceFigures` (``models``: every operator's model file)."""
    busy: dict[str, dict[str, float]] = {}
    for (pool, op), seconds in sorted(job.service_busy_s.items()):
        busy.setdefault(pool, {})[op] = seconds
    answer = job.units[-1].cpu_s if job.units and job.units[-1].http else 0.0
    return ServiceFigures(busy_s=busy, models=dict(models), answer_busy_s=answer)


def service_figures_from_json(data: Any) -> ServiceFigures:
    """Inverse of :meth:`ServiceFigures.to_json` (``ValueError``/``KeyError``/``TypeError``/``AttributeError`` if
    malformed)."""
    return ServiceFigures(busy_s={str(p): {str(op): float(v) for op, v in ops.items()} for p, ops in data["busy_s"].items()},
                          models={str(k): str(v) for k, v in data["models"].items()},
                          answer_busy_s=float(data["answer_busy_s"]))


def check_load(load_qph: float) -> float:
    """``load_qph`` if it is a number of queries per hour > 0, else a one-line error."""
    if isinstance(load_qph, bool) or not isinstance(load_qph, (int, float)) or not 0 < load_qph < 1e12:
        raise DicecError(f"--load must be a number of queries per hour > 0 (got {load_qph!r})")
    return float(load_qph)


def replicas_for(busy_s: float, load_qph: float, model: TimingModel, *, max_nodes: int | None = None) -> int:
    """Replicas that keep ``busy_s`` seconds a query at ``load_qph`` at or below ``server_utilisation``: at
    least one, at most ``max_nodes``."""
    need = max(1, math.ceil(round(load_qph / 3600.0 * busy_s / model.server_utilisation, 9)))
    return min(need, max_nodes) if max_nodes is not None else need


def _always_on(what: str, pool, kind: str, busy_s: float, load_qph: float, model: TimingModel, usd_per_s: float,
               *, max_nodes: int | None = None) -> BillLine:
    replicas = replicas_for(busy_s, load_qph, model, max_nodes=max_nodes)
    return BillLine(what=what, pool=pool.name if pool is not None else "", kind=kind, replicas=replicas,
                    busy_s=busy_s, utilisation=load_qph / 3600.0 * busy_s / replicas,
                    usd_per_query=replicas * usd_per_s * 3600.0 / load_qph)


def services_bill(mix: Mix, load_qph: float, model: TimingModel, *, cpu_pool=None, spot: bool = False) -> Bill:
    """Services mode at ``load_qph`` (see the module docstring); ``mix``: the queries, as (job, share) pairs."""
    load_qph = check_load(load_qph)
    jobs = [job for job, _ in mix]
    lines: list[BillLine] = []
    pools = {name: p for job in jobs for name, p in job.pools.items()}
    for name in sorted({name for job in jobs for name in job.services}):
        pool = pools[name]
        if pool.edge:
            continue
        busy: dict[str, float] = {}
        for job, share in mix:
            for (p, op), s in job.service_busy_s.items():
                if p == name:
                    busy[op] = busy.get(op, 0.0) + share * s
        for ops, _ in server_sets(jobs, name, pool.gpu_memory_gb):
            if not ops:
                continue
            seconds = sum(busy.get(op, 0.0) for op in ops)
            lines.append(_always_on(f"model server {', '.join(ops)}", pool, "gpu", seconds, load_qph, model,
                                    price_per_s(pool, spot=spot), max_nodes=pool.max_nodes))
    pod = cpu_price_per_s(cpu_pool, model.cpu_pod_vcpu, model.cpu_pod_memory_gib, spot=spot)
    answer = sum(share * job.units[-1].cpu_s for job, share in mix if job.units[-1].http)
    if answer:
        lines.append(_always_on("answer service (dicec-answer)", cpu_pool, "cpu", answer, load_qph, model, pod,
                                max_nodes=None))
    agent = sum(share * chain_seconds(job, model) for job, share in mix if job.http)
    if agent:
        rate = cpu_price_per_s(cpu_pool, model.agent_vcpu, model.agent_memory_gib, spot=spot)
        lines.append(BillLine(what="Argo agent pod (one per workflow)", pool=getattr(cpu_pool, "name", ""),
                              kind="cpu", replicas=None, busy_s=agent, utilisation=None, usd_per_query=agent * rate))
    return Bill(load_qph=load_qph, lines=tuple(lines + cpu_and_extra_lines(mix, pod, cpu_pool, http=True)))


def cpu_and_extra_lines(mix: Mix, pod: float, cpu_pool, *, http: bool) -> list[BillLine]:
    """The CPU pods' seconds at a CPU pod's price (``pod`` per second), and the dollars units carry themselves
    (an answer on a GPU pool), per query of ``mix``; ``http``: services mode (its HTTP units' extras are the
    servers')."""
    out = []
    steps = sum(share * job.cpu_pod_seconds for job, share in mix)
    if steps:
        out.append(BillLine(what="container steps (CPU pods)" if http else "CPU pods (the answer step)",
                            pool=getattr(cpu_pool, "name", ""), kind="cpu", replicas=None, busy_s=steps,
                            utilisation=None, usd_per_query=steps * pod))
    extra = sum(share * u.extra_usd for job, share in mix for u in job.units if not (http and u.http))
    if extra:
        out.append(BillLine(what="answer step on a GPU pool", pool="", kind="gpu", replicas=None, busy_s=0.0,
                            utilisation=None, usd_per_query=extra))
    return out


def pods_bill(mix: Mix, load_qph: float, model: TimingModel, *, cpu_pool=None, spot: bool = False) -> Bill:
    """Pods mode at ``load_qph`` (see the module docstring); ``mix``: the queries, as (job, share) pairs."""
    load_qph = check_load(load_qph)
    lines: list[BillLine] = []
    pools = {name: p for job, _ in mix for name, p in job.pools.items()}
    for name in sorted({u.pool for job, _ in mix for u in job.units if u.pool is not None}):
        pool = pools[name]
        if pool.edge:
            continue
        seconds = sum(share * u.gpu_s for job, share in mix for u in job.units if u.pool == name)
        rate = price_per_s(pool, spot=spot)
        nodes = replicas_for(seconds, load_qph, model, max_nodes=pool.max_nodes)
        pulls = nodes * model.image_pull_s * rate / (load_qph * HOURS_PER_DAY)
        lines.append(BillLine(what="pods (start-up, model loads, calls) and a daily image pull per node", pool=name,
                              kind="gpu", replicas=None, busy_s=seconds, utilisation=None,
                              usd_per_query=seconds * rate + pulls))
    pod = cpu_price_per_s(cpu_pool, model.cpu_pod_vcpu, model.cpu_pod_memory_gib, spot=spot)
    return Bill(load_qph=load_qph, lines=tuple(lines + cpu_and_extra_lines(mix, pod, cpu_pool, http=False)))


def job_bill(job: Job, load_qph: float, model: TimingModel, *, cpu_pool=None, spot: bool = False) -> Bill:
    """The bill of ``job``'s mode at ``load_qph``: every query is ``job``."""
    return stream_bill([(job, 1.0)], load_qph, model, cpu_pool=cpu_pool, spot=spot)


def stream_bill(mix: Mix, load_qph: float, model: TimingModel, *, cpu_pool=None, spot: bool = False) -> Bill:
    """The bill of a stream of queries, ``share`` of them each ``job`` (shares summing to 1), at ``load_qph``:
    e.g. frames where a detector finds something and frames where it finds nothing, or a mix of questions.
    Always-on servers are sized to the mix's mean work; per-query lines are its mean."""
    if not mix or abs(sum(share for _, share in mix) - 1.0) > 1e-9 or any(share < 0 for _, share in mix):
        raise DicecError("a stream of queries needs shares >= 0 that sum to 1")
    modes = {job.mode for job, _ in mix}
    if len(modes) != 1:
        raise DicecError("a stream of queries must be of one mode")
    make = services_bill if modes == {"services"} else pods_bill
    return make(mix, load_qph, model, cpu_pool=cpu_pool, spot=spot)


def serial_fleet_bill(serial_s: float, load_qph: float, pool, model: TimingModel, *, spot: bool = False) -> Bill:
    """The serial program, warm, on as many machines of ``pool`` as the load needs (see the module docstring)."""
    load_qph = check_load(load_qph)
    line = _always_on("serial program, one warm process per machine", pool, "gpu", serial_s, load_qph, model,
                      price_per_s(pool, spot=spot), max_nodes=None)
    return Bill(load_qph=load_qph, lines=(line,))


def bound_usd(graph, registry, pools, model: TimingModel, *, cpu_pool=None, spot: bool = False,
              batch_calls: int = 1) -> float:
    """The zero-idle lower bound of one query (see the module docstring): each call's warm seconds at the
    cheapest fitting price, and the program's own CPU work at a CPU pod's share. ``batch_calls``: the most
    calls one batch of a plan holds (a batch workflow's stage pods), so a call pays at least its share of
    the part a batch pays once (:func:`~dicec.timing.figures.shared_seconds`)."""
    usd = 0.0
    gpu_pools = [p for p in pools if p.has_gpu and (p.edge or p.usd_per_hour is not None)]  # an edge device is free
    for op, n in calls(graph, model):
        spec = registry.get(op)
        if not spec.uses_gpu or not n:
            continue
        costs = [(latency(spec, p) - (1 - 1 / batch_calls) * shared_seconds(spec, p)) * price_per_s(p, spot=spot)
                 for p in gpu_pools if fits(spec, p)]
        if not costs:
            raise DicecError(f"operator {op!r} fits no priced GPU pool, so the bound has no price for it")
        usd += n * min(costs)
    if any(p.edge and not p.has_gpu for p in pools):
        return usd  # the program's own CPU work can run on the edge device's CPU, which costs nothing
    return usd + model.answer_run_s * cpu_price_per_s(cpu_pool, model.cpu_pod_vcpu, model.cpu_pod_memory_gib,
                                                      spot=spot)
