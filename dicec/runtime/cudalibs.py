"""The libraries onnxruntime-gpu's CUDA provider needs, and whether they resolve: the vision image's build check.

``libonnxruntime_providers_cuda.so`` is linked against CUDA's runtime libraries (onnxruntime-gpu 1.31:
``libcublasLt.so.13``, ``libcublas.so.13``, ``libcudart.so.13``, ``libcurand.so.10``) and the driver's
``libcuda.so.1``. An image whose CUDA libraries are of another major version (a CUDA 12 base under a CUDA 13
build) runs every model on the CPU, silently but for one fallback line. The image installs
``onnxruntime-gpu[cuda,cudnn]``, whose extras bring those libraries as ``nvidia-*`` wheels under
``site-packages/nvidia/*/lib``, and :mod:`dicec.runtime.models` preloads them; :func:`missing_libraries`
resolves the provider's needed libraries with those folders on the loader's path (``ldd``), so the build
fails when one is missing. ``libcuda.so.1`` is left out: the node's driver brings it into the container.

At run time the libraries are not on the loader's path: they are found because ``preload_dlls`` loaded them
first (by their full paths, under their sonames), so :func:`not_loaded_after_preload` checks that path too:
after :func:`dicec.runtime.models.preload_cuda` (what a step runs before its first CUDA session), every needed
library the loader does not find on its own must load by its name, as the provider's ``dlopen`` will ask
for it. Neither check needs a GPU (``libcuda.so.1`` is never loaded).

``python -m dicec.runtime.cudalibs`` prints what resolves and exits 1 naming what does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

#: Brought by the GPU driver (the NVIDIA container toolkit mounts it), never by the image.
DRIVER_LIBRARIES = frozenset({"libcuda.so.1"})
PROVIDER = "libonnxruntime_providers_cuda.so"


def provider_library() -> Path | None:
    """onnxruntime's CUDA provider library, or ``None`` when this onnxruntime has none (the CPU wheel)."""
    import importlib.util

    found = importlib.util.find_spec("onnxruntime")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / "capi" / PROVIDER
    return path if path.is_file() else None


def nvidia_library_dirs() -> list[Path]:
    """The ``lib`` folders of the installed ``nvidia-*`` wheels (where ``preload_dlls`` looks)."""
    import importlib.util

    found = importlib.util.find_spec("nvidia")
    roots = list(found.submodule_search_locations) if found and found.submodule_search_locations else []
    return sorted(p for root in roots for p in Path(root).glob("*/lib") if p.is_dir())


def missing_libraries(library: Path, dirs: list[Path]) -> list[str]:
    """The libraries ``library`` needs that the loader does not find with ``dirs`` on its path (``ldd``), the
    driver's excepted."""
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join([*map(str, dirs), os.environ.get("LD_LIBRARY_PATH", "")])}
    out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, env=env, check=False).stdout
    missing = [line.split("=>")[0].strip() for line in out.splitlines() if "=> not found" in line]
    return [name for name in missing if name not in DRIVER_LIBRARIES]


def not_loaded_after_preload(names: list[str], preload: Callable[[], None]) -> list[str]:
    """Of ``names`` (sonames), those ``dlopen`` by name does not find after ``preload()`` has run."""
    import ctypes

    preload()
    unloaded = []
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            unloaded.append(name)
    return unloaded


def main() -> int:
    library = provider_library()
    if library is None:
        print(f"dicec: onnxruntime has no {PROVIDER}: install onnxruntime-gpu", file=sys.stderr)
        return 1
    dirs = nvidia_library_dirs()
    missing = missing_libraries(library, dirs)
    if missing:
        print(f"dicec: {library.name} needs {', '.join(missing)}, which do not resolve (looked in "
              f"{', '.join(map(str, dirs)) or 'no nvidia-* wheel'} and the loader's path): install "
              "onnxruntime-gpu[cuda,cudnn] of the same CUDA major version", file=sys.stderr)
        return 1
    alone = missing_libraries(library, [])  # what only the preload makes loadable
    if alone:
        import onnxruntime

        from dicec.runtime.models import preload_cuda

        unloaded = not_loaded_after_preload(alone, lambda: preload_cuda(onnxruntime))
        if unloaded:
            print(f"dicec: after onnxruntime.preload_dlls(), {', '.join(unloaded)} still do not load by name, so "
                  f"{library.name} would not load at run time: the nvidia-* wheels are not where this onnxruntime's "
                  "preload_dlls looks (install onnxruntime-gpu[cuda,cudnn] of the same CUDA major version)",
                  file=sys.stderr)
            return 1
    print(f"{library}: every needed library resolves (libcuda.so.1 comes from the driver), "
          f"{', '.join(alone) or 'none'} through onnxruntime.preload_dlls(); nvidia wheels: "
          f"{', '.join(p.parent.name for p in dirs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
