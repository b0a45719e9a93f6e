"""Kubernetes' quantity grammar (k8s.io/apimachinery resource.Quantity): a table of valid and invalid ones."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from dicec.quantities import QUANTITY_PATTERN, parse_quantity

VALID = {
    "0": 0, "1": 1, "500m": Decimal("0.5"), "0.5": Decimal("0.5"), ".5": Decimal("0.5"), "1.": 1, "1.G": 10**9,
    "+1": 1, "-1": -1, "1e3": 1000, "1E-3": Decimal("0.001"), "1e+3": 1000, "8Gi": 8 * 2**30, "1Ki": 1024,
    "2k": 2000, "3M": 3 * 10**6, "100n": Decimal("1E-7"), "5u": Decimal("0.000005"), "1.5Gi": 3 * 2**29,
    "2E": 2 * 10**18, "2P": 2 * 10**15, "1Ei": 2**60, "007": 7,
}
INVALID = ["", "one", "16 gigs", "16GB", "1KI", "1ki", "1K", "1e1.5", "e3", "1 Gi", " 1", "1Gi ", "1Gb", "1.5.2",
           "--1", "1m5", "Gi", "0x10", "1e", "1Gi\n", "1,5", "½", "1mi", "1Gi/s"]


@pytest.mark.parametrize("text, value", VALID.items())
def test_valid_quantities(text, value):
    assert parse_quantity(text) == value
    assert re.search(QUANTITY_PATTERN, text)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_quantities(text):
    assert parse_quantity(text) is None
    assert not re.search(QUANTITY_PATTERN, text)


def test_yaml_numbers_are_quantities_and_booleans_are_not():
    assert parse_quantity(2) == 2 and parse_quantity(0.5) == Decimal("0.5") and parse_quantity(True) is None
