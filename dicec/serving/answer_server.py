"""``dicec answer serve``: the answer step of services mode as a service, so a query runs no step pod.

In pods mode the last step of a workflow is a pod running ``dicec answer``: it re-runs the serial
program over the records the operator steps wrote and answers every call it makes from them (a call no
task predicted runs on demand). In services mode that step is one HTTP task that Argo's agent sends
here (:mod:`dicec.emit.http`); one ``dicec-answer`` Deployment and Service serve every workflow of a
namespace, on the CPU pool, locked down like the model servers (:mod:`dicec.emit.services`).

``POST /v1/answer`` takes::

    {"image": "<the image URI>", "program": "<base64url of the program>",
     "services": {"OPERATOR": "http://SERVICE", ...}, "results": [<a record, a list of records, or a
     result object {"value", "record"}>, ...]}

and replays the program with :func:`dicec.runtime.answer.replay`, the code ``dicec answer`` runs, so the
answer is the one a pods-mode answer step writes. A ``results`` element that is not valid JSON (an Argo
reference left unresolved) is skipped, as ``dicec answer --records`` skips it
(:func:`dicec.runtime.answer.parse_records`); elsewhere the body is read strictly (no repeated key, no
unknown key: :mod:`dicec.serving.httpbase`). The image is read by URI, as the model servers read it.

A call without a record goes to the model server the request's ``services`` names for its operator
(:class:`dicec.runtime.client.ServiceRouter`, ``POST /v1/call``), but only to a URL that
``--allow-services`` REGEX matches whole (default :data:`DEFAULT_ALLOW_SERVICES`: an in-namespace dicec
Service, ``http://dicec-NAME[:PORT]``); any other URL is refused (403) before the program runs, so a
request cannot make the server call elsewhere. ``$DICEC_SERVICES`` (Service name -> base URL,
:mod:`dicec.runtime.client`) redirects allowed URLs, which is how ``dicec run`` points them at its
loopback servers. Each request's program runs under ``--max-seconds`` and ``--max-lines``
(:class:`dicec.runtime.program.Limits`).

Answers: 200 with ``{"json": J, "text": T}``, two strings: ``J`` the answer's canonical JSON and ``T`` its text
(a string as it is, anything else as its JSON): exactly what a pods-mode answer step writes to ``answer.json``
and ``answer.txt`` (without the newline Argo trims from a file), the values of the Workflow's ``answer-json``
and ``answer`` outputs (:func:`dicec.emit.argo.answer_outputs`); the replay's counts in the headers
``Dicec-Operator-Calls``, ``Dicec-From-Records`` and ``Dicec-On-Demand``, and, set against the plan, in
``Dicec-Answer-Counts`` (the JSON of :mod:`dicec.runtime.replaycounts`, with the request's image: headers,
so the body stays the answer alone); 422 ``{"error": "<program>:LINE: KIND:
DETAIL"}`` when the program raises or fails its check; 400 a malformed request or an unreadable image;
403 a service URL not allowed; 500 any other set-up problem (a model server that cannot be reached).
Probes, metrics and the SIGTERM drain are :mod:`dicec.serving.httpbase`'s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable

from dicec.errors import DicecError
from dicec.runtime.replaycounts import COUNTS_HEADER, counts_text
from dicec.serving.httpbase import (JSONServer, RequestError, no_repeated_keys, parse_json, prometheus,
                                    require_fields, serve_until_signal)

Log = Callable[[str], None]
ANSWER_PATH = "/v1/answer"
DEFAULT_PORT = 8080
#: The model servers an answer server may call by default: an in-namespace dicec Service.
DEFAULT_ALLOW_SERVICES = r"^http://dicec-[a-z0-9]([-a-z0-9]*[a-z0-9])?(:[0-9]{1,5})?$"
DEFAULT_MAX_SECONDS = 300.0
DEFAULT_MAX_LINES = 5_000_000
#: Programs, image URIs and a query's records: far below this.
MAX_BODY_BYTES = 32 * 1024 * 1024
_OPERATOR = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class AnswerOptions:
    """What ``dicec answer serve`` was asked for.

    Attributes:
        host: the address to listen on (``0.0.0.0`` in a pod; loopback by default).
        port: the port (0: any free port, printed on start).
        allow_services: a regular expression every model-server URL a request names must match whole.
        max_seconds: each request's program: wall-clock seconds, operator calls included.
        max_lines: each request's program: executed lines.
        operator_dirs: extra operator folders (the program's operators must be known).
        shutdown_delay_s: on SIGTERM, seconds to keep serving while unready, before closing.
        max_body_bytes: the largest request body accepted.
        services: Service name -> base URL redirects (``$DICEC_SERVICES``), applied to allowed URLs.
        wait_s: how long a call without a record keeps retrying a model server that is not up or not ready.
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow_services: str = DEFAULT_ALLOW_SERVICES
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_lines: int = DEFAULT_MAX_LINES
    operator_dirs: tuple[str, ...] = ()
    shutdown_delay_s: float = 0.0
    max_body_bytes: int = MAX_BODY_BYTES
    services: dict[str, str] = field(default_factory=dict)
    wait_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise DicecError(f"--port must be 0..65535 (got {self.port})")
        try:
            re.compile(self.allow_services)
        except re.error as exc:
            raise DicecError(f"--allow-services is not a regular expression: {exc}") from None
        if not self.max_seconds > 0 or self.max_lines < 1 or not self.wait_s >= 0:
            raise DicecError("--max-seconds and --max-lines must be positive, --wait at least 0")
        if not self.shutdown_delay_s >= 0:
            raise DicecError(f"--shutdown-delay-s must be >= 0 (got {self.shutdown_delay_s})")


@dataclass
class _Counters:
    answers: int = 0
    program_errors: int = 0
    refused: int = 0
    failures: int = 0
    on_demand: int = 0
    records_unused: int = 0
    mispredicted: int = 0


class AnswerServer(JSONServer):
    """The answer server: ``POST /v1/answer`` replays a program; nothing to load, ready once listening."""

    name = "answer server"

    def __init__(self, options: AnswerOptions, *, log: Log = lambda s: None) -> None:
        from dicec.runtime.backend import registry_for
        from dicec.runtime.program import Limits

        super().__init__(host=options.host, port=options.port, shutdown_delay_s=options.shutdown_delay_s,
                         max_body_bytes=options.max_body_bytes, log=log)
        self.options = options
        self.registry = registry_for(options.operator_dirs)
        self.allowed = re.compile(options.allow_services)
        self.limits = Limits(max_lines=options.max_lines, max_seconds=options.max_seconds)
        self.counters = _Counters()
        self.routes = {ANSWER_PATH: self.handle_answer}

    def handle_answer(self, text: str) -> tuple:
        """One answer request (the module docstring): its status, the answer and its counts, or a one-line error."""
        from dicec.check import CheckFailed
        from dicec.runtime.answer import decode_program, replay
        from dicec.runtime.calls import answer_text, canonical_json
        from dicec.runtime.contract import ANSWER_JSON_KEY, ANSWER_TEXT_KEY
        from dicec.runtime.client import ServiceRouter
        from dicec.runtime.images import load_image
        from dicec.runtime.program import ProgramError

        self.require_ready()
        body = require_fields(parse_answer_body(text), {"image", "program", "results"}, {"services"})
        try:
            source = decode_program(body["program"], "'program'")
        except DicecError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        if not isinstance(body["results"], list):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'results' must be a JSON list of records and results")
        urls = self.allowed_services(body.get("services", {}))
        if not isinstance(body["image"], str):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'image' must be the image's URI, a string")
        try:
            image = load_image(body["image"])
        except DicecError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"cannot read the image: {exc}") from None
        backend = ServiceRouter.of_urls(urls, services=self.options.services, wait_s=self.options.wait_s)
        try:
            outcome = replay(source, records=body["results"], image=image, backend=backend, registry=self.registry,
                             limits=self.limits, where="model servers")
        except (ProgramError, CheckFailed) as exc:
            self._count(program_errors=1)
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"error": str(exc)}
        except DicecError as exc:
            self._count(failures=1)
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc)) from None
        finally:
            backend.close()
        stats = outcome.stats
        self._count(answers=1, on_demand=stats.on_demand, records_unused=outcome.counts.records_unused,
                    mispredicted=outcome.counts.records_mispredicted + outcome.counts.calls_mispredicted)
        reply = {ANSWER_JSON_KEY: canonical_json(outcome.answer), ANSWER_TEXT_KEY: answer_text(outcome.answer)}
        return HTTPStatus.OK, reply, {"Dicec-Operator-Calls": str(stats.calls),
                                      "Dicec-From-Records": str(stats.from_records),
                                      "Dicec-On-Demand": str(stats.on_demand),
                                      COUNTS_HEADER: counts_text(outcome.counts, image=body["image"])}

    def allowed_services(self, services: Any) -> dict[str, str]:
        """The request's ``services``, each URL checked against ``--allow-services`` (403 otherwise)."""
        if not isinstance(services, dict) or not all(isinstance(k, str) and _OPERATOR.match(k) and isinstance(v, str)
                                                     for k, v in services.items()):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'services' must be a JSON object of operator names to URLs")
        for operator, url in sorted(services.items()):
            if not self.allowed.fullmatch(url):
                self._count(refused=1)
                raise RequestError(HTTPStatus.FORBIDDEN, f"the model server URL for {operator!r} is not allowed "
                                                         f"here (--allow-services {self.options.allow_services})")
        return services

    def _count(self, **increments: int) -> None:
        with self.lock:
            for name, n in increments.items():
                setattr(self.counters, name, getattr(self.counters, name) + n)

    def describe(self) -> dict[str, Any]:
        return {"allow_services": self.options.allow_services}

    def metrics(self) -> str:
        with self.lock:
            c = self.counters
            ready = 1 if self.state == "ready" else 0
            rows = (("ready", "gauge", "Whether the server takes requests.", ready),
                    ("answers_total", "counter", "Answers given (HTTP 200).", c.answers),
                    ("program_errors_total", "counter", "Programs that raised or failed their check (HTTP 422).",
                     c.program_errors),
                    ("refused_total", "counter", "Requests naming a model-server URL not allowed (HTTP 403).", c.refused),
                    ("failures_total", "counter", "Replays that failed to run (a model server unreachable; HTTP 500).",
                     c.failures),
                    ("on_demand_calls_total", "counter", "Calls without a record, sent to the model servers.",
                     c.on_demand),
                    ("unused_records_total", "counter", "Records no call of the program used (speculated or "
                     "mispredicted work).", c.records_unused),
                    ("mispredicted_total", "counter", "Unused records the plan did not speculate, and calls without "
                     "a record the plan did not leave to the answer step.", c.mispredicted))
        return "".join(prometheus(f"dicec_answer_{name}", kind, text, [("", value)]) for name, kind, text, value in rows)


