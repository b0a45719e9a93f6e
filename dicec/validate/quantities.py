"""The rules Kubernetes adds to a container's resource quantities, which a schema cannot express.

Argo's schema (patched in :mod:`dicec.validate.schema`) checks every quantity's grammar. Pod
validation in the API server (``ValidateResourceRequirements``) then refuses, and Argo's pod for the
step fails at run time, when:

* a request or limit is negative;
* an extended resource (a name with a domain outside ``kubernetes.io``, such as ``nvidia.com/gpu``)
  is not a whole number, or has a request different from its limit (extended resources cannot be
  overcommitted);
* a request is above its limit.

:func:`resource_errors` finds these in every ``resources`` block of a document (containers, script
and init containers, sidecars, volume claim templates) and reports each at its value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

from dicec.quantities import parse_quantity
from dicec.validate.schema import SchemaError


def resource_errors(document: Any) -> list[SchemaError]:
    """Every resource rule ``document`` breaks, at the offending value (grammar errors are the schema's)."""
    out: list[SchemaError] = []
    for path, resources in _resource_blocks(document, ()):
        reported = len(out)
        requests, limits = resources.get("requests"), resources.get("limits")
        values = {side: {str(k): parse_quantity(v) for k, v in block.items()}
                  for side, block in (("requests", requests), ("limits", limits)) if isinstance(block, dict)}
        for side, block in values.items():
            for name, value in block.items():
                where = path + (side, name)
                if value is None:
                    continue
                if value < 0:
                    out.append(SchemaError(location=where, message=f"{name} {side[:-1]} must not be negative"))
                elif _extended(name) and value != value.to_integral_value():
                    out.append(SchemaError(location=where, message=f"{name} is an extended resource: its {side[:-1]} "
                                                                   "must be a whole number"))
        request_of, limit_of = values.get("requests", {}), values.get("limits", {})
        named = {e.location[-1] for e in out[reported:]}
        for name, request in request_of.items():
            limit = limit_of.get(name)
            if request is None or limit is None or name in named:
                continue
            if _extended(name) and request != limit:
                out.append(SchemaError(location=path + ("requests", name), message=f"{name} is an extended resource: "
                                       "its request must equal its limit"))
            elif request > limit:
                out.append(SchemaError(location=path + ("requests", name),
                                       message=f"{name} request is above its limit ({_shown(limits[name])})"))
    return out


def _extended(name: str) -> bool:
    """A resource named with a domain other than Kubernetes' own (``nvidia.com/gpu``, ``example.com/foo``)."""
    domain, slash, _ = name.partition("/")
    return bool(slash) and not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io")) \
        and not name.startswith("requests.")


def _shown(value: Any) -> str:
    return str(value) if not isinstance(value, Decimal) else format(value, "f")


def _resource_blocks(node: Any, path: tuple) -> Iterator[tuple[tuple, dict]]:
    """(path, block) for every ``resources:`` mapping holding ``requests`` or ``limits`` mappings."""
    if isinstance(node, dict):
        block = node.get("resources")
        if isinstance(block, dict) and any(isinstance(block.get(k), dict) for k in ("requests", "limits")):
            yield path + ("resources",), block
        for key, value in node.items():
            yield from _resource_blocks(value, path + (key,))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _resource_blocks(item, path + (i,))
