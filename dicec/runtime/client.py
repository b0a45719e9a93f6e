"""The step side of services mode: ``dicec op call NAME --service URL ...`` asks a model server.

A services-mode step is ``dicec op`` with one difference: each resolved call (operator, form, the
receiver's box, the arguments) goes to the operator's model server (:mod:`dicec.serving.model_server`)
instead of a model loaded in the step, and the answer comes back as the call's JSON value or its
recorded error. Everything else -- decoding ``--call``, resolving ``--refs``, ``--patch`` and
``--index``, the value and record files -- is :func:`dicec.runtime.step.run_op` itself, so the
``value`` and ``record`` outputs the final ``dicec answer`` step consumes are exactly those of a pod
step (see :mod:`dicec.emit.steps`).

The image travels content-addressed: a request names it by sha256 and the file bytes are sent only
when the server answers 409 (it does not hold that image yet), so the steps of one workflow upload a
frame once per server. A step given ``--crops`` (an offloaded cloud step) sends the crop bundle
instead, named by the bundle's own sha256 (:mod:`dicec.runtime.crops`); one given ``--send-crops``
(an offloaded step running on the edge, beside the frame) cuts, per call, the bundle of the boxes that
call reads -- its receiver and any patches among its arguments -- and sends that, never the frame. A server that is still loading (503) or not yet listening is retried until
``wait_s`` has passed; any other failure is one line and exit 1.

Where the URL points is resolved here, the seam ``dicec run`` uses: ``$DICEC_SERVICES`` (or the
``services`` argument) is a JSON object from Kubernetes Service names to base URLs, and a
``--service`` URL whose host's first DNS label is such a name goes to that base URL instead
(``http://dicec-find-a4000.ns.svc`` -> ``http://127.0.0.1:41234``).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from dicec.errors import DicecError

Log = Callable[[str], None]
SERVICES_ENV = "DICEC_SERVICES"
CALL_PATH = "/v1/call"
DEFAULT_WAIT_S = 60.0
DEFAULT_TIMEOUT_S = 900.0


def parse_services(text: str | None) -> dict[str, str]:
    """The ``$DICEC_SERVICES`` map (``{}`` when unset)."""
    return string_map(text, f"${SERVICES_ENV}", "service names to base URLs") if text else {}


def services_from(env: dict[str, str]) -> dict[str, str]:
    """The ``$DICEC_SERVICES`` map a step sees: ``env``'s (a ``dicec run`` step's), else the process's."""
    return parse_services(env.get(SERVICES_ENV) or os.environ.get(SERVICES_ENV))


