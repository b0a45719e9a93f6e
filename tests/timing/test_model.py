"""The timing model's figures: each with its source, validated where the model is made."""

from __future__ import annotations

import pytest

from dicec.errors import DicecError
from dicec.timing.model import POD_STARTUP, SOURCES, TimingModel


def test_every_constant_has_a_source_and_pod_startup_cites_the_kubernetes_slo():
    assert set(SOURCES) == set(TimingModel().to_json())
    assert all(SOURCES.values())
    assert "pod_startup_latency.md" in POD_STARTUP.source and POD_STARTUP.value == 5.0
    assert all(s.startswith("assumption") for k, s in SOURCES.items() if k != "pod_startup_s")
    with pytest.raises(DicecError, match="--fanout must be a whole number >= 1"):
        TimingModel(fanout=0)
    with pytest.raises(DicecError, match="image_pull_s must be a number >= 0"):
        TimingModel(image_pull_s=-1)
