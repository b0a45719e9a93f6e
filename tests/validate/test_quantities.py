"""dicec validate refuses quantities Kubernetes would refuse, at their line."""

from __future__ import annotations

from dicec.validate import validate_text

WORKFLOW = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: q-
spec:
  entrypoint: main
  volumeClaimTemplates:
  - metadata:
      name: work
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: {storage}
  templates:
  - name: main
    container:
      image: ghcr.io/dicec/vision:0.1.0
      command: [dicec, op, find]
      resources:
        requests:
          nvidia.com/gpu: {gpu}
          memory: {memory}
          cpu: {cpu}
        limits:
          nvidia.com/gpu: {gpu_limit}
          memory: 16Gi
          cpu: "4"
    volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {size}
"""
GOOD = {"storage": "1Gi", "gpu": 1, "memory": "8Gi", "cpu": "500m", "gpu_limit": 1, "size": "2Gi"}


def problems(**changes) -> list[str]:
    text = WORKFLOW.format(**{**GOOD, **changes})
    return [str(d) for d in validate_text(text, path="wf.yaml")]


def line_of(text: str) -> int:
    return WORKFLOW.splitlines().index(text) + 1


def test_good_quantities_are_valid():
    assert problems() == []
    assert problems(cpu="1e-1", memory='"8589934592"', size="+2G", gpu='"1"', gpu_limit='"1"') == []


def test_words_and_units_kubernetes_does_not_know_are_refused_at_their_line():
    assert problems(gpu="one") == [
        f'wf.yaml:{line_of("          nvidia.com/gpu: {gpu}")}: spec.templates[0].container.resources.requests'
        "[\"nvidia.com/gpu\"]: 'one' is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 8Gi)"]
    assert problems(memory="16 gigs") == [
        f"wf.yaml:{line_of('          memory: {memory}')}: spec.templates[0].container.resources.requests.memory: "
        "'16 gigs' is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 8Gi)"]
    for field, bad in (("size", "2GB"), ("storage", "lots"), ("cpu", "2 cores")):
        (line,) = problems(**{field: bad})
        assert "is not a Kubernetes quantity" in line, line


def test_the_rules_kubernetes_adds_to_resources():
    (negative,) = problems(memory="-1Gi")
    assert negative.endswith("requests.memory: memory request must not be negative")
    request, limit = problems(gpu="0.5", gpu_limit="0.5")
    assert request.endswith('requests["nvidia.com/gpu"]: nvidia.com/gpu is an extended resource: its request must '
                            "be a whole number")
    assert limit.endswith("its limit must be a whole number")
    (unequal,) = problems(gpu=1, gpu_limit=2)
    assert unequal.endswith("nvidia.com/gpu is an extended resource: its request must equal its limit")
    (above,) = problems(cpu="8")
    assert above.endswith("requests.cpu: cpu request is above its limit (4)")
