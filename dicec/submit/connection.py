"""A connection to a Kubernetes API server, and its errors as one clear line each.

Where the credentials come from, in order: ``--kubeconfig FILE`` (with ``--context``); else the
``KUBECONFIG`` variable or ``~/.kube/config`` when present; else the in-cluster service account (a pod
with ``KUBERNETES_SERVICE_HOST`` set). The namespace, unless given, is the chosen context's, else the
in-cluster one's, else ``default``.

The in-cluster login reads the pod's service-account folder, ``token``, ``ca.crt`` and ``namespace``
under :data:`SERVICEACCOUNT_DIR` (Kubernetes' standard mount point), and speaks HTTPS to
``KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT`` trusting that ``ca.crt``. The environment variable
``DICEC_SERVICEACCOUNT_DIR`` names another folder instead: for a token mounted elsewhere, and so the
path is tested without root.

:func:`api_error` turns the client's exceptions into a :class:`~dicec.errors.DicecError`: an HTTP error
answered by the server carries a Kubernetes ``Status`` object, whose ``reason`` and ``message`` the line
quotes (401 Unauthorized, 403 Forbidden, 404 NotFound, 409 AlreadyExists, 422 Invalid ...); a failure
to connect says which server could not be reached, and a certificate that does not verify says why
(unknown CA, name mismatch). The kubernetes package is imported only here, only when a connection is
made.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dicec.errors import DicecError

#: Where Kubernetes mounts a pod's service account (token, ca.crt, namespace).
SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: The environment variable that names another service-account folder.
SERVICEACCOUNT_DIR_ENV = "DICEC_SERVICEACCOUNT_DIR"
REQUEST_TIMEOUT = 15.0

_HINTS = {
    401: "the API server did not accept the credentials: the kubeconfig's user, or the service account's token",
    403: "the account may not do this; ask for a Role that allows it (see kubectl auth can-i)",
    404: "is Argo Workflows installed (its argoproj.io CRDs) and does the namespace exist?",
    409: "an object of that name exists already; use generateName, another --name, or delete it",
    422: "the API server refused the object as invalid",
}


@dataclass(frozen=True)
class Connection:
    """An API client and where it points.

    Attributes:
        api: ``kubernetes.client.ApiClient``.
        host: the API server's URL.
        namespace: the namespace to use when none is given.
        source: where the credentials came from (a kubeconfig path or ``in-cluster``).
    """

    api: Any
    host: str
    namespace: str
    source: str


def connect(*, kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """Load credentials (see the module docstring) and return a :class:`Connection`."""
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:  # pragma: no cover - kubernetes is a dependency
        raise DicecError("submitting needs the kubernetes package (pip install kubernetes)") from None
    configuration = client.Configuration()
    path = kubeconfig or _default_kubeconfig()
    if path is None and not os.environ.get("KUBERNETES_SERVICE_HOST"):
        raise DicecError("no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running inside a cluster; "
                         "pass --kubeconfig FILE")
    if path is not None:
        if not Path(path).is_file():
            raise DicecError(f"kubeconfig {path}: no such file")
        try:
            config.load_kube_config(config_file=path, context=context, client_configuration=configuration)
            _, active = config.list_kube_config_contexts(config_file=path)
            if context is not None:
                contexts, _ = config.list_kube_config_contexts(config_file=path)
                active = next((c for c in contexts if c.get("name") == context), active)
        except (ConfigException, OSError, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise DicecError(f"cannot load the kubeconfig {path}: {' '.join(str(exc).split())}") from None
        namespace = ((active or {}).get("context") or {}).get("namespace") or "default"
        source = str(path)
    else:
        if context is not None:
            raise DicecError("--context needs a kubeconfig; inside a cluster there is only the pod's service account")
        from kubernetes.config.incluster_config import InClusterConfigLoader

        folder = Path(os.environ.get(SERVICEACCOUNT_DIR_ENV) or SERVICEACCOUNT_DIR)
        try:
            InClusterConfigLoader(token_filename=str(folder / "token"), cert_filename=str(folder / "ca.crt")) \
                .load_and_set(client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            raise DicecError(f"cannot use the in-cluster service account ({folder}): {exc}") from None
        try:
            namespace = (folder / "namespace").read_text().strip() or "default"
        except OSError:
            namespace = "default"
        source = "in-cluster"
    configuration.retries = 0  # a refused connection is reported at once, not after urllib3's retries
    return Connection(api=client.ApiClient(configuration), host=configuration.host, namespace=namespace,
                      source=source)


def _default_kubeconfig() -> str | None:
    env = os.environ.get("KUBECONFIG")
    if env:
        first = next((p for p in env.split(os.pathsep) if p), None)
        return first
    home = Path.home() / ".kube" / "config"
    return str(home) if home.is_file() else None


def api_error(exc: BaseException, *, doing: str, host: str) -> DicecError:
    """One line for an exception the kubernetes client raised while ``doing`` something."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException) and exc.status:
        reason, message = exc.reason or "", ""
        try:
            status = json.loads(exc.body) if exc.body else {}
        except (TypeError, ValueError):
            status = {}
        if isinstance(status, dict):
            reason = status.get("reason") or reason
            message = status.get("message") or ""
        text = f"{doing}: the API server answered {exc.status} {reason}".rstrip()
        if message:
            text += f": {' '.join(str(message).split())}"
        hint = _HINTS.get(exc.status)
        return DicecError(f"{text} ({hint})" if hint else text)
    tls = _tls_failure(exc)
    if tls is not None:
        return DicecError(f"{doing}: the TLS certificate of the Kubernetes API at {host} did not verify: {tls} "
                          "(is the CA right? the kubeconfig's certificate-authority, or the service account's "
                          "ca.crt)")
    return DicecError(f"{doing}: cannot reach the Kubernetes API at {host} ({type(exc).__name__})")


def _tls_failure(exc: BaseException) -> str | None:
    """Why the server's certificate did not verify, when that is what ``exc`` (or what caused it) says.

    urllib3 wraps the ``ssl`` module's error: ``MaxRetryError.reason`` is a urllib3 ``SSLError`` whose
    first argument is the ``ssl.SSLCertVerificationError``.
    """
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return " ".join(str(e.verify_message or e.reason or e).split())
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__, *e.args])
    return None
