"""Services mode's steps as Argo ``http`` templates: no pod per operator call, and none for the answer.

In services mode every operator already runs in a warm model server (:mod:`dicec.emit.services`). A
step that is a pod only to send it one request would pay a pod start-up (about 5 s) for a call the
server answers in 0.1-0.3 s, so each operator call is instead an Argo ``http`` template (Argo >= 3.2):
Argo's agent, one pod per workflow (not per step), sends the request, and the response body becomes
the task's ``outputs.result``. The answer step is one more HTTP task, to the namespace's answer server.
A single query then runs no step pod at all, only the agent.

**An operator call**: ``POST http://SERVER/v1/step`` (``http://SERVER.NAMESPACE.svc/v1/step`` with
``--namespace``) with ``Content-Type: application/json`` and the body (:func:`step_body`)::

    {"call":"{{inputs.parameters.call}}","image":"<image>","index":"{{inputs.parameters.index}}",
     "patch":{{inputs.parameters.patch}},"refs":{{inputs.parameters.refs}}}

built by simple Argo tags only (never an ``{{=...}}`` expression): ``call`` is the base64url call
payload a pod step gets as ``--call`` (:func:`dicec.emit.steps.call_payload`), ``<image>`` the image
parameter's reference (the server reads the image by URI: pixels never travel in a request), ``patch``
``"image"``, ``null`` or the producing task's result, ``index`` ``none`` or the element, and ``refs``
the referenced tasks' results. The server (:mod:`dicec.serving.model_server`) answers ``{"value": V,
"record": R}``: exactly what a pod step writes as its value and record files. Later requests carry that
object as a patch or a reference, and the server takes its value; a value a *container* step wrote is
wrapped the same way (:func:`value_argument`), so every patch and reference a request carries is a
result object and none can be mistaken for one.

**No withParam over an HTTP result.** Argo aggregates a fan-out's results only from its *succeeded*
children, JSON-decoding each, so a child that is skipped or fails silently shifts every later position.
A fan-out (a loop over a detection's patches) is therefore ONE HTTP task whose request carries the whole
patch list: the server computes every element in order (the nested-fan-out rule of ``dicec op --index
none``: values and records as lists) and hands them to its batching queue together, so they run as one
GPU batch where the backend can. Answers stay exact, and a query's Argo node count stays small.

**No** ``when`` **on an HTTP task.** Argo v4.1.2 resolves a reference to a skipped task's
``outputs.result`` to nothing and requeues the consumer for ever; an offloaded task's guard
(:mod:`dicec.emit.offload`) is instead decided by the server: a patch element the edge detection did not
find gives the empty value and a null record, what a skipped pod step's declared defaults give, and the
server reads no image for it.

**The answer**: ``POST http://dicec-answer/v1/answer`` (:func:`answer_body`)::

    {"image":"<image>","program":"{{inputs.parameters.program}}","services":{"OP":"http://SERVER",...},
     "results":{{inputs.parameters.records}}}

``records`` is the list of every task's result (or a container step's record); the answer server
(:mod:`dicec.serving.answer_server`) replays the program over them as ``dicec answer`` does, sends a call
without a record to the model server ``services`` names (an in-namespace dicec Service, the only kind it
accepts), and answers ``{"json": J, "text": T}``: the answer's canonical JSON and its text (a string as it
is, anything else as its JSON). An HTTP task has one output, its body, so the Workflow's two answer outputs
take the strings out of it with Argo's ``jsonpath`` (:func:`answer_expression`, an ``expression`` of dicec's
own with no user text in it): ``answer`` the text, ``answer-json`` the JSON, as a pods-mode answer step
writes them.

**What stays a container step** (:func:`container_tasks`): every step when the steps' CPU pool is an edge
pool (:func:`dicec.emit.services.step_pool`: the workflow runs on a vessel, beside the frame; a model
server in the cloud could not read a frame kept there by its URI, the vessel's servers are not reachable
from Argo's agent in the cloud, and the crops an edge step cuts travel as artifacts or in the requests
it sends itself, which an HTTP template cannot carry), and otherwise a task with an edge role (it writes
or reads a crop bundle: :mod:`dicec.emit.offload`), a task placed on an edge pool, and every task such a
step reads a value from (an Argo parameter reference cannot take a result object's value apart, and a
``withParam`` needs a list). Those run ``dicec op call`` / ``dicec answer --services`` as before; the
answer is a container step exactly when the steps' pool is an edge pool.

**Success, timeouts, retries.** ``successCondition: response.statusCode == 200`` (the servers answer an
operator's failure on its input inside a 200 body, as a pod step exits 0; any other status is a set-up
problem). ``timeoutSeconds`` (:func:`operator_timeout`) is ``ceil(TIMEOUT_BASE_S + QUEUE_FACTOR x L x
W)`` where ``L`` is the operator's latency on its pool (placement's seconds for one warm call), ``W``
is 1, or :data:`FANOUT_ELEMENTS` for a task that sends a list of patches (its elements may be computed
one at a time), and :data:`QUEUE_FACTOR` leaves room for the requests queued ahead of it; the answer's is
:data:`~dicec.emit.services.ANSWER_MAX_SECONDS`, the answer server's own budget per program, plus
``TIMEOUT_BASE_S``. A failed request (refused while a server loads: 503; timed out) is retried by the
template's ``retryStrategy``, as a pod step is.
"""

