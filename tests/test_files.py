"""-o FILE: atomic over a regular file or none, through a symlink to its target, in place to a special
file (/dev/null, a FIFO), and `-o -` for standard output, the same in every verb."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from click.testing import CliRunner

from dicec.cli import cli
from dicec.errors import DicecError
from dicec.files import write_atomic
from dicec.output import write_or_echo


def test_a_regular_file_is_replaced_atomically_keeping_its_mode(tmp_path):
    out = tmp_path / "wf.yaml"
    out.write_text("old")
    os.chmod(out, 0o600)
    before = out.stat().st_ino
    write_atomic(out, "new")
    assert out.read_text() == "new" and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.stat().st_ino != before  # a new file renamed into place, not the old one truncated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wf.yaml"]  # no temporary left


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "wf.yaml"
    target.write_text("old")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new" and not target.is_symlink()
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "real" / "created.yaml")
    write_atomic(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "real" / "created.yaml").read_text() == "made"


def test_a_symlink_loop_is_one_line(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(DicecError, match="symlink loop"):
        write_atomic(a, "x")
    assert a.is_symlink() and b.is_symlink()


def null_device(tmp_path) -> str:
    """A null device to write to: as root, a twin of /dev/null made in ``tmp_path`` (so a regression could
    only break the twin), else /dev/null itself (which a user cannot replace)."""
    if os.geteuid() == 0:
        twin = tmp_path / "null"
        try:
            os.mknod(twin, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            return str(twin)
        except OSError:  # no CAP_MKNOD here
            pass
    return "/dev/null"


def test_a_null_device_stays_a_device(tmp_path):
    """As root, replacing /dev/null would succeed and break the machine; as anyone, it is written in place."""
    device = null_device(tmp_path)
    before = os.stat(device)
    write_atomic(device, "discarded\n")
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_directory_or_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(DicecError, match="output path is a directory"):
        write_atomic(tmp_path, "x")
    with pytest.raises(DicecError, match="does not exist"):
        write_atomic(tmp_path / "no" / "x.yaml", "x")


def test_dash_is_standard_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_or_echo("to stdout\n", "-")
    assert capsys.readouterr().out == "to stdout\n" and not (tmp_path / "-").exists()


QUESTION = "Is there a red car?\n"


@pytest.mark.parametrize("verb", [["codegen"], ["compile"]])
def test_every_verb_takes_dash_and_dev_null(tmp_path, monkeypatch, verb):
    monkeypatch.chdir(tmp_path)
    q = tmp_path / "q.txt"
    q.write_text(QUESTION)
    r = CliRunner()
    to_stdout = r.invoke(cli, [*verb, str(q), "-o", "-"])
    assert to_stdout.exit_code == 0, to_stdout.output
    assert "def execute_command" in to_stdout.stdout or "kind: Workflow" in to_stdout.stdout
    assert not (tmp_path / "-").exists()
    device = null_device(tmp_path)
    assert r.invoke(cli, [*verb, str(q), "-o", device]).exit_code == 0
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_pools_and_compile_json_with_dash(tmp_path):
    r = CliRunner()
    out = r.invoke(cli, ["pools", "-o", "-"])
    assert out.exit_code == 0 and "pools:" in out.stdout
    q = tmp_path / "q.txt"
    q.write_text(QUESTION)
    refused = r.invoke(cli, ["compile", str(q), "-o", "-", "--format", "json"])
    assert refused.exit_code == 1 and "needs -o FILE" in refused.output
