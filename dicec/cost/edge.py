"""Edge-cloud figures: latency, uplink bytes and cloud dollars of a plan with an edge pool, against cloud-only.

Two plans of the same task graph are compared: *edge-cloud* (placed on a catalogue with an edge pool,
:mod:`dicec.placement.edge`) and *cloud-only* (the same catalogue without its edge pools: every frame
is uploaded whole and every call runs in the cloud). Each is figured in two cases -- the edge's
detections **found** something (each of them ``fanout`` boxes) or found **nothing** -- and for a
stream of frames in which a fraction ``hit_rate`` has a detection. In the *nothing* case the tasks
that need an edge detection's elements do not run, in either plan: in the edge plan their ``when``
skips them, in the cloud-only plan a fan-out over an empty list starts no pod (an ``item`` task,
``patches[i]``, still starts one there, as Argo would run it).

The model, per task (one call; a fan-out's elements side by side on as many nodes as they need):

* seconds of a step: ``S + L + latency`` in pods mode (``S`` pod start-up plus Argo's step overhead,
  ``L`` the operator's model load), ``S + R + latency`` in services mode (``R`` one request to a warm
  model server), with the latency for the pool's GPU class -- the edge device's own (ORIN) where the
  task runs there; the final ``answer`` step ``S`` + its CPU run. Cloud pools have as many nodes as
  the steps want; the edge is *one* device with one GPU, so its GPU work runs one step (and one
  fan-out element) at a time, in graph order: a whole pod in pods mode (the pod holds the GPU from
  start to exit), the request in services mode (the step pods start side by side);
* the uplink: ``bytes * 8 / (uplink Mbit/s * 10^6)`` seconds, one transfer at a time. Cloud-only
  uploads the frame (``width * height * bytes_per_pixel``) before the workflow starts. Edge-cloud
  uploads a crop (``crop_width * crop_height * bytes_per_pixel``) per element of each edge detection
  a crop-fed task needs (``placed.crops``: the offloaded tasks sent crops, :func:`dicec.placement.edge.crop_feeds`),
  after that detection finishes and before the task starts, and the whole frame (from time 0,
  alongside the edge's work) only if some cloud task that runs reads the frame (not crop-fed, or an
  offloaded one whose operator ``reads: frame``). What the emitted steps really send is the crop
  bundle (:mod:`dicec.runtime.crops`): PNG crops, smaller than raw pixels, plus the frame's one-pixel
  border ring and a manifest.
  Results (a few hundred bytes of JSON each way) are left out; so are network round trips;
* cloud dollars: the seconds a cloud step holds its GPU at the pool's price -- ``S + L + latency`` in
  pods mode, ``R + latency`` in services mode (the warm servers' idle time is the services' own
  cost, not a query's) -- times the elements; the edge device and CPU steps cost nothing here.

Latency is the end of the ``answer`` step (the longest path through steps and transfers). Every
figure of the timing model (``S``, ``R``, the answer's run) is :mod:`dicec.timing.model`'s, with its source.

These are busy-time figures per frame. :func:`stream_at_loads` prices the same two plans as a cloud bill
would at a stated frame rate (:mod:`dicec.timing.bill`: always-on cloud servers billed busy or idle,
CPU pods priced), for a stream in which ``hit_rate`` of the frames hold a detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dicec.errors import DicecError
from dicec.timing.figures import latency, price_per_s
from dicec.timing.model import TimingModel

REPORT_KIND = "dicec/edge-report"
REPORT_VERSION = 1
#: DiCE-M's published claims the report sets its figures against.
DICE_M = {"latency_speedup_nothing_found": 2.0, "cloud_usd_saved": 0.5}
CASES = ("found", "nothing")


@dataclass(frozen=True, kw_only=True)
class LinkModel:
    """What travels over the uplink, and how fast.

    Attributes:
        frame_width: frame width in pixels.
        frame_height: frame height in pixels.
        bytes_per_pixel: bytes per pixel on the wire (3: raw 8-bit RGB, what the steps read; a JPEG
            would be about a tenth, for frame and crop alike).
        crop_width: width of one detection's crop in pixels (the box with ViperGPT's crop margin).
        crop_height: its height.
        uplink_mbps: the uplink in Mbit/s, or ``None`` for the edge pool's own ``uplink_mbps``.
    """

    frame_width: int = 1920
    frame_height: int = 1080
    bytes_per_pixel: float = 3.0
    crop_width: int = 160
    crop_height: int = 160
    uplink_mbps: float | None = None

    def __post_init__(self) -> None:
        for name in ("frame_width", "frame_height", "crop_width", "crop_height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DicecError(f"{name.replace('_', ' ')} must be a whole number of pixels >= 1 (got {value!r})")
        if self.crop_width > self.frame_width or self.crop_height > self.frame_height:
            raise DicecError(f"the crop ({self.crop_width}x{self.crop_height}) is larger than the frame "
                             f"({self.frame_width}x{self.frame_height})")
        for name in ("bytes_per_pixel", "uplink_mbps"):
            value = getattr(self, name)
            if value is None and name == "uplink_mbps":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise DicecError(f"{name.replace('_', ' ')} must be a number > 0 (got {value!r})")

    @property
    def frame_bytes(self) -> float:
        return self.frame_width * self.frame_height * self.bytes_per_pixel

    @property
    def crop_bytes(self) -> float:
        return self.crop_width * self.crop_height * self.bytes_per_pixel

    def to_json(self) -> dict[str, Any]:
        return {"frame": [self.frame_width, self.frame_height], "bytes_per_pixel": self.bytes_per_pixel,
                "crop": [self.crop_width, self.crop_height], "frame_bytes": self.frame_bytes,
                "crop_bytes": self.crop_bytes}


def transfer_seconds(nbytes: float, mbps: float) -> float:
    """Seconds to send ``nbytes`` over ``mbps`` Mbit/s."""
    return nbytes * 8.0 / (mbps * 1e6)


def box_bytes(boxes: list[dict], bytes_per_pixel: float) -> float:
    """Bytes of the crops of ``boxes`` (``{"left","lower","right","upper"}``): their areas times bytes per pixel."""
    return sum(max(0, b["right"] - b["left"]) * max(0, b["upper"] - b["lower"]) for b in boxes) * bytes_per_pixel


@dataclass(frozen=True, kw_only=True)
class PlanFigures:
    """One plan in one case.

    Attributes:
        latency_s: frame to answer.
        uplink_bytes: bytes sent over the uplink.
        cloud_usd: dollars of cloud GPU time.
        steps: the steps that run, with their pool (``id[i]`` for fan-out elements).
        skipped: tasks that do not run in this case.
    """

    latency_s: float
    uplink_bytes: float
    cloud_usd: float
    steps: tuple[tuple[str, str], ...]
    skipped: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"latency_s": round(self.latency_s, 6), "uplink_bytes": round(self.uplink_bytes, 3),
                "cloud_usd": round(self.cloud_usd, 10), "steps": [list(s) for s in self.steps],
                "skipped": list(self.skipped)}


def cloud_catalogue(catalogue):
    """``catalogue`` without its edge pools (the cloud-only plan's)."""
    from dicec.placement.pools import PoolCatalogue

    pools = tuple(p for p in catalogue.pools if not p.edge)
    return PoolCatalogue(pools=pools, path=f"{catalogue.path} (cloud only)")


def plan_figures(placed, registry, model: TimingModel, link: LinkModel, *, mode: str, case: str,
                 producers: set[str], uplink_mbps: float) -> PlanFigures:
    """Latency, uplink bytes and cloud dollars of ``placed`` in ``case`` (see the module docstring).

    ``producers``: the tasks whose detections are empty in the ``nothing`` case (the edge plan's
    offload sources, the same task ids in the cloud-only plan).
    """
    from dicec.placement.edge import offload_guards

    if case not in CASES:
        raise DicecError(f"unknown case {case!r} (cases: {', '.join(CASES)})")
    graph = placed.graph
    guarded = offload_guards(placed)
    fed = placed.crops  # the guarded tasks that are sent crops, not the frame
    edge_plan = any(p.edge for p in placed.pools.values())
    skipped: set[str] = set()
    if case == "nothing":
        for t in graph.tasks:
            source = t.patch.task if t.patch is not None else None
            if t.id in guarded or (source in producers and t.patch.kind == "each") or source in skipped:
                skipped.add(t.id)
    frame_s = transfer_seconds(link.frame_bytes, uplink_mbps)
    crop_s = transfer_seconds(link.crop_bytes, uplink_mbps)
    pool_of = {t.id: placed.pools[placed.placements[t.id].pool] for t in graph.tasks}
    answer_pool = placed.pools[placed.answer.pool]
    # The frame goes up unless only edge steps and offloaded (crop-fed) steps run and the answer is on the edge.
    needs_frame = not edge_plan or not answer_pool.edge or any(
        not pool_of[t.id].edge and t.id not in skipped and t.id not in fed for t in graph.tasks)
    frame_ready = frame_s if needs_frame else 0.0
    start = frame_ready if not edge_plan else 0.0  # cloud-only: the frame is stored before the workflow starts
    crops = _crops(graph, fed, skipped, model.fanout)
    uplink_bytes = (link.frame_bytes if needs_frame else 0.0) + sum(crops.values()) * link.crop_bytes
    finish: dict[str, float] = {}
    steps: list[tuple[str, str]] = []
    usd = 0.0
    link_free = frame_ready  # one transfer at a time: crops queue behind the frame
    sent: dict[str, float] = {}
    device_free = 0.0
    for t in graph.tasks:
        if t.id in skipped:
            continue
        spec, pool = registry.get(t.operator), pool_of[t.id]
        ready = max((finish[d] for d in t.depends), default=start)
        if t.id in fed:
            source = fed[t.id]
            if source not in sent:  # the detection's crops go up once, however many tasks use them
                sent[source] = link_free = max(finish[source], link_free) + crops[source] * crop_s
            ready = max(ready, sent[source])
        elif not pool.edge:
            ready = max(ready, frame_ready)
        call = latency(spec, pool)
        extra = spec.profile.model_load_s if mode == "pods" else model.request_overhead_s
        if spec.uses_gpu:
            seconds = model.step_start_s + extra + call
            held = seconds if mode == "pods" else extra + call
        else:
            seconds, held = model.step_start_s + call, 0.0
        n = model.fanout if t.fanout is not None else 1
        if pool.edge and spec.uses_gpu:  # one device: its GPU work (and a fan-out's elements) one at a time
            cpu_part, gpu_part = (0.0, seconds) if mode == "pods" else (model.step_start_s, extra + call)
            device_free = max(ready + cpu_part, device_free) + n * gpu_part
            finish[t.id] = device_free
        else:
            finish[t.id] = ready + seconds
        if not pool.edge:
            usd += n * held * price_per_s(pool)
        steps.extend((f"{t.id}[{i}]" if t.fanout is not None else t.id, pool.name) for i in range(n))
    answer_ready = max([*finish.values(), start if answer_pool.edge else frame_ready])
    latency_s = answer_ready + model.step_start_s + model.answer_run_s
    steps.append(("answer", answer_pool.name))
    return PlanFigures(latency_s=latency_s, uplink_bytes=uplink_bytes, cloud_usd=usd, steps=tuple(steps),
                       skipped=tuple(t.id for t in graph.tasks if t.id in skipped))


def _crops(graph, fed: dict[str, str], skipped: set[str], fanout: int) -> dict[str, int]:
    """Crops sent per edge detection: all ``fanout`` boxes for a fan-out over it, else one per index used
    (what the edge step selects, :func:`dicec.placement.edge.crop_selection`)."""
    from dicec.placement.edge import crop_selection

    running = {t: s for t, s in fed.items() if t not in skipped}
    return {s: fanout if w is None else min(fanout, len(w)) for s, w in crop_selection(graph, running).items()}


def edge_report(edge_placed, cloud_placed, registry, model: TimingModel, link: LinkModel, *, mode: str,
                hit_rate: float, frames: int = 1000, name: str = "") -> dict[str, Any]:
    """Both plans in both cases, the stream of ``frames`` frames at ``hit_rate``, and the break-even uplink."""
    from dicec.placement.edge import offload_guards

    if isinstance(hit_rate, bool) or not isinstance(hit_rate, (int, float)) or not 0 <= hit_rate <= 1:
        raise DicecError(f"--hit-rate must be a fraction between 0 and 1 (got {hit_rate!r})")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise DicecError(f"--frames must be a whole number >= 1 (got {frames!r})")
    edges = [p for p in edge_placed.pools.values() if p.edge]
    uplinks = [p.uplink_mbps for p in edges if p.uplink_mbps]
    mbps = link.uplink_mbps or (uplinks[0] if uplinks else None)
    if mbps is None:
        raise DicecError("the plan uses no edge pool, so it has no uplink: give --uplink-mbps, or place the "
                         "question on a catalogue with an edge pool (edge: true)")
    producers = set(offload_guards(edge_placed).values())

    def both(mbps_: float) -> dict[str, dict[str, PlanFigures]]:
        return {case: {"edge_cloud": plan_figures(edge_placed, registry, model, link, mode=mode, case=case,
                                                  producers=producers, uplink_mbps=mbps_),
                       "cloud_only": plan_figures(cloud_placed, registry, model, link, mode=mode, case=case,
                                                  producers=producers, uplink_mbps=mbps_)}
                for case in CASES}

    figures = both(mbps)
    cases = {}
    for case, pair in figures.items():
        e, c = pair["edge_cloud"], pair["cloud_only"]
        cases[case] = {"edge_cloud": e.to_json(), "cloud_only": c.to_json(), **_compare(e, c)}
    stream = {}
    for plan in ("edge_cloud", "cloud_only"):
        f, n = figures["found"][plan], figures["nothing"][plan]
        stream[plan] = {
            "latency_s_mean": round(hit_rate * f.latency_s + (1 - hit_rate) * n.latency_s, 6),
            "uplink_bytes": round(frames * (hit_rate * f.uplink_bytes + (1 - hit_rate) * n.uplink_bytes), 3),
            "cloud_usd": round(frames * (hit_rate * f.cloud_usd + (1 - hit_rate) * n.cloud_usd), 10)}
    e, c = stream["edge_cloud"], stream["cloud_only"]
    stream["latency_speedup"] = round(c["latency_s_mean"] / e["latency_s_mean"], 6) if e["latency_s_mean"] else None
    stream["uplink_bytes_saved"] = round(1 - e["uplink_bytes"] / c["uplink_bytes"], 6) if c["uplink_bytes"] else None
    stream["cloud_usd_saved"] = round(1 - e["cloud_usd"] / c["cloud_usd"], 6) if c["cloud_usd"] else None
    return {
        "version": REPORT_VERSION, "kind": REPORT_KIND, "input": name or edge_placed.graph.path, "mode": mode,
        "uplink_mbps": mbps, "link": link.to_json(), "timing_model": model.to_json(),
        "edge_pools": sorted(p.name for p in edges),
        "offloaded": dict(sorted(offload_guards(edge_placed).items())),
        "cases": cases, "hit_rate": hit_rate, "frames": frames, "stream": stream,
        "break_even_uplink_mbps": _break_even(lambda m: both(m)["nothing"], DICE_M["latency_speedup_nothing_found"]),
        "dice_m": DICE_M,
    }


def stream_at_loads(edge_placed, cloud_placed, registry, catalogue, model: TimingModel, *, mode: str,
                    hit_rate: float, loads: tuple[float, ...]) -> dict[str, dict[float, float]]:
    """Cloud dollars per frame of both plans for a stream at each load (frames per hour), as ``dicec cost``
    prices a day (:func:`dicec.timing.bill.stream_bill`: always-on cloud servers billed busy or idle, CPU
    pods priced, the edge device not billed): ``hit_rate`` of the frames as the *found* case, the rest as
    *nothing*, where every fan-out over an edge detection has no elements (in both plans). Tasks on one
    element of an edge detection (``patches[i]``), which the edge plan's guard also skips, are counted
    as running: the edge plan's figure is, if anything, high."""
    from dataclasses import replace

    from dicec.placement.edge import offload_guards
    from dicec.timing.bill import stream_bill
    from dicec.timing.job import build_job

    if isinstance(hit_rate, bool) or not isinstance(hit_rate, (int, float)) or not 0 <= hit_rate <= 1:
        raise DicecError(f"--hit-rate must be a fraction between 0 and 1 (got {hit_rate!r})")
    producers = set(offload_guards(edge_placed).values())
    empty = {t.id: 0 for t in edge_placed.graph.tasks if t.fanout in producers}
    nothing = replace(model, widths={**model.widths, **empty})
    out: dict[str, dict[float, float]] = {}
    for plan, placed in (("edge_cloud", edge_placed), ("cloud_only", cloud_placed)):
        mix = [(build_job(placed, registry, model, mode=mode, serial=False), float(hit_rate)),
               (build_job(placed, registry, nothing, mode=mode, serial=False), 1.0 - hit_rate)]
        out[plan] = {load: stream_bill(mix, load, model, cpu_pool=catalogue.cpu_pool()).per_query_usd
                     for load in loads}
    return out


def _compare(e: PlanFigures, c: PlanFigures) -> dict[str, Any]:
    return {"latency_speedup": round(c.latency_s / e.latency_s, 6) if e.latency_s else None,
            "uplink_bytes_saved": round(1 - e.uplink_bytes / c.uplink_bytes, 6) if c.uplink_bytes else None,
            "cloud_usd_saved": round(1 - e.cloud_usd / c.cloud_usd, 6) if c.cloud_usd else None}


def _break_even(pair_at, target: float) -> float | None:
    """The fastest uplink (Mbit/s) at which cloud-only is ``target`` times slower when nothing is found.

    Cloud-only waits for the whole frame, so a slower uplink only widens the gap; ``None`` when even
    0.01 Mbit/s does not reach ``target``, or the edge plan is that much faster at any speed up to 10 Gbit/s.
    """
    def ratio(mbps: float) -> float:
        pair = pair_at(mbps)
        return pair["cloud_only"].latency_s / pair["edge_cloud"].latency_s

    low, high = 0.01, 10000.0
    if ratio(low) < target:
        return None
    if ratio(high) >= target:
        return None
    for _ in range(60):
        mid = (low * high) ** 0.5
        low, high = (mid, high) if ratio(mid) >= target else (low, mid)
    return round(low, 3)
