"""Input artifacts for ``dicec run``: what Argo's init container downloads, fetched from this machine.

A step template's ``inputs.artifacts`` name a source (``s3.key``, ``gcs.key``, ``http.url``, or ``raw.data``)
and a ``path`` in the container; the DAG task may supply one instead, as another step's output (``from``) or
as ``raw`` data of its own (:class:`RawData`: a value too large for a command-line argument, written to a file). On a cluster the key is read from the configured artifact repository;
on one machine there is no repository, so ``dicec run`` accepts a local path or a ``file://`` URI in
the key or URL and puts the file at the artifact's path inside the step's own folder. Anything it
cannot reach without a network (``s3://``, ``gs://``, ``http(s)://`` or another scheme) is refused with
one line saying so, before the step runs; ``dicec run`` never opens a connection.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dicec.errors import DicecError
from dicec.files import local_file

#: Artifact sources and the field of each that names the object.
SOURCES = {"s3": "key", "gcs": "key", "http": "url"}


@dataclass(frozen=True, kw_only=True)
class InputArtifact:
    """One input artifact of a step, resolved for this machine.

    Attributes:
        name: the artifact's name.
        path: where the container expects it.
        local: the local file to put there, or ``None`` for ``raw`` data.
        data: the content of a ``raw`` artifact.
        location: where Argo's node status says it came from (``{"s3": {"key": ...}}``, ``{"raw": {"data": ...}}``),
            or ``{"file": PATH}`` for another step's output artifact (:mod:`dicec.runner.argostatus`).
    """

    name: str
    path: str
    local: Path | None = None
    data: str | None = None
    location: dict | None = None


@dataclass(frozen=True)
class RawData:
    """An input artifact a DAG task supplies as ``raw`` data (its text, references substituted)."""

    data: str


def local_source(text: str, *, artifact: str, kind: str) -> Path:
    """The local file a key or URL names, or a clear error when it is not one this machine can read."""
    if not text:
        raise DicecError(f"input artifact {artifact!r} ({kind}): the key is empty")
    path = local_file(text, what=f"input artifact {artifact!r} ({kind})",
                      elsewhere="dicec run reads local paths and file:// URIs only; submit the workflow to a "
                                "cluster for other sources")
    if not path.is_file():
        raise DicecError(f"input artifact {artifact!r} ({kind}): {text}: no such file")
    return path.resolve()


def resolve_inputs(template: dict, substitute: Callable[[str], str],
                   passed: dict[str, str | RawData] | None = None, *, locate: bool = True) -> list[InputArtifact]:
    """The input artifacts of ``template`` with their references substituted and their sources found;
    ``passed``: the ones the DAG task supplies, name -> another step's local file (``from``) or :class:`RawData`.
    With ``locate`` false (a modelled run, :mod:`dicec.runner.weight`) a repository's object is not looked
    for: the step gets an empty file."""
    out = []
    for art in (template.get("inputs") or {}).get("artifacts") or []:
        name, path = str(art.get("name")), art.get("path")
        if not path:
            raise DicecError(f"input artifact {name!r} has no path")
        given = (passed or {}).get(name)
        if isinstance(given, RawData):
            out.append(InputArtifact(name=name, path=str(path), data=given.data, location={"raw": {"data": given.data}}))
            continue
        if given is not None:
            out.append(InputArtifact(name=name, path=str(path), local=Path(given), location={"file": str(given)}))
            continue
        if isinstance(art.get("raw"), dict):
            data = substitute(str(art["raw"].get("data", "")))
            out.append(InputArtifact(name=name, path=str(path), data=data, location={"raw": {"data": data}}))
            continue
        kinds = [k for k in SOURCES if isinstance(art.get(k), dict)]
        if not kinds:
            others = sorted(k for k in art if k not in ("name", "path", "mode", "optional", "archive"))
            raise DicecError(f"input artifact {name!r}: only {', '.join(SOURCES)} and raw sources are supported "
                             f"by dicec run (it has {', '.join(others) or 'none'})")
        kind = kinds[0]
        text = substitute(str(art[kind].get(SOURCES[kind], "")))
        location = {kind: {**art[kind], SOURCES[kind]: text}}
        if not locate:
            out.append(InputArtifact(name=name, path=str(path), data="", location=location))
            continue
        out.append(InputArtifact(name=name, path=str(path), local=local_source(text, artifact=name, kind=kind),
                                 location=location))
    return out


def stage(artifact: InputArtifact, target: Path) -> None:
    """Put the artifact at ``target`` (a link to the local file where possible, else a copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if artifact.local is None:
        target.write_text(artifact.data or "", encoding="utf-8")
        return
    try:
        os.symlink(artifact.local, target)
    except OSError:
        shutil.copyfile(artifact.local, target)
