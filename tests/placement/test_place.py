"""Pools and placement: cheapest fit, arithmetic, and clear errors for bad catalogues."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from dicec.analysis import analyse
from dicec.errors import DicecError
from dicec.placement import load_pools, place
from dicec.placement.pools import parse_pools

PROGRAM = textwrap.dedent("""
    def execute_command(image):
        image_patch = ImagePatch(image)
        cars = image_patch.find("car")
        for car in cars:
            car.simple_query("Is it damaged?")
        return "ok"
""")


def test_default_catalogue_has_the_gpu_pools_with_sources(pools):
    gpu = {p.name: p for p in pools.pools if p.has_gpu}
    assert {n: p.gpu_memory_gb for n, p in gpu.items()} == {
        "a4000": 16, "a6000": 48, "a100-40gb": 40, "a100-80gb": 80, "t4": 16, "l4": 24, "a10g": 24, "l40s": 48,
        "h100": 80}
    for p in gpu.values():
        assert p.usd_per_hour > 0 and "skypilot-catalog@" in p.source and p.as_of
        assert p.node_labels["nvidia.com/gpu.product"]
        assert p.fp16_tensor_tflops > 0 and p.memory_bandwidth_gbps > 0 and "datasheet" in p.datasheet.lower()
    cpu = pools.cpu_pool()
    assert cpu.usd_per_hour > 0 and cpu.vcpus and cpu.memory_gib and "skypilot-catalog@" in cpu.source


def test_every_default_price_is_a_sourced_row_copied_verbatim():
    """pools.yaml's prices are the rows in price_rows.csv, which are rows of ../shared/pricing as they stand."""
    import csv
    from pathlib import Path

    from dicec.placement.pools import default_pools_path
    from support import SHARED

    data = Path(default_pools_path()).parent
    rows = list(csv.DictReader((data / "price_rows.csv").read_text().splitlines()))
    catalogue = load_pools()
    for pool in catalogue.pools:
        if pool.usd_per_hour is None:
            continue
        cloud, instance = {"runpod": "runpod", "aws": "aws", "cudo": "cudo"}[pool.source.split()[0].lower()], \
            pool.source.split()[1].rstrip(",")
        (row,) = [r for r in rows if r["cloud"] == cloud and r["InstanceType"] == instance]
        assert float(row["Price"]) == pytest.approx(pool.usd_per_hour)
        assert (float(row["SpotPrice"]) if row["SpotPrice"] else None) == pool.spot_usd_per_hour
        assert row["source"].split(":")[0] in pool.source
    shared = SHARED / "pricing"
    if shared.is_dir():
        lines = set()
        for f in shared.glob("*.csv"):
            lines.update(f.read_text().splitlines()[1:])
        assert set((data / "price_rows.csv").read_text().splitlines()[1:]) <= lines


def test_each_task_goes_to_the_cheapest_pool_that_fits(registry, pools):
    placed = place(analyse(PROGRAM, registry, path="p.py"), registry, pools)
    find = placed.placements["find-car"]
    query = placed.placements[next(t.id for t in placed.graph.tasks if t.operator == "simple_query")]
    assert find.pool == "a4000"  # 6 GB fits 16 GB, the cheapest
    assert query.pool == "a6000"  # 26 GB: A4000 too small; A6000 cheaper than A100
    # model load 10 s + latency: A4000 0.5 s, A6000 0.3 s; dollars = s * $/h / 3600
    assert find.seconds == pytest.approx(10.5) and find.usd == round(10.5 * 0.32 / 3600, 8)
    assert query.seconds == pytest.approx(10.3) and query.usd == round(10.3 * 0.49 / 3600, 8)
    assert query.per_element and not find.per_element
    assert placed.answer.pool == "cpu"
    assert placed.totals["critical_path_seconds"] == pytest.approx(20.8)
    assert placed.totals["placement_usd"] == pytest.approx(round(10.5 * 0.32 / 3600, 8) + round(10.3 * 0.49 / 3600, 8))


def test_an_operator_too_big_for_every_pool_is_a_clear_error(tmp_path, registry, pools):
    from support import write_operator
    from dicec.tools import discover

    write_operator(tmp_path, "find", [("method", "find(object_name: str) -> list[ImagePatch]")], 120)
    reg = discover([tmp_path], builtin=False, entry_points=False)
    graph = analyse(PROGRAM.replace('car.simple_query("Is it damaged?")', "pass"), reg, path="p.py")
    with pytest.raises(DicecError, match=r"needs 120 GB of GPU memory .* no pool .* fits \(largest GPU: 80 GB\)"):
        place(graph, reg, pools)


def _catalogue(**changes):
    raw = yaml.safe_load(open(load_pools().path if False else __import__("dicec.placement.pools", fromlist=["x"]).default_pools_path()).read())
    pool = raw["pools"][1]
    pool.update(changes)
    return raw


@pytest.mark.parametrize("changes, message", [
    ({"usd_per_hour": -1}, "usd_per_hour must not be negative"),
    ({"gpu_memroy_gb": 16}, "unknown key 'gpu_memroy_gb'"),
    ({"gpu_class": "A 100"}, "gpu_class must be a GPU class name"),
    ({"name": "A4000_pool"}, "'name' must be a lower-case DNS label"),
    ({"usd_per_hour": "cheap"}, "usd_per_hour must be a number"),
    ({"taints": [{"key": "x", "effect": "Sometimes"}]}, "each taint needs"),
])
def test_bad_catalogue_is_one_line(changes, message):
    with pytest.raises(DicecError, match=message):
        parse_pools(_catalogue(**changes), path="pools.yaml")


def test_catalogue_file_errors(tmp_path):
    f = tmp_path / "pools.yaml"
    f.write_text("version: 1\npools: [\n")
    with pytest.raises(DicecError, match=r"pools.yaml:\d+: pool catalogue is not valid YAML"):
        load_pools(f)
    f.write_text("version: 1\npools: []\n")
    with pytest.raises(DicecError, match="no GPU pool"):
        load_pools(f)
    with pytest.raises(DicecError, match="no such file"):
        load_pools(tmp_path / "missing.yaml")
