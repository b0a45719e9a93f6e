"""Checks on generated programs, shared by the offline generator's tests: the shape every program must have.

A program is checked by parsing it with :mod:`ast` -- what it may call, which names and attributes
it may use, which statements it may not contain -- and by dicec's own checker; helpers list its
operator calls and string literals so tests can say what it asks, not just that code came out.
"""

from __future__ import annotations

import ast
import re

from dicec.check import require_valid

#: What a generated program may call besides the registry's operators.
ALLOWED_FUNCTIONS = {"ImagePatch", "best_image_match", "distance", "bool_to_yesno", "coerce_to_numeric",
                     "llm_query", "len", "str", "int", "float", "bool", "min", "max", "sorted", "sum", "any",
                     "all", "abs", "range", "enumerate", "zip", "list"}
ALLOWED_METHODS = {"crop", "overlaps_with", "append", "join"}
ALLOWED_ATTRIBUTES = {"left", "right", "upper", "lower", "width", "height", "horizontal_center", "vertical_center"}
FORBIDDEN_NODES = (ast.Import, ast.ImportFrom, ast.While, ast.Lambda, ast.Global, ast.Nonlocal, ast.ClassDef,
                   ast.With, ast.Try, ast.Raise, ast.Delete, ast.AsyncFunctionDef, ast.Await, ast.Yield,
                   ast.YieldFrom, ast.AsyncFor, ast.AsyncWith)
FAMILIES = {"existence", "count", "attribute", "relation", "compare", "logic", "choice", "which", "object",
            "position", "scene", "damage", "search", "text", "fallback"}
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


# -- helpers -------------------------------------------------------------------------------------
def norm(question: str) -> str:
    return " ".join(question.split())


def _value(node: ast.AST):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def operator_calls(code: str, registry) -> list[tuple[str, tuple]]:
    """Every operator method call in ``code``: (name, literal arguments; None where not a literal)."""
    calls = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and registry.method(node.func.attr):
            calls.append((node.func.attr, tuple(_value(a) for a in node.args)))
    return calls


def receivers(code: str, name: str) -> list[str]:
    """The source text of the receivers of every ``.name(...)`` call."""
    return [ast.unparse(n.func.value) for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == name]


def string_constants(code: str) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def whole_image_queries(code: str) -> list:
    return [_value(n.args[0]) for n in ast.walk(ast.parse(code))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "simple_query"
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "image_patch"]


def assert_viper_program(code: str, registry) -> ast.Module:
    """ViperGPT-style, safe, and accepted by dicec's checker for ``registry``."""
    assert code.endswith("\n")
    assert code.startswith("def execute_command(image):\n    image_patch = ImagePatch(image)\n")
    tree = ast.parse(code)
    compile(code, "<generated>", "exec")
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef)
    fn = tree.body[0]
    assert fn.name == "execute_command" and [a.arg for a in fn.args.args] == ["image"]
    methods = ALLOWED_METHODS | {spec.name for spec in registry if registry.method(spec.name)}
    for node in ast.walk(tree):
        assert not isinstance(node, FORBIDDEN_NODES), ast.dump(node)
        if isinstance(node, ast.Name):
            assert node.id in ALLOWED_FUNCTIONS or IDENTIFIER.fullmatch(node.id) and not node.id.startswith("__"), node.id
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                assert node.func.id in ALLOWED_FUNCTIONS, node.func.id
            else:
                assert isinstance(node.func, ast.Attribute) and node.func.attr in methods, ast.unparse(node.func)
        elif isinstance(node, ast.Attribute):
            assert node.attr in ALLOWED_ATTRIBUTES | methods, node.attr
    require_valid(code, registry, path="<generated>")
    return tree


def loops(tree: ast.AST) -> list[ast.For]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.For)]
