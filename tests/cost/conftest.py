"""A tiny catalogue with round prices, so every expected dollar figure can be worked out by hand."""

from __future__ import annotations

import textwrap

import pytest
from support import CAR_CHECK_PROGRAM

PROGRAM = CAR_CHECK_PROGRAM

#: small: A4000 16 GB at $0.36/h ($0.0001/s); big: A100 80 GB at $3.6/h ($0.001/s).
POOLS = textwrap.dedent("""
    version: 1
    pools:
      - {name: cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: null}
      - {name: small, gpu_class: A4000, gpu_memory_gb: 16, usd_per_hour: 0.36, node_labels: {gpu: small}}
      - {name: big, gpu_class: A100, gpu_memory_gb: 80, usd_per_hour: 3.6, spot_usd_per_hour: 1.8, node_labels: {gpu: big}}
""")


@pytest.fixture()
def small_big(tmp_path):
    from dicec.placement import load_pools

    path = tmp_path / "pools.yaml"
    path.write_text(POOLS)
    return load_pools(path)


@pytest.fixture()
def program_file(tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(PROGRAM)
    return path


@pytest.fixture()
def program():
    return PROGRAM


@pytest.fixture()
def pools_text():
    return POOLS
