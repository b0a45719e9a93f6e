"""Operator discovery and spec validation."""

from __future__ import annotations

import json

import pytest

from support import write_operator
from dicec.errors import DicecError
from dicec.tools import discover


def test_synthetic_registry_has_forms(registry):
    assert len(registry) == 8
    spec, form = registry.method("find")
    assert form.result == "patches" and (form.min_args, form.max_args) == (1, 1)
    spec, form = registry.function("llm_query")
    assert [p.name for p in form.params] == ["query", "context", "long_answer"]
    assert form.params[2].default is True and (form.min_args, form.max_args) == (1, 3)
    assert registry.method("best_image_match") is None  # function only
    assert registry.function("find") is None


def test_user_folder_overrides_builtin_and_adds(tmp_path):
    write_operator(tmp_path, "find", [("method", "find(object_name: str) -> list[ImagePatch]")], 60)
    write_operator(tmp_path, "count_cars", [("method", "count_cars() -> int")], 2)
    reg = discover([tmp_path])
    assert reg.get("find").profile.gpu_memory_gb == 60
    assert reg.get("find").origin == f"dir:{tmp_path}"
    assert reg.method("count_cars")[1].result == "int"


def test_single_operator_folder_is_accepted(tmp_path):
    d = write_operator(tmp_path, "ocr", [("method", "ocr() -> str")], 2)
    assert "ocr" in discover([d], builtin=False, entry_points=False)


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.update(version=2), "'version' must be 1"),
    (lambda s: s.update(name="Bad-Name"), "'name' must be"),
    (lambda s: s.update(typo=1), "unknown key 'typo'"),
    (lambda s: s["forms"][0].update(signature="find(x) -> list[ImagePatch]"), "must start with the operator name"),
    (lambda s: s["forms"][0].update(signature="tool(x: str)"), "needs a return annotation"),
    (lambda s: s["forms"][0].update(signature="tool(x: str) -> dict"), "return type 'dict'"),
    (lambda s: s["forms"][0].update(signature="tool(self, x: str) -> str"), "leave out 'self'"),
    (lambda s: s["forms"][0].update(kind="static"), "form kind"),
    (lambda s: s["profile"].update(gpu_memory_gb=-1), "gpu_memory_gb must be a number >= 0"),
    (lambda s: s["profile"]["latency_s"].update({"A 100": 0.1}), "'A 100' is not a GPU class name"),
    (lambda s: s["profile"]["sources"].pop("latency_s"), "sources.latency_s is missing"),
    (lambda s: s.update(entry="missing.py"), "is not a file"),
])
def test_bad_spec_is_one_clear_error(tmp_path, mutate, message):
    d = write_operator(tmp_path, "tool", [("method", "tool(x: str) -> str")], 2)
    spec = json.loads((d / "spec.yaml").read_text())
    mutate(spec)
    (d / "spec.yaml").write_text(json.dumps(spec))
    with pytest.raises(DicecError) as err:
        discover([tmp_path], builtin=False, entry_points=False)
    assert message in str(err.value)
    assert str(d / "spec.yaml") in str(err.value)


def test_yaml_error_names_line(tmp_path):
    d = tmp_path / "tool"
    d.mkdir()
    (d / "operator.py").write_text("")
    (d / "spec.yaml").write_text("version: 1\nname: [unclosed\n")
    with pytest.raises(DicecError, match=r"spec.yaml:\d+: operator spec is not valid YAML"):
        discover([tmp_path], builtin=False, entry_points=False)


def test_operators_dir_must_exist_and_hold_operators(tmp_path):
    with pytest.raises(DicecError, match="--operators must name a directory"):
        discover([tmp_path / "nope"])
    with pytest.raises(DicecError, match="no operator found"):
        discover([tmp_path])


def test_reads_says_whether_an_operator_can_be_fed_crops(tmp_path):
    d = write_operator(tmp_path, "depthish", [("method", "depthish() -> float")], 2)
    spec = json.loads((d / "spec.yaml").read_text())
    entry = d / spec["entry"]
    entry.write_text("class Operator:\n    def __call__(self, image, box=None):\n        return 1.0\n")
    with pytest.raises(DicecError, match="must say 'reads: frame'"):
        discover([tmp_path], builtin=False, entry_points=False)
    (d / "spec.yaml").write_text(json.dumps({**spec, "reads": "frame"}))
    assert discover([tmp_path], builtin=False, entry_points=False).get("depthish").reads == "frame"
    (d / "spec.yaml").write_text(json.dumps({**spec, "reads": "pixels"}))
    with pytest.raises(DicecError, match="'reads' must be one of patch, frame"):
        discover([tmp_path], builtin=False, entry_points=False)
    assert discover().get("compute_depth").reads == "frame" and discover().get("find").reads == "patch"
