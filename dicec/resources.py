"""Where the shipped data folders are: inside the installed package, or beside it in a source checkout.

``templates/`` and ``operators/`` sit at the top of the repository and install as the packages
``dicec.templates`` and ``dicec.builtin_operators``. Running from a checkout without installing (or
with the checkout first on ``sys.path``, as ``python -m`` from the repository root does) finds no
such packages, so the folders are looked up beside the ``dicec`` source folder instead.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_SOURCE_DIRS = {"dicec.templates": "templates", "dicec.builtin_operators": "operators"}


def package_dir(package: str) -> Path:
    """The folder holding ``package``'s files (``dicec.templates`` or ``dicec.builtin_operators``)."""
    try:
        return Path(str(importlib.resources.files(package)))
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parent.parent / _SOURCE_DIRS[package]
        if checkout.is_dir():
            return checkout
        raise
