"""The pool catalogue: the kinds of node a workflow's steps can be placed on.

A pool is a GPU class on a node group: its GPU memory, hourly price (on demand, and spot where
listed), the node labels that select it and the taints its nodes carry, and for a GPU class the
datasheet figures an operator's latency is derived from where its spec lists none (dense FP16 tensor
TFLOPS and memory bandwidth, :mod:`dicec.timing.figures`); a CPU pool says its node's vCPUs and
memory, so that a pod is priced at its requested share of a node. GPU classes are data: a catalogue
may name any class. The default catalogue ships in ``data/pools.yaml`` with a source for every price
and figure; ``--pools FILE`` replaces it. Validation happens where the catalogue is read, so a typo
or a negative price is one clear error naming the file.

A GPU pool without a price (``usd_per_hour: null``; e.g. a node class ``dicec pools --from-cluster``
found but has no price for) is kept but never chosen: placement picks only priced cloud pools.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dicec.errors import DicecError, Location
from dicec.files import read_text
from dicec.tools.spec import EDGE_GPU_CLASSES, GPU_CLASS_NAME

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
_POOL_KEYS = {"name", "gpu_class", "gpu_memory_gb", "usd_per_hour", "spot_usd_per_hour", "node_labels",
              "taints", "max_nodes", "source", "as_of", "clouds", "edge", "uplink_mbps", "fp16_tensor_tflops",
              "memory_bandwidth_gbps", "datasheet", "vcpus", "memory_gib", "arch", "spot"}
_CLOUD_KEYS = {"node_labels", "taints", "spot"}
_SPOT_KEYS = {"node_labels", "taints"}
#: The well-known node label (set by the kubelet) that names a node's CPU architecture (Go's GOARCH).
ARCH_LABEL = "kubernetes.io/arch"
ARCHES = ("amd64", "arm64", "ppc64le", "s390x")
DEFAULT_ARCH = "amd64"
_TAINT_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}


@dataclass(frozen=True, kw_only=True)
class Pool:
    """One node pool.

    Attributes:
        name: the pool's name (a DNS label), used in reports and emitted labels.
        gpu_class: the GPU class (any class name, e.g. A100, T4, L40S), or ``None`` for a CPU pool.
        gpu_memory_gb: memory of one GPU (0 for a CPU pool).
        usd_per_hour: on-demand price of one GPU node, or ``None`` when not priced.
        spot_usd_per_hour: the spot price, when the provider lists one.
        node_labels: labels a pod's ``nodeSelector`` uses to land on this pool.
        taints: the taints its nodes carry (each ``{key, operator, value?, effect}``); emitted as tolerations.
        max_nodes: how many nodes the pool may grow to, or ``None`` for no stated limit.
        source: where the price came from.
        as_of: when the price was read.
        clouds: per cloud (``gke``, ``eks``, ...), the ``node_labels`` and ``taints`` that cloud's
            nodes of this GPU carry instead (``load_pools(..., cloud=NAME)`` applies them).
        edge: an edge device (e.g. a Jetson on a vessel), not a cloud node group: no hourly price,
            tasks go there only as :mod:`dicec.placement.edge` decides, never as a cheapest fit.
        uplink_mbps: an edge pool's uplink to the cloud, in Mbit/s (what offloaded crops travel over).
        fp16_tensor_tflops: a GPU's dense FP16 tensor-core peak, in TFLOPS (datasheet), or ``None``.
        memory_bandwidth_gbps: a GPU's memory bandwidth, in GB/s (datasheet), or ``None``.
        datasheet: where those two figures (and the GPU memory) come from.
        vcpus: vCPUs of one node (a CPU pool needs it to price pods by their share), or ``None``.
        memory_gib: memory of one node in GiB, or ``None``.
        arch: the nodes' CPU architecture, as the kubelet labels it (``kubernetes.io/arch``: ``amd64``, ``arm64``
            for a Jetson): every step on the pool selects it, and runs an image built for it.
        spot_node_labels: the labels that select this pool's *spot* nodes, added to a step's ``nodeSelector``
            by ``--spot`` where the pool has a spot price (``spot: {node_labels: ...}`` in the catalogue).
        spot_taints: the taints those spot nodes carry (tolerated under ``--spot``).
    """

    name: str
    gpu_class: str | None
    gpu_memory_gb: float
    usd_per_hour: float | None
    spot_usd_per_hour: float | None = None
    node_labels: dict[str, str]
    taints: tuple[dict[str, str], ...] = ()
    max_nodes: int | None = None
    source: str = ""
    as_of: str = ""
    clouds: dict[str, dict[str, Any]] | None = None
    edge: bool = False
    uplink_mbps: float | None = None
    fp16_tensor_tflops: float | None = None
    memory_bandwidth_gbps: float | None = None
    datasheet: str = ""
    vcpus: float | None = None
    memory_gib: float | None = None
    arch: str = DEFAULT_ARCH
    spot_node_labels: dict[str, str] = field(default_factory=dict)
    spot_taints: tuple[dict[str, str], ...] = ()

    @property
    def has_gpu(self) -> bool:
        return self.gpu_class is not None

    @property
    def choosable(self) -> bool:
        """Whether placement may choose it as a cheapest fit: a priced cloud GPU pool."""
        return self.has_gpu and not self.edge and self.usd_per_hour is not None

    def hourly(self, *, spot: bool = False) -> float | None:
        """The price per hour: the spot price when ``spot`` and one is listed, else on demand."""
        if spot and self.spot_usd_per_hour is not None:
            return self.spot_usd_per_hour
        return self.usd_per_hour

    def runs_spot(self, spot: bool) -> bool:
        """Whether a step placed here under ``spot`` runs on the pool's spot nodes: asked, and a spot price listed."""
        return spot and self.spot_usd_per_hour is not None

    def usd_for(self, seconds: float, *, spot: bool = False) -> float | None:
        """Dollars for ``seconds`` on this pool (rounded to 8 places, as placed graphs store them);
        ``None`` when the pool has no price."""
        hourly = self.hourly(spot=spot)
        return None if hourly is None else round(seconds * hourly / 3600.0, 8)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "gpu_class": self.gpu_class, "gpu_memory_gb": self.gpu_memory_gb,
                "usd_per_hour": self.usd_per_hour, "spot_usd_per_hour": self.spot_usd_per_hour,
                "node_labels": dict(sorted(self.node_labels.items())), "taints": [dict(t) for t in self.taints],
                "max_nodes": self.max_nodes, "source": self.source, "as_of": self.as_of,
                **({"clouds": self.clouds} if self.clouds else {}),
                **({"edge": True, "uplink_mbps": self.uplink_mbps} if self.edge else {}),
                **({"fp16_tensor_tflops": self.fp16_tensor_tflops, "memory_bandwidth_gbps": self.memory_bandwidth_gbps,
                    "datasheet": self.datasheet} if self.fp16_tensor_tflops or self.memory_bandwidth_gbps else {}),
                **({"vcpus": self.vcpus, "memory_gib": self.memory_gib} if self.vcpus or self.memory_gib else {}),
                **({"arch": self.arch} if self.arch != DEFAULT_ARCH else {}),
                **({"spot": {"node_labels": dict(sorted(self.spot_node_labels.items())),
                             "taints": [dict(t) for t in self.spot_taints]}}
                   if self.spot_node_labels or self.spot_taints else {})}


