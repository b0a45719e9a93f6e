"""``dicec run`` of an Argo ``http`` template, as Argo's agent sends it (``workflow/executor/agent.go``, v4.1.2).

After the template's parameters are substituted (``url``, ``method``, ``headers``, ``body``,
``successCondition``), the request is sent and the response read:

* ``method`` defaults to ``GET`` (Go sends an empty method as GET); ``body`` (or ``bodyFrom.bytes``,
  base64) is sent as it is; each header is added, ``Host`` replacing the host header. A header from a
  Secret (``valueFrom.secretKeyRef``) is refused: a run on one machine has no cluster to read it from;
* ``timeoutSeconds`` bounds the whole exchange; absent, there is no bound (the v4.1.2 agent sets none,
  although the schema's description says 30 s);
* the response body, whatever the status, is the step's ``outputs.result``; the step's log shows the
  request's method and URL, the status, the body and any ``Dicec-*`` header (the answer server's counts);
* success: ``successCondition`` (:mod:`dicec.runner.expr`) over ``request`` and ``response``; without one,
  a 2xx status. A failure (the condition false, a refused connection, the timeout) is retried per the
  template's ``retryStrategy.limit``, as a container step is, and then fails the run with the request
  and the response in the step's log.

URLs: a Kubernetes Service name that ``$DICEC_SERVICES`` maps (Service name -> local base URL, the seam
the model servers and the answer server are reached through, :mod:`dicec.runner.localservices`) is sent
to that URL instead: the first DNS label of the host names the Service, and the path and query are kept
(``http://dicec-answer.ns.svc/v1/answer`` -> ``http://127.0.0.1:41234/v1/answer``). A run sends requests
only to loopback addresses (``127.0.0.0/8``, ``::1``, ``localhost``): any other host is refused in one
line, so ``dicec run`` never reaches the network.

At most ``agent_workers`` requests of one run are in flight at once (Argo's ``ARGO_AGENT_TASK_WORKERS``,
16 by default): :class:`dicec.runner.workflow.Runner` sends HTTP steps through a pool of that size.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from dicec.errors import DicecError

#: How a step's ``outputs.result`` is kept among its outputs (parameter names cannot hold ':').
RESULT_KEY = "result:"
#: Argo's agent: ``ARGO_AGENT_TASK_WORKERS`` (``cmd/argoexec/commands/agent.go``).
DEFAULT_AGENT_WORKERS = 16


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """One request sent and its response.

    Attributes:
        ok: whether the step succeeded (its ``successCondition``, else a 2xx status).
        status: the response's status code, or 0 when none came.
        body: the response body (the step's ``outputs.result``), or the transport error.
        log: lines for the step's log.
        headers: the response's ``Dicec-*`` headers (the answer server's counts), first value of each.
    """

    ok: bool
    status: int
    body: str
    log: list[str]
    headers: dict[str, str] = field(default_factory=dict)


def redirect(url: str, services: dict[str, str]) -> str:
    """``url`` with a mapped Service's scheme, host and port replaced by its local base URL."""
    parts = urlsplit(url)
    target = services.get((parts.hostname or "").split(".")[0])
    if target is None:
        return url
    base = urlsplit(target)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _canonical_header(name: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey``: ``content-type`` -> ``Content-Type``."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def request_of(spec: dict, substitute: Callable[[str], str], services: dict[str, str]) -> dict[str, Any]:
    """The request an ``http`` template describes, substituted and redirected: url, method, headers, body."""
    url = substitute(str(spec.get("url") or ""))
    if not url:
        raise DicecError("the http template has no url")
    target = redirect(url, services)
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DicecError(f"http url {url!r} is not an http(s) URL with a host")
    if not _loopback(parts.hostname):
        raise DicecError(f"http url {url!r}: dicec run sends requests only to loopback servers (the model and "
                         "answer servers it starts); this host is neither loopback nor a Service it started")
    headers: list[tuple[str, str]] = []
    for h in spec.get("headers") or []:
        if not isinstance(h, dict) or not isinstance(h.get("name"), str):
            raise DicecError(f"http header {h!r} has no name")
        if h.get("valueFrom") is not None:
            raise DicecError(f"http header {h['name']!r} comes from a Secret, which dicec run cannot read")
        headers.append((h["name"], substitute(str(h.get("value", "")))))
    if spec.get("bodyFrom") is not None:
        encoded = (spec["bodyFrom"] or {}).get("bytes")
        try:
            body = base64.b64decode(str(encoded or ""), validate=True)
        except (binascii.Error, ValueError):
            raise DicecError("http bodyFrom.bytes is not base64") from None
    else:
        body = substitute(str(spec.get("body") or "")).encode("utf-8")
    timeout = spec.get("timeoutSeconds")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0):
        raise DicecError(f"http timeoutSeconds must be a whole number of seconds, not {timeout!r}")
    return {"url": url, "target": target, "method": str(spec.get("method") or "GET").upper(), "headers": headers,
            "body": body, "timeout_s": timeout, "condition": substitute(str(spec.get("successCondition") or "")),
            "insecure": bool(spec.get("insecureSkipVerify"))}


