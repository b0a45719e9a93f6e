"""Per-call figures: latencies listed or derived from datasheets, the shared part of a batch, CPU pod prices."""

from __future__ import annotations

import dataclasses

import pytest

from dicec.errors import DicecError
from dicec.timing.figures import (cpu_price_per_s, derived_latency, has_latency, latency, model_files, model_key,
                                  model_loads, model_memory, shared_seconds)

LISTED_POOLS = ("a4000", "a6000", "a100-40gb")


@pytest.mark.parametrize("pool_name", LISTED_POOLS)
def test_the_derivation_reproduces_the_listed_figures(builtin_registry, pools, pool_name):
    """The shipped A4000/A6000/A100 latencies were derived by hand (operators/SOURCES.md); the same arithmetic
    from each spec's work and the catalogue's datasheet figures gives them back, to their two digits."""
    pool = pools.get(pool_name)
    for spec in builtin_registry:
        listed = spec.profile.latency_s[pool.gpu_class]
        assert derived_latency(spec, pool) == pytest.approx(listed, rel=0.05), spec.name


def test_a_class_a_spec_does_not_list_is_derived_and_a_listed_one_wins(builtin_registry, pools):
    find = builtin_registry.get("find")
    t4, l40s, a100 = pools.get("t4"), pools.get("l40s"), pools.get("a100-40gb")
    # 2.5 TFLOP at 10% of 65 TFLOPS + 5 ms; at 10% of 362.05 TFLOPS + 5 ms
    assert latency(find, t4) == pytest.approx(2.5 / 6.5 + 0.005, abs=1e-6)
    assert latency(find, l40s) == pytest.approx(2.5 / 36.205 + 0.005, abs=1e-6)
    assert latency(find, a100) == 0.085  # listed
    assert has_latency(find, t4)
    bare = dataclasses.replace(t4, fp16_tensor_tflops=None, memory_bandwidth_gbps=None)
    assert not has_latency(find, bare)
    with pytest.raises(DicecError, match=r"no latency for GPU class T4 .*its work figures need the pool's datasheet"):
        latency(find, bare)


def test_a_decoder_shares_its_weight_reads_in_a_batch(builtin_registry, pools):
    llm, find = builtin_registry.get("llm_query"), builtin_registry.get("find")
    a100 = pools.get("a100-40gb")
    assert shared_seconds(llm, a100) == pytest.approx(3840 / (1555 * 0.6))  # 256 steps x 15 GB of weights
    assert shared_seconds(find, a100) == 0.0  # compute-bound: nothing shared


def test_a_cpu_pod_pays_its_share_of_a_node(pools):
    cpu = pools.get("cpu")  # 2 vCPU, 8 GiB at $0.1008/h
    assert cpu_price_per_s(cpu, 0.5, 1.0) == pytest.approx(0.1008 / 3600 * 0.25)
    assert cpu_price_per_s(cpu, 0.5, 6.0) == pytest.approx(0.1008 / 3600 * 0.75)  # memory binds
    assert cpu_price_per_s(dataclasses.replace(cpu, vcpus=None, memory_gib=None), 0.5, 1.0) == 0.0


def test_operators_sharing_a_model_file_count_it_once_at_its_largest_figures(builtin_registry):
    find, exists = builtin_registry.get("find"), builtin_registry.get("exists")
    xvlm = [builtin_registry.get(n) for n in ("verify_property", "best_text_match", "best_image_match")]
    assert model_key(find) == model_key(exists) and len({model_key(s) for s in xvlm}) == 1
    assert model_memory([find, exists]) == pytest.approx(3.9) and model_loads([find, exists]) == pytest.approx(10.8)
    # one X-VLM session serves the three: the process needs best_image_match's 2.4 GB (a batch of patches)
    assert model_files(xvlm) == {model_key(xvlm[0]): (10.4, 2.4)}
    assert model_memory([find, exists, *xvlm]) == pytest.approx(3.9 + 2.4)