from __future__ import annotations

import json
import math
from typing import Any

from dicec.analysis.graph import Format, Ref
from dicec.runtime.contract import ANSWER_JSON_KEY, ANSWER_TEXT_KEY  # noqa: F401 (the reply's keys)

STEP_PATH = "/v1/step"
ANSWER_PATH = "/v1/answer"

SUCCESS_CONDITION = "response.statusCode == 200"
#: Seconds every request is given beyond its work: Argo documents 30 s as the HTTP template's default.
TIMEOUT_BASE_S = 30
#: The request's own work times this: room for about three others' queued ahead of it (at the 0.7
#: target utilisation of :mod:`dicec.emit.services` a one-server queue holds 2.3 on average).
QUEUE_FACTOR = 4
#: The elements one fan-out request is given time for, each computed alone in the worst case.
FANOUT_ELEMENTS = 64
HEADERS = ({"name": "Content-Type", "value": "application/json"},)


def result_of(task_id: str) -> str:
    """The Argo reference to an HTTP task's answer (``{"value", "record"}``)."""
    return "{{tasks.%s.outputs.result}}" % task_id


def value_argument(task_id: str, http_tasks: frozenset[str] | set[str], value_of) -> str:
    """How an HTTP request carries a task's value: its result object, or a container step's value
    (``value_of(task_id)``) wrapped as one."""
    if task_id in http_tasks:
        return result_of(task_id)
    return '{"record": null, "value": %s}' % value_of(task_id)


def record_argument(task_id: str, http_tasks: frozenset[str] | set[str], record_of) -> str:
    """How the answer's records list carries a task's record: its result object, or a container's record."""
    return result_of(task_id) if task_id in http_tasks else record_of(task_id)


def container_tasks(placed: Any, roles: dict[str, str | None]) -> frozenset[str]:
    """The tasks that stay container steps in services mode (the module docstring): all of them when the
    steps run on an edge pool, else those with an edge ``role``, on an edge pool, or read by a container
    step; every other task is an HTTP task."""
    from dicec.emit.services import step_pool

    graph = placed.graph
    if step_pool(placed).edge:
        return frozenset(t.id for t in graph.tasks)
    keep = {t for t, role in roles.items() if role} | {
        t.id for t in graph.tasks if placed.pools[placed.placements[t.id].pool].edge}
    pending = sorted(keep)
    while pending:
        for dep in graph.task(pending.pop()).depends:
            if dep not in keep:
                keep.add(dep)
                pending.append(dep)
    return frozenset(keep)


