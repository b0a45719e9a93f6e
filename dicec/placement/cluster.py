"""A pool catalogue read from a live cluster's nodes, through the Kubernetes API.

Each GPU node (allocatable ``nvidia.com/gpu`` > 0) is grouped by its GPU product label: GPU feature
discovery's ``nvidia.com/gpu.product`` or GKE's ``cloud.google.com/gke-accelerator``. A group becomes a
pool: its GPU class from the product name -- a word of it (``NVIDIA-L40S``: L40S; ``nvidia-tesla-t4``:
T4) that names a class of the default catalogue (GPU classes are data: whatever classes the catalogue
ships) --, its GPU memory from GPU feature discovery's ``nvidia.com/gpu.memory`` label (MiB), else
from the product name (``...-80gb``), else from the default catalogue's pool of that class, the
product label as its node selector, the taints all its nodes share, and the node count as
``max_nodes``. Nodes do not carry prices, so each pool takes the price and datasheet figures of the
default catalogue's pool of the same class and nearest memory, and says so in its ``source``.

A product the default catalogue has no class for is kept too, as a pool of its own class (its product
name, upper-cased), with no price and no datasheet figures: placement never chooses it until someone
adds them (or operators list a latency for the class), and :func:`catalogue_from_nodes` says so in
one line per such pool. The kubernetes package is imported only here, and only when this is called.
"""

from __future__ import annotations

import re
from typing import Any

from dicec.errors import DicecError

PRODUCT_LABELS = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator")
MEMORY_LABEL = "nvidia.com/gpu.memory"
GPU_RESOURCE = "nvidia.com/gpu"


def read_nodes(*, kubeconfig: str | None = None, context: str | None = None) -> list[dict[str, Any]]:
    """The cluster's nodes as plain dicts (``metadata``, ``spec``, ``status``), via the kubernetes client."""
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:  # pragma: no cover - kubernetes is a dependency
        raise DicecError("reading a cluster needs the kubernetes package (pip install kubernetes)") from None
    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        raise DicecError(f"cannot load the kubeconfig{f' {kubeconfig}' if kubeconfig else ''}: {exc}") from None
    api = client.CoreV1Api(client.ApiClient(configuration))
    try:
        items = api.list_node(_request_timeout=10).items
    except client.exceptions.ApiException as exc:
        raise DicecError(f"the Kubernetes API refused to list nodes: {exc.status} {exc.reason}") from None
    except Exception as exc:  # urllib3 connection errors and the like: one line, not a traceback
        raise DicecError(f"cannot reach the Kubernetes API at {configuration.host}: {type(exc).__name__}") from None
    return [client.ApiClient().sanitize_for_serialization(n) for n in items]


