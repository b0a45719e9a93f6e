"""What the final step runs: ``dicec answer ...`` (see :mod:`dicec.emit.steps`), and the replay it shares
with the answer server.

``answer`` reads the records (a JSON list; elements that are not valid JSON are skipped, lists are
flattened), re-runs the program answering each call from them or on demand, and writes the answer
as canonical JSON (``--out``) and as text (``--text-out``: a string as it is, anything else as its
JSON). :func:`replay` is that re-run, the one implementation behind both ``dicec answer``
and the answer server's ``/v1/answer`` (:mod:`dicec.serving.answer_server`), so the two give the same
answer for the same records: a records element may be a record, a (nested) list of records (a fan-out),
or an HTTP step's result object ``{"value", "record"}`` (:mod:`dicec.runtime.contract`), whose record
counts.

Every replay is also set against the plan (:mod:`dicec.runtime.plancheck`): which records answered a call,
which did not and whether the plan speculated them, which calls were computed and whether the plan left
them to this step. ``answer`` logs that on its summary line and as one ``answer: counts {JSON}`` line
(:mod:`dicec.runtime.replaycounts`), which ``dicec run`` reports as ``answer_step``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from dicec.errors import DicecError
from dicec.runtime.backend import get_backend, registry_for
from dicec.runtime.calls import Call, answer_text, canonical_json
from dicec.runtime.compute import Log, write_output
from dicec.runtime.contract import is_result, unb64
from dicec.runtime.flags import json_flag, lenient_members
from dicec.runtime.replaycounts import ReplayCounts, counts_line


def parse_records(text: str, flag: str = "--records") -> list[Any]:
    """The ``--records`` list, skipping elements that are not valid JSON (unresolved Argo references)."""
    text = text.strip()
    if not text.startswith("[") or not text.endswith("]"):
        whole = json_flag(text, flag)
        return whole if isinstance(whole, list) else [whole]
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, list) else [whole]
    except json.JSONDecodeError:
        pass
    return [value for _, value in lenient_members(text, flag)]


def iter_records(records: list[Any]) -> Iterator[tuple[str, dict]]:
    """``(key, record)`` of every record among records, (nested) lists of records and result objects, in
    order; anything else (a ``null`` record, a value that is not a record) is skipped."""
    stack = list(reversed(records))
    while stack:
        r = stack.pop()
        if is_result(r):
            stack.append(r["record"])
        elif isinstance(r, list):
            stack.extend(reversed(r))
        elif (isinstance(r, dict) and isinstance(r.get("operator"), str) and isinstance(r.get("form"), str)
              and isinstance(r.get("args"), list) and "value" in r):
            yield Call(operator=r["operator"], form=r["form"], patch=r.get("patch"), args=tuple(r["args"])).key, r


def records_index(records: list[Any]) -> dict[str, dict]:
    """Key -> record (the first record of each call, :func:`iter_records`)."""
    out: dict[str, dict] = {}
    for key, r in iter_records(records):
        out.setdefault(key, r)
    return out


def decode_program(payload: Any, what: str = "--program") -> str:
    """The program's source from its base64url payload."""
    try:
        if not isinstance(payload, str):
            raise ValueError("not a string")
        return unb64(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"{what} is not base64url of the program's text ({exc})") from None


@dataclass(frozen=True, kw_only=True)
class Replayed:
    """One query's replay.

    Attributes:
        answer: the program's answer as JSON.
        stats: its operator calls (:class:`~dicec.runtime.program.Stats`).
        counts: the records used and calls computed, set against the plan
            (:class:`~dicec.runtime.replaycounts.ReplayCounts`).
    """

    answer: Any
    stats: Any
    counts: ReplayCounts


def replay(source: str, *, records: list[Any], image: Any, backend: Any, registry: Any, limits: Any = None,
           where: str, log: Log = lambda s: None) -> Replayed:
    """Re-run the serial program over ``records`` (answering a call without a record with ``backend``): the
    answer, the calls' stats and their counts against the plan (:class:`Replayed`, :mod:`dicec.runtime.plancheck`);
    :class:`~dicec.runtime.program.ProgramError` if the program raises.

    ``where`` names the backend in the log line; ``limits`` bound the run (:class:`~dicec.runtime.program.Limits`).
    ``dicec answer`` and the answer server run it once per query; a batch's answer pod once per image and
    question (:mod:`dicec.runtime.stage`)."""
    from dicec.runtime.plancheck import check_replay
    from dicec.runtime.program import Limits, run_program

    index = records_index(records)
    outcome = run_program(source, registry=registry, image=image, backend=backend, records=index, path="<program>",
                          limits=limits or Limits(), log=log)
    s = outcome.stats
    counts = check_replay(source, registry, records, s)
    log(f"answer: {s.calls} operator calls, {s.from_records} from {len(index)} records, "
        f"{s.on_demand} on demand ({where}); {counts.summary()}")
    return Replayed(answer=outcome.answer, stats=s, counts=counts)


def run_answer(*, image_uri: str, program_payload: str, records_json: str, out: str | None,
               text_out: str | None = None, models: str | None = None, operator_dirs: tuple[str, ...] = (),
               services_json: str | None = None,
               services: dict[str, str] | None = None, log: Log = lambda s: None) -> Any:
    """``dicec answer``: the serial program over the records; returns the answer (JSON), written to ``out`` as
    canonical JSON and to ``text_out`` as text (:func:`dicec.runtime.calls.answer_text`: the workflow's plain
    ``answer`` output, where ``answer-json`` is the JSON).

    With ``services_json`` (``--services``, services mode) a call without a record goes to its operator's
    model server (:class:`dicec.runtime.client.ServiceRouter`, URLs resolved through ``services``, the
    ``$DICEC_SERVICES`` map) instead of a model loaded here."""
    from dicec.runtime.images import load_image

    source = decode_program(program_payload)
    records = parse_records(records_json)
    image = load_image(image_uri)
    if services_json is not None:
        from dicec.runtime.client import ServiceRouter, parse_service_map

        backend = ServiceRouter.of_urls(parse_service_map(services_json), services=services)
    else:
        backend = get_backend(models)
    try:
        replayed = replay(source, records=records, image=image, backend=backend, registry=registry_for(operator_dirs),
                          where="model servers" if services_json is not None else f"{backend.name} models", log=log)
    finally:
        if services_json is not None:
            backend.close()
    log(counts_line(replayed.counts, image=image_uri))
    if out is not None:
        write_output(out, canonical_json(replayed.answer))
    if text_out is not None:
        write_output(text_out, answer_text(replayed.answer))
    return replayed.answer
