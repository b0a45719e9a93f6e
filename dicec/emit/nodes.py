"""Where an emitted pod runs: its ``nodeSelector`` and ``tolerations``, from its pool (labels, arch, spot).

Every step template, model server and batch stage pod of a pool selects the pool's ``node_labels`` and
tolerates its ``taints`` (the catalogue, :mod:`dicec.placement.pools`), and also:

* its CPU architecture, ``kubernetes.io/arch: ARCH`` (the well-known label the kubelet sets): a container
  image is built for one architecture (:mod:`dicec.emit.images`), so an amd64 step must not land on an
  arm64 node of a mixed cluster, nor a Jetson's step on an x86 node;
* under ``--spot``, on a pool the placement priced at its spot rate (one that lists ``spot_usd_per_hour``),
  the pool's spot-node labels and taints (``spot: {node_labels, taints}`` in the catalogue, per cloud under
  ``clouds.NAME.spot``): the pods go where the price was counted. A pool priced at spot with no spot labels
  is refused in one line rather than emitted onto on-demand nodes at a spot price.
"""

from __future__ import annotations

from typing import Any

from dicec.errors import DicecError
from dicec.placement.pools import ARCH_LABEL


def node_selector(pool: Any, options: Any) -> dict[str, str]:
    """A step's ``nodeSelector`` on ``pool`` (keys sorted)."""
    labels = {**pool.node_labels, ARCH_LABEL: pool.arch}
    if pool.runs_spot(options.spot):
        if not pool.spot_node_labels:
            raise DicecError(f"--spot: pool {pool.name!r} is priced at its spot rate, but the catalogue names no labels "
                             "for its spot nodes (spot: {node_labels: ...}), so its steps could not be sent there")
        labels.update(pool.spot_node_labels)
    return dict(sorted(labels.items()))


def tolerations(pool: Any, options: Any) -> list[dict[str, str]]:
    """A step's ``tolerations`` on ``pool``: the pool's taints, and under ``--spot`` its spot nodes' (each as
    ``{key, operator, value?, effect}``)."""
    taints = [*pool.taints, *(pool.spot_taints if pool.runs_spot(options.spot) else ())]
    return [{"key": t["key"], "operator": t.get("operator", "Equal"),
             **({"value": t["value"]} if t.get("value") is not None else {}), "effect": t["effect"]} for t in taints]
