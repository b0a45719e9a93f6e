"""The package's rooms match its stages: no import circles between them, no oversized module.

Every ``import`` and ``from ... import`` of a ``dicec`` module counts, those inside functions included
(a lazy import is still a dependency). A *room* is a subpackage (``dicec.analysis``) or a top-level
module (``dicec.pipeline``); ``dicec`` itself (the version) and the command shell are left out.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dicec"
MAX_LINES = 900
#: The command shell: imports every room, imported by none (but ``python -m dicec``).
SHELL = {"dicec.cli", "dicec.__main__"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The ``dicec`` modules ``path`` imports, resolved to absolute names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "dicec")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "dicec":
                continue
            found.add(target)
            for alias in node.names:  # ``from dicec.x import module``
                candidate = f"{target}.{alias.name}"
                as_path = PACKAGE.parent / Path(*candidate.split("."))
                if as_path.with_suffix(".py").is_file() or as_path.is_dir():
                    found.add(candidate)
    return found


def _room(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or module in SHELL:
        return None
    return ".".join(parts[:2])


def _modules() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def room_graph() -> dict[str, set[str]]:
    """Room -> the rooms it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in _modules().items():
        room = _room(module)
        if room is None:
            continue
        graph[room]
        for target in targets:
            other = _room(target)
            if other is not None and other != room:
                graph[room].add(other)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_two_rooms_import_each_other():
    cycles = _cycles(room_graph())
    assert not cycles, "import circles between subpackages/modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_module_over_the_line_limit():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("lower, upper", [
    ("dicec.runtime", "dicec.serving"),   # the step side never imports the servers ...
    ("dicec.runtime", "dicec.runner"),    # ... nor the local runner
    ("dicec.serving", "dicec.runner"),    # the servers never import the runner
    ("dicec.timing", "dicec.placement"),  # the timing model is below placement, cost and simulate
    ("dicec.timing", "dicec.cost"),
    ("dicec.timing", "dicec.simulate"),
    ("dicec.placement", "dicec.cost"),    # and none of those three imports another sideways
    ("dicec.placement", "dicec.simulate"),
    ("dicec.cost", "dicec.simulate"),
    ("dicec.simulate", "dicec.cost"),
])
def test_one_way_imports(lower, upper):
    graph = room_graph()
    assert lower in graph, f"{lower} is not a subpackage"
    assert upper not in graph[lower], f"{lower} imports {upper}"


def test_runtime_parts_are_packages():
    for part in ("runtime", "serving", "runner", "timing"):
        assert (PACKAGE / part / "__init__.py").is_file(), f"dicec/{part}/ is not a package"


def test_offline_generator_is_a_package_with_one_module_per_family():
    offline = PACKAGE / "codegen" / "offline"
    assert (offline / "__init__.py").is_file(), "dicec/codegen/offline/ is not a package"
    assert (offline / "families").is_dir() and len(list((offline / "families").glob("*.py"))) >= 6