@dataclass(frozen=True, kw_only=True)
class PoolCatalogue:
    """The pools a run may place on.

    Attributes:
        pools: in file order, names unique.
        path: the file it was read from (``<default>`` for the shipped one).
    """

    pools: tuple[Pool, ...]
    path: str

    def get(self, name: str) -> Pool:
        for p in self.pools:
            if p.name == name:
                return p
        raise DicecError(f"no pool named {name!r} in {self.path} (pools: {', '.join(p.name for p in self.pools)})")

    def cpu_pool(self) -> Pool | None:
        return min((p for p in self.pools if not p.has_gpu and not p.edge), key=_price_key, default=None)

    def cheapest_fitting(self, gpu_memory_gb: float, runs=None, *, spot: bool = False) -> Pool | None:
        """The cheapest choosable GPU pool with at least ``gpu_memory_gb`` per GPU on which ``runs(pool)``
        holds (when given); spot prices if asked. Ties go to the larger GPU memory, then the pool name,
        so the choice does not depend on the catalogue's order."""
        return min(self.fitting(gpu_memory_gb, runs), key=lambda p: (_price_key(p, spot), -p.gpu_memory_gb, p.name),
                   default=None)

    def fitting(self, gpu_memory_gb: float, runs=None) -> list[Pool]:
        """The choosable GPU pools (file order) with at least ``gpu_memory_gb`` per GPU on which ``runs(pool)``
        holds (when given): e.g. :func:`dicec.timing.figures.fits` for an operator."""
        return [p for p in self.pools if p.choosable and p.gpu_memory_gb >= gpu_memory_gb
                and (runs is None or runs(p))]


