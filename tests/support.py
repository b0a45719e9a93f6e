"""Test helpers importable from any test (tests/ is on pythonpath): operator folders and ../shared data."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: The ViperGPT API operators, as a synthetic registry for unit tests that must not depend on the
#: figures in operators/: name -> (forms, gpu_memory_gb).
SYNTHETIC_OPERATORS = {
    "find": ([("method", "find(object_name: str) -> list[ImagePatch]")], 6),
    "exists": ([("method", "exists(object_name: str) -> bool")], 6),
    "verify_property": ([("method", "verify_property(object_name: str, property: str) -> bool")], 4),
    "best_text_match": ([("method", "best_text_match(option_list: list, prefix: str = None) -> str")], 4),
    "simple_query": ([("method", "simple_query(question: str) -> str")], 26),
    "compute_depth": ([("method", "compute_depth() -> float")], 3),
    "llm_query": ([("method", "llm_query(question: str, long_answer: bool = True) -> str"),
                   ("function", "llm_query(query: str, context: str = None, long_answer: bool = True) -> str")], 20),
    "best_image_match": ([("function", "best_image_match(list_patches: list, content: list, return_index: bool = False) -> ImagePatch | int")], 4),
}


def write_operator(folder: Path, name: str, forms: list[tuple[str, str]], gpu_memory_gb: float,
                   latency: dict[str, float] | None = None, image: str = "ghcr.io/dicec/vision:0.1.0",
                   model_file: str | None = None, work: dict | None = None, model_load_s: float = 10) -> Path:
    """Write one operator folder (spec.yaml + operator.py) and return it (``model_file``: the model it
    loads, which operators may share; ``work``: its ``profile.work``, to derive latencies)."""
    d = folder / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "operator.py").write_text('"""Test operator."""\n')
    latency = latency or {"A4000": 0.5, "A6000": 0.3, "A100": 0.2}
    spec = {
        "version": 1, "name": name, "doc": f"test operator {name}",
        "forms": [{"kind": k, "signature": s} for k, s in forms],
        "image": image,
        "profile": {"gpu_memory_gb": gpu_memory_gb, "model_load_s": model_load_s, "latency_s": latency,
                    "sources": {"gpu_memory_gb": "test", "model_load_s": "test", "latency_s": "test"}},
        "entry": "operator.py",
    }
    if model_file is not None:
        spec["model"] = {"name": f"model of {name}", "file": model_file, "reference": "test"}
    if work is not None:
        spec["profile"]["work"] = work
        spec["profile"]["sources"]["work"] = "test"
    (d / "spec.yaml").write_text(json.dumps(spec))  # JSON is YAML
    return d


def shared_file(*parts: str) -> Path:
    """A file under ../shared, or skip the test when this clone has no shared folder beside it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (a user's clone has no ../shared); this test needs it")
    return path


def viper_programs() -> list[dict]:
    return [json.loads(line) for line in shared_file("dev", "viper_programs.jsonl").read_text().splitlines() if line.strip()]


#: Find the cars and check each for damage: a detection, a fan-out over it, and a constant answer.
CAR_CHECK_PROGRAM = """
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    for car in cars:
        car.verify_property("car", "damaged")
    return "ok"
"""


#: A tiny catalogue with round prices, so every expected dollar figure can be worked out by hand.
#: small: A4000 16 GB at $0.36/h ($0.0001/s); big: A100 80 GB at $3.6/h ($0.001/s); cpu: a 2 vCPU, 8 GiB
#: node at $0.36/h, so a CPU pod (0.5 vCPU, 1 GiB: a quarter of a node) costs $0.09/h ($0.000025/s).
SMALL_BIG_POOLS = textwrap.dedent("""
    version: 1
    pools:
      - {name: cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: 0.36, vcpus: 2, memory_gib: 8}
      - {name: small, gpu_class: A4000, gpu_memory_gb: 16, usd_per_hour: 0.36, node_labels: {gpu: small}}
      - {name: big, gpu_class: A100, gpu_memory_gb: 80, usd_per_hour: 3.6, spot_usd_per_hour: 1.8, node_labels: {gpu: big}}
""")


#: Dollars per second of a CPU pod (0.5 vCPU of a 2-vCPU node at $0.36/h) and of Argo's agent pod (its
#: memory share, 0.0596 of 8 GiB, is the larger) on the cpu pool of SMALL_BIG_POOLS.
CPU_POD_USD_S = 0.000025
AGENT_USD_S = 0.0596 / 8 * 0.0001


def placed_on(registry, catalogue, **kw):
    """CAR_CHECK_PROGRAM placed without fusion unless asked (the figures worked out by hand are for one
    pod per task)."""
    from dicec.analysis import analyse
    from dicec.placement import place

    kw.setdefault("fuse", False)
    return place(analyse(CAR_CHECK_PROGRAM, registry, path="prog.py"), registry, catalogue, **kw)
