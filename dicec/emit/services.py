"""Services mode: every operator a warm model server (Deployment + Service) on its pool.

``dicec compile --mode services`` writes one YAML stream: what Argo's agent needs to send HTTP steps
(:mod:`dicec.emit.agent`: ServiceAccount, token Secret, Role, RoleBinding), the model servers' and the
answer server's Deployments and Services (in name order, each Deployment followed by its Service), then
the Workflow. Its operator steps are Argo ``http`` templates that the agent sends to the servers
(``POST /v1/step``), and its answer step one more, to the namespace's answer server ``dicec-answer``
(``POST /v1/answer``): a query runs no step pod (:mod:`dicec.emit.http`). The servers compute with the
code pods mode's steps run, so the answer is exactly that of pods mode. Steps that must stay containers
(on a vessel, or reading and writing crop bundles: :func:`dicec.emit.http.container_tasks`) run
``dicec op call NAME --service URL`` on a CPU node instead (:func:`call_step`), which sends each call to
the server and writes the same ``value`` and ``record`` files (see :mod:`dicec.runtime.client`).

**Which operators share a GPU.** The servers of one pool and one container image are packed as the cost
model packs them (:func:`dicec.timing.schedule.pack_servers`): the model files of the pool's operators
(operators naming one file -- ``find`` and ``exists`` one GLIP-L -- share it, counted once) first fit,
largest first (ties by file), into servers whose models fit the pool's GPU memory together. A server is
one process (``dicec op serve A B ...``) holding every model it serves on one GPU, one session per model
file; CPU operators on a CPU pool all share one server. An operator placed on two pools (a latency bound
moved some of its tasks) gets a server on each.

**Replicas.** Sized by the timing model, as ``dicec cost`` bills them (:func:`dicec.timing.bill.replicas_for`
at ``qps x 3600`` queries an hour): a server's busy seconds per query are those placement recorded
(:attr:`dicec.placement.place.PlacedGraph.services`: each call's warm latency on the pool, a fan-out's
assumed elements computed as one batch, a request's overhead each); replicas keep it at most
``server_utilisation`` busy (:data:`TARGET_UTILISATION`), at least one, at most the pool's ``max_nodes``
where the catalogue sets one (each replica takes one GPU). So the Deployments of ``dicec compile --qps Q``
are the replicas ``dicec cost --load 3600Q`` prices. The figures are written on the Deployment as
annotations, so a reviewer sees why it has that many.

**Pods.** Each Deployment's pod is placed like a pods-mode step on the same pool (``nodeSelector`` with the
pool's architecture and, under ``--spot``, its spot nodes, tolerations for the pool's taints, one
``nvidia.com/gpu``: :mod:`dicec.emit.nodes`), with host memory for all its models
(:func:`dicec.emit.hardening.host_memory`), runs the image built for that architecture
(:mod:`dicec.emit.images`), is locked down like every step pod
(:mod:`dicec.emit.hardening`: non-root, read-only root with an ``emptyDir`` ``/tmp``, no privilege
escalation, no capabilities, RuntimeDefault seccomp, no service-account token, CPU and memory
requests and limits), and is probed: liveness ``GET /healthz`` (up as soon as the HTTP server is, also
while models load), readiness ``GET /readyz`` (once the models are loaded, and no longer while it
drains on SIGTERM). The Service is a ClusterIP on port 80; steps reach it at ``http://NAME`` (or
``http://NAME.NAMESPACE.svc`` when ``--namespace`` is given).

**The answer server** (:func:`plan_answer_server`): one ``dicec-answer`` Deployment and Service per
namespace, on the steps' CPU pool (:func:`step_pool`), locked down and probed like the model servers,
replicas sized the same way from the answer service's seconds a query (the timing model's
``answer_request_s`` and the unpredicted calls), each program bounded by
:data:`ANSWER_MAX_SECONDS`, and allowed to call only this namespace's dicec Services
(``--allow-services``).

Names are derived from the operators and the pool only (``dicec-find-exists-a4000``), so workflows
that use the same operators on the same pool share their servers; the last one applied sets the
replica count. ``argo submit`` ignores everything but the Workflow in the stream; every other document
carries the label ``app.kubernetes.io/part-of: dicec-services``, so ``kubectl apply -f wf.yaml -l
app.kubernetes.io/part-of=dicec-services`` installs them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from dicec.emit.hardening import container_security_context, pod_security_context, tmp_volume, tmp_volume_mount
from dicec.emit.images import for_arch
from dicec.emit.nodes import node_selector, tolerations
from dicec.errors import DicecError
from dicec.placement.pools import Pool
from dicec.timing.bill import replicas_for
from dicec.timing.model import TimingModel
from dicec.timing.schedule import pack_servers

MODES = ("pods", "services")
DEFAULT_QPS = 1.0
#: The share of a replica's time spent computing at the target load (the timing model's server_utilisation).
TARGET_UTILISATION = TimingModel().server_utilisation
SERVER_PORT = 8080
SERVICE_PORT = 80
MAX_BATCH = 8
#: 0: a batch is what is already queued, no added latency (a wait pays only where a backend computes
#: a batch in one go and requests trickle in; see docs/services.md).
MAX_WAIT_MS = 0
#: Seconds a server keeps answering after SIGTERM while unready, so endpoints update before it closes.
SHUTDOWN_DELAY_S = 5
TERMINATION_GRACE_S = 60
COMPONENT = "model-server"
ANSWER_COMPONENT = "answer-server"
#: The label every document a cluster installs once carries (servers, RBAC): ``kubectl apply -l`` selects them.
PART_OF = "dicec-services"
#: One answer server serves every services-mode workflow of a namespace.
ANSWER_SERVER = "dicec-answer"
#: The answer server's budget for one program (``--max-seconds``), operator calls on demand included.
ANSWER_MAX_SECONDS = 300
_MAX_NAME = 63


@dataclass(frozen=True, kw_only=True)
class Server:
    """One model server: a Deployment and a Service.

    Attributes:
        name: the Deployment's and Service's name (a DNS-1035 label).
        pool: the pool its pods run on.
        image: the container image.
        operators: the operators it serves, sorted.
        gpu_memory_gb: the GPU memory of all its models together.
        busy_s: estimated seconds of model work per query.
        replicas: pods to run.
    """

    name: str
    pool: Pool
    image: str
    operators: tuple[str, ...]
    gpu_memory_gb: float
    busy_s: float
    replicas: int

    def url(self, namespace: str | None) -> str:
        """The base URL steps call it at."""
        return f"http://{self.name}.{namespace}.svc" if namespace else f"http://{self.name}"


def check_mode(mode: str, qps: float) -> None:
    """Validate the ``mode`` and ``qps`` emit options (one clear line each)."""
    if mode not in MODES:
        raise DicecError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    if isinstance(qps, bool) or not isinstance(qps, (int, float)) or not 0 < qps < 1e9:
        raise DicecError(f"--qps must be a number of queries per second > 0 (got {qps!r})")


def plan_servers(placed: Any, *, qps: float = DEFAULT_QPS) -> tuple[Server, ...]:
    """The model servers for ``placed`` (placed in services mode), in name order (see the module docstring)."""
    figures = _figures(placed)
    memory: dict[str, dict[str, float]] = {}
    for task in placed.graph.tasks:
        p = placed.placements[task.id]
        ops = memory.setdefault(p.pool, {})
        ops[task.operator] = max(ops.get(task.operator, 0.0), p.gpu_memory_gb)
    served = {op for ops in memory.values() for op in ops}
    for operator in sorted({r.operator for r in placed.graph.residual} - served):  # the answer step's own calls
        memory.setdefault(placed.answer.pool, {})[operator] = placed.residual_gpu_memory_gb.get(
            operator, placed.answer.gpu_memory_gb)
    model = TimingModel()
    servers = []
    for pool_name, ops in sorted(memory.items()):
        pool = placed.pools[pool_name]
        busy = figures.busy_s.get(pool_name, {})
        for image, operators, gb in pack_servers(ops, figures.models, placed.images, pool.gpu_memory_gb,
                                                 pool=pool_name):
            operators = sorted(operators)
            seconds = sum(busy.get(op, 0.0) for op in operators)
            replicas = replicas_for(seconds, qps * 3600.0, model, max_nodes=pool.max_nodes)
            servers.append(Server(name=server_name(tuple(operators), pool.name), pool=pool, image=image,
                                  operators=tuple(operators), gpu_memory_gb=gb, busy_s=round(seconds, 6),
                                  replicas=replicas))
    names = [s.name for s in servers]
    if len(set(names)) != len(names):  # two images for the same operators on one pool
        servers = [Server(**{**s.__dict__, "name": server_name(s.operators, s.pool.name, salt=s.image)}) for s in servers]
    return tuple(sorted(servers, key=lambda s: s.name))


def _figures(placed: Any):
    """The services-mode figures placement recorded (:class:`dicec.timing.bill.ServiceFigures`), or one line."""
    if placed.services is None:
        raise DicecError(f"{placed.graph.path}: this placed graph has no services-mode figures (placed in pods mode, "
                         "or by an older dicec); place it again with --mode services")
    return placed.services


def server_name(operators: tuple[str, ...], pool: str, *, salt: str = "") -> str:
    """``dicec-OPS-POOL`` (``_`` as ``-``), or ``dicec-POOL-HASH`` when that is too long or salted."""
    plain = "-".join(["dicec", *(op.replace("_", "-") for op in operators), pool])
    if len(plain) <= _MAX_NAME and not salt:
        return plain
    digest = hashlib.sha256((",".join(operators) + "|" + salt).encode("utf-8")).hexdigest()[:10]
    return f"dicec-{pool}-{digest}"


def server_for(servers: tuple[Server, ...], operator: str, pool: str) -> Server:
    """The server that serves ``operator`` on ``pool``."""
    for s in servers:
        if s.pool.name == pool and operator in s.operators:
            return s
    raise DicecError(f"no model server serves {operator!r} on pool {pool!r}")  # a bug: plan_servers covers every task


def step_pool(placed: Any) -> Pool:
    """Where services-mode steps (the calling steps and the answer step) run: the answer step's pool when
    placement chose a CPU pool for it, else any CPU node (no selector): the models are in the servers."""
    answer_pool = placed.pools[placed.answer.pool]
    return answer_pool if not answer_pool.has_gpu else Pool(name="cpu", gpu_class=None, gpu_memory_gb=0,
                                                            usd_per_hour=None, node_labels={})


def call_step(operator: str, pool: Pool, placed: Any, options: Any, command: list[str], args: list[str],
              servers: tuple[Server, ...]) -> tuple[list[str], list[str], Pool]:
    """An operator step's ``command``, ``args`` and pool in services mode, from its pods-mode ones.

    ``dicec op NAME FLAGS`` becomes ``dicec op call NAME --service URL FLAGS`` (the flags unchanged),
    on a CPU node (:func:`step_pool`); ``servers`` is :func:`plan_servers`'s plan.
    """
    if command[:2] != ["dicec", "op"] or len(command) != 3:
        raise DicecError(f"unexpected operator step command {command!r}")  # a bug: steps.op_command changed
    server = server_for(servers, operator, pool.name)
    return ["dicec", "op", "call", operator], ["--service", server.url(options.namespace), *args], step_pool(placed)


def answer_services(placed: Any, options: Any, servers: tuple[Server, ...]) -> str:
    """The answer step's ``--services``: canonical JSON from each operator the program may call on demand
    (every task's and every unpredicted call's) to its server's URL; an operator served on several pools
    goes to the server on the pool placement chose first (graph order), else the answer's pool.

    Only operator names (lower-case identifiers) and URLs built from DNS names reach it."""
    import json

    pools = {}
    for task in placed.graph.tasks:
        pools.setdefault(task.operator, placed.placements[task.id].pool)
    for r in placed.graph.residual:
        pools.setdefault(r.operator, placed.answer.pool)
    urls = {op: server_for(servers, op, pool).url(options.namespace) for op, pool in sorted(pools.items())}
    return json.dumps(urls, sort_keys=True, separators=(",", ":"))


def server_manifests(servers: tuple[Server, ...], options: Any,
                     answer: AnswerServer | None = None) -> list[dict[str, Any]]:
    """The Deployment and Service of every model server, and of the answer server when given, in name order."""
    named = [(s.name, [deployment(s, options), service(s.name, s.pool, COMPONENT, options)]) for s in servers]
    if answer is not None:
        named.append((answer.name, [answer_deployment(answer, options),
                                    service(answer.name, answer.pool, ANSWER_COMPONENT, options)]))
    return [doc for _, docs in sorted(named, key=lambda n: n[0]) for doc in docs]


@dataclass(frozen=True, kw_only=True)
class AnswerServer:
    """The answer server of a namespace (``dicec answer serve``): a Deployment and a Service.

    Attributes:
        name: the Deployment's and Service's name (:data:`ANSWER_SERVER`).
        pool: the CPU pool its pods run on (:func:`step_pool`).
        image: the container image.
        busy_s: seconds a query asks of it (the timing model's).
        replicas: pods to run.
        allow_services: its ``--allow-services``: the model-server URLs requests may name.
    """

    name: str
    pool: Pool
    image: str
    busy_s: float
    replicas: int
    allow_services: str

    def url(self, namespace: str | None) -> str:
        """The base URL the answer task calls."""
        return f"http://{self.name}.{namespace}.svc" if namespace else f"http://{self.name}"


def plan_answer_server(placed: Any, options: Any, image: str) -> AnswerServer:
    """The answer server for ``placed`` (see the module docstring): on the steps' CPU pool, replicas sized by the
    timing model at ``options.qps``, allowed to call this namespace's dicec Services."""
    busy = _figures(placed).answer_busy_s
    replicas = replicas_for(busy, options.qps * 3600.0, TimingModel())
    namespace = r"(\.%s\.svc)?" % re.escape(options.namespace) if options.namespace else ""
    allow = r"^http://dicec-[a-z0-9]([-a-z0-9]*[a-z0-9])?%s(:[0-9]{1,5})?$" % namespace
    return AnswerServer(name=ANSWER_SERVER, pool=step_pool(placed), image=image, busy_s=round(busy, 6),
                        replicas=replicas, allow_services=allow)


def _labels(name: str, component: str, pool: Pool) -> dict[str, str]:
    return {"app.kubernetes.io/component": component, "app.kubernetes.io/managed-by": "dicec",
            "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF, "dicec.dev/pool": pool.name}


def _metadata(name: str, component: str, pool: Pool, options: Any,
              annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if options.namespace:
        meta["namespace"] = options.namespace
    meta["labels"] = _labels(name, component, pool)
    if annotations:
        meta["annotations"] = annotations
    return meta


def _server_deployment(*, name: str, component: str, pool: Pool, image: str, command: list[str], names: list[str],
                       flags: list[str], replicas: int, annotations: dict[str, str], options: Any,
                       model_gb: float = 0.0) -> dict[str, Any]:
    """A server's apps/v1 Deployment: probed (``/healthz``, ``/readyz``), locked down, drained on SIGTERM."""
    from dicec import __version__

    hardening = options.hardening
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5, "timeoutSeconds": 2,
             "failureThreshold": 2, "successThreshold": 1}
    liveness = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5,
                "failureThreshold": 6, "successThreshold": 1}
    container: dict[str, Any] = {
        "name": "server",
        "image": for_arch(image, pool, options),
        "command": command,
        "args": [*names, "--host", "0.0.0.0", "--port", str(SERVER_PORT), *flags, "--shutdown-delay-s",
                 str(SHUTDOWN_DELAY_S)],
        "ports": [{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": liveness,
        "resources": options.resources(gpu=pool.has_gpu, model_gb=model_gb).to_json(),
        "securityContext": container_security_context(hardening),
        "volumeMounts": [tmp_volume_mount()],
    }
    pod: dict[str, Any] = {"automountServiceAccountToken": hardening.automount_service_account_token}
    if options.service_account:
        pod["serviceAccountName"] = options.service_account
    pod["securityContext"] = pod_security_context(hardening)
    pod["nodeSelector"] = node_selector(pool, options)  # the pool's labels, its arch, its spot nodes under --spot
    if tolerations(pool, options):
        pod["tolerations"] = tolerations(pool, options)
    pod["terminationGracePeriodSeconds"] = TERMINATION_GRACE_S
    pod["containers"] = [container]
    pod["volumes"] = [tmp_volume(hardening)]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, component, pool, options, {**annotations, "dicec.dev/version": __version__}),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": _labels(name, component, pool)}, "spec": pod},
        },
    }


