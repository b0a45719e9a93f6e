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


@pytest.fixture()
def small_big(tmp_path):
    """The catalogue of support.SMALL_BIG_POOLS (pools cpu, small, big), for figures worked out by hand."""
    from dicec.placement import load_pools

    from support import SMALL_BIG_POOLS

    path = tmp_path / "pools.yaml"
    path.write_text(SMALL_BIG_POOLS)
    return load_pools(path)


@pytest.fixture
def llm_env(monkeypatch):
    """No Anthropic variables and no proxy from the developer's shell: tests reach only loopback."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_PROFILE",
                 "ANTHROPIC_CUSTOM_HEADERS", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                 "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return monkeypatch


@pytest.fixture
def standin(llm_env):
    """``standin(*steps)``: a started Messages API stand-in on 127.0.0.1 (stopped after the test)."""
    from messages_standin import MessagesStandIn

    servers = []

    def make(*steps, **kw):
        server = MessagesStandIn(list(steps), **kw).__enter__()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.__exit__(None, None, None)
