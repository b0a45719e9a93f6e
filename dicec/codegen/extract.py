"""Getting the program out of an LLM's reply, whatever shape the reply takes.

Models are asked for code only, but replies often wrap it in markdown fences with prose before and
after, give several blocks (a first try, then a corrected one; a helper in its own block), forget
``def execute_command(image):`` and return just its body, damage the indentation (tabs, the whole
program indented, the first line trimmed), or keep talking after the function (an explanation, an
example call). :func:`extract_code` undoes each of these, and only these: it never adds or removes a
statement the model wrote inside a function, so what the checker sees is what the model meant.
Each repair is recorded as a one-line note.

Extraction is purely textual and makes no decision about safety: the result always goes through
:mod:`dicec.check`, the one checker every backend shares.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

ENTRY = "execute_command"

#: An opening or closing markdown fence (``` or ~~~, three or more), with an optional info string.
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_ENTRY_DEF = re.compile(rf"^[ \t]*def[ \t]+{ENTRY}[ \t]*\(", re.MULTILINE)
_PY_INFO = frozenset({"", "python", "python3", "py", "py3", "python 3"})


@dataclass(frozen=True, kw_only=True)
class Extracted:
    """The code found in a reply.

    Attributes:
        code: the program text, ending with a newline, or ``None`` when the reply has no code at all.
        notes: one line per repair made (``"took the last of 2 code blocks"``, ``"wrapped the bare
            statements in def execute_command(image):"``, ...), in the order they were made.
    """

    code: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Block:
    text: str
    info: str
    closed: bool


def extract_code(reply: str) -> Extracted:
    """The program in ``reply`` (an LLM's answer), repaired as described in the module docstring."""
    notes: list[str] = []
    text = reply.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    blocks = _fenced_blocks(text)
    code_blocks = [b for b in blocks if b.text.strip() and (b.info.lower() in _PY_INFO or _ENTRY_DEF.search(b.text))]
    if code_blocks:
        chosen_i = _choose(code_blocks)
        chosen = code_blocks[chosen_i]
        if len(code_blocks) > 1:
            notes.append(f"took code block {chosen_i + 1} of {len(code_blocks)}")
        if not chosen.closed:
            notes.append("the code block was not closed (the reply may have been cut off)")
        code = _dedent(chosen.text, notes)
        code = _with_helpers(code, [_dedent(b.text, []) for i, b in enumerate(code_blocks) if i != chosen_i], notes)
        if not _ENTRY_DEF.search(code) and not _has_def(code):
            code = _wrap_body(code, notes)
        else:
            code = _trim_tail(code, notes)
    else:
        code = _unfenced(text, notes)
        if code is None:
            return Extracted(code=None, notes=tuple(notes))
    code = code.strip("\n")
    if not code.strip():
        return Extracted(code=None, notes=tuple(notes))
    return Extracted(code=code + "\n", notes=tuple(notes))


# -- fences ------------------------------------------------------------------------------------
def _fenced_blocks(text: str) -> list[_Block]:
    """Every fenced block, in order; an unclosed last fence runs to the end of the reply."""
    blocks: list[_Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            close = _FENCE.match(lines[j])
            if close is not None and close.group("fence")[0] == fence[0] and len(close.group("fence")) >= len(fence) \
                    and not close.group("info").strip():
                closed = True
                break
            body.append(lines[j])
            j += 1
        blocks.append(_Block(text="\n".join(body), info=info, closed=closed))
        i = j + 1
    return blocks


def _choose(blocks: list[_Block]) -> int:
    """The block to take: the last that defines execute_command, else the longest."""
    with_entry = [i for i, b in enumerate(blocks) if _ENTRY_DEF.search(b.text)]
    if with_entry:
        return with_entry[-1]
    return max(range(len(blocks)), key=lambda i: (len(blocks[i].text.strip()), -i))


def _with_helpers(code: str, others: list[str], notes: list[str]) -> str:
    """Prepend helper functions defined in other blocks that ``code`` calls but does not define."""
    tree = _parse(code)
    if tree is None:
        return code
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    extra: list[str] = []
    for other in others:
        other_tree = _parse(other)
        if other_tree is None:
            continue
        for fn in other_tree.body:
            if isinstance(fn, ast.FunctionDef) and fn.name in called - defined and fn.name != ENTRY:
                extra.append(ast.get_source_segment(other, fn) or "")
                defined.add(fn.name)
    extra = [e for e in extra if e]
    if not extra:
        return code
    notes.append(f"added {len(extra)} helper function(s) from other code blocks")
    return "\n\n".join(extra + [code])


# -- replies without fences ----------------------------------------------------------------------
def _unfenced(text: str, notes: list[str]) -> str | None:
    """Code in a reply with no fences: from the first top-level ``def`` (or ``execute_command``'s
    def) to where the prose resumes; or a whole reply that is bare statements."""
    m = _ENTRY_DEF.search(text)
    lines = text.split("\n")
    if m is not None:
        start = text.count("\n", 0, m.start())
        # helpers the model wrote just before the entry point belong to the program
        first_def = start
        for k in range(start - 1, -1, -1):
            if re.match(r"^[ \t]*def[ \t]+\w+[ \t]*\(", lines[k]):
                first_def = k
            elif lines[k].strip() and not lines[k][:1].isspace() and not lines[k].lstrip().startswith("#"):
                break
        if first_def > 0 and any(line.strip() for line in lines[:first_def]):
            notes.append("dropped the prose before the code")
        code = _dedent("\n".join(lines[first_def:]), notes)
        return _trim_tail(code, notes)
    if _parse(textwrap.dedent(text)) is not None and not _is_prose(text):
        return _wrap_body(_dedent(text, notes), notes)
    return None


def _is_prose(text: str) -> bool:
    """Text that parses as Python only by accident (a single word or a bare name)."""
    tree = _parse(textwrap.dedent(text))
    return tree is None or not tree.body or all(
        isinstance(s, ast.Expr) and isinstance(s.value, (ast.Name, ast.Constant)) for s in tree.body)


# -- repairs ------------------------------------------------------------------------------------------
def _dedent(code: str, notes: list[str]) -> str:
    """Tabs to spaces, the common indentation removed, a trimmed first line re-aligned."""
    if "\t" in code:
        code = "\n".join(line.expandtabs(4) for line in code.split("\n"))
        notes.append("replaced tabs with spaces")
    dedented = textwrap.dedent(code)
    if dedented != code:
        notes.append("removed the indentation common to every line")
        code = dedented
    lines = code.split("\n")
    # "def execute_command(image):" at column 0 but the rest indented twice as deep as needed, as
    # when a chat interface trimmed the first line of an indented block
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and _parse(code) is None and not lines[first][:1].isspace():
        rest = "\n".join(lines[first + 1:])
        rest_dedented = textwrap.dedent(rest)
        if rest_dedented != rest:
            candidate = "\n".join(lines[:first + 1] + textwrap.indent(rest_dedented, "    ").split("\n"))
            if _parse(candidate) is not None:
                notes.append("re-aligned the lines after the first")
                code = candidate
    return code


def _wrap_body(code: str, notes: list[str]) -> str:
    """Bare statements (the body without its def) become ``def execute_command(image):``."""
    notes.append(f"wrapped the bare statements in def {ENTRY}(image):")
    body = textwrap.indent(textwrap.dedent(code).strip("\n"), "    ", lambda line: True)
    return f"def {ENTRY}(image):\n{body}\n"


def _trim_tail(code: str, notes: list[str]) -> str:
    """Cut what follows the last function: prose, or top-level statements after it (an example call,
    an ``if __name__ == "__main__":`` block). Everything before and inside the functions stays."""
    lines = code.split("\n")
    # the longest prefix that parses, cut only at a line that starts at column 0
    if _parse(code) is None:
        for end in range(len(lines) - 1, 0, -1):
            if lines[end].strip() and not lines[end][:1].isspace():
                candidate = "\n".join(lines[:end])
                if _parse(candidate) is not None and _ENTRY_DEF.search(candidate):
                    notes.append("dropped the text after the function")
                    code = candidate
                    break
    tree = _parse(code)
    if tree is None or not tree.body:
        return code
    last_def = max((i for i, s in enumerate(tree.body) if isinstance(s, ast.FunctionDef)), default=None)
    if last_def is None or last_def == len(tree.body) - 1:
        return code
    trailing = tree.body[last_def + 1:]
    if all(_is_usage(s) for s in trailing):
        end_line = tree.body[last_def].end_lineno or len(lines)
        notes.append("dropped the statements after the function (an example call)")
        return "\n".join(code.split("\n")[:end_line])
    return code


def _is_usage(stmt: ast.stmt) -> bool:
    """A top-level statement that only demonstrates the function: a call, a print, a main guard,
    an assignment of a call's result, a bare string."""
    if isinstance(stmt, ast.Expr):
        return isinstance(stmt.value, (ast.Call, ast.Constant))
    if isinstance(stmt, ast.Assign):
        return isinstance(stmt.value, ast.Call)
    if isinstance(stmt, ast.If):
        test = stmt.test
        return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__")
    return False


def _has_def(code: str) -> bool:
    return re.search(r"^def[ \t]+\w+[ \t]*\(", code, re.MULTILINE) is not None


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
