"""The package ships what a plain `pip install .` needs, and the vision image copies what exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # built from a copy of what the build reads: a build/ folder left in the checkout by an earlier
    # build would otherwise lend the wheel files setup.cfg no longer (or never) names
    source = tmp_path_factory.mktemp("source")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("dicec", "templates", "operators"):
        shutil.copytree(REPO / name, source / name, ignore=skip)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(source)], check=True, capture_output=True)
    (path,) = out.glob("dicec-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_carries_operators_templates_and_data(wheel):
    names = set(wheel.namelist())
    for op in sorted(p.name for p in (REPO / "operators").iterdir() if (p / "spec.yaml").exists()):
        assert f"dicec/builtin_operators/{op}/spec.yaml" in names
        assert f"dicec/builtin_operators/{op}/operator.py" in names
    assert "dicec/templates/prompts/program.j2" in names
    assert "dicec/placement/data/pools.yaml" in names
    assert any(n.startswith("dicec/validate/data/") and n.endswith(".json") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "dicec = dicec.cli:main" in wheel.read(entry_points).decode()


def test_dockerfile_copies_existing_paths_and_runs_dicec():
    text = (REPO / "images" / "Dockerfile.vision").read_text()
    joined = re.sub(r"\\\n", " ", text)                              # RUN lines continued with a backslash
    copies = re.findall(r"^COPY\s+(.+?)\s+\S+$", joined, flags=re.M)
    assert copies
    for src in copies:
        for part in src.split():
            assert (REPO / part).exists(), f"COPY source {part} does not exist"
    # every `python -m MODULE` the image runs is a module of the package with a __main__ block
    modules = re.findall(r"python3? -m (dicec[\w.]*)", joined)
    assert {"dicec.runtime.scene.graphs", "dicec.runtime.onnxops"} <= set(modules), modules
    for module in modules:
        path = REPO / Path(*module.split("."))
        source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__main__.py"
        assert source.is_file(), f"RUN python -m {module}: no such module in the package"
        assert "__main__" in source.read_text(), f"{module} has no __main__ block"
    # the scene models are built where DICEC_MODEL_DIR points, and the steps use the onnx backend
    (scene_dir,) = re.findall(r"python -m dicec\.runtime\.scene\.graphs (\S+)", joined)
    assert re.search(rf"DICEC_MODEL_DIR={re.escape(scene_dir)}\b", joined)
    # the default backend answers with what the image carries (onnx would need the production model files)
    (models,) = re.findall(r"^ENV .*?DICEC_MODELS=(\w+)", joined, flags=re.M)
    assert models == "builtin"
    # onnxruntime-gpu stays in place: rapidocr-onnxruntime (it depends on the CPU wheel) without its deps
    assert re.search(r"pip install --no-deps 'rapidocr-onnxruntime==[\d.]+'", joined)
    # the read_text spec's model path is where the image copies the packaged PP-OCR files
    spec = (REPO / "operators" / "read_text" / "spec.yaml").read_text()
    (copy_root,) = re.findall(r"python -m dicec\.runtime\.onnxops (\S+)", joined)
    assert f"file: {copy_root}/read_text/" in spec
    # dicec op is the entrypoint; the emitted steps' `command` replaces it in Kubernetes
    assert 'ENTRYPOINT ["dicec", "op"]' in text and re.search(r"^USER 10001$", text, flags=re.M)
    assert re.search(r"^FROM nvidia/cuda:\S+-(base|runtime)-", text, flags=re.M)


def test_every_subpackage_is_listed_in_setup_cfg():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "dicec").rglob("__init__.py")}
    missing = sorted(on_disk - listed)
    assert not missing, f"add to setup.cfg [options] packages: {missing}"


def test_every_install_and_the_image_read_jpeg_webp_and_object_stores():
    """Pillow, boto3 and google-cloud-storage are install requirements (the image's `pip install .`
    gets them), and the image's build fails if JPEG or WebP decoding or either client is missing."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    required = {re.split(r"[<>=\[ ]", line.strip())[0].lower() for line in cfg["options"]["install_requires"].splitlines()
                if line.strip() and not line.strip().startswith("#")}
    assert {"pillow", "boto3", "google-cloud-storage"} <= required
    text = re.sub(r"\\\n", " ", (REPO / "images" / "Dockerfile.vision").read_text())
    assert re.search(r"RUN pip install \. ", text)
    assert "features.check('jpg') and features.check('webp')" in text and "import boto3, google.cloud.storage" in text


def test_every_file_of_the_source_tree_is_in_the_wheel(wheel):
    """The editable install the tests run from reads the source tree, so a data file setup.cfg forgets
    (price_rows.csv once) passes every other test and fails only where a wheel is installed."""
    names = set(wheel.namelist())
    roots = {"dicec": "dicec", "templates": "dicec/templates", "operators": "dicec/builtin_operators"}
    missing = []
    for folder, inside in roots.items():
        for path in (REPO / folder).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            name = f"{inside}/{path.relative_to(REPO / folder).as_posix()}"
            if name not in names:
                missing.append(name)
    assert missing == [], "add to setup.cfg [options.package_data]"


def test_the_image_is_self_consistent_about_cuda():
    """onnxruntime-gpu is pinned with its CUDA extras, the build checks its CUDA provider's libraries, and the base
    image's CUDA major version is the one the pinned wheel's provider needs (read from the installed wheel when it
    is the pinned version: the libcudart.so.N it links)."""
    import importlib.metadata
    import shutil

    text = re.sub(r"\\\n", " ", (REPO / "images" / "Dockerfile.vision").read_text())
    (pin,) = re.findall(r"'onnxruntime-gpu\[cuda,cudnn\]==([\d.]+)'", text)
    assert "python -m dicec.runtime.cudalibs" in text
    (base,) = re.findall(r"^FROM nvidia/cuda:(\d+)\.", text, flags=re.M)
    try:
        installed = importlib.metadata.version("onnxruntime-gpu")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("onnxruntime-gpu is not installed here")
    from dicec.runtime.cudalibs import provider_library

    library = provider_library()
    if installed != pin or library is None or shutil.which("readelf") is None:
        pytest.skip(f"onnxruntime-gpu {installed} here, the image pins {pin}")
    needed = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True).stdout
    (cuda,) = re.findall(r"\[libcudart\.so\.(\d+)\]", needed)
    assert cuda == base, f"onnxruntime-gpu {pin} needs CUDA {cuda}, the image's base is CUDA {base}"