def parse_answer_body(text: str) -> Any:
    """The request body: strict JSON, except that elements of ``results`` that are not valid JSON (an
    unresolved Argo reference) are skipped, as ``dicec answer --records`` skips them."""
    from dicec.runtime.answer import parse_records
    from dicec.runtime.flags import element_end

    try:
        return parse_json(text)
    except RequestError as strict:
        if not text.lstrip().startswith("{") or "repeats the key" in strict.message:
            raise
        error = strict
    decoder = json.JSONDecoder(object_pairs_hook=no_repeated_keys)
    pairs: list[tuple[str, Any]] = []
    pos = text.index("{") + 1
    try:
        while True:
            pos = _skip_space(text, pos)
            if text[pos] == "}":
                break
            key, pos = decoder.raw_decode(text, pos)
            pos = _skip_space(text, pos)
            if not isinstance(key, str) or text[pos] != ":":
                raise error
            pos = _skip_space(text, pos + 1)
            try:
                value, pos = decoder.raw_decode(text, pos)
            except ValueError:
                if key != "results" or text[pos] != "[":
                    raise error from None
                end = element_end(text, pos)
                value, pos = parse_records(text[pos:end], "'results'"), end
            pairs.append((key, value))
            pos = _skip_space(text, pos)
            if text[pos] == ",":
                pos += 1
            elif text[pos] != "}":
                raise error
        if text[pos + 1:].strip():
            raise error
    except (ValueError, IndexError, DicecError):
        raise error from None
    return no_repeated_keys(pairs)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def serve(options: AnswerOptions, *, log: Log, announce: Callable[[str], None]) -> int:
    """Run until SIGTERM or SIGINT, then drain and return 0 (``dicec answer serve``)."""
    return serve_until_signal(AnswerServer(options, log=log), log=log, announce=announce, what="answers")
