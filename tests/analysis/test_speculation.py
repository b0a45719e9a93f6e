"""Where the plan says it speculates (a task's ``guard``) and where it claims a call for sure (no guard).

The equivalence suites and tests/analysis/test_residual_reasons.py check that every unused record belongs to a
guarded task; that check alone would pass a plan that guarded everything. These pin both sides, construct by
construct (dicec.analysis.analyser's docstring lists them): the guarded task and its guard, and the tasks the
program makes for sure, which must stay unguarded (an unused record of one is a misprediction).
"""

from __future__ import annotations

import pytest

from dicec.analysis import analyse

HEAD = "def execute_command(image):\n    image_patch = ImagePatch(image)\n"

#: construct -> (program body after HEAD, {task id: its guard, None for a call made for sure})
CASES = {
    "an if": ("    if image_patch.exists('cat'):\n        return image_patch.simple_query('Which cat?')\n"
              "    return 'no'\n",
              {"exists-cat": None, "simple-query-which-cat": "image_patch.exists('cat')"}),
    "after an early return": ("    if image_patch.exists('cat'):\n        return 'cat'\n"
                              "    return image_patch.simple_query('What is it?')\n",
                              {"exists-cat": None, "simple-query-what-is-it": "not (image_patch.exists('cat'))"}),
    "right of and, or": ("    return image_patch.exists('cat') and image_patch.exists('dog') or image_patch.exists('cow')\n",
                         {"exists-cat": None, "exists-dog": "(image_patch.exists('cat'))",
                          "exists-cow": "not ((image_patch.exists('cat') and image_patch.exists('dog')))"}),
    "a conditional expression": (
        "    return image_patch.simple_query('A?') if image_patch.exists('cat') else image_patch.simple_query('B?')\n",
        {"exists-cat": None, "simple-query-a": "image_patch.exists('cat')",
         "simple-query-b": "not (image_patch.exists('cat'))"}),
    "a comprehension's if": (
        "    return [c.simple_query('Colour?') for c in image_patch.find('car') if c.exists('wheel')]\n",
        {"find-car": None, "exists-wheel": None, "simple-query-colour": "c.exists('wheel')"}),
    "a loop over a run-time value": (
        "    for w in image_patch.simple_query('Which?').split():\n        image_patch.exists('cat')\n    return 'x'\n",
        {"simple-query-which": None, "exists-cat": "the loop over image_patch.simple_query('Which?').split() runs"}),
    "a loop over a list that may be empty": (
        "    for c in image_patch.find('car'):\n        c.simple_query('Colour?')\n        image_patch.exists('road')\n"
        "    return 'x'\n",
        # per element: made for every element there is; on the whole image: only if there is one
        {"find-car": None, "simple-query-colour": None, "exists-road": "the loop over image_patch.find('car') runs"}),
    "a loop that may stop early": (
        "    for c in image_patch.find('car'):\n        if c.exists('wheel'):\n            break\n"
        "        c.simple_query('Colour?')\n    return 'x'\n",
        {"find-car": None, "exists-wheel": "the loop over image_patch.find('car') reaches the element",
         "simple-query-colour": "(not (c.exists('wheel'))) and (the loop over image_patch.find('car') reaches the element)"}),
    "a generator any() reads": ("    return any(c.exists('wheel') for c in image_patch.find('car'))\n",
                                {"find-car": None, "exists-wheel": "the loop over image_patch.find('car') reaches the element"}),
    "a generator sum() reads": ("    return sum(c.exists('wheel') for c in image_patch.find('car'))\n",
                                {"find-car": None, "exists-wheel": None}),
    "an element picked at run time": (
        "    cars = image_patch.find('car')\n    big = max(cars, key=lambda c: c.width)\n"
        "    return big.simple_query('Colour?')\n",
        {"find-car": None, "simple-query-colour": "the element is the max() of its list"}),
    "an element by index": ("    cars = image_patch.find('car')\n    return cars[0].simple_query('Colour?')\n",
                            {"find-car": None, "simple-query-colour": None}),
    "the first element of a loop that returns": (
        "    for c in image_patch.find('car'):\n        return c.simple_query('Colour?')\n    return 'none'\n",
        {"find-car": None, "simple-query-colour": None}),
    "a speculated call also made for sure": (
        "    if image_patch.exists('cat'):\n        image_patch.simple_query('A?')\n    return image_patch.simple_query('A?')\n",
        {"exists-cat": None, "simple-query-a": None}),
    "a chained comparison": (
        "    return image_patch.compute_depth() < 1 < image_patch.find('cat')[0].compute_depth()\n",
        {"compute-depth": None, "find-cat": "the comparison at line 3 went on",
         "compute-depth-2": "the comparison at line 3 went on"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_plan_marks_speculation_and_claims_the_rest(name, builtin_registry):
    body, guards = CASES[name]
    graph = analyse(HEAD + body, builtin_registry, path="p.py")
    assert {t.id: t.guard for t in graph.tasks} == guards
    assert graph.residual == ()

