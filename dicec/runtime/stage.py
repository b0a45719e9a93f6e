"""``dicec op stage``: one pod of a batch's shard chain, running its tasks for every image of the shard.

A pods-mode batch (:mod:`dicec.placement.stages`, emitted by :mod:`dicec.emit.batch`) cuts the images into
contiguous shards; each shard runs a chain of stage pods, then an answer pod. Every pod runs this verb:

``--images FILE``    the batch's images, a JSON list (an Argo ``raw`` artifact holding the ``images``
                     workflow parameter: the list never travels through argv or the environment);
``--shard I --shards N``  which contiguous slice this pod runs (:func:`~dicec.runtime.contract.shard_slice`);
``--max-images M``   refuse a batch of more than M images (the workflow's deadlines were sized for M);
``--records-in FILE``  the records the pod before it in the chain wrote (none for the first pod);

and either, for a **stage pod**,

``--stage B64``      base64url of ``{"stage": NAME, "calls": [[call, ...], ...]}``: per question, the calls
                     of its tasks this pod runs, in a dependency order, each as a fused group's call
                     (``{task, operator, form, args, patch}``, :mod:`dicec.emit.steps`);
``--records-out FILE``  where it writes the records of everything computed so far;

or, for the **answer pod**,

``--program B64``    (once per question, in order) base64url of the question's serial program;
``--answers-out FILE``  where it writes the answers, one JSON line per image;
``--answers-list-out FILE``  the same answers as one JSON list (the pod's ``answers`` output parameter).

The records (``--records-in``/``--records-out``) are JSON Lines, one line per image of the shard in image
order: ``{"index": i, "image": URI, "error": null | MESSAGE, "values": [{TASK: value}, ...],
"records": [{TASK: record}, ...]}`` -- per question, the value and the record of every task computed so
far, exactly what a step of its own writes to ``--value-out`` and ``--record-out`` (a fan-out's are
lists; a call that cannot be made has the empty value and a null record). An answer line is
``{"index": i, "image": URI, "answers": [{"answer": A} | {"error": MESSAGE}, ...]}``, per question; the
list drops ``image``.

How a pod works: each model loads once (lazily: a shard whose slice is empty loads none), and the slice
is taken :data:`CHUNK_IMAGES` images at a time (so memory stays bounded); for each chunk, each task's
calls for every image -- and every element of a fan-out -- are resolved exactly as a fused group's step
resolves them (:func:`dicec.runtime.group.resolve_call`) and computed together, through the backend's
batch path where it has one (:func:`dicec.runtime.backend.evaluate_batch`; ``compute_depth`` on
``onnx`` stacks them into one ``session.run``), :data:`BATCH_CALLS` calls at a time. The answer pod
replays each image's program over its records (:func:`dicec.runtime.answer.replay`, what ``dicec
answer`` runs), a call without a record running on demand, and logs each replay's counts against the plan
(``answer: counts {JSON}`` with the image's index and the question's number, :mod:`dicec.runtime.replaycounts`).

What fails what: an image that cannot be read (missing, not an image, not a string in the list) is that
image's error -- its line carries it through the chain and its answers say so -- never the shard's. A
program raising on an image is that image's answer error, as ``dicec exec`` would raise it. A set-up
problem (a bad flag, a model file, records that do not match the shard) fails the pod, one line.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from dicec.errors import DicecError
from dicec.files import read_text
from dicec.runtime.answer import replay
from dicec.runtime.backend import evaluate_batch, get_backend, registry_for
from dicec.runtime.calls import canonical_json
from dicec.runtime.compute import Log, call_plan, plan_calls, settle_plan, whole_box, write_output
from dicec.runtime.contract import shard_slice, unb64
from dicec.runtime.group import check_calls, prepare_calls, resolve_call
from dicec.runtime.replaycounts import ReplayCounts, counts_line, total

#: Images a pod holds at once (read, decoded, computed, then let go).
CHUNK_IMAGES = 16
#: Calls of one task handed to the backend as one batch.
BATCH_CALLS = 16


def decode_stage(payload: str) -> tuple[str, list[list[dict]]]:
    """The ``--stage`` payload: (the stage's name, per question its calls), checked for shape."""
    try:
        body = json.loads(unb64(payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"--stage is not base64url of a JSON stage ({exc})") from None
    calls = body.get("calls") if isinstance(body, dict) else None
    if not isinstance(calls, list) or not calls or not all(isinstance(c, list) for c in calls):
        raise DicecError("--stage must hold {\"stage\": NAME, \"calls\": [[call, ...] per question]}")
    return str(body.get("stage") or "stage"), [check_calls(c, "--stage") for c in calls]


def read_images(path: str, *, max_images: int | None) -> list[Any]:
    """The ``--images`` file's JSON list (entries are checked per image, not here)."""
    text = read_text(path, what="images list", limit=None)
    try:
        images = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"--images {path}: the images parameter must be a JSON list of image paths or URIs "
                         f"({exc.msg} at character {exc.pos}): {text[:80]!r}") from None
    if not isinstance(images, list):
        raise DicecError(f"--images {path}: the images parameter must be a JSON list, not {type(images).__name__}")
    if max_images is not None and len(images) > max_images:
        raise DicecError(f"the batch has {len(images)} images but this workflow was compiled for at most "
                         f"{max_images} (compile it again with a larger --max-batch)")
    return images


def fresh_lines(images: list[Any], indices: range, queries: int) -> list[dict]:
    """The records of a slice before any task ran: nothing computed, entries that are not strings failed."""
    out = []
    for i in indices:
        entry = images[i]
        error = None if isinstance(entry, str) else f"images[{i}] is not a string (a path or URI): {canonical_json(entry)[:80]}"
        out.append({"index": i, "image": entry, "error": error, "values": [{} for _ in range(queries)],
                    "records": [{} for _ in range(queries)]})
    return out


def read_lines(path: str, images: list[Any], indices: range, queries: int) -> list[dict]:
    """``--records-in``: the chain's records of this slice, checked against it line by line."""
    text = read_text(path, what="records", limit=None, empty_ok=True)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != len(indices):
        raise DicecError(f"--records-in {path} has {len(lines)} lines but this shard has {len(indices)} images "
                         "(the records come from another shard or another batch)")
    out = []
    for n, (line, i) in enumerate(zip(lines, indices), start=1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DicecError(f"--records-in {path}:{n}: not JSON ({exc.msg})") from None
        if (not isinstance(rec, dict) or rec.get("index") != i or rec.get("image") != images[i]
                or not all(isinstance(rec.get(k), list) and len(rec[k]) == queries and
                           all(isinstance(d, dict) for d in rec[k]) for k in ("values", "records"))
                or not (rec.get("error") is None or isinstance(rec.get("error"), str))):
            raise DicecError(f"--records-in {path}:{n}: not the records of image {i} of this batch "
                             f"for {queries} question(s)")
        out.append(rec)
    return out


def _chunks(lines: list[dict]) -> Iterator[list[dict]]:
    for start in range(0, len(lines), CHUNK_IMAGES):
        yield lines[start:start + CHUNK_IMAGES]


def _open(line: dict) -> Any:
    """The line's image, read and decoded, or ``None`` with the line's error set (that image's failure)."""
    if line["error"] is not None:
        return None
    from dicec.runtime.images import load_image

    try:
        image = load_image(line["image"])
        image.pixels  # decode now: a broken file is this image's error, not a set-up problem later
    except DicecError as exc:
        line["error"] = str(exc)
        return None
    return image


def run_stage(*, images_file: str, shard: int, shards: int, stage_payload: str | None = None,
              program_payloads: tuple[str, ...] = (), records_in: str | None = None, records_out: str | None = None,
              answers_out: str | None = None, answers_list_out: str | None = None, max_images: int | None = None,
              models: str | None = None, operator_dirs: tuple[str, ...] = (), log: Log = lambda s: None) -> list[dict]:
    """``dicec op stage``: one stage pod (``stage_payload``) or the answer pod (``program_payloads``) of shard
    ``shard`` (see the module docstring); returns the lines it wrote."""
    if (stage_payload is None) == (not program_payloads):
        raise DicecError("dicec op stage needs --stage (a stage pod) or --program (the answer pod), not both")
    if stage_payload is not None and (records_out is None or answers_out or answers_list_out):
        raise DicecError("a stage pod (--stage) writes --records-out FILE, not answers")
    if program_payloads and (answers_out is None or answers_list_out is None or records_out):
        raise DicecError("the answer pod (--program) writes --answers-out FILE and --answers-list-out FILE")
    if not 1 <= shards or not 0 <= shard < shards:
        raise DicecError(f"--shard {shard} --shards {shards}: the shard must be one of 0..shards-1")
    if stage_payload is not None:
        name, calls = decode_stage(stage_payload)
        queries = len(calls)
    else:
        name, calls, queries = "answer", [], len(program_payloads)
        programs = [_program(p, n) for n, p in enumerate(program_payloads, start=1)]
    images = read_images(images_file, max_images=max_images)
    start, stop = shard_slice(shard, shards, len(images))
    indices = range(start, stop)
    lines = read_lines(records_in, images, indices, queries) if records_in else fresh_lines(images, indices, queries)
    registry = registry_for(operator_dirs)
    where = f"{name}: shard {shard + 1} of {shards}, images {start}..{stop - 1} ({len(lines)})" if lines else \
        f"{name}: shard {shard + 1} of {shards} has no images"
    if stage_payload is not None:
        prepared = [prepare_calls(c, registry) for c in calls]
        counts = _compute(lines, prepared, models, log) if lines else {}
        write_output(records_out, _jsonl(lines))
        failed = sum(1 for line in lines if line["error"] is not None)
        log(f"{where}; {sum(len(c) for c in calls)} task(s), {sum(counts.values())} call(s)"
            + (f" ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})" if counts else "")
            + (f"; {failed} image(s) could not be read" if failed else ""))
        return lines
    answers = _answer(lines, programs, registry, models, log, where)
    write_output(answers_out, _jsonl(answers))
    write_output(answers_list_out, canonical_json([{k: v for k, v in a.items() if k != "image"} for a in answers]))
    return answers


def _jsonl(rows: list[dict]) -> bytes:
    """JSON Lines, one canonical line per row (bytes, so nothing is added to an empty file)."""
    return "".join(canonical_json(row) + "\n" for row in rows).encode("utf-8")


def _program(payload: str, n: int) -> str:
    try:
        return unb64(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DicecError(f"--program (question {n}) is not base64url of the program's text ({exc})") from None


def _compute(lines: list[dict], prepared: list[list[tuple]], models: str | None, log: Log) -> dict[str, int]:
    """Run every prepared call for every line (chunk by chunk, task by task); returns calls per operator."""
    backend = get_backend(models)
    counts: dict[str, int] = {}
    for chunk in _chunks(lines):
        opened = [(line, image) for line in chunk if (image := _open(line)) is not None]
        for q, calls in enumerate(prepared):
            for c, spec, form in calls:
                trees = []
                for line, image in opened:
                    args, patch = resolve_call(c, line["values"][q])
                    trees.append(call_plan(spec, form, args, patch, whole=lambda image=image: whole_box(image)))
                items = [(image, call) for (_, image), tree in zip(opened, trees) for call in plan_calls(tree)]
                outcomes = iter(_evaluate(backend, spec, form, items))
                for (line, _), tree in zip(opened, trees):
                    value, record = settle_plan(tree, form, [next(outcomes) for _ in plan_calls(tree)], log=log,
                                                task=c["task"])
                    line["values"][q][c["task"]] = json.loads(canonical_json(value))  # as the next pod reads it
                    line["records"][q][c["task"]] = record
                if items:
                    counts[spec.name] = counts.get(spec.name, 0) + len(items)
    return counts


def _evaluate(backend: Any, spec: Any, form: Any, items: list) -> list[tuple[Any, str | None]]:
    """(value, error) of each item, :data:`BATCH_CALLS` at a time; a set-up problem fails the pod."""
    out: list[tuple[Any, str | None]] = []
    for start in range(0, len(items), BATCH_CALLS):
        for outcome in evaluate_batch(backend, spec, form, items[start:start + BATCH_CALLS]):
            if isinstance(outcome, DicecError):
                raise outcome
            out.append(outcome)
    return out


def _answer(lines: list[dict], programs: list[str], registry: Any, models: str | None, log: Log,
            where: str) -> list[dict]:
    """Each line's answers: its programs replayed over its records (errors are that image's answers). Each
    replay's counts against the plan are logged as a counts line with the image's index and the question's
    number (1, 2, ... in ``--program`` order, :mod:`dicec.runtime.replaycounts`); the pod's totals close the log."""
    from dicec.runtime.program import ProgramError

    backend = get_backend(models) if lines else None
    answers: list[dict] = []
    counted: list[ReplayCounts] = []
    calls = from_records = on_demand = failed = 0
    for chunk in _chunks(lines):
        for line in chunk:
            image = _open(line)
            outcomes: list[dict] = []
            for q, source in enumerate(programs):
                if image is None:
                    outcomes.append({"error": line["error"]})
                    continue
                try:
                    outcome = replay(source, image=image, records=list(line["records"][q].values()), backend=backend,
                                     registry=registry, where=f"{backend.name} models")
                except ProgramError as exc:
                    outcomes.append({"error": str(exc)})
                    continue
                outcomes.append({"answer": outcome.answer})
                s = outcome.stats
                calls, from_records, on_demand = calls + s.calls, from_records + s.from_records, on_demand + s.on_demand
                counted.append(outcome.counts)
                log(counts_line(outcome.counts, image=line["image"], index=line["index"], question=q + 1))
            failed += sum(1 for o in outcomes if "error" in o)
            answers.append({"index": line["index"], "image": line["image"], "answers": outcomes})
    log(f"{where}; {len(programs)} question(s): {calls} operator calls, {from_records} from records, "
        f"{on_demand} on demand" + (f" ({backend.name} models)" if backend is not None else "")
        + f"; {failed} answer(s) failed" + (f"; {total(counted).summary()}" if counted else ""))
    return answers
