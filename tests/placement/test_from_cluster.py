"""``dicec pools --from-cluster`` against a loopback stand-in for the Kubernetes API (no network)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dicec.cli import cli
from dicec.placement.commands import pools
from kube_standin import KubeStandIn

cli.add_command(pools)

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def node(name, labels, gpus, taints=()):
    return {"metadata": {"name": name, "labels": labels}, "spec": {"taints": list(taints)},
            "status": {"allocatable": {"cpu": "8", "nvidia.com/gpu": str(gpus)}}}


A6000 = {"nvidia.com/gpu.product": "NVIDIA-RTX-A6000", "nvidia.com/gpu.memory": "49140"}
GKE_A100 = {"cloud.google.com/gke-accelerator": "nvidia-a100-80gb"}


@pytest.fixture()
def kubeconfig(tmp_path):
    """make(nodes) -> a kubeconfig for a loopback stand-in API server listing ``nodes``."""
    standins = []

    def make(nodes):
        standin = KubeStandIn(nodes=nodes).start()
        standins.append(standin)
        return standin.kubeconfig(tmp_path / "kubeconfig")

    yield make
    for s in standins:
        s.stop()


def test_pools_are_read_from_the_clusters_gpu_nodes(kubeconfig, tmp_path):
    cfg = kubeconfig([node("a", A6000, 1, [GPU_TAINT]), node("b", A6000, 1, [GPU_TAINT]),
                      node("c", GKE_A100, 1), node("cpu-1", {"kubernetes.io/os": "linux"}, 0)])
    out = tmp_path / "pools.yaml"
    r = CliRunner().invoke(cli, ["pools", "--from-cluster", "--kubeconfig", cfg, "-o", str(out)])
    assert r.exit_code == 0, r.output
    from dicec.placement import load_pools

    catalogue = load_pools(out)
    a6000 = catalogue.get("nvidia-rtx-a6000")
    assert (a6000.gpu_class, a6000.gpu_memory_gb, a6000.max_nodes) == ("A6000", 48, 2)
    assert a6000.node_labels == {"nvidia.com/gpu.product": "NVIDIA-RTX-A6000"}
    assert a6000.taints == ({"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},)
    assert a6000.usd_per_hour == 0.49 and "default pool 'a6000'" in a6000.source
    a100 = catalogue.get("nvidia-a100-80gb")
    # no memory label: 80 GB from the product name, priced as the default 80 GB A100 pool
    assert (a100.gpu_class, a100.gpu_memory_gb, a100.usd_per_hour) == ("A100", 80, 1.64)
    assert a100.max_nodes == 1 and a100.taints == ()
    assert a100.node_labels == {"cloud.google.com/gke-accelerator": "nvidia-a100-80gb"}
    assert [p.name for p in catalogue.pools if not p.has_gpu] == ["cpu"]


def test_a_cluster_without_gpu_nodes_is_one_line(kubeconfig):
    cfg = kubeconfig([node("cpu-1", {}, 0)])
    r = CliRunner().invoke(cli, ["pools", "--from-cluster", "--kubeconfig", cfg])
    assert r.exit_code == 1 and "the cluster has no GPU nodes" in r.stderr and "Traceback" not in r.output


def test_an_unreachable_api_server_is_one_line(tmp_path, kubeconfig):
    cfg = kubeconfig([])
    text = open(cfg).read()
    port = text.split("127.0.0.1:")[1].split()[0]
    open(cfg, "w").write(text.replace(f"127.0.0.1:{port}", "127.0.0.1:9"))
    r = CliRunner().invoke(cli, ["pools", "--from-cluster", "--kubeconfig", cfg])
    assert r.exit_code == 1 and "cannot reach the Kubernetes API" in r.stderr


def test_pools_without_from_cluster_prints_a_catalogue_that_loads_back(tmp_path):
    out = tmp_path / "p.yaml"
    assert CliRunner().invoke(cli, ["pools", "--cloud", "gke", "-o", str(out)]).exit_code == 0
    from dicec.placement import load_pools

    assert [p.name for p in load_pools(out).pools] == ["cpu", "a100-40gb", "a100-80gb", "t4", "l4"]


def test_every_class_of_the_default_catalogue_is_read_and_an_unknown_one_is_kept_with_a_note(kubeconfig, tmp_path):
    cfg = kubeconfig([node("t", {"nvidia.com/gpu.product": "Tesla-T4"}, 1),
                      node("l", {"cloud.google.com/gke-accelerator": "nvidia-l4"}, 1),
                      node("s", {"nvidia.com/gpu.product": "NVIDIA-L40S", "nvidia.com/gpu.memory": "46068"}, 1),
                      node("h", {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}, 1),
                      node("g", {"nvidia.com/gpu.product": "NVIDIA-A10G"}, 1),
                      node("x", {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090", "nvidia.com/gpu.memory": "24564"}, 2)])
    out = tmp_path / "pools.yaml"
    r = CliRunner().invoke(cli, ["pools", "--from-cluster", "--kubeconfig", cfg, "-o", str(out)])
    assert r.exit_code == 0, r.output
    from dicec.placement import load_pools

    catalogue = load_pools(out)
    classes = {p.name: (p.gpu_class, p.gpu_memory_gb, p.usd_per_hour) for p in catalogue.pools if p.has_gpu}
    assert classes == {"tesla-t4": ("T4", 16, 0.526), "nvidia-l4": ("L4", 24, 0.44), "nvidia-l40s": ("L40S", 45, 0.9288),
                       "nvidia-h100-80gb-hbm3": ("H100", 80, 2.39), "nvidia-a10g": ("A10G", 24, 1.006),
                       "nvidia-geforce-rtx-4090": ("RTX-4090", 24, None)}
    assert catalogue.get("nvidia-l40s").fp16_tensor_tflops == 362.05  # the default pool's datasheet goes with its price
    # the unknown class is kept, unpriced, never chosen, and the one line says what is missing
    notes = [line for line in r.stderr.splitlines() if "nvidia-geforce-rtx-4090" in line]
    assert len(notes) == 1 and "unpriced" in notes[0] and "usd_per_hour" in notes[0] and "RTX-4090" in notes[0]
    assert not catalogue.get("nvidia-geforce-rtx-4090").choosable
    assert catalogue.cpu_pool().usd_per_hour == 0.1008
