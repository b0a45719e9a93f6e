"""Discovering operators: the built-in folder, installed entry points, and user folders.

Sources are read in that order and a later one replaces an earlier operator of the same name, so a
user's ``--operators DIR`` can swap the model behind ``find`` without touching dicec. The
:class:`Registry` answers the questions later stages ask: which operator does ``patch.NAME(...)`` or
``NAME(...)`` call, and with how many arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from dicec.errors import DicecError, Location
from dicec.resources import package_dir
from dicec.tools.spec import SPEC_FILE, Form, OperatorSpec, load_spec

#: Installed packages advertise operator folders under this entry-point group; the entry point
#: names a module (or package) whose directory holds one sub-folder per operator.
ENTRY_POINT_GROUP = "dicec.operators"


@dataclass(frozen=True, kw_only=True)
class Registry:
    """The operators available to this run.

    Attributes:
        operators: by name, in name order.
        sources: the folders that were searched, in order, for ``dicec tools`` to show.
    """

    operators: dict[str, OperatorSpec]
    sources: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[OperatorSpec]:
        return iter(self.operators.values())

    def __len__(self) -> int:
        return len(self.operators)

    def __contains__(self, name: object) -> bool:
        return name in self.operators

    def get(self, name: str) -> OperatorSpec:
        try:
            return self.operators[name]
        except KeyError:
            raise DicecError(f"unknown operator {name!r} (known: {', '.join(self.operators)})") from None

    def method(self, name: str) -> tuple[OperatorSpec, Form] | None:
        """The operator that ``patch.name(...)`` calls, with its method form, or ``None``."""
        return self._form(name, "method")

    def function(self, name: str) -> tuple[OperatorSpec, Form] | None:
        """The operator that ``name(...)`` calls as a module function, or ``None``."""
        return self._form(name, "function")

    def _form(self, name: str, kind: str) -> tuple[OperatorSpec, Form] | None:
        spec = self.operators.get(name)
        if spec is None:
            return None
        form = spec.form(kind)
        return None if form is None else (spec, form)


def builtin_folder() -> Path:
    """The folder of operators that ships with dicec (``operators/`` in the source tree)."""
    return package_dir("dicec.builtin_operators")


def discover(extra_dirs: Iterable[str | Path] = (), *, builtin: bool = True,
             entry_points: bool = True) -> Registry:
    """Find every operator: built-in, then entry points, then ``extra_dirs`` (later wins)."""
    found: dict[str, OperatorSpec] = {}
    sources: list[str] = []
    if builtin:
        folder = builtin_folder()
        sources.append(str(folder))
        _scan(folder, "builtin", found)
    if entry_points:
        for name, folder in _entry_point_folders():
            sources.append(str(folder))
            _scan(folder, f"entry-point:{name}", found)
    for d in extra_dirs:
        folder = Path(d)
        if not folder.is_dir():
            raise DicecError("--operators must name a directory of operator folders",
                             location=Location(path=str(d)))
        sources.append(str(folder))
        n = _scan(folder, f"dir:{folder}", found)
        if n == 0:
            raise DicecError(f"no operator found (expected sub-folders holding {SPEC_FILE}, or {SPEC_FILE} itself)",
                             location=Location(path=str(d)))
    if not found:
        raise DicecError("no operators found: the built-in folder is missing and no --operators DIR was given")
    return Registry(operators=dict(sorted(found.items())), sources=tuple(sources))


def _scan(folder: Path, origin: str, found: dict[str, OperatorSpec]) -> int:
    """Read the operators in ``folder`` (a folder of operator folders, or one operator folder)."""
    if (folder / SPEC_FILE).is_file():
        candidates = [folder]
    else:
        candidates = sorted(p for p in folder.iterdir() if (p / SPEC_FILE).is_file())
    for sub in candidates:
        spec = load_spec(sub, origin=origin)
        found[spec.name] = spec
    return len(candidates)


def _entry_point_folders() -> list[tuple[str, Path]]:
    from importlib.metadata import entry_points

    out = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party package must not take dicec down
            raise DicecError(f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP} failed to load: {exc}") from None
        path = getattr(module, "__file__", None)
        if path is None:
            locations = list(getattr(module, "__path__", []))
            if not locations:
                raise DicecError(f"entry point {ep.name!r} ({ep.value}) is not a module with a folder")
            out.append((ep.name, Path(locations[0])))
        else:
            out.append((ep.name, Path(path).parent))
    return out