def string_map(text: str, what: str, meaning: str) -> dict[str, str]:
    """A JSON object of strings to strings (``what`` and ``meaning`` name it in the one-line error)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"{what} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise DicecError(f"{what} must be a JSON object of {meaning}")
    return data


def resolve_service(url: str, services: dict[str, str] | None = None) -> str:
    """The base URL to call for ``--service url`` (through the ``services`` map, see the module docstring)."""
    _split(url)
    host = urlsplit(url).hostname or ""
    target = (services or {}).get(host.split(".")[0])
    if target is not None:
        _split(target)
        return target.rstrip("/")
    return url.rstrip("/")


def _split(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise DicecError(f"--service must be an http:// URL with a host, not {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise DicecError(f"--service must be a plain http://HOST[:PORT][/PATH] URL, not {url!r}")
    try:
        port = parts.port or 80
    except ValueError:
        raise DicecError(f"--service has a bad port: {url!r}") from None
    return parts.hostname, port, parts.path.rstrip("/")


class ServiceClient:
    """Calls to one model server over one keep-alive HTTP connection.

    Attributes:
        url: the server's base URL.
        wait_s: how long to keep retrying while the server is not up or not ready.
        timeout_s: the socket timeout of one request (a long LLM call must fit).
    """

    def __init__(self, url: str, *, wait_s: float = DEFAULT_WAIT_S, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.host, self.port, self.prefix = _split(self.url)
        self.wait_s, self.timeout_s = wait_s, timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def evaluate(self, image: Any, call: Any) -> tuple[Any, str | None]:
        """(value, operator error or None) for ``call`` on ``image``, as :func:`dicec.runtime.backend.evaluate` gives."""
        body: dict[str, Any] = {"operator": call.operator, "form": call.form, "patch": call.patch,
                                "args": list(call.args), "image": {"sha256": image.wire_digest}}
        if getattr(image, "send_data", False):  # a per-call crop bundle is new to the server: no 409 round trip
            body["image"]["data"] = base64.b64encode(image.data).decode("ascii")
        status, answer = self.post(body)
        if status == 409:
            body["image"]["data"] = base64.b64encode(image.data).decode("ascii")
            status, answer = self.post(body)
        if status != 200:
            reason = answer.get("error") if isinstance(answer, dict) else None
            raise DicecError(f"model server {self.url}: HTTP {status}: {reason or 'no reason given'}")
        if not isinstance(answer, dict) or "value" not in answer or not (answer.get("error") is None
                                                                      or isinstance(answer.get("error"), str)):
            raise DicecError(f"model server {self.url}: the answer is not {{value, error}}: {str(answer)[:120]}")
        return answer["value"], answer.get("error")

    def post(self, body: Any) -> tuple[int, Any]:
        """POST ``body`` to the call path; retries while the server is starting (refused, 503)."""
        from dicec.runtime.calls import canonical_json

        data = canonical_json(body).encode("utf-8")
        deadline = time.monotonic() + self.wait_s
        pause = 0.1
        while True:
            try:
                status, text = self._request(data)
            except (ConnectionError, socket.timeout, http.client.HTTPException, OSError) as exc:
                self.close()
                if time.monotonic() >= deadline:
                    raise DicecError(f"model server {self.url} cannot be reached: {exc}") from None
            else:
                if status != 503 or time.monotonic() >= deadline:
                    try:
                        return status, json.loads(text)
                    except json.JSONDecodeError:
                        return status, {"error": text[:200]}
            time.sleep(pause)
            pause = min(2.0, pause * 2)

    def _request(self, data: bytes) -> tuple[int, str]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            self._conn.request("POST", self.prefix + CALL_PATH, body=data,
                               headers={"Content-Type": "application/json", "Accept": "application/json"})
            response = self._conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except Exception:
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, text

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class ServiceRouter:
    """A backend whose calls model servers evaluate (see :func:`dicec.runtime.backend.evaluate`): each call
    goes to its operator's server. A services-mode step has one (``dicec op call``), the answer step one
    per operator it may call on demand (its ``--services``, :func:`dicec.emit.services.answer_services`).
    One connection per server, kept until :meth:`close`.

    With ``send_crops`` each request carries only the crops of the boxes its call reads, never the
    frame (an offloaded step on the edge, :mod:`dicec.runtime.crops`)."""

    name = "service"

    def __init__(self, clients: dict[str, ServiceClient], *, send_crops: bool = False) -> None:
        self.clients = dict(sorted(clients.items()))
        self.send_crops = send_crops

    @classmethod
    def of_urls(cls, urls: dict[str, str], *, services: dict[str, str] | None = None,
                wait_s: float = DEFAULT_WAIT_S) -> "ServiceRouter":
        """Operator -> server URL, each resolved through ``services`` as ``--service`` is."""
        return cls({op: ServiceClient(resolve_service(url, services), wait_s=wait_s) for op, url in urls.items()})

    def evaluate_call(self, spec: Any, form: Any, image: Any, call: Any) -> tuple[Any, str | None]:
        client = self.clients.get(call.operator)
        if client is None:
            raise DicecError(f"--services names no model server for operator {call.operator!r} "
                             f"(it names: {', '.join(self.clients) or 'none'})")
        if self.send_crops:  # only the boxes this call reads leave the machine
            from dicec.runtime.crops import call_upload

            image = call_upload(image, call)
        return client.evaluate(image, call)

    def compute(self, spec: Any, form: Any, image: Any, patch: dict | None, args: list) -> Any:
        raise DicecError("the service backend evaluates whole calls (evaluate_call), not raw answers")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def parse_service_map(text: str) -> dict[str, str]:
    """The answer step's ``--services`` JSON: operator name -> server URL."""
    return string_map(text, "--services", "operator names to model-server URLs")


def run_call(*, name: str, service: str, send_crops: bool = False, services: dict[str, str] | None = None,
             wait_s: float = DEFAULT_WAIT_S, **step: Any) -> Any:
    """``dicec op call``: :func:`dicec.runtime.step.run_op` with the call evaluated by the model server at
    ``service``; ``step`` are ``dicec op``'s flags (:mod:`dicec.emit.steps`), and the value and record files
    are written by the same code."""
    from dicec.runtime.step import run_op

    url = resolve_service(service, services)
    router = ServiceRouter({name: ServiceClient(url, wait_s=wait_s)}, send_crops=send_crops)  # connects on use
    try:
        return run_op(name=name, backend=router, where=f"model server {url}", **step)
    finally:
        router.close()
