"""``dicec run`` of a services-mode workflow: the model servers and the answer server its manifests describe,
on loopback.

A services-mode YAML stream (``dicec compile --mode services``) carries, beside the Workflow, a
Deployment per model server whose container runs ``dicec op serve NAME...``, the answer server's
running ``dicec answer serve``, and a Service selecting each one's pods. :func:`local_servers` reads
them (a Service whose selector matches a Deployment's pod labels; the Deployment's ``serve`` arguments:
operators, ``--max-batch``, ``--max-wait-ms``; ``--allow-services``, ``--max-seconds``, ``--max-lines``)
and :func:`serving` starts one server per Deployment on ``127.0.0.1`` and a free port -- in this process
(``--isolation thread``: :class:`dicec.serving.model_server.ModelServer` and
:class:`dicec.serving.answer_server.AnswerServer` on threads, models shared with the in-process steps)
or as ``dicec op serve`` / ``dicec answer serve`` subprocesses (``--isolation process``, as a pod runs
it) -- waits until each is ready, and stops them (SIGTERM, drained) when the run ends, however it ends.
The model servers start first: the answer server gets their local URLs.

The seam is the ``DICEC_SERVICES`` environment variable (:mod:`dicec.runtime.client`): Service name ->
local base URL, added to the run's step environment and given to the answer server, so ``http://NAME/...``
in the workflow (an HTTP step's URL, ``dicec op call --service``, the answer's ``services``) reaches the
local server without rewriting the file. One replica runs per Deployment, whatever ``replicas`` says.
A workflow without servers runs unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Iterator

from dicec.errors import DicecError, Location
from dicec.runner.documents import read_documents
from dicec.runner.launcher import SERVER_LAUNCHER, subprocess_env

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


#: The container commands of the servers a stream may describe, and their kinds.
SERVER_COMMANDS = {("dicec", "op", "serve"): "model", ("dicec", "answer", "serve"): "answer"}


@dataclass(frozen=True, kw_only=True)
class LocalServer:
    """A server to start locally: a model server, or the answer server.

    Attributes:
        deployment: the Deployment's name.
        services: the names of the Services that select its pods.
        kind: ``model`` (``dicec op serve``) or ``answer`` (``dicec answer serve``).
        operators: the operators it serves (a model server).
        max_batch: its ``--max-batch`` (a model server).
        max_wait_ms: its ``--max-wait-ms`` (a model server).
        flags: the answer server's ``--allow-services``, ``--max-seconds`` and ``--max-lines`` given.
    """

    deployment: str
    services: tuple[str, ...]
    operators: tuple[str, ...] = ()
    max_batch: int = 8
    max_wait_ms: float = 0.0
    kind: str = "model"
    flags: tuple[tuple[str, str], ...] = ()


def local_servers(path: str, docs: list | None = None) -> tuple[LocalServer, ...]:
    """The model servers a YAML stream describes (none for a pods-mode workflow); ``docs``: the
    file's documents when already read (:func:`dicec.runner.documents.read_documents`)."""
    where = Location(path=path)
    docs = [d for d in (read_documents(path) if docs is None else docs) if isinstance(d, dict)]
    deployments = []
    for d in docs:
        if d.get("kind") != "Deployment":
            continue
        spec = d.get("spec") or {}
        template = spec.get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        serving = [c for c in containers if isinstance(c, dict)
                   and tuple(str(a) for a in list(c.get("command") or [])[:3]) in SERVER_COMMANDS]
        if not serving:
            continue
        name = (d.get("metadata") or {}).get("name")
        labels = (template.get("metadata") or {}).get("labels") or {}
        deployments.append((name, labels, _serve_args(serving[0], name, where)))
    out = []
    for name, labels, fields in deployments:
        services = tuple(sorted(
            (s.get("metadata") or {}).get("name") for s in docs if s.get("kind") == "Service"
            and isinstance((s.get("spec") or {}).get("selector"), dict) and (s["spec"]["selector"])
            and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())))
        if not services:
            raise DicecError(f"Deployment {name!r} runs a model server but no Service selects its pods", location=where)
        out.append(LocalServer(deployment=name, services=services, **fields))
    return tuple(out)


_ANSWER_FLAGS = ("--allow-services", "--max-seconds", "--max-lines")


def _serve_args(container: dict, name: str, where: Location) -> dict[str, Any]:
    """A server container's fields of :class:`LocalServer` from its command and arguments."""
    kind = SERVER_COMMANDS[tuple(str(a) for a in list(container.get("command") or [])[:3])]
    args = [str(a) for a in list(container.get("command") or [])[3:] + list(container.get("args") or [])]
    operators, options, i = [], {"--max-batch": "8", "--max-wait-ms": "0"}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            key, eq, value = a.partition("=")
            if not eq:
                i += 1
                value = args[i] if i < len(args) else ""
            options[key] = value
        else:
            operators.append(a)
        i += 1
    if kind == "answer":
        return {"kind": kind, "flags": tuple((f, options[f]) for f in _ANSWER_FLAGS if f in options)}
    try:
        return {"kind": kind, "operators": tuple(operators), "max_batch": int(options["--max-batch"]),
                "max_wait_ms": float(options["--max-wait-ms"])}
    except ValueError:
        raise DicecError(f"Deployment {name!r}: --max-batch and --max-wait-ms must be numbers", location=where) from None


