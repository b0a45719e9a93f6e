"""The built-in operator folders: discovery, ViperGPT signatures, sourced and consistent GPU figures."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dicec.tools import discover
from dicec.tools.registry import builtin_folder
from dicec.tools.spec import GPU_CLASSES

BUILTINS = ("find", "exists", "verify_property", "best_text_match", "simple_query", "compute_depth",
            "llm_query", "best_image_match", "read_text")

#: ViperGPT's signatures (prompt API and image_patch.py), as the specs must declare them.
SIGNATURES = {
    "find": [("method", "find(object_name: str) -> list[ImagePatch]")],
    "exists": [("method", "exists(object_name: str) -> bool")],
    "verify_property": [("method", "verify_property(object_name: str, property: str) -> bool")],
    "best_text_match": [("method", "best_text_match(option_list: list, prefix: str = None) -> str")],
    "simple_query": [("method", "simple_query(question: str) -> str")],
    "compute_depth": [("method", "compute_depth() -> float")],
    "llm_query": [("method", "llm_query(question: str, long_answer: bool = True) -> str"),
                  ("function", "llm_query(query: str, context: str = None, long_answer: bool = True) -> str")],
    "best_image_match": [("function", "best_image_match(list_patches: list, content: list, "
                                      "return_index: bool = False) -> ImagePatch | int")],
    "read_text": [("method", "read_text() -> str")],     # dicec's own (licence plates, signs)
}

#: Models too big for a 16 GB A4000 in fp16; the rest must fit one.
LARGE = {"simple_query", "llm_query"}


@pytest.fixture(scope="module")
def builtins():
    reg = discover(entry_points=False)
    return {name: reg.get(name) for name in BUILTINS}


def test_discover_finds_all_eight_builtin_operators():
    reg = discover(entry_points=False)
    assert set(BUILTINS) <= set(reg.operators)
    assert all(reg.get(n).origin == "builtin" for n in BUILTINS)
    on_disk = {p.name for p in builtin_folder().iterdir() if (p / "spec.yaml").is_file()}
    assert on_disk == set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_signatures_follow_vipergpt(builtins, name):
    assert [(f.kind, f.signature) for f in builtins[name].forms] == SIGNATURES[name]


@pytest.mark.parametrize("name", BUILTINS)
def test_figures_are_positive_and_cover_every_gpu_class(builtins, name):
    p = builtins[name].profile
    assert p.gpu_memory_gb > 0 and p.model_load_s > 0
    assert set(p.latency_s) >= set(GPU_CLASSES)
    assert all(v > 0 for v in p.latency_s.values())


@pytest.mark.parametrize("name", BUILTINS)
def test_faster_gpus_are_not_slower(builtins, name):
    lat = builtins[name].profile.latency_s
    assert lat["A100"] <= lat["A6000"] <= lat["A4000"]


@pytest.mark.parametrize("name", BUILTINS)
def test_every_figure_has_a_real_source(builtins, name):
    spec = builtins[name]
    assert set(spec.profile.sources) == {"gpu_memory_gb", "model_load_s", "latency_s", "work"}
    for figure, source in spec.profile.sources.items():
        assert source.strip(), figure
        assert not re.search(r"placeholder|\btodo\b|\btbd\b|\bfixme\b", source, re.I), (figure, source)
        assert len(source) > 60, (figure, source)            # says where the number comes from
    assert spec.model is not None and spec.model.reference.strip()
    assert not re.search(r"placeholder|\btodo\b", spec.model.reference, re.I)


@pytest.mark.parametrize("name", BUILTINS)
def test_model_and_image_follow_the_layout(builtins, name):
    spec = builtins[name]
    assert spec.image == "ghcr.io/dicec/vision:0.1.0"
    assert spec.model.file.startswith("/opt/dicec/models/") and spec.model.file.count("/") == 5  # .../MODEL/FILE
    assert spec.entry == "operator.py" and (spec.folder / spec.entry).is_file()


@pytest.mark.parametrize("name", BUILTINS)
def test_memory_places_models_realistically(builtins, name):
    mem = builtins[name].profile.gpu_memory_gb
    if name in LARGE:
        assert 16 < mem <= 40            # needs more than an A4000, fits an A100 40GB (and an A6000 48GB)
    else:
        assert mem <= 16                 # fits an A4000


def test_cheapest_fitting_pool_is_the_expected_one(builtins, pools):
    from dicec.timing.figures import fits

    # by hourly price: the A4000 ($0.32) for what fits 16 GB; the 18.6 GB LLM on the 24 GB L4 ($0.44, its
    # latency derived from the datasheet); BLIP-2's 26.4 GB on the 48 GB A6000 ($0.49)
    want = {"llm_query": "L4", "simple_query": "A6000"}
    for name, spec in builtins.items():
        pool = pools.cheapest_fitting(spec.profile.gpu_memory_gb, lambda p, s=spec: fits(s, p))
        assert pool is not None and pool.gpu_class == want.get(name, "A4000"), name


def test_operators_of_one_model_name_one_file(builtins):
    """One checkpoint, one file: the runtime opens one session per file and placement, fusion, stage pods and
    server packing count a file's memory and load once, so find/exists (GLIP-L) and verify_property,
    best_text_match and best_image_match (X-VLM) must not name copies of it."""
    files: dict[str, set] = {}
    for spec in builtins.values():
        files.setdefault(spec.model.name, set()).add((spec.model.file, spec.model.sha256))
    assert all(len(named) == 1 for named in files.values()), files
    assert builtins["find"].model.file == builtins["exists"].model.file == "/opt/dicec/models/glip_l/glip_l_fp16.onnx"
    assert len({builtins[n].model.file for n in ("verify_property", "best_text_match", "best_image_match")}) == 1


def test_same_model_same_figures(builtins):
    f, e = builtins["find"].profile, builtins["exists"].profile
    assert (f.gpu_memory_gb, f.model_load_s, f.latency_s) == (e.gpu_memory_gb, e.model_load_s, e.latency_s)
    assert builtins["verify_property"].model.name == builtins["best_text_match"].model.name \
        == builtins["best_image_match"].model.name


_FORBIDDEN = {"onnxruntime", "torch", "tensorflow", "transformers"}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:                       # module level only
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return tree, names


@pytest.mark.parametrize("name", BUILTINS)
def test_operator_code_is_numpy_only_with_a_docstring_and_an_operator_class(name):
    path = builtin_folder() / name / "operator.py"
    tree, names = _imports(path)
    assert ast.get_docstring(tree) and len(ast.get_docstring(tree)) > 200
    assert not names & _FORBIDDEN, names & _FORBIDDEN
    assert any(isinstance(n, ast.ClassDef) and n.name == "Operator" for n in tree.body)


def test_shared_helpers_are_numpy_only():
    for path in builtin_folder().glob("_*.py"):
        if path.name == "__init__.py":
            continue
        tree, names = _imports(path)
        assert ast.get_docstring(tree), path
        assert not names & _FORBIDDEN, (path, names & _FORBIDDEN)


def test_sources_document_exists_and_names_every_model():
    # read from the source tree: setup.cfg's package_data pattern */SOURCES.md does not ship operators/SOURCES.md
    text = (Path(__file__).resolve().parents[2] / "operators" / "SOURCES.md").read_text(encoding="utf-8")
    for needle in ("GLIP", "X-VLM", "BLIP-2", "DPT", "Llama", "A4000", "A6000", "A100"):
        assert needle in text
