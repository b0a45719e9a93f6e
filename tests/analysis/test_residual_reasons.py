"""Every reason the analyser gives for leaving a call to the answer step, and the two analyser mutants that
used to pass every test (issue 17).

The analyser gives a residual call one of these reasons (``operator_call`` and ``analyse`` in
dicec/analysis/analyser.py): ``inside helper function NAME``; ``called on the raw image, not an ImagePatch``;
``the patch it is called on is WHY``; ``argument NAME is WHY``; ``it combines values from different
elements of a fan-out``; and ``argument NAME is missing``, which the checker makes unreachable (it refuses
a call without a required argument first). WHY is why a value is unknown (the ``Unknown`` reasons), each
made by a program below (a test reads the analyser's source so that a new reason fails until one is added).
Each program is also run: the answer step computes the call and reports it with the same operator, line and
reason, and the rest of its counts agree with the plan (tests/plan_checks.py).

The two mutants are killed by the tests at the end (each docstring says the mutant exactly), and by the
programs for "set differently on different paths" and "combines values from different elements of a fan-out"
above: with either mutant applied to dicec/analysis/analyser.py those tests fail, analysed and run.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from plan_checks import assert_plan_was_right  # noqa: E402
from replays import runs  # noqa: E402

from dicec.analysis import analyse  # noqa: E402
from dicec.check import CheckFailed  # noqa: E402

HEAD = "def execute_command(image):\n    image_patch = ImagePatch(image)\n"

#: name -> (program body after HEAD, the residual's operator, its reason)
REASONS = {
    "helper": ("def helper(p):\n    return p.simple_query('What is it?')\n\n" + HEAD + "    return helper(image_patch)\n",
               "simple_query", "inside helper function 'helper'"),
    "raw image": (HEAD + "    return image.simple_query('What is it?')\n",
                  "simple_query", "called on the raw image, not an ImagePatch"),
    "a patch list": (HEAD + "    cats = image_patch.find('cat')\n    return cats.simple_query('What is it?')\n",
                     "simple_query", "the patch it is called on is not a single patch"),
    "patch set differently on different paths": (
        HEAD + "    if image_patch.exists('cat'):\n        p = image_patch.find('cat')[0]\n    else:\n"
               "        p = image_patch.find('dog')[0]\n    return p.simple_query('What is it?')\n",
        "simple_query", "the patch it is called on is set differently on different paths"),
    "argument set differently on different paths": (
        HEAD + "    if image_patch.exists('leash'):\n        name = 'dog'\n    else:\n        name = 'cat'\n"
               "    return image_patch.find(name)\n",
        "find", "argument 'object_name' is set differently on different paths"),
    "a per-element value as an argument outside its fan-out": (
        HEAD + "    for part in image_patch.find('part'):\n        name = part.simple_query('What is it?')\n"
               "    return image_patch.exists(name)\n",
        "exists", "it combines values from different elements of a fan-out"),
    "an element of a per-element list outside its fan-out": (
        HEAD + "    for car in image_patch.find('car'):\n        wheels = car.find('wheel')\n"
               "    return wheels[0].simple_query('Is it flat?')\n",
        "simple_query", "it combines values from different elements of a fan-out"),
    "another fan-out's element value inside a fan-out": (
        HEAD + "    for car in image_patch.find('car'):\n        colour = car.simple_query('Which colour?')\n"
               "        for dog in image_patch.find('dog'):\n            dog.verify_property('dog', colour)\n"
               "    return 'done'\n",
        "verify_property", "it combines values from different elements of a fan-out"),
    "not a value a task can receive": (
        HEAD + "    cars = [c for c in image_patch.find('car') if c.exists('wheel')]\n"
               "    return best_image_match(cars, ['a red car'])\n",
        "best_image_match", "argument 'list_patches' is not a value a task can receive"),
    "updated in place": (HEAD + "    q = 'What'\n    q += ' is it?'\n    return image_patch.simple_query(q)\n",
                         "simple_query", "argument 'question' is updated in place"),
    "unpacked": (HEAD + "    a, b = image_patch.simple_query('Which?'), 'dog'\n    return image_patch.find(b)\n",
                 "find", "argument 'object_name' is unpacked at run time"),
    "a loop variable": (HEAD + "    for name in image_patch.simple_query('Which animals?').split(','):\n"
                               "        if image_patch.exists(name):\n            return name\n    return 'none'\n",
                        "exists", "argument 'object_name' is a loop variable over a run-time value"),
    "a name not known": (HEAD + "    for x in []:\n        pass\n    return image_patch.find(x)\n",
                         "find", "argument 'object_name' is 'x' is not known here"),
    "a list built at run time": (
        HEAD + "    return image_patch.best_text_match([image_patch.simple_query('Which colour?'), 'red'])\n",
        "best_text_match", "argument 'option_list' is a list built at run time"),
    "a list appended to": (HEAD + "    names = []\n    names.append(image_patch.simple_query('Which?'))\n"
                                  "    return image_patch.best_text_match(names)\n",
                           "best_text_match", "argument 'option_list' is a list built at run time"),
    "computed": (HEAD + "    return image_patch.simple_query('Is it ' * 2)\n",
                 "simple_query", "argument 'question' is computed at run time"),
    "an attribute": (HEAD + "    return image_patch.find(image_patch.width)\n",
                     "find", "argument 'object_name' is attribute 'width'"),
    "a format spec": (HEAD + "    d = image_patch.compute_depth()\n    return image_patch.simple_query(f'Is it {d:.2f} m away?')\n",
                      "simple_query", "argument 'question' is a formatted string with a format spec"),
    "a formatted run-time value": (
        HEAD + "    cats = image_patch.find('cat')\n    return image_patch.simple_query(f'Are there {len(cats)} cats?')\n",
        "simple_query", "argument 'question' is a formatted string of a run-time value"),
    "an index out of range": (HEAD + "    names = ['cat']\n    return image_patch.find(names[3])\n",
                              "find", "argument 'object_name' is an index out of range"),
    "an element of a run-time value": (HEAD + "    return image_patch.find(image_patch.simple_query('Which?')[0])\n",
                                       "find", "argument 'object_name' is an element of a run-time value"),
    "a comprehension variable": (HEAD + "    return [image_patch.exists(n) for n in image_patch.simple_query('Which?').split()]\n",
                                 "exists", "argument 'object_name' is a comprehension variable"),
    "a method's result": (HEAD + "    return image_patch.find(image_patch.simple_query('Which animal?').lower())\n",
                          "find", "argument 'object_name' is the result of .lower()"),
    "a crop": (HEAD + "    left = image_patch.crop(0, 0, 10, 10)\n    return left.simple_query('What is it?')\n",
               "simple_query", "the patch it is called on is a patch cropped at run time"),
    "a crop by ImagePatch(image, left=...)": (
        HEAD + "    box = ImagePatch(image, left=0, lower=0, right=10, upper=10)\n    return box.simple_query('What is it?')\n",
        "simple_query", "the patch it is called on is a patch cropped at run time"),
    "a lambda parameter": (HEAD + "    names = image_patch.simple_query('Which?').split()\n"
                                  "    return sorted(names, key=lambda n: image_patch.exists(n))\n",
                           "exists", "argument 'object_name' is a lambda parameter"),
    "a call made at run time": (HEAD + "    left = image_patch.crop(0, 0, 10, 10)\n"
                                       "    return image_patch.find(left.simple_query('Which?'))\n",
                                "find", "argument 'object_name' is the result of a .simple_query() call made at run time"),
    "a type error": (HEAD + "    return image_patch.find(1 + 'a')\n",
                     "find", "argument 'object_name' is a type error at run time"),
    "a builtin's result": (HEAD + "    cats = image_patch.find('cat')\n    return image_patch.find(str(len(cats)))\n",
                           "find", "argument 'object_name' is the result of str()"),
}

#: Programs that raise on every image, as exec does (a method of a list or of the raw image, an index past a
#: list's end, a name never bound, ``1 + 'a'``): the reason is still named, but no run reaches the call.
RAISE = {"a patch list", "raw image", "an index out of range", "a name not known", "a type error"}


@pytest.mark.parametrize("name", sorted(REASONS))
def test_each_residual_reason(name, builtin_registry):
    source, operator, reason = REASONS[name]
    graph = analyse(source, builtin_registry, path="p.py")
    mine = [r for r in graph.residual if r.operator == operator]
    assert [r.reason for r in mine] == [reason], graph.residual
    # the line of the call left residual: the program's last call of that operator
    assert mine[0].line == max(i for i, text in enumerate(source.splitlines(), start=1) if f"{operator}(" in text)


@pytest.mark.parametrize("name", sorted(REASONS))
def test_the_answer_step_computes_each_residual_call_and_names_its_reason(name, builtin_registry, pools, tmp_path):
    source, operator, reason = REASONS[name]
    c, outcomes = runs(source, builtin_registry, pools, tmp_path)
    answered = [counts for result, counts in outcomes if "answer" in result]
    if name in RAISE:
        assert all(result.get("failed") == "answer" for result, _ in outcomes), outcomes
        return
    assert answered, outcomes
    for counts in answered:
        assert_plan_was_right(c.graph, counts, name)
    sites = [s for counts in answered for s in counts.computed if s.operator == operator]
    assert sites and {s.residual for s in sites} == {reason}, (name, [cc.to_json() for cc in answered])


def _reason_patterns(function: str) -> set[str]:
    """The analyser's reasons made by calls of ``function`` (``Unknown``, ``residual`` or ``Residual``; the
    first argument or ``reason=``), as regular expressions: a formatted part of an f-string matches anything."""
    import ast
    import re

    import dicec.analysis.analyser as analyser

    patterns = set()
    for node in ast.walk(ast.parse(Path(analyser.__file__).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function:
            keyword = next((k.value for k in node.keywords if k.arg == "reason"), None)
            arg = node.args[0] if node.args else keyword or ast.Constant("computed at run time")  # Unknown()'s
            if isinstance(arg, ast.Constant):
                patterns.add(re.escape(arg.value))
            elif isinstance(arg, ast.JoinedStr):
                patterns.add("".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in arg.values))
    return patterns


def test_every_reason_the_analyser_can_give_has_a_program_above():
    """A new reason added to the analyser fails here until a program above makes it (and is run)."""
    import re

    given = [reason for _, _, reason in REASONS.values()]
    residual_patterns = _reason_patterns("residual") | _reason_patterns("Residual")
    unknown_patterns = _reason_patterns("Unknown")
    missing = re.escape("argument ") + ".+" + re.escape(" is missing")  # the test below: unreachable
    assert missing in residual_patterns and len(residual_patterns) == 6, residual_patterns
    assert len(unknown_patterns) >= 18, unknown_patterns
    for pattern in residual_patterns - {missing}:
        assert any(re.fullmatch(pattern, r) for r in given), pattern
    for why in unknown_patterns:  # each ``Unknown`` reason, as what an argument or a receiver is
        assert any(re.fullmatch(f"(argument '[a-z_]+' is|the patch it is called on is) {why}", r) for r in given), why


def test_a_missing_argument_never_reaches_the_analyser(builtin_registry):
    """``argument NAME is missing`` is the analyser's defence only: the checker refuses the call first."""
    for call in ("image_patch.find()", "image_patch.find(name='cat')"):
        with pytest.raises(CheckFailed, match="takes 1 argument"):
            analyse(HEAD + f"    return {call}\n", builtin_registry, path="p.py")


