"""Fixtures for the ``dicec submit`` tests: compiled example files and throwaway TLS certificates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dicec.cli import cli
from kube_standin import make_tls

REPO = Path(__file__).resolve().parents[2]
QUESTION = REPO / "examples" / "questions" / "damage-parts.txt"


@pytest.fixture(scope="session")
def compiled(tmp_path_factory):
    """The example question compiled as a Workflow and as a WorkflowTemplate."""
    tmp = tmp_path_factory.mktemp("submit")
    out = {}
    for kind in ("Workflow", "WorkflowTemplate"):
        path = tmp / f"{kind}.yaml"
        r = CliRunner().invoke(cli, ["compile", str(QUESTION), "--kind", kind, "-o", str(path)])
        assert r.exit_code == 0, r.output
        out[kind] = path
    return out


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (``openssl``, made at run time)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (it makes the stand-in's TLS certificates)")
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory, tls):
    """Another CA, which did not sign the stand-in's certificate."""
    return make_tls(tmp_path_factory.mktemp("other-tls")).ca_cert
