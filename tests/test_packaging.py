"""The package ships what a plain `pip install .` needs, and the vision image copies what exists."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(REPO)], check=True, capture_output=True)
    (path,) = out.glob("dicec-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_carries_operators_templates_and_data(wheel):
    names = set(wheel.namelist())
    for op in sorted(p.name for p in (REPO / "operators").iterdir() if (p / "spec.yaml").exists()):
        assert f"dicec/builtin_operators/{op}/spec.yaml" in names
        assert f"dicec/builtin_operators/{op}/operator.py" in names
    assert "dicec/templates/prompts/program.j2" in names
    assert "dicec/placement/data/pools.yaml" in names
    assert any(n.startswith("dicec/validate/data/") and n.endswith(".json") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "dicec = dicec.cli:main" in wheel.read(entry_points).decode()


def test_dockerfile_copies_existing_paths_and_runs_dicec():
    text = (REPO / "images" / "Dockerfile.vision").read_text()
    for src in re.findall(r"^COPY\s+(.+?)\s+\S+$", text, flags=re.M):
        for part in src.split():
            assert (REPO / part).exists(), part
    assert 'ENTRYPOINT ["dicec"]' in text and re.search(r"^USER 10001$", text, flags=re.M)


def test_every_subpackage_is_listed_in_setup_cfg():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "dicec").rglob("__init__.py")}
    missing = sorted(on_disk - listed)
    assert not missing, f"add to setup.cfg [options] packages: {missing}"
