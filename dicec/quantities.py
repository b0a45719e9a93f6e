"""Kubernetes resource quantities (``500m``, ``2``, ``8Gi``, ``1e3``), as the API server parses them.

The grammar is ``k8s.io/apimachinery/pkg/api/resource.Quantity``'s (quantity.go, suffix.go)::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>        <sign> ::= "+" | "-"
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>

``n`` and ``u`` are in the parser's suffix table though the grammar's comment omits them; the parser
reads an exponent as an integer (``strconv.ParseInt``), so ``1e3`` and ``1E-2`` are quantities and
``1e1.5`` is not. No spaces, no other units (``16 gigs``, ``16GB``, ``one`` are refused).

Emission checks the quantities it writes with :func:`parse_quantity`; ``dicec validate`` checks every
field Argo's schema types as a Quantity against :data:`QUANTITY_PATTERN` and the resource rules
Kubernetes adds (:mod:`dicec.validate.quantities`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3),
            "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}
#: The whole grammar as one regular expression (Python's ``re``; ``\\Z``: no trailing newline either).
QUANTITY_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?\Z"
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+|)\Z")
#: What a message suggests instead.
EXAMPLES = "e.g. 500m, 2, 512Mi, 8Gi"


def parse_quantity(value: object) -> Decimal | None:
    """The value of a quantity (a string of the grammar, or a YAML number), or ``None`` when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    number, suffix = match.groups()
    try:
        if suffix[:1] in ("e", "E") and suffix not in _BINARY and len(suffix) > 1:
            return Decimal(number).scaleb(int(suffix[1:]))
        return Decimal(number) * (_BINARY.get(suffix) or _DECIMAL[suffix])
    except (InvalidOperation, OverflowError, ValueError):
        return None