# -- the two mutants of issue 17 -------------------------------------------------------------------------------
def _plan(source: str, registry):
    return analyse(textwrap.dedent(source), registry, path="p.py")


def test_a_variable_set_differently_on_two_paths_is_not_predicted(registry):
    """Kills mutant 1, the join of differing path values: in ``dicec.analysis.analyser._join``, the last line
    ``return Unknown("set differently on different paths")`` replaced by ``return a`` (the first path's value
    wins; ``return b``, the second's, is killed too). With the mutant, ``find(name)`` becomes a task
    ``find('dog')`` and ``p.simple_query`` a task on ``find-cat``'s first element: wrong on every image that
    takes the other path, which then computes the call in the answer step. Without it both are residual."""
    g = _plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            if image_patch.exists("leash"):
                name = "dog"
            else:
                name = "cat"
            found = image_patch.find(name)
            if image_patch.exists("cat"):
                p = image_patch.find("cat")[0]
            else:
                p = image_patch.find("dog")[0]
            return p.simple_query("What is it?") + str(len(found))
    """, registry)
    assert sorted(t.id for t in g.tasks) == ["exists-cat", "exists-leash", "find-cat", "find-dog"]
    assert [t.args for t in g.tasks if t.operator == "find"] == [(_lit("cat"),), (_lit("dog"),)]  # the branches'
    assert [(r.operator, r.reason) for r in g.residual] == [
        ("find", "argument 'object_name' is set differently on different paths"),
        ("simple_query", "the patch it is called on is set differently on different paths")]
    # both branches' finds are speculative, each under its own condition
    assert {t.args[0].value: t.guard for t in g.tasks if t.operator == "find"} == {
        "cat": "image_patch.exists('cat')", "dog": "not (image_patch.exists('cat'))"}


def test_two_elements_of_one_list_joined_are_some_element_speculatively(registry):
    """The join that is right: two different elements of one task's list meet as "some element" of it,
    predicted for each element, and marked speculative (only one of them is used)."""
    g = _plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            cars = image_patch.find("car")
            if image_patch.exists("road"):
                car = cars[0]
            else:
                car = cars[-1]
            return car.simple_query("What colour is it?")
    """, registry)
    query = next(t for t in g.tasks if t.operator == "simple_query")
    assert query.patch.kind == "each" and query.fanout == "find-car" and query.guard is not None
    assert g.residual == ()


