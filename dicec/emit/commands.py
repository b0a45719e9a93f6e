"""The ``dicec compile`` options that shape the emitted workflow, as one click decorator.

:func:`emit_options` adds the options (inputs at scale, kind, pod hardening, host memory, retries,
deadlines, garbage collection, container images) to a verb; :func:`options_from` turns the values click parsed into
:class:`~dicec.emit.argo.EmitOptions`, where every value is validated. Only click is imported here.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from dicec.errors import DicecError

_KEYS = ("kind", "batch", "shards", "max_batch", "image_deadline", "parallelism", "input_artifact", "service_account",
         "executor_service_account", "image_secret", "automount_token", "run_as_user", "tmp_size", "gpu_cpu",
         "gpu_host_memory", "gpu_memory", "cpu_step_cpu", "cpu_step_memory", "retry_limit", "retry_policy",
         "step_deadline", "workflow_deadline", "pod_gc", "ttl_after_success", "ttl_after_failure", "image",
         "operator_images", "arch_images")

_OPTIONS = [
    click.option("--kind", type=click.Choice(["Workflow", "WorkflowTemplate"]), default="Workflow", show_default=True,
                 help="WorkflowTemplate for GitOps (fixed name: --name, else one derived from the input; "
                      "run it with argo submit --from workflowtemplate/NAME)."),
    click.option("--batch", is_flag=True,
                 help="Take a JSON list of images (parameter images) and answer each in one workflow; in pods mode, "
                      "shards of stage pods that load each model once for many images (several inputs: every "
                      "question for every image)."),
    click.option("--shards", type=click.IntRange(1, 1024), default=None,
                 help="--batch in pods mode: cut the images into N contiguous shards run side by side "
                      "(default: the largest max_nodes of the GPU pools used, else 8)."),
    click.option("--max-batch", type=click.IntRange(1), default=10000, show_default=True,
                 help="--batch in pods mode: the most images the workflow takes (its pods' deadlines are sized for it)."),
    click.option("--image-deadline", type=click.IntRange(1), default=30, show_default=True, metavar="SECONDS",
                 help="--batch in pods mode: seconds each image of a shard adds to a pod's deadline."),
    click.option("--parallelism", type=click.IntRange(1), default=None,
                 help="At most N images (a pods-mode --batch: shards) at once, or N pods at once (default: no cap)."),
    click.option("--input-artifact", type=click.Choice(["s3", "gcs", "http"]), default=None,
                 help="Pass the image as an Argo input artifact: the parameter is a key in the cluster's default "
                      "artifact repository (s3, gcs) or a URL (http)."),
    click.option("--service-account", default=None, metavar="NAME", help="serviceAccountName of the step pods."),
    click.option("--executor-service-account", default=None, metavar="NAME",
                 help="Service account of Argo's executor (default: --service-account, else default)."),
    click.option("--image-secret", default=None, metavar="SECRET",
                 help="A Secret every step gets as environment variables (envFrom: AWS_ACCESS_KEY_ID, ...) and as "
                      "read-only files (a gcp-service-account.json key), to read s3:// or gs:// images without "
                      "a pod identity (IRSA, Workload Identity)."),
    click.option("--automount-service-account-token", "automount_token", is_flag=True,
                 help="Mount the service account token into step pods (off by default: steps never call the API)."),
    click.option("--run-as-user", type=click.IntRange(1, 2**31 - 1), default=10001, show_default=True,
                 help="uid (and gid) the step containers run as; the vision image's user is 10001."),
    click.option("--tmp-size", default="2Gi", show_default=True, help="Size limit of the writable /tmp emptyDir."),
    click.option("--gpu-cpu", default="2:4", show_default=True, metavar="REQ[:LIMIT]", help="CPU of a GPU step."),
    click.option("--gpu-step-host-memory", "gpu_host_memory", default=None, metavar="REQ[:LIMIT]",
                 help="Host memory (RAM, not GPU memory) of a GPU step, e.g. 32Gi:48Gi [default: from the step's "
                      "models: their GPU memory + 2Gi, limit 1.5x + 4Gi, at least 8Gi:16Gi]."),
    click.option("--gpu-memory", "gpu_memory", default=None, metavar="REQ[:LIMIT]", hidden=True,
                 help="Deprecated name of --gpu-step-host-memory (it sets host RAM, not GPU memory)."),
    click.option("--cpu-step-cpu", default="500m:1", show_default=True, metavar="REQ[:LIMIT]", help="CPU of a CPU step."),
    click.option("--cpu-step-memory", default="1Gi:2Gi", show_default=True, metavar="REQ[:LIMIT]",
                 help="Memory of a CPU step."),
    click.option("--retry-limit", type=click.IntRange(0), default=2, show_default=True,
                 help="Retries of a failed step (with exponential backoff from 15s, doubling, within 10 minutes)."),
    click.option("--retry-policy", type=click.Choice(["Always", "OnFailure", "OnError", "OnTransientError"]),
                 default="Always", show_default=True, help="Which failures are retried."),
    click.option("--step-deadline", type=click.IntRange(1), default=1800, show_default=True, metavar="SECONDS",
                 help="activeDeadlineSeconds of each step pod."),
    click.option("--workflow-deadline", type=click.IntRange(1), default=14400, show_default=True, metavar="SECONDS",
                 help="activeDeadlineSeconds of the whole workflow."),
    click.option("--pod-gc", type=click.Choice(["OnPodSuccess", "OnPodCompletion", "OnWorkflowSuccess",
                                                "OnWorkflowCompletion", "none"]),
                 default="OnPodSuccess", show_default=True, help="When Argo deletes step pods (none: never)."),
    click.option("--ttl-after-success", type=click.IntRange(1), default=3600, show_default=True, metavar="SECONDS",
                 help="How long a succeeded workflow is kept."),
    click.option("--ttl-after-failure", type=click.IntRange(1), default=86400, show_default=True, metavar="SECONDS",
                 help="How long a failed workflow is kept."),
    click.option("--image", "image", default=None, metavar="IMAGE",
                 help="Container image of every step and server (your build of images/Dockerfile.vision, e.g. "
                      "registry.example.com/dicec/vision:0.1.0) [default: each operator spec's image]."),
    click.option("--operator-image", "operator_images", multiple=True, metavar="OP=IMAGE",
                 help="Container image of one operator's steps and servers (repeatable); wins over --image."),
    click.option("--arch-image", "arch_images", multiple=True, metavar="ARCH=IMAGE",
                 help="Container image of steps on pools of that CPU architecture, e.g. arm64=REF for a Jetson "
                      "(repeatable) [default: the image's tag with -ARCH appended; dicec builds amd64 only]."),
]


def emit_options(command: Callable) -> Callable:
    """Add the emission options to a click command (they arrive as keyword arguments)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def pop_emit_values(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take this module's option values out of a verb's ``kwargs``."""
    return {k: kwargs.pop(k) for k in _KEYS if k in kwargs}


def _pair(text: str, what: str) -> tuple[str, str]:
    request, sep, limit = text.partition(":")
    if not request or (sep and not limit):
        raise DicecError(f"--{what} {text!r}: expected REQUEST or REQUEST:LIMIT (e.g. 2:4, 8Gi:16Gi)")
    return request, limit or request


def options_from(values: dict[str, Any], **fixed: Any):
    """:class:`EmitOptions` from the values of :func:`emit_options` (plus ``name``, ``namespace``...)."""
    from dicec.emit.argo import EmitOptions
    from dicec.emit.hardening import Hardening

    from dicec.emit.images import pairs

    v = values
    host = v.get("gpu_host_memory")
    if v.get("gpu_memory") is not None:
        click.echo("dicec: warning: --gpu-memory is deprecated: it sets a GPU step's host memory (RAM), not its GPU "
                   "memory; use --gpu-step-host-memory", err=True)  # a warning about the input: shown even with -q
        host = host if host is not None else v["gpu_memory"]
    gpu_cpu = _pair(v["gpu_cpu"], "gpu-cpu")
    gpu_memory = (None, None) if host is None else _pair(host, "gpu-step-host-memory")
    cpu_cpu, cpu_memory = _pair(v["cpu_step_cpu"], "cpu-step-cpu"), _pair(v["cpu_step_memory"], "cpu-step-memory")
    hardening = Hardening(run_as_user=v["run_as_user"], run_as_group=v["run_as_user"], fs_group=v["run_as_user"],
                          tmp_size_limit=v["tmp_size"], automount_service_account_token=v["automount_token"])
    return EmitOptions(
        **fixed, kind=v["kind"], batch=v["batch"], shards=v["shards"], max_batch=v["max_batch"],
        image_deadline_seconds=v["image_deadline"], parallelism=v["parallelism"], input_artifact=v["input_artifact"],
        service_account=v["service_account"], executor_service_account=v["executor_service_account"],
        image_secret=v["image_secret"], hardening=hardening,
        gpu_cpu_request=gpu_cpu[0], gpu_cpu_limit=gpu_cpu[1], gpu_memory_request=gpu_memory[0],
        gpu_memory_limit=gpu_memory[1], cpu_step_cpu_request=cpu_cpu[0], cpu_step_cpu_limit=cpu_cpu[1],
        cpu_step_memory_request=cpu_memory[0], cpu_step_memory_limit=cpu_memory[1],
        retry_limit=v["retry_limit"], retry_policy=v["retry_policy"], step_deadline_seconds=v["step_deadline"],
        workflow_deadline_seconds=v["workflow_deadline"], pod_gc=None if v["pod_gc"] == "none" else v["pod_gc"],
        ttl_after_success=v["ttl_after_success"], ttl_after_failure=v["ttl_after_failure"], image=v.get("image"),
        operator_images=pairs(v.get("operator_images") or (), what="--operator-image", key="OP"),
        arch_images=pairs(v.get("arch_images") or (), what="--arch-image", key="ARCH"))