def _price_key(p: Pool, spot: bool = False) -> float:
    hourly = p.hourly(spot=spot)
    return hourly if hourly is not None else 0.0


def default_pools_path() -> Path:
    return Path(str(importlib.resources.files("dicec.placement") / "data" / "pools.yaml"))


def load_pools(path: str | Path | None = None, *, cloud: str | None = None) -> PoolCatalogue:
    """Read a pool catalogue (the shipped default when ``path`` is ``None``).

    ``cloud`` (e.g. ``gke``) replaces each GPU pool's labels and taints by its ``clouds`` entry for
    that cloud and leaves out GPU pools with no entry (that cloud does not offer the GPU).
    """
    shown = "<default pools>" if path is None else str(path)
    text = default_pools_path().read_text(encoding="utf-8") if path is None else read_text(path, what="pool catalogue")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DicecError(f"pool catalogue is not valid YAML: {getattr(exc, 'problem', exc)}",
                         location=Location(path=shown, line=mark.line + 1 if mark else None)) from None
    catalogue = parse_pools(raw, path=shown)
    return catalogue if cloud is None else for_cloud(catalogue, cloud)


def for_cloud(catalogue: PoolCatalogue, cloud: str) -> PoolCatalogue:
    """The catalogue as ``cloud``'s nodes are labelled (see :func:`load_pools`)."""
    from dataclasses import replace

    known = sorted({c for p in catalogue.pools for c in (p.clouds or {})})
    if cloud not in known:
        raise DicecError(f"pool catalogue: no pool lists labels for cloud {cloud!r} "
                         f"(clouds listed: {', '.join(known) or 'none'})", location=Location(path=catalogue.path))
    pools = []
    for p in catalogue.pools:
        entry = (p.clouds or {}).get(cloud)
        if entry is None:
            if not p.has_gpu or p.edge:
                pools.append(p)
            continue
        spot = entry.get("spot") or {}  # that cloud's spot nodes, or none (the default's labels are not its own)
        pools.append(replace(p, node_labels=dict(entry.get("node_labels", p.node_labels)),
                             taints=tuple(entry.get("taints", p.taints)),
                             spot_node_labels=dict(spot.get("node_labels", {})),
                             spot_taints=tuple(spot.get("taints", ()))))
    return PoolCatalogue(pools=tuple(pools), path=f"{catalogue.path} (cloud {cloud})")


