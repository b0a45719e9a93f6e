"""A local stand-in for the Kubernetes API server, so the real kubernetes client is tested with no network.

:class:`KubeStandIn` is an ``http.server`` on 127.0.0.1 (port 0, chosen by the OS) in a thread, speaking
the part of the Kubernetes REST API dicec uses:

* ``GET /api/v1/nodes`` (``dicec pools --from-cluster``): a ``NodeList`` of the nodes it was given;
* ``POST`` to a collection -- ``/apis/argoproj.io/v1alpha1/namespaces/NS/{workflows,workflowtemplates,
  cronworkflows}``, ``/apis/argoproj.io/v1alpha1/clusterworkflowtemplates``,
  ``/apis/apps/v1/namespaces/NS/deployments``, ``/api/v1/namespaces/NS/{services,serviceaccounts,secrets}``,
  ``/apis/rbac.authorization.k8s.io/v1/namespaces/NS/{roles,rolebindings}`` -- stores the object
  and answers ``201`` with it, ``metadata.name`` filled from ``generateName`` (a deterministic suffix),
  ``uid``, ``resourceVersion`` and ``creationTimestamp`` set;
* ``GET`` of one stored object; a Workflow's ``status`` follows a script of statuses, one more each GET
  (the last one repeats), as the workflow controller would move it along.

Errors are the API server's: a ``Status`` object (``kind: Status``, ``status: Failure``, ``message``,
``reason``, ``code``) with 401 Unauthorized for a wrong bearer token, 403 Forbidden in a namespace the
test forbids, 404 NotFound for an unknown path or object, 409 AlreadyExists for a taken name, 422
Invalid for an object without a valid name or (Argo kinds) without a ``spec``, and 400 BadRequest when
the body's namespace is not the URL's. Every request is recorded (method, path, JSON body, the bearer
token). Like the real API server it takes the ``Bearer`` scheme in any case (the kubernetes client's
in-cluster loader sends ``bearer``).

TLS: :func:`make_tls` makes, at run time with the ``openssl`` command (no network), a throwaway CA and
a server certificate for ``IP:127.0.0.1`` and ``DNS:localhost`` signed by it; ``KubeStandIn(tls=...)``
then serves HTTPS, records each failed handshake (a client that refused the certificate) in
``handshake_failures``, writes kubeconfigs with ``certificate-authority``, and
:meth:`KubeStandIn.service_account` writes a pod's service-account folder (``token``, ``ca.crt``,
``namespace``) for the in-cluster login, whose host and port :meth:`KubeStandIn.incluster_env` gives.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

TOKEN = "standin-token"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
#: (api prefix, plural) -> (kind, namespaced)
RESOURCES = {
    ("/apis/argoproj.io/v1alpha1", "workflows"): ("Workflow", True),
    ("/apis/argoproj.io/v1alpha1", "workflowtemplates"): ("WorkflowTemplate", True),
    ("/apis/argoproj.io/v1alpha1", "cronworkflows"): ("CronWorkflow", True),
    ("/apis/argoproj.io/v1alpha1", "clusterworkflowtemplates"): ("ClusterWorkflowTemplate", False),
    ("/apis/apps/v1", "deployments"): ("Deployment", True),
    ("/api/v1", "services"): ("Service", True),
    ("/api/v1", "serviceaccounts"): ("ServiceAccount", True),
    ("/api/v1", "secrets"): ("Secret", True),
    ("/apis/rbac.authorization.k8s.io/v1", "roles"): ("Role", True),
    ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"): ("RoleBinding", True),
}
_PATH = re.compile(r"^(?P<prefix>/api/v1|/apis/[^/]+/[^/]+)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)"
                   r"(?:/(?P<name>[^/]+))?$")


@dataclass
class Request:
    method: str
    path: str
    body: Any
    authorization: str | None

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer TOKEN`` header (scheme in any case), else ``None``."""
        scheme, _, token = (self.authorization or "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None


@dataclass(frozen=True)
class TLSFiles:
    """PEM files made by :func:`make_tls`.

    Attributes:
        ca_cert: the throwaway CA's certificate (what a client must trust).
        cert: the server certificate, signed by that CA.
        key: the server certificate's private key.
    """

    ca_cert: Path
    cert: Path
    key: Path


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {sans}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def make_tls(folder: Path, *, sans: str = "IP:127.0.0.1, DNS:localhost") -> TLSFiles:
    """A new CA (its own random name) and a server certificate for ``sans`` it signed, under ``folder``.

    EC P-256 keys, valid for one day, with the extensions strict X.509 verification asks for. Needs the
    ``openssl`` command; raises ``RuntimeError`` when it is missing or fails.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is not installed")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cnf = folder / "openssl.cnf"
    cnf.write_text(_OPENSSL_CONFIG.format(sans=sans))
    tls = TLSFiles(ca_cert=folder / "ca.crt", cert=folder / "server.crt", key=folder / "server.key")
    ca_key, csr = folder / "ca.key", folder / "server.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for args in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", tls.ca_cert, "-days", "1", "-config", cnf,
         "-extensions", "ca_ext", "-subj", f"/CN=dicec stand-in CA {secrets.token_hex(4)}"],
        ["req", "-new", *ec, "-keyout", tls.key, "-out", csr, "-config", cnf, "-subj", "/CN=kube-standin"],
        ["x509", "-req", "-in", csr, "-CA", tls.ca_cert, "-CAkey", ca_key, "-days", "1", "-out", tls.cert,
         "-set_serial", str(int.from_bytes(secrets.token_bytes(8), "big")), "-extfile", cnf,
         "-extensions", "server_ext"],
    ):
        done = subprocess.run([openssl, *map(str, args)], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")
    return tls


@dataclass
class KubeStandIn:
    """The stand-in server; use as a context manager or call :meth:`start` / :meth:`stop`.

    Attributes:
        nodes: what ``GET /api/v1/nodes`` lists.
        statuses: the ``status`` a Workflow shows on its 1st, 2nd, ... GET (the last repeats).
        forbidden: namespaces where every request is 403.
        token: the bearer token it accepts.
        argo_installed: ``False`` serves no ``argoproj.io`` resources (404, as a cluster without Argo's CRDs).
        tls: serve HTTPS with these files (see :func:`make_tls`); ``None`` serves plain HTTP.
        handshake_failures: with ``tls``, the error of every TLS handshake that failed (e.g. the client
            did not trust the certificate).
    """

    nodes: list[dict] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=lambda: [{"phase": "Running"}, {"phase": "Succeeded"}])
    forbidden: set[str] = field(default_factory=set)
    token: str = TOKEN
    argo_installed: bool = True
    tls: TLSFiles | None = None
    handshake_failures: list[str] = field(default_factory=list)
    objects: dict[tuple[str, str | None, str], dict] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    _gets: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    _created: int = 0

    def __enter__(self) -> "KubeStandIn":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> "KubeStandIn":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self):
                if isinstance(self.request, ssl.SSLSocket):  # the handshake, in this connection's thread
                    self.request.settimeout(10)
                    try:
                        self.request.do_handshake()
                    except (OSError, ValueError) as exc:
                        with standin._lock:
                            standin.handshake_failures.append(getattr(exc, "reason", None) or str(exc))
                        raise
                    self.request.settimeout(None)
                super().setup()

            def do_GET(self):  # noqa: N802 - http.server's names
                standin._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                standin._handle(self, "POST")

            def log_message(self, *args):
                pass

        self._lock = threading.Lock()
        context = None
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.cert, self.tls.key)
        self._server = _Server(("127.0.0.1", 0), Handler, context)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def kubeconfig(self, path: Path, *, namespace: str | None = None, token: str | None = None,
                   server: str | None = None, ca_cert: Path | None = None) -> str:
        """Write a kubeconfig for this server (context ``standin``) and return its path.

        With TLS the cluster's ``certificate-authority`` is ``ca_cert``, by default the stand-in's own CA.
        """
        context: dict[str, Any] = {"cluster": "standin", "user": "tester"}
        if namespace:
            context["namespace"] = namespace
        cluster: dict[str, Any] = {"server": server or self.url}
        if ca_cert is not None or self.tls is not None:
            cluster["certificate-authority"] = str(ca_cert or self.tls.ca_cert)
        Path(path).write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": cluster}],
            "users": [{"name": "tester", "user": {"token": token or self.token}}],
            "contexts": [{"name": "standin", "context": context},
                         {"name": "other", "context": {"cluster": "standin", "user": "tester",
                                                       "namespace": "other-ns"}}]}))
        return str(path)

    def service_account(self, folder: Path, *, namespace: str = "default", token: str | None = None,
                        ca_cert: Path | None = None) -> Path:
        """Write a pod's service-account folder (``token``, ``ca.crt``, ``namespace``) for this server.

        ``ca.crt`` is a copy of ``ca_cert``, by default the stand-in's CA (which needs ``tls``).
        """
        ca = ca_cert or (self.tls.ca_cert if self.tls is not None else None)
        if ca is None:
            raise ValueError("the in-cluster login is HTTPS only: start the stand-in with tls=make_tls(...)")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "token").write_text(token or self.token)  # as the kubelet writes it: no newline
        (folder / "ca.crt").write_bytes(Path(ca).read_bytes())
        (folder / "namespace").write_text(namespace)
        return folder

    def incluster_env(self) -> dict[str, str]:
        """The variables Kubernetes sets in a pod for the API server (``KUBERNETES_SERVICE_HOST``/``_PORT``)."""
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port)}

    # -- the API ---------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        body = None
        if method == "POST":
            raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                return self._status(h, 400, "BadRequest", "the request body is not JSON")
        request = Request(method=method, path=path, body=body, authorization=h.headers.get("Authorization"))
        with self._lock:
            self.requests.append(request)
        if request.bearer != self.token:
            return self._status(h, 401, "Unauthorized", "Unauthorized")
        if method == "GET" and path == "/api/v1/nodes":
            return self._send(h, 200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": self.nodes})
        m = _PATH.match(path)
        resource = RESOURCES.get((m.group("prefix"), m.group("plural"))) if m else None
        if resource is not None and not self.argo_installed and "argoproj.io" in m.group("prefix"):
            resource = None
        if m is None or resource is None or (resource[1] != (m.group("ns") is not None)):
            return self._status(h, 404, "NotFound", "the server could not find the requested resource")
        kind, _ = resource
        ns, plural, name = m.group("ns"), m.group("plural"), m.group("name")
        group = m.group("prefix").split("/")[2] if m.group("prefix").startswith("/apis/") else ""
        qualified = f"{plural}.{group}" if group else plural
        if ns in self.forbidden:
            verb = "create" if method == "POST" else "get"
            return self._status(h, 403, "Forbidden", f'{qualified} is forbidden: User "system:serviceaccount:'
                                f'{ns}:tester" cannot {verb} resource "{plural}" in API group "{group}" in the '
                                f'namespace "{ns}"')
        if method == "GET":
            if name is None:
                items = [o for (p, n, _), o in sorted(self.objects.items()) if p == plural and n == ns]
                return self._send(h, 200, {"kind": f"{kind}List", "items": items, "metadata": {}})
            return self._get(h, plural, ns, name, qualified)
        if name is not None:
            return self._status(h, 405, "MethodNotAllowed", "POST names a collection, not an object")
        return self._create(h, body, kind, plural, ns, qualified)

    def _get(self, h, plural: str, ns: str | None, name: str, qualified: str) -> None:
        key = (plural, ns, name)
        with self._lock:
            obj = copy.deepcopy(self.objects.get(key))
            if obj is not None and plural == "workflows" and self.statuses:
                i = self._gets.get(key, 0)
                self._gets[key] = i + 1
                obj["status"] = copy.deepcopy(self.statuses[min(i, len(self.statuses) - 1)])
        if obj is None:
            return self._status(h, 404, "NotFound", f'{qualified} "{name}" not found')
        self._send(h, 200, obj)

    def _create(self, h, body: Any, kind: str, plural: str, ns: str | None, qualified: str) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            return self._status(h, 400, "BadRequest", "the object has no metadata")
        meta = body["metadata"]
        if body.get("kind") != kind:
            return self._status(h, 400, "BadRequest", f"the object's kind {body.get('kind')!r} is not {kind}")
        if ns is not None and meta.get("namespace") not in (None, ns):
            return self._status(h, 400, "BadRequest", "the namespace of the provided object does not match "
                                "the namespace sent on the request")
        with self._lock:
            self._created += 1
            serial = self._created
            name = meta.get("name")
            if not name and meta.get("generateName"):
                name = f"{meta['generateName']}{_suffix(serial)}"
            if not name or not _NAME.match(name) or len(name) > 253:
                return self._status(h, 422, "Invalid", f'{kind}.{qualified.split(".", 1)[-1]} "{name or ""}" is '
                                    "invalid: metadata.name: Invalid value: a lowercase RFC 1123 subdomain must "
                                    "consist of lower case alphanumeric characters, '-' or '.'")
            if qualified.endswith("argoproj.io") and not isinstance(body.get("spec"), dict):
                return self._status(h, 422, "Invalid", f'{qualified} "{name}" is invalid: spec: Required value')
            key = (plural, ns, name)
            if key in self.objects:
                return self._status(h, 409, "AlreadyExists", f'{qualified} "{name}" already exists')
            obj = copy.deepcopy(body)
            obj["metadata"].update({"name": name, "uid": f"00000000-0000-4000-8000-{serial:012d}",
                                    "resourceVersion": str(1000 + serial),
                                    "creationTimestamp": "2026-01-01T00:00:00Z"})
            if ns is not None:
                obj["metadata"]["namespace"] = ns
            self.objects[key] = obj
        self._send(h, 201, obj)

    def _status(self, h, code: int, reason: str, message: str) -> None:
        self._send(h, code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": message, "reason": reason, "code": code})

    def _send(self, h, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that, given an SSL context, speaks HTTPS (the handshake in the handler)."""

    daemon_threads = True

    def __init__(self, address, handler, context: ssl.SSLContext | None) -> None:
        self.context = context
        super().__init__(address, handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a bug in the stand-in: show its traceback
        # else a refused handshake (recorded in handshake_failures) or a client that hung up


def _suffix(serial: int) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet (no vowels)
    out = ""
    n = serial * 7919
    for _ in range(5):
        n, r = divmod(n, len(alphabet))
        out += alphabet[r]
    return out
