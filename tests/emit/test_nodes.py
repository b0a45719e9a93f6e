"""Issue 14, item 5: placement hints reach the YAML. ``--spot`` selects and tolerates the catalogue's spot nodes,
``compile --cloud NAME`` labels steps as that cloud does, a GPU step's host memory follows its models (a 26 GB
model does not get 8Gi), and the flag for it says it is host memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli
from dicec.emit.hardening import host_memory

REPO = Path(__file__).resolve().parents[2]
DAMAGE = REPO / "examples" / "questions" / "damage-parts.txt"
FALLBACK = REPO / "examples" / "questions" / "fallback-why-smiling.txt"  # a whole-image simple_query (BLIP-2)


def stream(tmp_path: Path, question: Path, *args: str) -> list[dict]:
    out = tmp_path / "wf.yaml"
    r = CliRunner().invoke(cli, ["compile", str(question), "-o", str(out), *args])
    assert r.exit_code == 0, r.output
    return list(yaml.safe_load_all(out.read_text()))


def pods(docs: list[dict]) -> list[dict]:
    """Each pod of a stream as {name, nodeSelector, tolerations, resources}."""
    out = []
    for doc in docs:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            out.append({"name": doc["metadata"]["name"], "nodeSelector": pod.get("nodeSelector") or {},
                        "tolerations": pod.get("tolerations") or [], "resources": pod["containers"][0]["resources"]})
        elif doc["kind"] == "Workflow":
            out += [{"name": t["name"], "nodeSelector": t.get("nodeSelector") or {}, "tolerations": t.get("tolerations") or [],
                     "resources": t["container"]["resources"]} for t in doc["spec"]["templates"] if "container" in t]
    return out


def gpu(pod: dict) -> bool:
    return "nvidia.com/gpu" in pod["resources"]["limits"]


@pytest.mark.parametrize("mode", ["pods", "services"])
def test_spot_selects_the_spot_nodes_of_pools_priced_at_spot(mode, tmp_path):
    on_demand = pods(stream(tmp_path, FALLBACK, "--mode", mode))
    spot = pods(stream(tmp_path, FALLBACK, "--mode", mode, "--spot"))
    assert not any("karpenter.sh/capacity-type" in p["nodeSelector"] for p in on_demand)
    # BLIP-2 fits the A6000, the cheapest at spot too ($0.33/h); the A6000 lists a spot price, so its pods go to spot nodes
    a6000 = [p for p in spot if p["nodeSelector"].get("nvidia.com/gpu.product") == "NVIDIA-RTX-A6000"]
    assert a6000 and all(p["nodeSelector"]["karpenter.sh/capacity-type"] == "spot" for p in a6000)


def test_spot_on_gke_uses_gkes_spot_label_and_toleration(tmp_path):
    docs = stream(tmp_path, FALLBACK, "--cloud", "gke", "--spot")  # BLIP-2 on the 80 GB A100 at its spot $1.19/h
    spot = [p for p in pods(docs) if p["nodeSelector"].get("cloud.google.com/gke-spot") == "true"]
    assert spot, pods(docs)
    for p in spot:
        assert {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in p["tolerations"]
        assert "karpenter.sh/capacity-type" not in p["nodeSelector"]
    assert all("nvidia.com/gpu.product" not in p["nodeSelector"] for p in pods(docs))  # GKE's accelerator label instead


def test_compile_takes_cloud_as_the_other_verbs_do(tmp_path):
    gpus = [p for p in pods(stream(tmp_path, DAMAGE, "--cloud", "gke")) if gpu(p)]
    assert gpus and all("cloud.google.com/gke-accelerator" in p["nodeSelector"] for p in gpus)
    r = CliRunner().invoke(cli, ["compile", str(DAMAGE), "--cloud", "nowhere"])
    assert r.exit_code == 1 and "no pool lists labels for cloud 'nowhere'" in r.stderr


@pytest.mark.parametrize("model_gb, request_, limit", [(0, "8Gi", "16Gi"), (3.9, "8Gi", "16Gi"), (5.8, "8Gi", "16Gi"),
                                                       (26.4, "29Gi", "44Gi"), (60, "62Gi", "94Gi")])
def test_host_memory_follows_the_models(model_gb, request_, limit):
    assert host_memory(model_gb) == (request_, limit)


@pytest.mark.parametrize("mode", ["pods", "services"])
def test_a_large_models_step_asks_for_the_host_memory_it_needs(mode, tmp_path):
    """BLIP-2 (26.4 GB): its step or server asks for 29Gi and may use 44Gi, where every GPU step had 8Gi:16Gi."""
    blip = [p for p in pods(stream(tmp_path, FALLBACK, "--mode", mode)) if gpu(p)]
    assert blip and all(p["resources"]["requests"]["memory"] == "29Gi" and p["resources"]["limits"]["memory"] == "44Gi"
                        for p in blip)
    small = [p for p in pods(stream(tmp_path, DAMAGE, "--mode", mode)) if gpu(p)]
    assert small and all(p["resources"]["requests"]["memory"] == "8Gi" for p in small)  # GLIP + X-VLM: 5.8 GB
    fixed = [p for p in pods(stream(tmp_path, FALLBACK, "--mode", mode, "--gpu-step-host-memory", "40Gi:60Gi")) if gpu(p)]
    assert fixed and all(p["resources"]["limits"]["memory"] == "60Gi" for p in fixed)


def test_the_catalogue_refuses_a_wrong_arch_or_spot_entry(tmp_path):
    from dicec.errors import DicecError
    from dicec.placement.pools import load_pools

    base = "version: 1\npools:\n  - {name: g, gpu_class: T4, gpu_memory_gb: 16, usd_per_hour: 1, %s}\n"
    for entry, message in [("arch: sparc", "arch must be one of"),
                           ("arch: amd64, node_labels: {kubernetes.io/arch: arm64}", "arch amd64 but node_labels say"),
                           ("spot: {node_labels: {}}", "spot.node_labels must map strings"),
                           ("spot: {labels: {a: b}}", "spot must be a mapping")]:
        (tmp_path / "p.yaml").write_text(base % entry)
        with pytest.raises(DicecError, match=message):
            load_pools(tmp_path / "p.yaml")
    (tmp_path / "p.yaml").write_text(base % "node_labels: {kubernetes.io/arch: arm64}")
    assert load_pools(tmp_path / "p.yaml").get("g").arch == "arm64"  # read from the well-known label


def test_every_shipped_catalogue_names_the_spot_nodes_of_its_spot_priced_pools():
    """--spot works with every catalogue dicec ships (the default one, its GKE view, the marine example's): each
    pool with a spot price names the labels of its spot nodes, so no pool priced at spot is refused."""
    from dicec.placement.pools import load_pools

    for catalogue in (load_pools(), load_pools(cloud="gke"), load_pools(REPO / "examples" / "marine" / "pools.yaml")):
        priced = [p for p in catalogue.pools if p.spot_usd_per_hour is not None]
        assert priced and all(p.spot_node_labels for p in priced), [p.name for p in priced if not p.spot_node_labels]
