"""How much dicec says on standard error besides results and errors: ``dicec -q`` and ``dicec -v``.

Three levels: :data:`QUIET` (``-q``: only results, warnings about the input, and errors), the default,
and :data:`VERBOSE` (``-v``: also how the work was done, such as which onnxruntime provider runs a
model and, once per process, that CUDA was asked for but is not usable). The level lives in
``$DICEC_VERBOSITY`` so the processes dicec starts (``dicec run``'s steps, local model servers) say as
much as the command the user typed; an emitted pod can set it the same way.

Errors are never silenced: they are exceptions, printed by the CLI.
"""

from __future__ import annotations

import os
import sys
import threading

ENV = "DICEC_VERBOSITY"
QUIET, NORMAL, VERBOSE = -1, 0, 1
_SAID: set[str] = set()
_LOCK = threading.Lock()


def set_level(level: int) -> None:
    """Set the level for this process and the processes it starts."""
    os.environ[ENV] = str(max(QUIET, min(VERBOSE, int(level))))


def level() -> int:
    """The current level (:data:`NORMAL` when unset or unreadable)."""
    try:
        return max(QUIET, min(VERBOSE, int(os.environ.get(ENV, NORMAL))))
    except ValueError:
        return NORMAL


def note(line: str) -> None:
    """An informational line (a summary, a note): shown unless quiet."""
    if level() > QUIET:
        print(line, file=sys.stderr, flush=True)


def detail(line: str, *, once: str | None = None) -> bool:
    """A line about how the work was done: shown only when verbose (and, with ``once``, at most once per
    process for that key). Returns whether it was shown."""
    if level() < VERBOSE:
        return False
    if once is not None:
        with _LOCK:
            if once in _SAID:
                return False
            _SAID.add(once)
    print(line, file=sys.stderr, flush=True)
    return True