def test_a_per_element_value_outside_its_fan_out_is_not_predicted(registry):
    """Kills mutant 2, a per-element value reaching a call outside its fan-out: in
    ``dicec.analysis.analyser._Analyser.fanout_for``, the loop ``for dep in ...: if
    self.s.fanout_of.get(dep) is not None: return False`` deleted (mutant 2a), or the check
    ``if patch is not None and patch.kind == "item" and self.s.fanout_of.get(patch.task) is not None:
    return False`` deleted (mutant 2b). With 2a, ``exists(name)`` and ``verify_property(..., colour)`` become
    tasks whose argument is the whole fan-out's list of answers (a call the program never makes: wasted, and
    the real one computed in the answer step); with 2b, ``wheels[0].simple_query`` a task on element 0 of
    every car's wheel list at once. Without them all three are residual, with this reason."""
    g = _plan("""
        def execute_command(image):
            image_patch = ImagePatch(image)
            for part in image_patch.find("part"):
                name = part.simple_query("What is it?")
            for car in image_patch.find("car"):
                wheels = car.find("wheel")
                colour = car.simple_query("Which colour?")
                for dog in image_patch.find("dog"):
                    dog.verify_property("dog", colour)
            flat = wheels[0].simple_query("Is it flat?")
            return str(image_patch.exists(name)) + flat
    """, registry)
    reason = "it combines values from different elements of a fan-out"
    assert sorted((r.operator, r.reason) for r in g.residual) == [
        ("exists", reason), ("simple_query", reason), ("verify_property", reason)]
    assert {t.operator for t in g.tasks} == {"find", "simple_query"}
    assert all(t.fanout is not None for t in g.tasks if t.operator == "simple_query")


def _lit(value):
    from dicec.analysis.graph import Literal

    return Literal(value=value)
