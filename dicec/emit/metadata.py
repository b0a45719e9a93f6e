"""Labels, annotations and names of an emitted workflow: what a cluster operator selects and audits by.

Labels (selectable, so short and restricted: at most 63 characters of ``[-A-Za-z0-9_.]``, starting and
ending alphanumeric) carry the dicec version, the first 16 hex digits of the program's and the question's
SHA-256, and the estimated dollars per query; the same labels go on every pod (``spec.podMetadata``)
so that pod-level cost reports can be grouped by query. Annotations carry the full hashes and the
estimates unabridged. Only hashes and numbers are written: the question itself never reaches metadata.

A WorkflowTemplate needs a fixed ``metadata.name``: :func:`derived_name` makes one from the input's
slug and the program's hash, so the same input always gets the same name (and GitOps sees an update,
not a new object) while two different programs never share one.
"""

from __future__ import annotations

import hashlib
import re

from dicec import __version__

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
MAX_NAME = 63


def label_value(text: str) -> str:
    """``text`` made a valid label value: other characters become ``_``, cut to 63, alphanumeric ends."""
    value = re.sub(r"[^-A-Za-z0-9_.]", "_", text)[:63]
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    return value if _LABEL_VALUE.match(value) else ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def labels(*, program: str, question: str | None, usd_per_query: float) -> dict[str, str]:
    """The workflow's labels (and its pods')."""
    out = {
        "app.kubernetes.io/managed-by": "dicec",
        "dicec.dev/program": sha256(program)[:16],
        "dicec.dev/version": label_value(__version__) or "unknown",
        "dicec.dev/estimated-usd-per-query": label_value(f"{usd_per_query:.6f}"),
    }
    if question is not None:
        out["dicec.dev/question"] = sha256(question)[:16]
    return dict(sorted(out.items()))


def annotations(*, program: str, question: str | None, usd_per_query: float, tasks: int,
                mode: str = "pods") -> dict[str, str]:
    """The workflow's annotations."""
    out = {
        "dicec.dev/version": __version__,
        "dicec.dev/program-sha256": sha256(program),
        "dicec.dev/estimated-usd-per-query": f"{usd_per_query:.6f}",
        "dicec.dev/tasks": str(tasks),
        "dicec.dev/mode": mode,
    }
    if question is not None:
        out["dicec.dev/question-sha256"] = sha256(question)
    return out


def slug(text: str) -> str:
    """A short DNS-label-safe stem of an input's file name (``damage-parts.txt`` -> ``damage-parts``)."""
    base = text.rsplit("/", 1)[-1]
    base = base[:-3] if base.endswith(".py") else base[:-4] if base.endswith(".txt") else base
    out = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:30].strip("-")
    return out or "query"


def derived_name(*, source: str, program: str, batch: bool = False) -> str:
    """A fixed, deterministic name: ``dicec-SLUG[-batch]-HASH8`` (at most 63 characters)."""
    stem = f"dicec-{slug(source)}" + ("-batch" if batch else "")
    return f"{stem[:MAX_NAME - 9].rstrip('-')}-{sha256(program)[:8]}"
