"""The program and the tiny catalogue with round prices (support.SMALL_BIG_POOLS) as files for the verbs."""

from __future__ import annotations

import pytest
from support import CAR_CHECK_PROGRAM, SMALL_BIG_POOLS

PROGRAM = CAR_CHECK_PROGRAM
POOLS = SMALL_BIG_POOLS


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
