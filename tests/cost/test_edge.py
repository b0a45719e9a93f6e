"""Edge-cloud figures (dicec.cost.edge), worked out by hand on round numbers, and the ``dicec edge`` verb.

Round numbers: S = 5 s pod start-up + 1 s step overhead = 6 s, R = 0.01 s per request, the answer
step's run 0.2 s, 3 detections; find: 0.5 s on the A4000, 0.8 s on the ORIN edge device, 10 s load;
verify_property: 0.5 s on the A4000, 10 s load; the A4000 at $0.36/h = $0.0001/s; an 8 Mbit/s uplink
(1 MB/s); a 1000x1000 frame at 1 byte/pixel (1 MB, 1 s up) and 100x100 crops (10 kB, 0.01 s up).
"""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner
from support import write_operator

from dicec.analysis import analyse
from dicec.cli import cli
from dicec.cost.edge import LinkModel, box_bytes, cloud_catalogue, edge_report, plan_figures, transfer_seconds
from dicec.errors import DicecError
from dicec.placement import place
from dicec.placement.edge import offload_guards
from dicec.placement.pools import parse_pools
from dicec.timing.model import TimingModel
from dicec.tools import discover

POOLS = textwrap.dedent("""
    version: 1
    pools:
      - {name: boat, gpu_class: ORIN, gpu_memory_gb: 8, usd_per_hour: null, uplink_mbps: 8, edge: true}
      - {name: boat-cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: null, uplink_mbps: 8, edge: true}
      - {name: cpu, gpu_class: null, gpu_memory_gb: 0, usd_per_hour: null}
      - {name: small, gpu_class: A4000, gpu_memory_gb: 16, usd_per_hour: 0.36}
""")
BOTTLES = textwrap.dedent("""
    def execute_command(image):
        image_patch = ImagePatch(image)
        bottles = image_patch.find("bottle")
        floating = [b for b in bottles if b.verify_property("bottle", "floating")]
        return str(len(floating))
""")
TWO_FINDS = textwrap.dedent("""
    def execute_command(image):
        image_patch = ImagePatch(image)
        return str(len(image_patch.find("bottle")) + len(image_patch.find("bag")))
""")
MODEL = TimingModel(pod_startup_s=5, step_overhead_s=1, request_overhead_s=0.01, answer_run_s=0.2, fanout=3)
LINK = LinkModel(frame_width=1000, frame_height=1000, bytes_per_pixel=1, crop_width=100, crop_height=100)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    d = tmp_path_factory.mktemp("edge-cost-ops")
    write_operator(d, "find", [("method", "find(object_name: str) -> list[ImagePatch]")], 5,
                   {"A4000": 0.5, "ORIN": 0.8})
    write_operator(d, "verify_property", [("method", "verify_property(object_name: str, property: str) -> bool")], 2,
                   {"A4000": 0.5})
    return discover([str(d)], builtin=False, entry_points=False)


@pytest.fixture(scope="module")
def catalogue():
    return parse_pools(__import__("yaml").safe_load(POOLS), path="pools.yaml")


def plans(source, registry, catalogue, mode):
    graph = analyse(source, registry, path="prog.py")
    return (place(graph, registry, catalogue, mode=mode, fuse=False),
            place(graph, registry, cloud_catalogue(catalogue), mode=mode, fuse=False))


def figures(placed, registry, mode, case, producers):
    return plan_figures(placed, registry, MODEL, LINK, mode=mode, case=case, producers=producers, uplink_mbps=8)


def test_link_arithmetic():
    assert LINK.frame_bytes == 1_000_000 and LINK.crop_bytes == 10_000
    assert transfer_seconds(1_000_000, 8) == pytest.approx(1.0)
    assert box_bytes([{"left": 0, "lower": 0, "right": 10, "upper": 20}, {"left": 5, "lower": 5, "right": 7, "upper": 6}],
                     3) == (200 + 2) * 3


@pytest.mark.parametrize("case, edge, cloud", [
    # edge: find on the device (6 s pod start, then 0.01 + 0.8 on its GPU), answer on the vessel (6 + 0.2);
    # cloud-only: the frame (1 s), find on the A4000 (6 + 0.01 + 0.5), answer (6 + 0.2)
    ("nothing", (13.01, 0, 0.0), (13.71, 1_000_000, 0.51e-4)),
    # edge: + 3 crops (0.03 s) + verify on the A4000 (6 + 0.01 + 0.5, elements side by side), $ 3 x 0.51 s;
    # cloud-only: + verify (6.51), $ 4 x 0.51 s
    ("found", (19.55, 30_000, 1.53e-4), (20.22, 1_000_000, 2.04e-4)),
])
def test_services_mode_by_hand(registry, catalogue, case, edge, cloud):
    edge_placed, cloud_placed = plans(BOTTLES, registry, catalogue, "services")
    producers = set(offload_guards(edge_placed).values())
    assert producers == {"find-bottle"}
    for placed, (seconds, nbytes, usd) in ((edge_placed, edge), (cloud_placed, cloud)):
        f = figures(placed, registry, "services", case, producers)
        assert f.latency_s == pytest.approx(seconds)
        assert f.uplink_bytes == pytest.approx(nbytes)
        assert f.cloud_usd == pytest.approx(usd)
    nothing = figures(edge_placed, registry, "services", "nothing", producers)
    assert nothing.skipped == ("verify-property-bottle",) and ("answer", "boat-cpu") in nothing.steps