def catalogue_from_nodes(nodes: list[dict[str, Any]], defaults) -> tuple[dict[str, Any], list[str]]:
    """A catalogue mapping (``version: 1``, ``pools``) for ``nodes``, and one line for each pool of a class
    the defaults carry no figures for (see the module docstring)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        if _count(allocatable.get(GPU_RESOURCE)) < 1:
            continue
        key = next(((k, labels[k]) for k in PRODUCT_LABELS if k in labels), None)
        if key is None:
            continue
        groups.setdefault((key[0], key[1], labels.get(MEMORY_LABEL, "")), []).append(node)
    if not groups:
        raise DicecError("the cluster has no GPU nodes dicec can use (no node has allocatable nvidia.com/gpu "
                         f"and a {' or '.join(PRODUCT_LABELS)} label)")
    cpu = defaults.cpu_pool()
    pools: list[dict[str, Any]] = [cpu.to_json() if cpu is not None else
                                   {"name": "cpu", "gpu_class": None, "gpu_memory_gb": 0, "usd_per_hour": None,
                                    "source": "CPU nodes are not priced"}]
    names: set[str] = {pools[0]["name"]}
    notes: list[str] = []
    known = sorted({p.gpu_class for p in defaults.pools if p.has_gpu and not p.edge}, key=lambda c: (-len(c), c))
    for (label, product, memory), members in sorted(groups.items()):
        gpu_class = gpu_class_of(product, known)
        named = re.search(r"(\d+)\s*gb", product.lower())
        if not memory.isdigit() and named:
            memory = str(int(named.group(1)) * 1024)  # e.g. GKE's nvidia-a100-80gb
        name = _unique(_slug(product), names)
        common = {"name": name, "node_labels": {label: product}, "taints": _shared_taints(members),
                  "max_nodes": len(members)}
        if gpu_class is None:
            gpu_class = _unknown_class(product)
            gb = round(int(memory) / 1024) if memory.isdigit() else None
            if gb is None:
                notes.append(f"skipped {len(members)} node(s) labelled {label}={product}: GPU class {gpu_class} is "
                             f"not in the default catalogue and no {MEMORY_LABEL} label says its memory")
                continue
            pools.append({**common, "gpu_class": gpu_class, "gpu_memory_gb": gb, "usd_per_hour": None,
                          "source": f"{len(members)} node(s) labelled {label}={product}; no price and no datasheet "
                                    "figures: dicec has none for this class"})
            notes.append(f"kept pool {name!r} ({len(members)} node(s), class {gpu_class}, {gb} GB) unpriced: nothing is "
                         f"placed there until it has usd_per_hour and fp16_tensor_tflops/memory_bandwidth_gbps "
                         f"(or operators list a {gpu_class} latency)")
            continue
        price_pool = _price_pool(defaults, gpu_class, memory)
        gb = round(int(memory) / 1024) if memory.isdigit() else price_pool.gpu_memory_gb
        figures = {k: v for k, v in price_pool.to_json().items()
                   if k in ("fp16_tensor_tflops", "memory_bandwidth_gbps", "datasheet")}
        pools.append({
            **common, "gpu_class": gpu_class, "gpu_memory_gb": gb,
            "usd_per_hour": price_pool.usd_per_hour, "spot_usd_per_hour": price_pool.spot_usd_per_hour, **figures,
            "source": f"{len(members)} node(s) labelled {label}={product}; price of the default pool "
                      f"{price_pool.name!r} ({price_pool.source})",
            "as_of": price_pool.as_of,
        })
    if len(pools) == 1:
        raise DicecError(f"the cluster's GPU nodes could not be read as pools ({'; '.join(notes)})")
    return {"version": 1, "pools": pools}, notes


def gpu_class_of(product: str, classes: list[str]) -> str | None:
    """The class of ``classes`` a word of the product name names (``NVIDIA-A100-PCIE-40GB``: A100), or ``None``."""
    words = {w for w in re.split(r"[^A-Z0-9]+", product.upper()) if w}
    for cls in classes:  # longest first, so L40S wins over L4 when both are words
        if cls.upper() in words:
            return cls
    return None


def _unknown_class(product: str) -> str:
    """A class name for a product the catalogue does not know: its words after the vendor's, upper-cased."""
    words = [w for w in re.split(r"[^A-Z0-9]+", product.upper()) if w and w not in ("NVIDIA", "TESLA", "GEFORCE")]
    return ("-".join(words) or "GPU")[:32].strip("-") or "GPU"


def _count(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _price_pool(defaults, gpu_class: str, memory: str):
    same = [p for p in defaults.pools if p.gpu_class == gpu_class]
    if not same:
        raise DicecError(f"{defaults.path}: no pool of class {gpu_class} to take a price from")
    want = int(memory) / 1024 if memory.isdigit() else 0
    return min(same, key=lambda p: (abs(p.gpu_memory_gb - want), p.usd_per_hour or 0.0))


def _shared_taints(nodes: list[dict]) -> list[dict[str, str]]:
    def taints(node):
        out = []
        for t in (node.get("spec") or {}).get("taints") or []:
            item = {"key": t["key"], "operator": "Equal" if t.get("value") else "Exists", "effect": t["effect"]}
            if t.get("value"):
                item["value"] = t["value"]
            out.append(item)
        return out

    first = taints(nodes[0])
    return [t for t in first if all(t in taints(n) for n in nodes[1:])]


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32].strip("-")
    return s or "gpu"


def _unique(name: str, taken: set[str]) -> str:
    out, i = name, 2
    while out in taken:
        out = f"{name[:29]}-{i}"
        i += 1
    taken.add(out)
    return out
