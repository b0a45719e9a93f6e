"""What locks an emitted pod down and bounds it: security contexts, the writable ``/tmp``, resources.

Every pod dicec emits (Argo step templates here; model-server Deployments in services mode reuse the
same builders) runs as the unprivileged user of ``images/Dockerfile.vision`` (uid 10001), on a
read-only root filesystem with a memory- or disk-backed ``emptyDir`` at ``/tmp`` (the steps write
their outputs under ``/tmp/dicec``, see :mod:`dicec.emit.steps`), with no privilege escalation, every
Linux capability dropped and the runtime's default seccomp profile. Each container gets CPU and memory
requests *and* limits; a GPU container's ``nvidia.com/gpu`` limit equals its request (Kubernetes
requires that for extended resources).

The builders return plain Kubernetes JSON (camelCase keys, the field names of the core/v1 API), so a
Deployment emitter can use them as they are and the Argo emitter can hand them to hera's models.
Quantities are checked where :class:`Hardening` and :class:`ResourceSpec` are made: a request above
its limit, or a string Kubernetes would not parse, is refused with one clear line.

A GPU step's host memory (RAM) follows its models (:func:`host_memory`): onnxruntime reads a whole ONNX
model into the process before it copies the weights to the GPU, so a step whose models hold 26 GB (BLIP-2's
``gpu_memory_gb``) cannot start in 8Gi. The request is the models' GPU memory (the spec's
``profile.gpu_memory_gb``: weights, activations and CUDA context, an upper bound of the weights) plus
:data:`HOST_BASE_GIB` for Python, numpy and the image, the limit 1.5 times that plus
:data:`HOST_LIMIT_EXTRA_GIB` for the read's transient copy; never below :data:`HOST_FLOOR` (the former fixed
default). These factors are assumptions (not measured on a production model); ``--gpu-step-host-memory``
sets both figures outright.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dicec.errors import DicecError
from dicec.quantities import EXAMPLES, parse_quantity

#: The uid and gid of the ``dicec`` user in ``images/Dockerfile.vision``.
IMAGE_UID = 10001
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"
GPU_RESOURCE = "nvidia.com/gpu"

#: Host memory of a GPU step besides its models (Python, onnxruntime, numpy, the decoded image), GiB: assumption.
HOST_BASE_GIB = 2
#: The limit's room over 1.5 x the models, GiB (the transient copy while a model is read): assumption.
HOST_LIMIT_EXTRA_GIB = 4
#: The least a GPU step requests and may use (request, limit), the fixed default before models sized it.
HOST_FLOOR = ("8Gi", "16Gi")


def host_memory(model_gb: float) -> tuple[str, str]:
    """Host memory (request, limit) of a GPU step that loads models of ``model_gb`` GB of GPU memory in all (a
    fused group's or a server's models together): ``ceil(model_gb + 2)`` GiB and ``ceil(1.5 x model_gb + 4)``
    GiB, at least 8Gi and 16Gi (see the module docstring for why, and what is assumed)."""
    if isinstance(model_gb, bool) or not isinstance(model_gb, (int, float)) or model_gb < 0:
        raise DicecError(f"a step's models need a GPU memory of at least 0 GB, not {model_gb!r}")
    request = max(int(HOST_FLOOR[0][:-2]), math.ceil(round(model_gb + HOST_BASE_GIB, 6)))
    limit = max(int(HOST_FLOOR[1][:-2]), math.ceil(round(1.5 * model_gb + HOST_LIMIT_EXTRA_GIB, 6)))
    return f"{request}Gi", f"{limit}Gi"


def quantity(text: str, *, what: str) -> Decimal:
    """The value of a positive Kubernetes resource quantity (:mod:`dicec.quantities`: ``500m``, ``2``, ``8Gi``)."""
    value = parse_quantity(text) if isinstance(text, str) else None
    if value is None:
        raise DicecError(f"{what} {text!r} is not a Kubernetes quantity ({EXAMPLES})")
    if value <= 0:
        raise DicecError(f"{what} {text!r} must be positive")
    return value


@dataclass(frozen=True, kw_only=True)
class ResourceSpec:
    """CPU and memory requests and limits of one kind of container, and its GPUs.

    Attributes:
        cpu_request: guaranteed CPU (``500m``, ``2``).
        memory_request: guaranteed memory (``1Gi``).
        cpu_limit: CPU ceiling; at least the request.
        memory_limit: memory ceiling (the container is killed above it); at least the request.
        gpus: whole ``nvidia.com/gpu`` devices, written as both request and limit; 0 for a CPU container.
    """

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str
    gpus: int = 0

    def __post_init__(self) -> None:
        for kind in ("cpu", "memory"):
            request = quantity(getattr(self, f"{kind}_request"), what=f"{kind} request")
            limit = quantity(getattr(self, f"{kind}_limit"), what=f"{kind} limit")
            if limit < request:
                raise DicecError(f"{kind} limit {getattr(self, f'{kind}_limit')} is below its request "
                                 f"{getattr(self, f'{kind}_request')}")
        if isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or self.gpus < 0:
            raise DicecError(f"gpus must be a whole number of devices, not {self.gpus!r}")

    def to_json(self) -> dict[str, Any]:
        """``resources`` of a core/v1 Container."""
        requests: dict[str, Any] = {"cpu": self.cpu_request, "memory": self.memory_request}
        limits: dict[str, Any] = {"cpu": self.cpu_limit, "memory": self.memory_limit}
        if self.gpus:
            requests[GPU_RESOURCE] = str(self.gpus)
            limits[GPU_RESOURCE] = str(self.gpus)
        return {"limits": limits, "requests": requests}


@dataclass(frozen=True, kw_only=True)
class Hardening:
    """How an emitted pod is locked down.

    Attributes:
        run_as_user: uid the containers run as (non-zero; the image's ``dicec`` user by default).
        run_as_group: gid the containers run as.
        fs_group: group that owns mounted volumes, so the user can write ``/tmp``.
        tmp_size_limit: size limit of the ``emptyDir`` mounted at ``/tmp``.
        automount_service_account_token: mount the service account's token into step pods (off: steps
            never talk to the Kubernetes API).
    """

    run_as_user: int = IMAGE_UID
    run_as_group: int = IMAGE_UID
    fs_group: int = IMAGE_UID
    tmp_size_limit: str = "2Gi"
    automount_service_account_token: bool = False

    def __post_init__(self) -> None:
        for what in ("run_as_user", "run_as_group", "fs_group"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
                raise DicecError(f"{what.replace('_', '-')} must be a non-root id (1 to 2147483647), not {value!r}")
        quantity(self.tmp_size_limit, what="/tmp size limit")


DEFAULT = Hardening()


def container_security_context(hardening: Hardening = DEFAULT) -> dict[str, Any]:
    """``securityContext`` of a core/v1 Container: non-root, read-only root, nothing to escalate to."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsGroup": hardening.run_as_group,
        "runAsNonRoot": True,
        "runAsUser": hardening.run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(hardening: Hardening = DEFAULT) -> dict[str, Any]:
    """``securityContext`` of a core/v1 PodSpec (also Argo's template-level ``securityContext``)."""
    return {
        "fsGroup": hardening.fs_group,
        "runAsGroup": hardening.run_as_group,
        "runAsNonRoot": True,
        "runAsUser": hardening.run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def tmp_volume(hardening: Hardening = DEFAULT) -> dict[str, Any]:
    """The ``emptyDir`` volume that gives a read-only-root container a writable ``/tmp``."""
    return {"emptyDir": {"sizeLimit": hardening.tmp_size_limit}, "name": TMP_VOLUME}


def tmp_volume_mount() -> dict[str, Any]:
    """The container's ``volumeMounts`` entry for :func:`tmp_volume`."""
    return {"mountPath": TMP_PATH, "name": TMP_VOLUME}


def is_hardened_container(container: dict[str, Any], pod_context: dict[str, Any] | None = None) -> list[str]:
    """What a container (and its pod's security context) lacks of the lock-down, as short phrases.

    Used by tests over every emitted pod template, and usable by a reviewer's script on any manifest.
    """
    sc = container.get("securityContext") or {}
    pod = pod_context or {}
    missing = []
    if not (sc.get("runAsNonRoot") or pod.get("runAsNonRoot")):
        missing.append("runAsNonRoot")
    if (sc.get("runAsUser", pod.get("runAsUser")) or 0) == 0:
        missing.append("a non-zero runAsUser")
    if sc.get("readOnlyRootFilesystem") is not True:
        missing.append("readOnlyRootFilesystem")
    if sc.get("allowPrivilegeEscalation") is not False:
        missing.append("allowPrivilegeEscalation: false")
    if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
        missing.append("capabilities drop ALL")
    if ((sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")) != "RuntimeDefault":
        missing.append("seccompProfile RuntimeDefault")
    if not any(m.get("mountPath") == TMP_PATH for m in container.get("volumeMounts") or []):
        missing.append("a writable /tmp")
    resources = container.get("resources") or {}
    for side in ("requests", "limits"):
        for kind in ("cpu", "memory"):
            if kind not in (resources.get(side) or {}):
                missing.append(f"{kind} {side[:-1]}")
    gpu_request = (resources.get("requests") or {}).get(GPU_RESOURCE)
    if gpu_request is not None and str((resources.get("limits") or {}).get(GPU_RESOURCE)) != str(gpu_request):
        missing.append("GPU limit equal to the request")
    return missing