def parse_pools(raw: Any, *, path: str) -> PoolCatalogue:
    """Validate a decoded catalogue mapping."""
    where = Location(path=path)

    def fail(msg: str) -> DicecError:
        return DicecError(f"pool catalogue: {msg}", location=where)

    if not isinstance(raw, dict) or raw.get("version") != 1 or not isinstance(raw.get("pools"), list):
        raise fail("expected 'version: 1' and a 'pools:' list")
    if set(raw) - {"version", "pools"}:
        raise fail(f"unknown key {sorted(set(raw) - {'version', 'pools'})[0]!r}")
    pools, names = [], set()
    for i, item in enumerate(raw["pools"]):
        if not isinstance(item, dict):
            raise fail(f"pools[{i}] must be a mapping")
        label = f"pool {item.get('name', i)!r}"
        unknown = sorted(set(item) - _POOL_KEYS)
        if unknown:
            raise fail(f"{label}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_POOL_KEYS))})")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise fail(f"pools[{i}]: 'name' must be a lower-case DNS label of at most 32 characters")
        if name in names:
            raise fail(f"{label} appears twice")
        names.add(name)
        gpu_class = item.get("gpu_class")
        edge = item.get("edge", False)
        if not isinstance(edge, bool):
            raise fail(f"{label}: edge must be true or false")
        if gpu_class is not None and (not isinstance(gpu_class, str) or not GPU_CLASS_NAME.match(gpu_class)
                                      or gpu_class == "CPU"):
            raise fail(f"{label}: gpu_class must be a GPU class name (letters, digits, '-', '_', '.'; e.g. A100, "
                       f"T4, L40S) or null, not {gpu_class!r}")
        if gpu_class in EDGE_GPU_CLASSES and not edge:
            raise fail(f"{label}: gpu_class {gpu_class} is an edge GPU class (an edge GPU class needs edge: true)")
        mem = _number(item.get("gpu_memory_gb"), f"{label}: gpu_memory_gb", fail)
        if (gpu_class is None) != (mem == 0):
            raise fail(f"{label}: a GPU pool needs gpu_memory_gb > 0 and a CPU pool (gpu_class null) needs 0")
        price = _optional_number(item.get("usd_per_hour"), f"{label}: usd_per_hour", fail)
        uplink = _optional_number(item.get("uplink_mbps"), f"{label}: uplink_mbps", fail)
        if edge and (price is not None or not uplink):
            raise fail(f"{label}: an edge pool has no hourly price (usd_per_hour: null) and needs uplink_mbps > 0")
        if not edge and uplink is not None:
            raise fail(f"{label}: uplink_mbps is only for an edge pool (edge: true)")
        spot = _optional_number(item.get("spot_usd_per_hour"), f"{label}: spot_usd_per_hour", fail)
        labels = item.get("node_labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise fail(f"{label}: node_labels must map strings to strings")
        taints = item.get("taints") or []
        if not isinstance(taints, list):
            raise fail(f"{label}: taints must be a list")
        _check_taints(taints, label, fail)
        max_nodes = item.get("max_nodes")
        if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1):
            raise fail(f"{label}: max_nodes must be a whole number >= 1")
        clouds = _clouds(item.get("clouds"), label, fail)
        spot_labels, spot_taints = _spot(item.get("spot"), label, fail)
        arch = item.get("arch", labels.get(ARCH_LABEL, DEFAULT_ARCH))
        if arch not in ARCHES:
            raise fail(f"{label}: arch must be one of {', '.join(ARCHES)} (kubernetes.io/arch), not {arch!r}")
        if labels.get(ARCH_LABEL, arch) != arch:
            raise fail(f"{label}: arch {arch} but node_labels say {ARCH_LABEL}: {labels[ARCH_LABEL]}")
        figures = {k: _optional_number(item.get(k), f"{label}: {k}", fail)
                   for k in ("fp16_tensor_tflops", "memory_bandwidth_gbps", "vcpus", "memory_gib")}
        if gpu_class is None and (figures["fp16_tensor_tflops"] or figures["memory_bandwidth_gbps"]):
            raise fail(f"{label}: fp16_tensor_tflops and memory_bandwidth_gbps are a GPU's figures; a CPU pool has none")
        if (figures["fp16_tensor_tflops"] or figures["memory_bandwidth_gbps"]) and not str(item.get("datasheet") or "").strip():
            raise fail(f"{label}: fp16_tensor_tflops and memory_bandwidth_gbps need their source (datasheet: ...)")
        if (figures["vcpus"] is None) != (figures["memory_gib"] is None) or 0 in (figures["vcpus"], figures["memory_gib"]):
            raise fail(f"{label}: vcpus and memory_gib (one node's size) go together and must be > 0")
        pools.append(Pool(name=name, gpu_class=gpu_class, gpu_memory_gb=mem, usd_per_hour=price,
                          spot_usd_per_hour=spot, node_labels={str(k): str(v) for k, v in labels.items()},
                          taints=tuple({k: str(v) for k, v in t.items()} for t in taints), max_nodes=max_nodes,
                          source=str(item.get("source") or ""), as_of=str(item.get("as_of") or ""),
                          clouds=clouds, edge=edge, uplink_mbps=uplink,
                          fp16_tensor_tflops=figures["fp16_tensor_tflops"] or None,
                          memory_bandwidth_gbps=figures["memory_bandwidth_gbps"] or None,
                          datasheet=" ".join(str(item.get("datasheet") or "").split()),
                          vcpus=figures["vcpus"], memory_gib=figures["memory_gib"], arch=arch,
                          spot_node_labels=spot_labels, spot_taints=spot_taints))
    if not any(p.has_gpu for p in pools):
        raise fail("no GPU pool: at least one pool needs a gpu_class")
    return PoolCatalogue(pools=tuple(pools), path=path)


