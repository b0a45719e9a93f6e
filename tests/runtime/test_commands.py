"""The step side's verbs as a process of their own: ``python -m dicec.runtime`` starts fast, loading only click."""

from __future__ import annotations

import subprocess
import sys
import time


def test_op_runs_as_a_subprocess_and_starts_fast():
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "dicec.runtime", "op", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--record-out" in out.stdout
    assert time.monotonic() - start < 5


def test_commands_module_imports_only_click_and_errors():
    code = ("import sys; import dicec.runtime.commands; "
            "bad = [m for m in ('numpy', 'onnxruntime', 'hera', 'astroid', 'yaml') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
