"""Reading user input files and writing outputs safely.

Inputs are checked before any stage sees them (missing, a directory, empty, binary, not UTF-8) so each
problem is one clear line. Outputs are written to a temporary file in the target's directory and renamed
into place, so a failure never leaves a half-written or truncated file behind; through a symlink that
happens at the link's target, and a special file (``/dev/null``, a FIFO, a device) is written in place
rather than replaced by a regular file (which, run as root, would turn ``/dev/null`` into one).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from dicec.errors import DicecError, Location

#: Inputs larger than this are refused before parsing (a question or program is never this big).
MAX_INPUT_BYTES = 4 * 1024 * 1024


def local_file(uri: str, *, what: str, elsewhere: str) -> Path:
    """The local file a path or ``file://`` URI names (``file://localhost/`` too); any other scheme is one
    line naming ``what`` and saying what to do instead (``elsewhere``). A one-letter scheme is a Windows
    drive, not a scheme."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise DicecError(f"{what}: {uri!r} names another host; a file:// URI must name a local file "
                             "(file:///path)", location=Location(path=uri))
        return Path(unquote(parsed.path))
    if len(parsed.scheme) > 1 and ("://" in uri or not Path(uri).exists()):  # s3://b/k, s3:b/k; not a:b.png
        raise DicecError(f"{what} scheme {parsed.scheme!r} is not supported here: give a local path or file:// URI "
                         f"({elsewhere})", location=Location(path=uri))
    return Path(uri)


def read_text(path: str | os.PathLike[str], *, what: str = "input", limit: int | None = MAX_INPUT_BYTES,
              empty_ok: bool = False) -> str:
    """Return the text of a user's input file, or raise a one-line :class:`DicecError`.

    ``limit``: the most bytes it may have (``None``: no limit, for files dicec itself wrote, such as a batch
    stage's records); ``empty_ok``: an empty file is its (empty) text rather than an error."""
    p = Path(path)
    where = Location(path=str(path))
    if str(path) == "-":
        raise DicecError(f"reading {what} from standard input is not supported; name a file")
    if not p.exists():
        raise DicecError("no such file", location=where)
    if p.is_dir():
        raise DicecError(f"is a directory, expected a {what} file", location=where)
    try:
        size = p.stat().st_size
        if limit is not None and size > limit:
            raise DicecError(f"{what} is {size} bytes, over the {limit}-byte limit", location=where)
        data = p.read_bytes()
    except OSError as exc:
        raise DicecError(f"cannot read: {exc.strerror or exc}", location=where) from None
    if not data.strip() and not empty_ok:
        raise DicecError(f"{what} file is empty", location=where)
    if b"\x00" in data:
        raise DicecError(f"{what} looks binary (it contains NUL bytes)", location=where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DicecError(f"{what} is not UTF-8 text (bad byte at offset {exc.start})", location=where) from None
    return text.removeprefix("\ufeff")


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path``: all-or-nothing over a regular file or none (a temporary file beside it,
    then ``os.replace``); through a symlink, the same at the link's target (the link stays); a special
    file (``/dev/null``, a FIFO, a device) is written in place, never replaced by a regular file."""
    p = Path(path)
    where = Location(path=str(path))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if p.is_symlink():
        p = Path(os.path.realpath(p))
        if p.is_symlink():
            raise DicecError("output path is a symlink loop", location=where)
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise DicecError(f"cannot write: {exc.strerror or exc}", location=where) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise DicecError("output path is a directory", location=where)
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(p, raw, where, st)
        return
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise DicecError(f"output directory {str(parent)!r} does not exist", location=where)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise DicecError(f"cannot write: {exc.strerror or exc}", location=where) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o644)
        os.replace(tmp, p)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise DicecError(f"cannot write: {exc.strerror or exc}", location=where) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _write_in_place(path: Path, raw: bytes, where: Location, st: os.stat_result) -> None:
    """Write to a device or a FIFO as a shell's ``>`` would (a FIFO waits for its reader)."""
    if stat.S_ISSOCK(st.st_mode):
        raise DicecError("output path is a socket, not a file", location=where)
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise DicecError(f"cannot write: {exc.strerror or exc}", location=where) from None
    try:
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise DicecError(f"cannot write: {exc.strerror or exc}", location=where) from None
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
