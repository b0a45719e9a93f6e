"""Fixtures for the built-in operator tests: loading an operator's code by path and a fake session."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from dicec.tools.registry import builtin_folder

OPERATORS = ("find", "exists", "verify_property", "best_text_match", "simple_query", "compute_depth",
             "llm_query", "best_image_match")


def operator_path(name: str) -> Path:
    return builtin_folder() / name / "operator.py"


def _load(name: str):
    path = operator_path(name)
    spec = importlib.util.spec_from_file_location(f"dicec_builtin_operator_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_operator() -> Callable[[str], Any]:
    """Import ``operators/<name>/operator.py`` by path, as a runtime would."""
    cache: dict[str, Any] = {}

    def load(name: str):
        if name not in cache:
            cache[name] = _load(name)
        return cache[name]

    return load


@dataclass
class Node:
    name: str
    type: str = "tensor(float)"
    shape: tuple = ()


@dataclass
class FakeSession:
    """onnxruntime-like session: declares ``inputs`` and answers ``run`` with ``respond(feeds)``."""

    inputs: list[Node]
    respond: Callable[[dict], list[np.ndarray]]
    calls: list[dict] = field(default_factory=list)

    def get_inputs(self):
        return list(self.inputs)

    def run(self, output_names, feeds):
        self.calls.append({"output_names": output_names, "feeds": feeds})
        return self.respond(feeds)


@pytest.fixture
def fake_session():
    """Factory: ``fake_session([("pixel_values", "tensor(float)"), ...], respond)``."""

    def make(inputs, respond):
        nodes = [Node(n, t) if isinstance(n, str) else n for n, t in inputs]
        return FakeSession(nodes, respond)

    return make


@pytest.fixture
def rgb():
    """Factory for a deterministic (H, W, 3) uint8 RGB image."""

    def make(h: int, w: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)

    return make