def operator_timeout(seconds: float, *, fanout: bool) -> int:
    """``timeoutSeconds`` of an operator's HTTP template (the formula is in the module docstring)."""
    return math.ceil(round(TIMEOUT_BASE_S + QUEUE_FACTOR * max(seconds, 0.0) * (FANOUT_ELEMENTS if fanout else 1), 6))


def answer_timeout(max_seconds: float) -> int:
    """``timeoutSeconds`` of the answer's HTTP template: the server's program budget and the base."""
    return math.ceil(TIMEOUT_BASE_S + max_seconds)


def step_body(image: str) -> str:
    """An operator call's request body (the module docstring); ``image``: the image parameter's reference."""
    return ('{"call":"{{inputs.parameters.call}}","image":"%s","index":"{{inputs.parameters.index}}",'
            '"patch":{{inputs.parameters.patch}},"refs":{{inputs.parameters.refs}}}' % image)


def answer_body(image: str, services: dict[str, str]) -> str:
    """The answer's request body; ``services``: operator -> model-server URL (DNS names only)."""
    urls = json.dumps(dict(sorted(services.items())), sort_keys=True, separators=(",", ":"))
    return ('{"image":"%s","program":"{{inputs.parameters.program}}","services":%s,'
            '"results":{{inputs.parameters.records}}}' % (image, urls))


def task_arguments(task: Any, http_tasks: frozenset[str] | set[str], value_of) -> dict[str, str]:
    """An operator call's HTTP task arguments: ``patch``, ``index`` and ``refs`` (``call`` is added by the
    caller), every producing task's value carried as :func:`value_argument` gives it."""
    params: dict[str, str] = {}
    if task.patch is None:
        params["patch"] = "null"
    elif task.patch.kind == "image":
        params["patch"] = '"image"'
    else:  # "each" sends the whole list (no withParam over a result); "item" picks ``index`` from it
        params["patch"] = value_argument(task.patch.task, http_tasks, value_of)
        params["index"] = "none" if task.patch.kind == "each" or task.patch.index is None else str(task.patch.index)
    refs = sorted({r for a in task.args for r in arg_refs(a)})
    if refs:
        params["refs"] = "{" + ", ".join(f'"{r}": {value_argument(r, http_tasks, value_of)}' for r in refs) + "}"
    return params


def arg_refs(arg: Any) -> list[str]:
    """The tasks a task-graph argument refers to (a reference, or the references in a formatted string)."""
    if isinstance(arg, Ref):
        return [arg.task]
    if isinstance(arg, Format):
        return [p.task for p in arg.parts if isinstance(p, Ref)]
    return []


def http_template(*, name: str, url: str, body: str, timeout_s: int, inputs: list, retry_strategy: Any) -> Any:
    """The hera ``HTTP`` template: POST ``body`` as JSON to ``url``, success on 200."""
    from hera.workflows import HTTP
    from hera.workflows.models import V1alpha1HTTPHeader as HTTPHeader

    return HTTP(name=name, inputs=inputs, url=url, method="POST", headers=[HTTPHeader(**h) for h in HEADERS],
                body=body, success_condition=SUCCESS_CONDITION, timeout_seconds=timeout_s,
                retry_strategy=retry_strategy)


def answer_expression(task: str, key: str) -> str:
    """A DAG output's ``valueFrom.expression`` taking ``key`` (:data:`ANSWER_TEXT_KEY` or :data:`ANSWER_JSON_KEY`)
    out of the answer server's reply, the result of ``task``: Argo's ``jsonpath`` on the body, as its own example
    ``expression-destructure-json.yaml`` does; the value is a string, which Argo writes as it is."""
    return f"jsonpath(tasks.{task}.outputs.result, '$.{key}')"
