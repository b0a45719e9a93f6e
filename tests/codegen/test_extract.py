"""Extraction of the program from LLM replies: fences and prose, several blocks, a missing def,
damaged indentation, and text that continues after the function."""

from __future__ import annotations

import ast

import pytest

from dicec.codegen.extract import extract_code

PROGRAM = '''def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    return str(len(cars))
'''

BODY = '''image_patch = ImagePatch(image)
cars = image_patch.find("car")
return str(len(cars))
'''


def code(reply: str) -> str:
    found = extract_code(reply)
    assert found.code is not None, found
    return found.code


# -- fenced blocks with prose around them (about a quarter of real replies) --------------------------
@pytest.mark.parametrize("reply", [
    "Here is the program:\n\n```python\n" + PROGRAM + "```\n",
    "Here is the program:\n\n```python\n" + PROGRAM + "```\n\nThis finds every car and counts them.",
    "```py\n" + PROGRAM + "```",
    "```Python\n" + PROGRAM + "```\nLet me know if you need anything else!",
    "```\n" + PROGRAM + "```",
    "~~~python\n" + PROGRAM + "~~~\n",
    "Sure.\r\n```python\r\n" + PROGRAM.replace("\n", "\r\n") + "```\r\nDone.",
    "I'll count the cars.\n\n  ```python\n" + PROGRAM + "  ```\n\n**Explanation:** `find` returns the cars.",
    "````python\n" + PROGRAM + "````",
])
def test_fenced_with_prose(reply):
    assert code(reply) == PROGRAM


def test_plain_program():
    assert code(PROGRAM) == PROGRAM
    assert extract_code(PROGRAM).notes == ()


def test_prose_that_mentions_code_inline_is_not_code():
    reply = "First I call `find` on the image, then:\n```python\n" + PROGRAM + "```\nThe `len` gives the count."
    assert code(reply) == PROGRAM


# -- several blocks -------------------------------------------------------------------------------
def test_last_block_with_the_entry_point_wins():
    first = PROGRAM.replace('"car"', '"truck"')
    reply = f"A first try:\n```python\n{first}```\nActually, better:\n```python\n{PROGRAM}```\n"
    found = extract_code(reply)
    assert found.code == PROGRAM and "took code block 2 of 2" in found.notes


def test_example_output_block_is_not_taken():
    reply = f"```python\n{PROGRAM}```\nExample output:\n```\n3\n```\n"
    assert code(reply) == PROGRAM


def test_helper_in_another_block_is_added():
    helper = "def is_red(patch):\n    return patch.verify_property(\"car\", \"red\")\n"
    main = ("def execute_command(image):\n    image_patch = ImagePatch(image)\n"
            "    return str(len([c for c in image_patch.find(\"car\") if is_red(c)]))\n")
    reply = f"A helper:\n```python\n{helper}```\nAnd the program:\n```python\n{main}```"
    found = extract_code(reply)
    tree = ast.parse(found.code)
    assert [f.name for f in tree.body] == ["is_red", "execute_command"]


# -- a missing def execute_command --------------------------------------------------------------------
def test_bare_body_is_wrapped():
    found = extract_code("```python\n" + BODY + "```")
    assert found.code == PROGRAM
    assert any("wrapped" in n for n in found.notes)


def test_bare_body_without_fences_is_wrapped():
    assert code(BODY) == PROGRAM


def test_a_reply_without_code():
    assert extract_code("I'm sorry, I cannot help with that.").code is None
    assert extract_code("").code is None
    assert extract_code("```python\n```").code is None
    assert extract_code("Yes").code is None


# -- indentation damage -------------------------------------------------------------------------------
def test_whole_program_indented():
    indented = "".join("    " + line if line.strip() else line for line in PROGRAM.splitlines(True))
    assert code("```python\n" + indented + "```") == PROGRAM


def test_tabs():
    tabbed = PROGRAM.replace("    ", "\t")
    found = extract_code(tabbed)
    assert found.code == PROGRAM and "replaced tabs with spaces" in found.notes


def test_first_line_trimmed_by_the_chat():
    lines = PROGRAM.splitlines(True)
    damaged = lines[0] + "".join("    " + line for line in lines[1:])  # body at 8 spaces under a def at 0
    assert ast.dump(ast.parse(code(damaged))) == ast.dump(ast.parse(PROGRAM))
    # with prose after it, and an indented closing line
    assert ast.dump(ast.parse(code(damaged + "    \nThat is all."))) == ast.dump(ast.parse(PROGRAM))


# -- text that continues after the function ------------------------------------------------------------
@pytest.mark.parametrize("tail", [
    "\nThis function finds all cars and returns how many there are.\n",
    "\nExplanation:\n1. Find the cars.\n2. Count them.\n",
    "\n# Example usage\nresult = execute_command(image)\nprint(result)\n",
    '\nif __name__ == "__main__":\n    print(execute_command("car.jpg"))\n',
    "\nexecute_command(image)\n",
])
def test_text_after_the_function_without_fences(tail):
    found = extract_code("Here you go:\n\n" + PROGRAM + tail)
    assert found.code == PROGRAM


def test_text_after_the_function_inside_the_fence():
    reply = "```python\n" + PROGRAM + "\n# Example\nprint(execute_command(img))\n```\nThat's it."
    assert code(reply) == PROGRAM


def test_unclosed_fence_cut_off_reply():
    found = extract_code("```python\n" + PROGRAM)
    assert found.code == PROGRAM
    assert any("not closed" in n for n in found.notes)


def test_statements_the_model_wrote_are_never_dropped_inside_functions():
    program = PROGRAM.replace("    return", "    import os\n    return")
    assert "import os" in code("```python\n" + program + "```")  # left for the checker to refuse


def test_imports_before_the_function_are_kept_for_the_checker():
    program = "import os\n\n" + PROGRAM
    assert code("```python\n" + program + "```").startswith("import os")
