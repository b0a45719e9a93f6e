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


def bundled_library() -> Path | None:
    """A shared library that no loader path reaches (a wheel's vendored ``*.libs/`` one, named by its soname, with
    no dependency of its own missing), or None."""
    import sysconfig

    for path in sorted(Path(sysconfig.get_paths()["purelib"]).glob("*.libs/*.so*")):
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False).stdout
        if out and "not found" not in out:
            return path
    return None


def test_a_library_loads_by_name_only_after_the_preload_loaded_it_by_path():
    """What the build checks after ``preload_dlls``: a library the loader cannot find loads by its soname once it
    was loaded by its full path (glibc matches the soname), and not before (a fresh process)."""
    library = bundled_library()
    if library is None:
        pytest.skip("no vendored shared library in this environment")
    script = ("import ctypes, json, sys\nfrom dicec.runtime.cudalibs import not_loaded_after_preload as check\n"
              "path = sys.argv[1]; name = path.rsplit('/', 1)[1]\n"
              "print(json.dumps([check([name], lambda: None), check([name], lambda: ctypes.CDLL(path))]))")
    out = subprocess.run([sys.executable, "-c", script, str(library)], capture_output=True, text=True, check=True)
    before, after = __import__("json").loads(out.stdout)
    assert before == [library.name] and after == []


def test_the_build_check_fails_when_the_preload_does_not_load_what_the_loader_cannot_find(monkeypatch, capsys):
    """ldd finds everything in the nvidia-* folders, but preload_dlls (what runs in a step) does not load one of them:
    the build fails naming it; once it loads, the build passes."""
    from dicec.runtime import cudalibs, models

    monkeypatch.setattr(cudalibs, "missing_libraries", lambda library, dirs: [] if dirs else ["libdicec-absent.so.1"])
    monkeypatch.setattr(cudalibs, "nvidia_library_dirs", lambda: [Path("/opt/nvidia/cu13/lib")])
    monkeypatch.setattr(models, "preload_cuda", lambda ort: None)
    assert cudalibs.main() == 1
    assert "libdicec-absent.so.1 still do not load by name" in capsys.readouterr().err
    monkeypatch.setattr(cudalibs, "missing_libraries", lambda library, dirs: [] if dirs else ["libc.so.6"])
    assert cudalibs.main() == 0 and "libc.so.6 through onnxruntime.preload_dlls()" in capsys.readouterr().out