def send(request: dict[str, Any]) -> Exchange:
    """Send one request (from :func:`request_of`) and judge its response."""
    from dicec.runner.expr import evaluate_condition

    parts = urlsplit(request["target"])
    timeout = request["timeout_s"]
    deadline = None if timeout is None else time.monotonic() + timeout
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    line = f"{request['method']} {request['url']}"
    try:
        if parts.scheme == "https":
            import ssl

            context = ssl._create_unverified_context() if request["insecure"] else ssl.create_default_context()
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(parts.hostname, parts.port or 443,
                                                                           timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        try:
            conn.request(request["method"], path, body=request["body"], headers=dict(request["headers"]))
            _shrink(conn, deadline)
            response = conn.getresponse()
            _shrink(conn, deadline)
            data = response.read()
            status = response.status
            response_headers: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                response_headers.setdefault(_canonical_header(name), []).append(value)
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, TimeoutError) as exc:
        reason = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else str(exc) or type(exc).__name__
        return Exchange(ok=False, status=0, body="", log=[f"{line}: no response: {reason}"])
    body = data.decode("utf-8", "replace")
    shown = f"{line} -> HTTP {status}: {body[:2000]}"
    dicec = {name: values[0] for name, values in sorted(response_headers.items()) if name.startswith("Dicec-")}
    if dicec:
        shown += f" ({', '.join(f'{name}: {value}' for name, value in dicec.items())})"
    if not request["condition"]:
        ok = 200 <= status < 300
        return Exchange(ok=ok, status=status, body=body, headers=dicec,
                        log=[shown] + ([] if ok else [f"received non-2xx response code: {status}"]))
    request_headers: dict[str, list[str]] = {}
    for name, value in request["headers"]:
        request_headers.setdefault(_canonical_header(name), []).append(value)
    scope = {"request": {"method": request["method"], "url": request["url"], "body": request["body"].decode(
                 "utf-8", "replace"), "bodyBytes": list(request["body"]), "headers": request_headers},
             "response": {"statusCode": status, "body": body, "headers": response_headers}}
    ok = evaluate_condition(request["condition"], scope)
    return Exchange(ok=ok, status=status, body=body, headers=dicec,
                    log=[shown] + ([] if ok else [f"successCondition '{request['condition']}' evaluated false"]))


def _shrink(conn: http.client.HTTPConnection, deadline: float | None) -> None:
    """Give the socket only what is left of the deadline."""
    if deadline is not None and conn.sock is not None:
        conn.sock.settimeout(max(0.001, deadline - time.monotonic()))


def result_outputs(exchange: Exchange) -> dict[str, str]:
    """A succeeded HTTP step's outputs: its ``outputs.result``."""
    return {RESULT_KEY: exchange.body}