def deployment(server: Server, options: Any) -> dict[str, Any]:
    """A model server's apps/v1 Deployment."""
    annotations = {
        "dicec.dev/operators": ",".join(server.operators),
        "dicec.dev/gpu-memory-gb": f"{server.gpu_memory_gb:g}",
        "dicec.dev/busy-seconds-per-query": f"{server.busy_s:g}",
        "dicec.dev/qps": f"{options.qps:g}",
        "dicec.dev/replicas-basis": (f"ceil({options.qps:g} qps x {server.busy_s:g} s / {TARGET_UTILISATION:g} "
                                     f"utilisation), at least 1"
                                     + (f", at most max_nodes {server.pool.max_nodes}"
                                        if server.pool.max_nodes is not None else "")),
    }
    return _server_deployment(name=server.name, component=COMPONENT, pool=server.pool, image=server.image,
                              command=["dicec", "op", "serve"],
                              names=list(server.operators),
                              flags=["--max-batch", str(MAX_BATCH), "--max-wait-ms", str(MAX_WAIT_MS)],
                              replicas=server.replicas, annotations=annotations, options=options,
                              model_gb=server.gpu_memory_gb)


def answer_deployment(answer: AnswerServer, options: Any) -> dict[str, Any]:
    """The answer server's apps/v1 Deployment (``dicec answer serve``)."""
    annotations = {
        "dicec.dev/busy-seconds-per-query": f"{answer.busy_s:g}",
        "dicec.dev/qps": f"{options.qps:g}",
        "dicec.dev/replicas-basis": (f"ceil({options.qps:g} qps x {answer.busy_s:g} s / {TARGET_UTILISATION:g} "
                                     "utilisation), at least 1"),
    }
    return _server_deployment(name=answer.name, component=ANSWER_COMPONENT, pool=answer.pool, image=answer.image,
                              command=["dicec", "answer", "serve"],
                              names=[], flags=["--allow-services", answer.allow_services, "--max-seconds",
                                               f"{ANSWER_MAX_SECONDS:g}"],
                              replicas=answer.replicas, annotations=annotations, options=options)


def service(name: str, pool: Pool, component: str, options: Any) -> dict[str, Any]:
    """A server's v1 Service (ClusterIP, port 80 to the pods' ``http`` port)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, component, pool, options),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
