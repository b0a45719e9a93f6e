"""The checker: the safe subset, known operators with the right arity, one message per problem."""

from __future__ import annotations

import textwrap

import pytest

from dicec.check import CheckFailed, check_program, require_valid
from dicec.check import messages as m

GOOD = """
def execute_command(image):
    image_patch = ImagePatch(image)
    cars = image_patch.find("car")
    cars.sort(key=lambda c: c.horizontal_center)
    names = [c.simple_query("What is this?") for c in cars]
    if len(cars) > 0 and cars[0].exists("wheel"):
        return "{} cars".format(len(cars))
    return bool_to_yesno(any(n.lower() == "sedan" for n in names))
"""


def problems(src: str, registry) -> list[m.Message]:
    return check_program(textwrap.dedent(src), registry, path="p.py")[1]


def test_good_program_passes(registry):
    assert problems(GOOD, registry) == []


def body(line: str) -> str:
    return f"def execute_command(image):\n    image_patch = ImagePatch(image)\n    {line}\n    return 1\n"


HOSTILE = [
    ("import os", m.ForbiddenStatement),
    ("from os import system", m.ForbiddenStatement),
    ("__import__('os').system('id')", m.ForbiddenName),
    ("x = image_patch.__class__", m.DunderAttribute),
    ("x = image_patch.__dict__", m.DunderAttribute),
    ("x = ().__class__.__bases__[0].__subclasses__()", m.DunderAttribute),
    ("x = __builtins__", m.ForbiddenName),
    ("eval('1+1')", m.ForbiddenName),
    ("exec('x=1')", m.ForbiddenName),
    ("compile('1', 'f', 'eval')", m.ForbiddenName),
    ("open('/etc/passwd').read()", m.ForbiddenName),
    ("getattr(image_patch, 'find')", m.ForbiddenName),
    ("setattr(image_patch, 'x', 1)", m.ForbiddenName),
    ("globals()", m.ForbiddenName),
    ("vars(image_patch)", m.ForbiddenName),
    ("locals()", m.ForbiddenName),
    ("type(image_patch)", m.ForbiddenName),
    ("x = '{0.__class__}'.format(image_patch)", m.UnsafeFormat),
    ("x = '{0[0]}'.format([1])", m.UnsafeFormat),
    ("fmt = '{}'\n    x = fmt.format(1)", m.UnsafeFormat),
    ("while True: pass", m.ForbiddenStatement),
    ("for i in range(10**9): pass", m.UnboundedLoop),  # a constant expression is folded
    ("for i in range(100000000): pass", m.UnboundedLoop),
    ("f = lambda: 1", m.ForbiddenLambda),
    ("global x", m.ForbiddenStatement),
    ("class A: pass", m.ForbiddenStatement),
    ("def inner(): return 1", m.ForbiddenStatement),
    ("with open('x') as f: pass", m.ForbiddenStatement),
    ("yield 1", m.ForbiddenStatement),
    ("x = image_patch._private", m.DunderAttribute),
    ("image_patch.area", m.UnknownAttribute),
    ("image_patch.find('a', 'b')", m.WrongArity),
    ("image_patch.find()", m.WrongArity),
    ("image_patch.find(name='a')", m.UnknownKeyword),
    ("image_patch.simple_query(*['q'])", m.ForbiddenStatement),
    ("do_something(image_patch)", m.UnknownFunction),
    ("x = undefined_name + 1", m.UndefinedName),
    ("(lambda: 1)()", m.NotCallable),
    ("del image_patch", m.ForbiddenStatement),
    ("x = image_patch.crop(1, 2, 3)", m.WrongArity),
    ("print.__self__", m.DunderAttribute),
]


@pytest.mark.parametrize("line, kind", HOSTILE)
def test_hostile_programs_are_refused_with_reason(registry, line, kind):
    found = problems(body(line), registry)
    if kind is None:
        assert all(not isinstance(p, m.UnboundedLoop) for p in found)
        return
    assert any(isinstance(p, kind) for p in found), found
    for p in found:
        assert str(p).startswith("p.py:") and "\n" not in str(p)


def test_missing_entry_point_and_signature(registry):
    assert isinstance(problems("def main(image):\n    return 1\n", registry)[0], m.MissingEntryPoint)
    assert isinstance(problems("def execute_command(image, extra):\n    return 1\n", registry)[0], m.BadEntrySignature)
    assert isinstance(problems("x = 1\ndef execute_command(image):\n    return x\n", registry)[0], m.TopLevelStatement)


def test_recursion_is_refused(registry):
    src = "def helper(n):\n    return helper(n)\ndef execute_command(image):\n    return helper(1)\n"
    assert any(isinstance(p, m.UnboundedLoop) for p in problems(src, registry))


def test_syntax_error_has_line(registry):
    with pytest.raises(CheckFailed) as err:
        require_valid("def execute_command(image):\n    x = (\n", registry, path="bad.py")
    assert str(err.value).startswith("bad.py:")
    assert "syntax error" in str(err.value)


def test_unknown_operator_for_a_registry_without_it(registry):
    src = body("image_patch.read_text()")
    found = problems(src, registry)
    assert [type(p) for p in found] == [m.UnknownAttribute]
    assert found[0].line == 3
