"""-q and -v: the level reaches the processes dicec starts; details show only when verbose, once if asked."""

from __future__ import annotations

import os
import subprocess
import sys

from dicec import verbosity


def test_levels_notes_and_details(monkeypatch, capsys):
    monkeypatch.setenv(verbosity.ENV, "0")
    verbosity.note("a note")
    assert not verbosity.detail("a detail")
    assert capsys.readouterr().err == "a note\n"
    verbosity.set_level(verbosity.QUIET)
    verbosity.note("hushed")
    assert capsys.readouterr().err == ""
    verbosity.set_level(verbosity.VERBOSE)
    assert verbosity.detail("shown") and verbosity.detail("once", once="k") and not verbosity.detail("once", once="k")
    assert capsys.readouterr().err == "shown\nonce\n"
    monkeypatch.setenv(verbosity.ENV, "loud")
    assert verbosity.level() == verbosity.NORMAL  # unreadable: the default


def test_the_level_reaches_a_child_process(monkeypatch):
    monkeypatch.setenv(verbosity.ENV, "0")
    verbosity.set_level(verbosity.VERBOSE)
    out = subprocess.run([sys.executable, "-c", "from dicec import verbosity; print(verbosity.level())"],
                         capture_output=True, text=True, env=os.environ.copy(), check=True)
    assert out.stdout.strip() == "1"