@contextlib.contextmanager
def serving(path: str, options: Any, docs: list | None = None) -> Iterator[Any]:
    """Start the workflow's model servers for a run; yields the run options with ``DICEC_SERVICES`` set."""
    from dicec.runtime.client import SERVICES_ENV

    servers = local_servers(path, docs)
    if not servers:
        yield options
        return
    started: list[Any] = []
    try:
        urls: dict[str, str] = {}
        for kind in ("model", "answer"):  # the answer server is given the model servers' local URLs
            env = {**options.env, SERVICES_ENV: json.dumps(urls, sort_keys=True)}
            for server in (s for s in servers if s.kind == kind):
                handle = (_start_process if options.isolation == "process" else _start_thread)(server, env)
                started.append(handle)
                for name in server.services:
                    urls[name] = handle.url
            for handle in started:
                handle.wait_ready()
        yield replace(options, env={**options.env, SERVICES_ENV: json.dumps(urls, sort_keys=True)})
    finally:  # all at once: each waits for its listener to notice (a poll interval) and drains
        stoppers = [threading.Thread(target=handle.stop, name=f"dicec-stop-{handle.name}") for handle in started]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()


def _operator_dirs(env: dict[str, str]) -> tuple[str, ...]:
    return tuple(d for d in env.get("DICEC_OPERATORS", "").split(os.pathsep) if d)


class _ThreadServer:
    def __init__(self, server: LocalServer, env: dict[str, str]) -> None:
        self.name = server.deployment
        # registry_for adds $DICEC_OPERATORS of this process itself; the run's own folders come here
        if server.kind == "answer":
            from dicec.runtime.client import services_from
            from dicec.serving.answer_server import AnswerOptions, AnswerServer

            flags = dict(server.flags)
            self.server: Any = AnswerServer(AnswerOptions(
                host="127.0.0.1", port=0, operator_dirs=_operator_dirs(env), services=services_from(env),
                **({"allow_services": flags["--allow-services"]} if "--allow-services" in flags else {}),
                **({"max_seconds": float(flags["--max-seconds"])} if "--max-seconds" in flags else {}),
                **({"max_lines": int(flags["--max-lines"])} if "--max-lines" in flags else {})))
        else:
            from dicec.serving.model_server import ModelServer, ServeOptions

            self.server = ModelServer(ServeOptions(operators=server.operators, host="127.0.0.1", port=0,
                                                   max_batch=server.max_batch, max_wait_ms=server.max_wait_ms,
                                                   models=env.get("DICEC_MODELS"), operator_dirs=_operator_dirs(env)))
        self.server.start()
        self.url = self.server.url

    def wait_ready(self) -> None:
        self.server.wait_ready(READY_TIMEOUT_S)

    def stop(self) -> None:
        self.server.stop(delay_s=0.0)


def _start_thread(server: LocalServer, env: dict[str, str]) -> _ThreadServer:
    return _ThreadServer(server, env)


class _ProcessServer:
    def __init__(self, server: LocalServer, env: dict[str, str]) -> None:
        self.name = server.deployment
        if server.kind == "answer":
            argv = [*SERVER_LAUNCHER, "answer", "serve", "--host", "127.0.0.1", "--port", "0",
                    *(a for flag in server.flags for a in flag)]
        else:
            argv = [*SERVER_LAUNCHER, "op", "serve", *server.operators, "--host", "127.0.0.1", "--port", "0",
                    "--max-batch", str(server.max_batch), "--max-wait-ms", f"{server.max_wait_ms:g}"]
        full_env = subprocess_env(env)
        self.log: list[str] = []
        try:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env=full_env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise DicecError(f"cannot start the model server {self.name}: {exc.strerror or exc}") from None
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        marker = "listening on "
        if marker not in line:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
            self._drain.join(timeout=1)
            tail = " | ".join(self.log[-3:]) or "no output"
            raise DicecError(f"model server {self.name} did not start (exit {self.proc.returncode}): {tail}")
        self.url = line.split(marker, 1)[1].split()[0]

    def _read_stderr(self) -> None:
        for line in self.proc.stderr or []:
            self.log.append(line.rstrip("\n"))

    def wait_ready(self) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DicecError(f"model server {self.name} exited ({self.proc.returncode}): "
                                 f"{' | '.join(self.log[-3:]) or 'no output'}")
            try:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
                conn.request("GET", "/readyz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise DicecError(f"model server {self.name} was not ready after {READY_TIMEOUT_S:g} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._drain.join(timeout=1)


def _start_process(server: LocalServer, env: dict[str, str]) -> _ProcessServer:
    return _ProcessServer(server, env)
