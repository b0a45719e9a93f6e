"""The vision image's build check: the CUDA provider's needed libraries resolve, the driver's excepted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dicec.runtime.cudalibs import missing_libraries, provider_library

LIBRARY = provider_library()
pytestmark = pytest.mark.skipif(LIBRARY is None or shutil.which("ldd") is None,
                                reason="no onnxruntime-gpu CUDA provider or no ldd here")


def needed() -> list[str]:
    out = subprocess.run(["ldd", str(LIBRARY)], capture_output=True, text=True, check=False).stdout
    return [line.split("=>")[0].strip() for line in out.splitlines() if "=>" in line]


def test_missing_cuda_libraries_are_named_and_the_drivers_is_not(tmp_path):
    missing = missing_libraries(LIBRARY, [])
    assert "libcuda.so.1" not in missing
    if missing:  # here: onnxruntime-gpu without its nvidia-* wheels
        assert any(name.startswith(("libcublas", "libcudart", "libcurand")) for name in missing), missing


def test_they_resolve_from_the_nvidia_wheel_folders(tmp_path):
    """Folders holding every needed library (stand-ins: links to libm, which ldd resolves by name) satisfy it."""
    missing = missing_libraries(LIBRARY, [])
    if not missing:
        pytest.skip("every library already resolves here")
    libm = next(Path(p.split("=>")[1].split()[0]) for p in subprocess.run(
        ["ldd", sys.executable], capture_output=True, text=True).stdout.splitlines() if "libm.so" in p)
    folder = tmp_path / "nvidia" / "cu13" / "lib"
    folder.mkdir(parents=True)
    for name in missing:
        (folder / name).symlink_to(libm)
    assert missing_libraries(LIBRARY, [folder]) == []
    assert missing_libraries(LIBRARY, []) == missing