def test_pods_mode_by_hand(registry, catalogue):
    edge_placed, cloud_placed = plans(BOTTLES, registry, catalogue, "pods")
    producers = {"find-bottle"}
    # edge: the find pod holds the device for 6 + 10 + 0.8, then the answer 6.2
    e = figures(edge_placed, registry, "pods", "nothing", producers)
    assert e.latency_s == pytest.approx(23.0) and e.cloud_usd == 0
    # cloud-only: 1 s frame + 6 + 10 + 0.5 + 6.2; the pod holds the A4000 16.5 s
    c = figures(cloud_placed, registry, "pods", "nothing", producers)
    assert c.latency_s == pytest.approx(23.7) and c.cloud_usd == pytest.approx(16.5e-4)


def test_the_edge_device_runs_one_step_at_a_time(registry, catalogue):
    edge_placed, _ = plans(TWO_FINDS, registry, catalogue, "services")
    assert {p.pool for p in edge_placed.placements.values()} == {"boat"}
    # both step pods start side by side (6 s), the GPU serves 0.81 s then 0.81 s, then the answer 6.2
    f = figures(edge_placed, registry, "services", "found", set())
    assert f.latency_s == pytest.approx(6 + 0.81 * 2 + 6.2) and f.uplink_bytes == 0


def test_the_stream_and_the_break_even_uplink(registry, catalogue):
    edge_placed, cloud_placed = plans(BOTTLES, registry, catalogue, "services")
    r = edge_report(edge_placed, cloud_placed, registry, MODEL, LINK, mode="services", hit_rate=0.1, frames=10)
    s = r["stream"]
    assert s["edge_cloud"]["latency_s_mean"] == pytest.approx(0.1 * 19.55 + 0.9 * 13.01)
    assert s["cloud_only"]["latency_s_mean"] == pytest.approx(0.1 * 20.22 + 0.9 * 13.71)
    assert s["edge_cloud"]["uplink_bytes"] == pytest.approx(10 * 0.1 * 30_000)
    assert s["cloud_only"]["uplink_bytes"] == pytest.approx(10 * 1_000_000)
    assert s["edge_cloud"]["cloud_usd"] == pytest.approx(10 * 0.1 * 1.53e-4)
    assert s["cloud_only"]["cloud_usd"] == pytest.approx(10 * (0.1 * 2.04e-4 + 0.9 * 0.51e-4))
    assert s["cloud_usd_saved"] == pytest.approx(1 - 1.53e-4 / (2.04e-4 + 9 * 0.51e-4), abs=1e-6)
    assert r["cases"]["nothing"]["latency_speedup"] == pytest.approx(13.71 / 13.01, abs=1e-6)
    # cloud-only when nothing is found is 8/mbps + 12.71 s; twice the edge's 13.01 s needs 8/mbps >= 13.31
    assert r["break_even_uplink_mbps"] == pytest.approx(8 / 13.31, abs=2e-3)
    assert r["offloaded"] == {"verify-property-bottle": "find-bottle"} and r["uplink_mbps"] == 8


@pytest.mark.parametrize("kwargs, message", [
    ({"crop_width": 2000}, "larger than the frame"), ({"bytes_per_pixel": 0}, "must be a number > 0"),
    ({"frame_width": 0}, "whole number of pixels"),
])
def test_link_mistakes(kwargs, message):
    with pytest.raises(DicecError, match=message):
        LinkModel(**kwargs)


def test_hit_rate_is_a_fraction(registry, catalogue):
    edge_placed, cloud_placed = plans(BOTTLES, registry, catalogue, "services")
    with pytest.raises(DicecError, match="--hit-rate"):
        edge_report(edge_placed, cloud_placed, registry, MODEL, LINK, mode="services", hit_rate=1.5)


def test_the_verb(tmp_path, registry, catalogue):
    (tmp_path / "pools.yaml").write_text(POOLS)
    (tmp_path / "prog.py").write_text(BOTTLES)
    ops = str(next(iter(registry.operators.values())).folder.parent)
    args = ["edge", str(tmp_path / "prog.py"), "--pools", str(tmp_path / "pools.yaml"), "--operators", ops,
            "--hit-rate", "0.1", "--frames", "10", "--frame", "1000x1000", "--crop", "100x100",
            "--bytes-per-pixel", "1", "--pod-startup", "5"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["reports"][0]
    assert report["cases"]["nothing"]["edge_cloud"]["latency_s"] == pytest.approx(13.01)
    md = CliRunner().invoke(cli, args)
    assert md.exit_code == 0 and "edge finds nothing" in md.output and "13.01 s" in md.output
    bad = CliRunner().invoke(cli, [*args, "--frame", "big"])
    assert bad.exit_code == 1 and "WIDTHxHEIGHT" in bad.output
    no_edge = tmp_path / "cloud.yaml"
    no_edge.write_text("version: 1\npools:\n  - {name: small, gpu_class: A4000, gpu_memory_gb: 16, usd_per_hour: 0.36}\n")
    refused = CliRunner().invoke(cli, ["edge", str(tmp_path / "prog.py"), "--pools", str(no_edge)])
    assert refused.exit_code == 1 and "no edge pool" in refused.output