def _check_taints(taints: Any, label: str, fail) -> None:
    if not isinstance(taints, list):
        raise fail(f"{label}: taints must be a list")
    for t in taints:
        if not isinstance(t, dict) or not isinstance(t.get("key"), str) or t.get("effect") not in _TAINT_EFFECTS \
                or set(t) - {"key", "operator", "value", "effect"} or t.get("operator", "Equal") not in ("Equal", "Exists"):
            raise fail(f"{label}: each taint needs key, effect ({', '.join(sorted(_TAINT_EFFECTS))}), "
                       "and operator Equal (with value) or Exists")


def _spot(raw: Any, label: str, fail) -> tuple[dict[str, str], tuple[dict[str, str], ...]]:
    """Validate a ``spot:`` entry (``{node_labels, taints}`` of the pool's spot nodes): (labels, taints)."""
    if raw is None:
        return {}, ()
    if not isinstance(raw, dict) or set(raw) - _SPOT_KEYS:
        raise fail(f"{label}: spot must be a mapping of node_labels (and taints) that select the pool's spot nodes")
    labels = raw.get("node_labels", {})
    if not isinstance(labels, dict) or not labels or not all(isinstance(k, str) and isinstance(v, str)
                                                             for k, v in labels.items()):
        raise fail(f"{label}: spot.node_labels must map strings to strings (at least one label)")
    taints = raw.get("taints", [])
    _check_taints(taints, f"{label}: spot", fail)
    return dict(labels), tuple({k: str(v) for k, v in t.items()} for t in taints)


def _clouds(raw: Any, label: str, fail) -> dict[str, dict[str, Any]] | None:
    """Validate a pool's ``clouds:`` mapping: cloud name -> {node_labels, taints}."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise fail(f"{label}: clouds must map a cloud name to its node_labels and taints")
    out = {}
    for cloud, entry in raw.items():
        if not isinstance(cloud, str) or not _NAME.match(cloud) or not isinstance(entry, dict):
            raise fail(f"{label}: clouds: {cloud!r} must be a lower-case name mapping to node_labels/taints")
        unknown = sorted(set(entry) - _CLOUD_KEYS)
        if unknown:
            raise fail(f"{label}: clouds.{cloud}: unknown key {unknown[0]!r} (known: node_labels, taints, spot)")
        labels = entry.get("node_labels", {})
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise fail(f"{label}: clouds.{cloud}.node_labels must map strings to strings")
        taints = entry.get("taints", [])
        _check_taints(taints, f"{label}: clouds.{cloud}", fail)
        out[cloud] = {"node_labels": dict(labels), "taints": [{k: str(v) for k, v in t.items()} for t in taints]}
        if entry.get("spot") is not None:
            spot_labels, spot_taints = _spot(entry["spot"], f"{label}: clouds.{cloud}", fail)
            out[cloud]["spot"] = {"node_labels": spot_labels, "taints": [dict(t) for t in spot_taints]}
    return out


def _number(value: Any, what: str, fail) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"{what} must be a number")
    if value < 0:
        raise fail(f"{what} must not be negative (got {value})")
    return float(value)


def _optional_number(value: Any, what: str, fail) -> float | None:
    return None if value is None else _number(value, what, fail)
