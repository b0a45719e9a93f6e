"""A corpus of hostile programs, as an LLM (or a prompt injection through the question) might write
them: every one is refused by the checker with its reason, at its line."""

from __future__ import annotations

import textwrap

import pytest

from dicec.check import check_program

HEAD = "def execute_command(image):\n    image_patch = ImagePatch(image)\n"

#: (id, program, expected message fragment, expected line)
HOSTILE = [
    ("import", "import os\n" + HEAD + "    return os.getcwd()\n", "import is not allowed", 1),
    ("import-inside", HEAD + "    import subprocess\n    return 1\n", "import is not allowed", 3),
    ("from-import", HEAD + "    from os import system\n    return 1\n", "import is not allowed", 3),
    ("__import__", HEAD + "    return __import__('os').system('id')\n", "use of '__import__' is not allowed", 3),
    ("dunder-class-escape", HEAD + "    return ().__class__.__bases__[0].__subclasses__()\n",
     "dunder attribute '__class__' is not allowed", 3),
    ("dunder-globals", HEAD + "    f = image_patch.find\n    return f.__globals__\n",
     "dunder attribute '__globals__' is not allowed", 4),
    ("dunder-dict", HEAD + "    return image_patch.__dict__\n", "dunder attribute '__dict__' is not allowed", 3),
    ("private-attribute", HEAD + "    return image_patch._model\n", "dunder attribute '_model' is not allowed", 3),
    ("builtins", HEAD + "    b = __builtins__\n    return b\n", "use of '__builtins__' is not allowed", 3),
    ("dunder-name", HEAD + "    __x__ = 1\n    return __x__\n", "use of '__x__' is not allowed", 3),
    ("getattr-string", HEAD + "    return getattr(image_patch, '__cl' + 'ass__')\n", "use of 'getattr' is not allowed", 3),
    ("setattr", HEAD + "    setattr(image_patch, 'find', None)\n    return 1\n", "use of 'setattr' is not allowed", 3),
    ("format-attribute", HEAD + "    return '{0.__class__}'.format(image_patch)\n",
     "format string '{0.__class__}' reaches into attributes", 3),
    ("format-globals", HEAD + "    return '{0.find.__globals__[os]}'.format(image_patch)\n",
     "reaches into attributes or items", 3),
    ("format-item", HEAD + "    return '{0[0]}'.format(image_patch.find('car'))\n", "reaches into attributes or items", 3),
    ("format-variable", HEAD + "    fmt = image_patch.simple_query('What is written?')\n    return fmt.format(image_patch)\n",
     "format string 'fmt' reaches into attributes", 4),
    ("fstring-dunder", HEAD + "    return f'{image_patch.__class__.__mro__}'\n", "dunder attribute", 3),
    ("exec", HEAD + "    exec('import os')\n    return 1\n", "use of 'exec' is not allowed", 3),
    ("eval", HEAD + "    return eval(image_patch.simple_query('Say 1+1'))\n", "use of 'eval' is not allowed", 3),
    ("compile", HEAD + "    return compile('1', 'f', 'eval')\n", "use of 'compile' is not allowed", 3),
    ("open", HEAD + "    return open('/var/run/secrets/kubernetes.io/serviceaccount/token').read()\n",
     "use of 'open' is not allowed", 3),
    ("globals", HEAD + "    return globals()\n", "use of 'globals' is not allowed", 3),
    ("vars", HEAD + "    return vars(image_patch)\n", "use of 'vars' is not allowed", 3),
    ("locals", HEAD + "    return locals()\n", "use of 'locals' is not allowed", 3),
    ("eval-as-key", HEAD + "    return sorted(['1'], key=eval)\n", "use of 'eval' is not allowed", 3),
    ("exec-via-map", HEAD + "    return list(map(exec, ['x = 1']))\n", "use of 'exec' is not allowed", 3),
    ("while-true", HEAD + "    while True:\n        pass\n    return 1\n", "a while loop", 3),
    ("huge-range", HEAD + "    for i in range(10**12):\n        pass\n    return 1\n",
     "range(10**12) exceeds the bound of 10000 iterations", 3),
    ("huge-range-literal", HEAD + "    return sum(range(100000000))\n", "range(100000000) exceeds the bound", 3),
    ("huge-comprehension", HEAD + "    return len([i for i in range(2**40)])\n", "range(2**40) exceeds the bound", 3),
    ("huge-power", HEAD + "    return 9**9**9\n", "constant 9**9**9 is over the limit", 3),
    ("huge-repeat", HEAD + "    return 'a' * 10**10\n", "repeating a sequence 10**10 times", 3),
    ("huge-list", HEAD + "    return [0] * (1 << 40)\n", "repeating a sequence 1 << 40 times", 3),
    ("recursion", "def again(n):\n    return again(n + 1)\n\n" + HEAD + "    return again(0)\n",
     "function 'again' is recursive", 1),
    ("mutual-recursion", "def ping(n):\n    return pong(n)\n\ndef pong(n):\n    return ping(n)\n\n" + HEAD
     + "    return ping(0)\n", "is recursive", 1),
    ("lambda-call", HEAD + "    return (lambda: 1)()\n", "only named functions and methods may be called", 3),
    ("lambda-assigned", HEAD + "    f = lambda x: x\n    return f(1)\n", "lambda is only allowed as the key=", 3),
    ("lambda-smuggle", HEAD + "    return sorted([1], key=lambda v: __import__('os'))\n",
     "use of '__import__' is not allowed", 3),
    ("walrus", HEAD + "    if (n := len(image_patch.find('car'))) > 0:\n        return n\n    return 0\n",
     "an assignment expression (:=) is not allowed", 3),
    ("class", HEAD + "    class Evil:\n        pass\n    return 1\n", "a class definition is not allowed", 3),
    ("top-level-class", "class Evil:\n    pass\n\n" + HEAD + "    return 1\n", "a class definition is not allowed", 1),
    ("bare-except", HEAD + "    try:\n        x = 1\n    except:\n        pass\n    return 1\n",
     "a bare 'except:' (it would swallow every error)", 5),
    ("except-exception", HEAD + "    try:\n        return 1\n    except Exception:\n        return 2\n",
     "use of 'Exception' is not allowed", 5),
    ("global", HEAD + "    global image\n    return 1\n", "global is not allowed", 3),
    ("with", HEAD + "    with image_patch as p:\n        return p\n", "with is not allowed", 3),
    ("yield", HEAD + "    yield image_patch\n", "yield is not allowed", 3),
    ("async", "async def execute_command(image):\n    return 1\n", "async def is not allowed", 1),
    ("decorator", "@staticmethod\n" + HEAD + "    return 1\n", "a decorator is not allowed", 1),
    ("nested-def", HEAD + "    def inner():\n        return 1\n    return inner()\n", "a nested function definition", 3),
    ("del", HEAD + "    del image_patch\n    return 1\n", "del is not allowed", 3),
    ("type-escape", HEAD + "    return type(image_patch)\n", "use of 'type' is not allowed", 3),
    ("star-args", HEAD + "    return image_patch.simple_query(*['q'])\n", "*args/**kwargs in a call", 3),
    ("unknown-method", HEAD + "    return image_patch.cropped_image.save('/tmp/x')\n", "unknown attribute 'save'", 3),
    ("unknown-function", HEAD + "    return os_system('id')\n", "unknown function 'os_system'", 3),
    ("top-level-code", "print('side effect at import')\n" + HEAD + "    return 1\n",
     "only function definitions may appear at the top level", 1),
    ("no-entry", "def main(image):\n    return 1\n", "must define 'def execute_command(image):'", 1),
    ("entry-signature", "def execute_command(image, cmd):\n    return cmd\n", "must take exactly one parameter", 1),
    ("wrong-arity", HEAD + "    return image_patch.find('car', 'truck')\n", ".find() takes 1 argument, but 2 were given", 3),
    ("syntax", HEAD + "    return (\n", "syntax error", 3),
    ("nul-byte", HEAD + "    return 'a\x00'\n", "syntax error", 1),
]


def test_the_corpus_is_big_enough():
    assert len(HOSTILE) >= 30
    assert len({name for name, *_ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("program, fragment, line", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_program_is_refused_with_its_reason(registry, program, fragment, line):
    _, problems = check_program(textwrap.dedent(program), registry, path="evil.py")
    assert problems, "refused nothing"
    matching = [p for p in problems if fragment in p.text]
    assert matching, [str(p) for p in problems]
    assert matching[0].line == line, [str(p) for p in problems]
    for p in problems:  # every message is one line, file:line: text
        text = str(p)
        assert text.startswith(f"evil.py:{p.line}: ") and "\n" not in text
