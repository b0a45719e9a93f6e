"""Pinned builds: a lock file maps (question, model, prompt hash) to a program that passed the checker.

A GitOps repository commits ``dicec.lock`` beside its questions. ``--backend anthropic --lock FILE``
answers a question from the lock when that exact (question, model, prompt) is pinned, and otherwise
asks the LLM and pins the checked program; ``--backend replay --lock FILE`` builds only from the lock
and names any question that is not pinned, so CI never calls an LLM and a reviewer sees every
program change as a diff of this file.

The file is JSON with sorted keys and entries sorted by (question, model, prompt hash): the same pins
always give the same bytes, whatever order they were made in. Each entry carries the sha256 of its
code, so a hand edit or a bad merge is caught on load; replayed code still goes through the checker.
Writes are atomic (:func:`dicec.files.write_atomic`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from dicec.errors import DicecError, Location
from dicec.files import read_text, write_atomic

KIND = "dicec/lock"
VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Pin:
    """One pinned program.

    Attributes:
        question: the question, whitespace-normalised as the pipeline reads it.
        model: the model id that wrote the program.
        prompt_sha256: sha256 of the rendered static prompt (operators included) it was written for.
        code: the program, as it passed the checker.
        code_sha256: sha256 of ``code`` (derived; checked when a lock is read).
    """

    question: str
    model: str
    prompt_sha256: str
    code: str
    code_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        for name in ("question", "model", "prompt_sha256", "code"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"Pin.{name} must be non-empty text")
        if not _SHA256.fullmatch(self.prompt_sha256):
            raise ValueError("Pin.prompt_sha256 must be 64 lowercase hex digits")
        object.__setattr__(self, "code_sha256", sha256(self.code))

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.question, self.model, self.prompt_sha256)

    def to_json(self) -> dict:
        return {"question": self.question, "model": self.model, "prompt_sha256": self.prompt_sha256,
                "code": self.code, "code_sha256": self.code_sha256}


@dataclass(frozen=True, kw_only=True)
class Lock:
    """The pins of one lock file.

    Attributes:
        path: the file it was read from (or will be written to).
        pins: the pins by (question, model, prompt hash).
    """

    path: str
    pins: dict[tuple[str, str, str], Pin] = field(default_factory=dict)

    def get(self, question: str, model: str, prompt_sha256: str) -> Pin | None:
        return self.pins.get((question, model, prompt_sha256))

    def with_pin(self, pin: Pin) -> "Lock":
        return Lock(path=self.path, pins={**self.pins, pin.key: pin})

    def dumps(self) -> str:
        entries = [self.pins[k].to_json() for k in sorted(self.pins)]
        return json.dumps({"kind": KIND, "version": VERSION, "entries": entries},
                          indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def save(self) -> None:
        write_atomic(self.path, self.dumps())

    def not_pinned(self, question: str, model: str, prompt_sha256: str) -> DicecError:
        """The one-line error for a question this lock cannot answer, saying what differs."""
        shown = _show(question)
        same_q = [p for p in self.pins.values() if p.question == question]
        if not same_q:
            why = f"question {shown} is not pinned"
        elif not any(p.model == model for p in same_q):
            models = ", ".join(sorted({p.model for p in same_q}))
            why = f"question {shown} is pinned only for model {models}, not {model} (pass --model)"
        else:
            why = (f"question {shown} is pinned for model {model} with another prompt (the operators or the "
                   f"prompt template changed; this prompt's sha256 is {prompt_sha256[:12]}...)")
        return DicecError(f"{why}; pin it with: dicec codegen QUESTION.txt --backend anthropic --lock {self.path}",
                          location=Location(path=self.path))


def _show(question: str, limit: int = 80) -> str:
    text = question if len(question) <= limit else question[:limit - 3] + "..."
    return json.dumps(text, ensure_ascii=True)


def load_lock(path: str, *, missing_ok: bool) -> Lock:
    """Read the lock at ``path``; a missing file is an empty lock when ``missing_ok``."""
    where = Location(path=path)
    if not Path(path).exists():
        if missing_ok:
            return Lock(path=path)
        raise DicecError("no such lock file (pin questions with --backend anthropic --lock FILE first)", location=where)
    text = read_text(path, what="lock file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DicecError(f"not a valid lock file: {exc.msg}", location=Location(path=path, line=exc.lineno)) from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise DicecError(f"not a dicec lock file (expected \"kind\": \"{KIND}\")", location=where)
    if data.get("version") != VERSION:
        raise DicecError(f"lock file version {data.get('version')!r} is not supported (expected {VERSION})", location=where)
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise DicecError("lock file has no \"entries\" list", location=where)
    pins: dict[tuple[str, str, str], Pin] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DicecError(f"entry {i} is not an object", location=where)
        try:
            pin = Pin(question=entry.get("question"), model=entry.get("model"),
                      prompt_sha256=entry.get("prompt_sha256"), code=entry.get("code"))
        except ValueError as exc:
            raise DicecError(f"entry {i}: {exc}", location=where) from None
        if entry.get("code_sha256") != pin.code_sha256:
            raise DicecError(f"entry {i} ({_show(pin.question, 40)}): code_sha256 does not match its code "
                             "(edited by hand or a bad merge; pin it again)", location=where)
        if pin.key in pins:
            raise DicecError(f"entry {i} ({_show(pin.question, 40)}) is pinned twice", location=where)
        pins[pin.key] = pin
    return Lock(path=path, pins=pins)
