"""Fixtures for the offline code generator: registries of the ViperGPT operators, whole or in part.

The registries are built from temporary operator folders written here (``spec.yaml`` in the format of
``operators/find/spec.yaml`` plus an ``operator.py`` entry), never from ``operators/``, so these tests
do not depend on which operators ship today.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dicec.tools import discover

#: The eight ViperGPT API operators: name -> call forms (kind, signature).
VIPER_OPERATORS = {
    "find": [("method", "find(object_name: str) -> list[ImagePatch]")],
    "exists": [("method", "exists(object_name: str) -> bool")],
    "verify_property": [("method", "verify_property(object_name: str, property: str) -> bool")],
    "best_text_match": [("method", "best_text_match(option_list: list) -> str")],
    "simple_query": [("method", "simple_query(question: str) -> str")],
    "compute_depth": [("method", "compute_depth() -> float")],
    "llm_query": [("method", "llm_query(question: str, long_answer: bool = True) -> str"),
                  ("function", "llm_query(query: str, context: str = None, long_answer: bool = True) -> str")],
    "best_image_match": [("function", "best_image_match(list_patches: list, content: list, return_index: bool = False) -> ImagePatch | int")],
}


def write_operators(folder: Path, names) -> Path:
    """Write one operator folder per name under ``folder`` and return ``folder``."""
    for name in names:
        d = folder / name
        d.mkdir(parents=True)
        (d / "operator.py").write_text('"""Test operator: never run by these tests."""\n')
        spec = {
            "version": 1,
            "name": name,
            "doc": f"Test stand-in for the ViperGPT {name} operator.",
            "forms": [{"kind": kind, "signature": sig} for kind, sig in VIPER_OPERATORS[name]],
            "image": "ghcr.io/dicec/vision:0.1.0",
            "profile": {
                "gpu_memory_gb": 4.0,
                "model_load_s": 10.0,
                "latency_s": {"A4000": 0.5, "A6000": 0.3, "A100": 0.2},
                "sources": {"gpu_memory_gb": "test", "model_load_s": "test", "latency_s": "test"},
            },
            "entry": "operator.py",
        }
        (d / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


@pytest.fixture(scope="session")
def make_registry(tmp_path_factory):
    """``make_registry(*names)``: a registry holding exactly those ViperGPT operators (cached)."""
    cache = {}

    def make(*names):
        key = tuple(sorted(names))
        if key not in cache:
            folder = write_operators(tmp_path_factory.mktemp("viper-operators"), key)
            cache[key] = discover([folder], builtin=False, entry_points=False)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def viper_registry(make_registry):
    """All eight ViperGPT operators."""
    return make_registry(*VIPER_OPERATORS)
