"""What the final step runs: ``dicec answer ...`` (see :mod:`dicec.emit.steps`).

``answer`` reads the records (a JSON list; elements that are not valid JSON are skipped, lists are
flattened), re-runs the program answering each call from them or on demand, and writes the answer
as canonical JSON.
"""

from __future__ import annotations

import json
from typing import Any

from dicec.errors import DicecError
from dicec.runtime.backend import get_backend, registry_for
from dicec.runtime.calls import Call, canonical_json
from dicec.runtime.compute import Log, write_output
from dicec.runtime.contract import unb64
from dicec.runtime.flags import json_flag, lenient_members


def parse_records(text: str) -> list[Any]:
    """The ``--records`` list, skipping elements that are not valid JSON (unresolved Argo references)."""
    text = text.strip()
    if not text.startswith("[") or not text.endswith("]"):
        whole = json_flag(text, "--records")
        return whole if isinstance(whole, list) else [whole]
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, list) else [whole]
    except json.JSONDecodeError:
        pass
    return [value for _, value in lenient_members(text, "--records")]


def records_index(records: list[Any]) -> dict[str, dict]:
    """Key -> record, over records and (nested) lists of records; anything else is skipped."""
    out: dict[str, dict] = {}
    stack = list(reversed(records))
    while stack:
        r = stack.pop()
        if isinstance(r, list):
            stack.extend(reversed(r))
        elif (isinstance(r, dict) and isinstance(r.get("operator"), str) and isinstance(r.get("form"), str)
              and isinstance(r.get("args"), list) and "value" in r):
            call = Call(operator=r["operator"], form=r["form"], patch=r.get("patch"), args=tuple(r["args"]))
            out.setdefault(call.key, r)
    return out


def replay(source: str, *, image: Any, records: dict[str, dict], backend: Any, registry: Any,
           log: Log = lambda s: None, where: str | None = None) -> Any:
    """The program re-run on ``image``, each call answered from ``records`` (:func:`records_index`) or on
    demand by ``backend``: its :class:`~dicec.runtime.program.Outcome` (a ProgramError if it raises).
    ``dicec answer`` runs it once; a batch's answer pod once per image and question
    (:mod:`dicec.runtime.stage`)."""
    from dicec.runtime.program import run_program

    outcome = run_program(source, registry=registry, image=image, backend=backend, records=records,
                          path="<program>", log=log)
    s = outcome.stats
    log(f"answer: {s.calls} operator calls, {s.from_records} from {len(records)} records, "
        f"{s.on_demand} on demand ({where or backend.name + ' models'})")
    return outcome


def run_answer(*, image_uri: str, program_payload: str, records_json: str, out: str | None,
               models: str | None = None, operator_dirs: tuple[str, ...] = (), services_json: str | None = None,
               services: dict[str, str] | None = None, log: Log = lambda s: None) -> Any:
    """``dicec answer``: the serial program over the records; returns the answer (JSON).

    With ``services_json`` (``--services``, services mode) a call without a record goes to its operator's
    model server (:class:`dicec.runtime.client.ServiceRouter`, URLs resolved through ``services``, the
    ``$DICEC_SERVICES`` map) instead of a model loaded here."""
    from dicec.runtime.images import load_image

    try:
        source = unb64(program_payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"--program is not base64url of the program's text ({exc})") from None
    records = records_index(parse_records(records_json))
    image = load_image(image_uri)
    if services_json is not None:
        from dicec.runtime.client import ServiceRouter, parse_service_map

        backend = ServiceRouter.of_urls(parse_service_map(services_json), services=services)
    else:
        backend = get_backend(models)
    try:
        outcome = replay(source, image=image, records=records, backend=backend,
                         registry=registry_for(operator_dirs), log=log,
                         where="model servers" if services_json is not None else None)
    finally:
        if services_json is not None:
            backend.close()
    if out is not None:
        write_output(out, canonical_json(outcome.answer))
    return outcome.answer
