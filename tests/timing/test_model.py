"""The timing model's figures: each with its source, validated where the model is made."""

from __future__ import annotations

import pytest

from dicec.errors import DicecError
from dicec.timing.model import POD_STARTUP, SOURCES, TimingModel


def test_every_constant_has_a_source_and_pod_startup_cites_the_kubernetes_slo():
    assert set(SOURCES) == set(TimingModel().to_json())
    assert all(SOURCES.values())
    assert "pod_startup_latency.md" in POD_STARTUP.source and POD_STARTUP.value == 5.0
    # the figures read from Argo's source or dicec's own emitted defaults cite them; the rest say they are assumptions
    cited = {"pod_startup_s": "pod_startup_latency.md", "agent_startup_s": "workflow/controller/agent.go",
             "agent_patch_rate_s": "ARGO_AGENT_PATCH_RATE", "agent_task_workers": "ARGO_AGENT_TASK_WORKERS",
             "controller_requeue_s": "DEFAULT_REQUEUE_TIME",
             "agent_vcpu": "10m", "agent_memory_gib": "64M", "answer_request_s": "answer_run_s",
             "max_batch": "MAX_BATCH", "cpu_pod_vcpu": "500m", "cpu_pod_memory_gib": "1Gi",
             "stage_chunk_images": "CHUNK_IMAGES", "stage_batch_calls": "BATCH_CALLS"}
    assert all(cited[k] in s for k, s in SOURCES.items() if k in cited)
    assert all(s.startswith("assumption") for k, s in SOURCES.items() if k not in cited)
    assert TimingModel().agent_patch_rate_s == 10.0 and TimingModel().agent_task_workers == 16
    with pytest.raises(DicecError, match="--fanout must be a whole number >= 1"):
        TimingModel(fanout=0)
    with pytest.raises(DicecError, match="image_pull_s must be a number >= 0"):
        TimingModel(image_pull_s=-1)
    with pytest.raises(DicecError, match="agent_task_workers must be a whole number >= 1"):
        TimingModel(agent_task_workers=0)
    with pytest.raises(DicecError, match="server_utilisation must be a fraction"):
        TimingModel(server_utilisation=1.5)
    with pytest.raises(DicecError, match="agent_patch_rate_s must be a number >= 0"):
        TimingModel(agent_patch_rate_s=-1.0)


def test_a_stage_pods_figures_are_the_runtimes():
    from dicec.runtime.stage import BATCH_CALLS, CHUNK_IMAGES

    model = TimingModel()
    assert (model.stage_chunk_images, model.stage_batch_calls) == (CHUNK_IMAGES, BATCH_CALLS)
    with pytest.raises(DicecError, match="batch_window_s must be a number of seconds > 0"):
        TimingModel(batch_window_s=0)
