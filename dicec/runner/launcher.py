"""How ``dicec run`` starts a ``dicec`` command as a subprocess, exactly as a container or a pod runs it.

A step's ``dicec op ...`` / ``dicec answer ...`` runs as ``python -m dicec.runtime ...`` (:data:`LAUNCHER`:
the step side's verbs alone, which start faster than the whole ``dicec`` command), and a model
server's ``dicec op serve ...`` as ``python -m dicec.serving op serve ...`` (:data:`SERVER_LAUNCHER`).
Either gets :func:`subprocess_env`: this checkout's package root first on ``PYTHONPATH``, so the
subprocess runs this very ``dicec``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Replaces ``dicec`` in a step's argv (``op``, ``op call``, ``answer``, ``exec``).
LAUNCHER: tuple[str, ...] = (sys.executable, "-m", "dicec.runtime")
#: Replaces ``dicec`` in a model server's argv (``op serve``).
SERVER_LAUNCHER: tuple[str, ...] = (sys.executable, "-m", "dicec.serving")


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``env`` added and the package root first on ``PYTHONPATH``."""
    full = {**os.environ, **env}
    package_root = str(Path(__file__).resolve().parents[2])
    full["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, full.get("PYTHONPATH", "")) if p)
    return full
