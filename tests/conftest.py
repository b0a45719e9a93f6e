"""Shared fixtures: registries (built-in and synthetic) and the pool catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import SYNTHETIC_OPERATORS, write_operator


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("operators")
    for name, (forms, mem) in SYNTHETIC_OPERATORS.items():
        write_operator(folder, name, forms, mem)
    return folder


@pytest.fixture(scope="session")
def registry(synthetic_dir):
    """The eight ViperGPT operators with synthetic figures (no built-ins, no entry points)."""
    from dicec.tools import discover

    return discover([synthetic_dir], builtin=False, entry_points=False)


@pytest.fixture(scope="session")
def builtin_registry():
    """What a user gets: the shipped operators."""
    from dicec.tools import discover

    return discover()


@pytest.fixture(scope="session")
def pools():
    from dicec.placement import load_pools

    return load_pools()
