"""The offline code generator: decompositions per family, program shape, hostile input, missing operators.

Programs are checked by parsing them with :mod:`ast` and looking at their operator calls and string
arguments, not just that code came out.
"""

from __future__ import annotations

import ast
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.checks import (FAMILIES, assert_viper_program, loops, norm, operator_calls, receivers, string_constants,
                            whole_image_queries)
from dicec.analysis import analyse
from dicec.codegen import MAX_QUESTION_CHARS, GeneratedProgram, generate_offline
from dicec.codegen.offline import FALLBACK_WARNING, RULES
from dicec.errors import DicecError

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "questions"

# -- the families ----------------------------------------------------------------------------------
FAMILY_CASES = [
    ("Is there a dog?", "existence", [("exists", ("dog",))]),
    ("Are there any cars?", "existence", [("exists", ("car",))]),
    ("Are there helmets that are not white?", "existence", [("find", ("helmet",)), ("verify_property", ("helmet", "white"))]),
    ("How many dogs are there?", "count", [("find", ("dog",))]),
    ("How many children are in the picture?", "count", [("find", ("child",))]),
    ("How many black cars are there?", "count", [("find", ("car",)), ("verify_property", ("car", "black"))]),
    ("Are there two dogs?", "count", [("find", ("dog",))]),
    ("What colour is the car?", "attribute", [("find", ("car",)), ("simple_query", ("What color is the car?",))]),
    ("Is the table wooden?", "attribute", [("find", ("table",)), ("verify_property", ("table", "wooden"))]),
    ("What is the sink made of?", "attribute", [("find", ("sink",)), ("simple_query", ("What material is the sink made of?",))]),
    ("Does the giraffe look adult?", "attribute", [("find", ("giraffe",)), ("verify_property", ("giraffe", "adult"))]),
    ("Is the cup to the left of the plate?", "relation", [("find", ("cup",)), ("find", ("plate",))]),
    ("What is on the table?", "relation", [("find", ("table",)), ("simple_query", ("What is on the table?",))]),
    ("Is the tree behind the house?", "relation", [("find", ("tree",)), ("find", ("house",)), ("compute_depth", ())]),
    ("Are there any dogs on the tan sand?", "relation", [("find", ("dog",)), ("find", ("sand",)), ("verify_property", ("sand", "tan"))]),
    ("What device is to the right of the cake?", "relation", [("find", ("device",)), ("find", ("cake",)), ("simple_query", ("What device is this?",))]),
    ("Is the car bigger than the truck?", "compare", [("find", ("car",)), ("find", ("truck",))]),
    ("Are the shirt and the pants the same colour?", "compare",
     [("find", ("shirt",)), ("find", ("pants",)), ("simple_query", ("What color is the shirt?",)),
      ("simple_query", ("What color are the pants?",))]),
    ("Are there more forks than knives?", "compare", [("find", ("fork",)), ("find", ("knife",))]),
    ("Is there a cat or a dog?", "logic", [("exists", ("cat",)), ("exists", ("dog",))]),
    ("Are there both forks and knives?", "logic", [("exists", ("fork",)), ("exists", ("knife",))]),
    ("Is the field green and small?", "logic", [("find", ("field",)), ("verify_property", ("field", "green")),
                                               ("verify_property", ("field", "small"))]),
    ("Are the glove and the undershirt both black?", "logic",
     [("find", ("glove",)), ("find", ("undershirt",)), ("verify_property", ("glove", "black")),
      ("verify_property", ("undershirt", "black"))]),
    ("Is the car red or blue?", "choice", [("find", ("car",)), ("best_text_match", (["red", "blue"],))]),
    ("Is the man sitting or standing?", "choice", [("find", ("man",)), ("best_text_match", (["sitting", "standing"],))]),
    ("What color is the fence, tan or black?", "choice", [("find", ("fence",)), ("best_text_match", (["tan", "black"],))]),
    ("Who is holding the umbrella?", "which", [("find", ("person",)), ("verify_property", ("person", "holding the umbrella")),
                                              ("simple_query", ("Who is this?",))]),
    ("Which animal is larger, the dog or the cat?", "which", [("find", ("dog",)), ("find", ("cat",))]),
    ("What animal is white?", "which", [("find", ("animal",)), ("verify_property", ("animal", "white"))]),
    ("Which parts of the car are damaged?", "damage", [("find", (None,)), ("verify_property", (None, "damaged"))]),
    ("Is the front bumper dented?", "damage", [("find", ("front bumper",)), ("verify_property", ("front bumper", "dented"))]),
    ("Is the windshield cracked?", "damage", [("find", ("windshield",)), ("verify_property", ("windshield", "cracked"))]),
    ("Does the hood have a dent?", "damage", [("find", ("hood",)), ("verify_property", ("hood", "dented"))]),
    ("How many dents are on the door?", "damage", [("find", ("door",)), ("find", ("dent",))]),
    ("Is there plastic litter in this frame?", "search", [("exists", (None,))]),
    ("On which side is the car, the left or the right?", "position", [("find", ("car",))]),
    ("Is the bottle in the bottom of the image?", "position", [("find", ("bottle",))]),
    ("Is it outdoors?", "scene", [("best_text_match", (["indoors", "outdoors"],))]),
    ("Which place is it?", "scene", [("simple_query", ("Which place is it?",))]),
    ("What is the man wearing?", "object", [("find", ("man",)), ("simple_query", ("What is the man wearing?",))]),
]


@pytest.mark.parametrize("question,family,expected", FAMILY_CASES, ids=[c[0] for c in FAMILY_CASES])
def test_family_decomposition(viper_registry, question, family, expected):
    g = generate_offline(question, viper_registry)
    assert isinstance(g, GeneratedProgram)
    assert g.family == family, g.code
    assert g.warnings == ()
    assert_viper_program(g.code, viper_registry)
    calls = operator_calls(g.code, viper_registry)
    for call in expected:
        assert call in calls, f"{call} not in {calls}\n{g.code}"


@pytest.mark.parametrize("question,nouns", [
    ("Are there any black cars?", ["car"]),
    ("Is there a traffic light?", ["traffic light"]),
    ("How many women are there?", ["woman"]),
    ("How many people are there?", ["person"]),
    ("How many knives are there?", ["knife"]),
    ("How many boxes are there?", ["box"]),
    ("How many buses are there?", ["bus"]),
    ("How many puppies are there?", ["puppy"]),
    ("Are there any shoes?", ["shoe"]),
    ("How many glasses are on the table?", ["glasses", "table"]),
    ("Is there an old wooden bench?", ["bench"]),
    ("Are there any fire hydrants?", ["fire hydrant"]),
])
def test_noun_phrases(viper_registry, question, nouns):
    """Articles dropped, plurals singular, compounds kept; attribute adjectives become checks."""
    calls = operator_calls(generate_offline(question, viper_registry).code, viper_registry)
    searched = [args[0] for name, args in calls if name in ("find", "exists")]
    assert searched == nouns or sorted(searched) == sorted(nouns)


def test_attribute_adjectives_become_fanned_out_checks(viper_registry):
    code = generate_offline("Is there an old wooden bench?", viper_registry).code
    calls = operator_calls(code, viper_registry)
    assert ("verify_property", ("bench", "old")) in calls and ("verify_property", ("bench", "wooden")) in calls
    comp = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ListComp))
    assert ast.unparse(comp.generators[0].iter) == "bench_patches"


def test_count_returns_string_of_len(viper_registry):
    tree = ast.parse(generate_offline("How many dogs are there?", viper_registry).code)
    ret = [n for n in ast.walk(tree) if isinstance(n, ast.Return)][-1]
    assert ast.unparse(ret.value) == "str(len(dog_patches))"


def test_damage_parts_loops_over_detections(viper_registry):
    """A loop over literal part names; inside, a loop over each part's detections that verifies damage."""
    tree = assert_viper_program(generate_offline("Which parts of the car are damaged?", viper_registry).code, viper_registry)
    outer = next(f for f in loops(tree) if isinstance(f.iter, ast.List))
    parts = ast.literal_eval(outer.iter)
    assert {"front bumper", "hood", "windshield", "door"} <= set(parts)
    inner = next(f for f in ast.walk(outer) if isinstance(f, ast.For) and f is not outer)
    assert ast.unparse(inner.iter) == f"image_patch.find({outer.target.id})"
    verify = [n for n in ast.walk(inner) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "verify_property"]
    assert verify and ast.unparse(verify[0].args[0]) == outer.target.id
    assert not isinstance(inner.body[-1], ast.Return)  # a fan-out, not "first detection only"


def test_part_check_loops_over_every_detection(viper_registry):
    tree = ast.parse(generate_offline("Is the front bumper dented?", viper_registry).code)
    (loop,) = loops(tree)
    assert ast.unparse(loop.iter) == "front_bumper_patches"
    assert isinstance(loop.body[-1], ast.If)


def test_who_fans_out_over_people(viper_registry):
    tree = ast.parse(generate_offline("Who is holding the umbrella?", viper_registry).code)
    (loop,) = loops(tree)
    assert ast.unparse(loop.iter) == "person_patches"
    assert "verify_property" in ast.unparse(loop.body[-1].test)


def test_search_tries_several_phrasings(viper_registry):
    code = generate_offline("Is there plastic litter in this frame?", viper_registry).code
    tree = ast.parse(code)
    (loop,) = loops(tree)
    names = ast.literal_eval(loop.iter)
    assert names[0] == "plastic litter" and len(names) >= 4 and all("plastic" in n for n in names)
    assert [ast.unparse(a) for _, a in [(0, c.args[0]) for c in ast.walk(loop) if isinstance(c, ast.Call)
                                        and getattr(c.func, "attr", "") == "exists"]] == [loop.target.id]
    assert "any(" in code


def test_two_objects_are_found_independently(viper_registry):
    code = generate_offline("Is the car bigger than the truck?", viper_registry).code
    lines = code.splitlines()
    assert lines[2].strip() == 'car_patches = image_patch.find("car")'
    assert lines[3].strip() == 'truck_patches = image_patch.find("truck")'


@pytest.mark.parametrize("example,check", [
    ("compare-sizes", lambda g: g.stats["max_width"] >= 2 and sum(1 for t in g.tasks if t.operator == "find" and not t.depends) == 2),
    ("relation-cup-left-of-plate", lambda g: g.stats["max_width"] >= 2),
    ("logic-cat-or-dog", lambda g: g.stats["max_width"] == 2),
    ("damage-parts", lambda g: g.stats["fanouts"] >= 10 and g.stats["max_width"] >= 10),
    ("damage-bumper-dented", lambda g: g.stats["fanouts"] == 1),
    ("count-black-cars", lambda g: g.stats["fanouts"] == 1),
    ("which-holding-umbrella", lambda g: g.stats["fanouts"] >= 1),
    ("search-plastic-litter", lambda g: g.stats["max_width"] >= 4),
])
def test_task_graph_shapes(viper_registry, example, check):
    """The shapes the compile pipeline relies on: independent finds are parallel, loops fan out."""
    question = (EXAMPLES / f"{example}.txt").read_text()
    graph = analyse(generate_offline(question, viper_registry).code, viper_registry)
    assert check(graph), graph.stats


# -- the example questions -------------------------------------------------------------------------
def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.txt"))


def test_examples_cover_the_families(viper_registry):
    files = example_files()
    assert len(files) >= 24
    prefixes = {f.name.split("-")[0] for f in files}
    assert {"existence", "count", "attribute", "relation", "compare", "logic", "choice", "which", "damage",
            "search"} <= prefixes
    for name in ("damage-parts", "damage-bumper-dented", "damage-windshield-cracked", "search-plastic-litter",
                 "count-dogs", "compare-sizes"):
        assert (EXAMPLES / f"{name}.txt").is_file()


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
def test_example(viper_registry, path):
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and text.count("\n") == 1 and text.strip()
    g = generate_offline(text, viper_registry)
    assert g.family == path.stem.split("-")[0], g.code
    assert_viper_program(g.code, viper_registry)
    assert (g.warnings == (FALLBACK_WARNING,)) == (g.family == "fallback")


# -- fallback and errors ---------------------------------------------------------------------------
def test_fallback_asks_the_whole_image_with_a_warning(viper_registry):
    g = generate_offline("Why is the man smiling?", viper_registry)
    assert g.family == "fallback"
    assert g.warnings == (FALLBACK_WARNING,)
    assert g.code == ('def execute_command(image):\n    image_patch = ImagePatch(image)\n'
                      '    return image_patch.simple_query("Why is the man smiling?")\n')


@pytest.mark.parametrize("question", ["", "   ", "\n\t \r\n", "x" * (MAX_QUESTION_CHARS + 1), "Is there a dog? " * 6400, 42, None])
def test_bad_questions_are_one_line_errors(viper_registry, question):
    with pytest.raises(DicecError) as info:
        generate_offline(question, viper_registry)
    assert "\n" not in str(info.value) and str(info.value)


def test_longest_accepted_question(viper_registry):
    question = "x" * MAX_QUESTION_CHARS
    g = generate_offline(question, viper_registry)
    assert_viper_program(g.code, viper_registry)
    assert whole_image_queries(g.code) == [question]
    # trailing punctuation is not part of the noun phrase, however much of it there is
    g = generate_offline("Is there a dog" + "?" * (MAX_QUESTION_CHARS - 14), viper_registry)
    assert operator_calls(g.code, viper_registry) == [("exists", ("dog",))]


# -- untrusted text --------------------------------------------------------------------------------
HOSTILE = [
    'Is there a dog?"); import os; os.system("rm -rf /"); ("',
    "Is there a dog?\nimport os\nos.system('id')",
    'What is """ this """ thing?',
    "What's in the \\ back\\slash\\?",
    "How many {{workflow.name}} are there?",
    "Is there a {{inputs.parameters.x}}?",
    "'); import os #",
    "\"'\"'\"'",
    "¿Hay un perro aquí? 🐕 ñ",
    "nul \x00 byte and \x1b[31m escape?",
    "line\u2028separator, next\x85line, para\u2029graph?",
    "lone \ud800 surrogate?",
    "__import__('os').system('x')",
    "Is the car red or \"blue\"?",
    "Is there a \\x41?",
    "What colour is the " + "very " * 300 + "big car?",
    "${{ secrets.TOKEN }} $(whoami) `id`",
    "#\n# comment\ndef execute_command(image):\n    return 1",
]


@pytest.mark.parametrize("question", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_questions_stay_string_literals(viper_registry, question):
    g = generate_offline(question, viper_registry)
    tree = assert_viper_program(g.code, viper_registry)
    assert g.family == "fallback"  # none of these is a question the rules can take apart
    assert string_constants(g.code) == {norm(question)}
    assert whole_image_queries(g.code) == [norm(question)]
    assert len(tree.body[0].body) == 2  # the ImagePatch line and the return: nothing smuggled in


@pytest.mark.parametrize("question,searched", [
    ("Is there a café?", "café"),
    ("Is there a ünïcörn?", "ünïcörn"),
    ("How many 猫 are there?", "猫"),
    ("Is there a jack-o'-lantern?", "jack-o'-lantern"),
])
def test_non_ascii_noun_phrases_are_literals(viper_registry, question, searched):
    g = generate_offline(question, viper_registry)
    assert_viper_program(g.code, viper_registry)
    calls = operator_calls(g.code, viper_registry)
    assert calls[0][1] == (searched,)
    assert g.code.isascii() or searched in g.code  # the literal carries the text, the names stay ASCII


WORDS = ["is", "are", "there", "a", "the", "any", "how", "many", "what", "colour", "color", "of", "or", "and",
         "dog", "dogs", "car", "front", "bumper", "dented", "left", "right", "to", "on", "behind", "that", "not",
         "white", "who", "which", "bigger", "than", "same", "plastic", "litter", "parts", "damaged", ",", "?",
         '"', "'", "\\", "\n", '"""', "{{workflow.name}}", "'); import os", "ü", "\x00", "__class__", "#"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(WORDS), min_size=1, max_size=25).map(" ".join)))
def test_any_text_gives_a_safe_program(viper_registry, question):
    if not question.split():
        with pytest.raises(DicecError):
            generate_offline(question, viper_registry)
        return
    g = generate_offline(question, viper_registry)
    assert g.family in FAMILIES
    assert_viper_program(g.code, viper_registry)
    assert all(q == norm(question) for q in whole_image_queries(g.code))
    assert g.code == generate_offline(question, viper_registry).code


# -- determinism -------------------------------------------------------------------------------------
DETERMINISM_QUESTIONS = ["Which parts of the car are damaged?", "Is the cup to the left of the plate?",
                         "Is there plastic litter in this frame?", "Are there any bottles or mugs that are not purple?",
                         "Is the man that is to the left of the person riding the green train in front of the fence?"]


def test_same_question_same_bytes_across_processes(viper_registry):
    folder = viper_registry.sources[0]
    script = ("import json, sys\nfrom dicec.tools import discover\nfrom dicec.codegen import generate_offline\n"
              "reg = discover([sys.argv[1]], builtin=False, entry_points=False)\n"
              "print(json.dumps([generate_offline(q, reg).code for q in json.loads(sys.argv[2])]))\n")
    outputs = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script, folder, json.dumps(DETERMINISM_QUESTIONS)],
                              capture_output=True, text=True, env=env, check=True)
        outputs.append(json.loads(done.stdout))
    here = [generate_offline(q, viper_registry).code for q in DETERMINISM_QUESTIONS]
    assert outputs[0] == outputs[1] == here


# -- operators the registry lacks ---------------------------------------------------------------------
ALL = ("find", "exists", "verify_property", "best_text_match", "simple_query", "compute_depth", "llm_query",
       "best_image_match")


def without(*names):
    return [n for n in ALL if n not in names]


def test_without_verify_property_asks_simple_query(make_registry):
    reg = make_registry(*without("verify_property"))
    g = generate_offline("How many black cars are there?", reg)
    assert_viper_program(g.code, reg)
    calls = operator_calls(g.code, reg)
    assert ("simple_query", ("Is the car black?",)) in calls
    assert not any(name == "verify_property" for name, _ in calls)
    assert any("verify_property" in w for w in g.warnings)


def test_without_verify_property_damage_loop_still_fans_out(make_registry):
    reg = make_registry(*without("verify_property"))
    g = generate_offline("Which parts of the car are damaged?", reg)
    assert g.family == "damage"
    assert 'part_patch.simple_query("Is the " + part_name + " damaged?") == "yes"' in g.code
    assert analyse(g.code, reg).stats["fanouts"] >= 10


def test_without_exists_uses_find(make_registry):
    reg = make_registry(*without("exists"))
    g = generate_offline("Is there a dog?", reg)
    assert_viper_program(g.code, reg)
    assert 'len(image_patch.find("dog")) > 0' in g.code
    assert any("exists" in w for w in g.warnings)


def test_without_best_text_match_asks_the_object(make_registry):
    reg = make_registry(*without("best_text_match"))
    g = generate_offline("Is the car red or blue?", reg)
    assert g.family == "choice"
    assert_viper_program(g.code, reg)
    assert "car_patch" in receivers(g.code, "simple_query")
    assert ("simple_query", ("Is the car red or blue?",)) in operator_calls(g.code, reg)
    assert any("best_text_match" in w for w in g.warnings)


def test_without_compute_depth_depth_relations_fall_back(make_registry):
    reg = make_registry(*without("compute_depth"))
    g = generate_offline("Is the tree behind the house?", reg)
    assert g.family == "fallback"
    assert_viper_program(g.code, reg)
    assert g.warnings[0] == FALLBACK_WARNING and any("compute_depth" in w for w in g.warnings)
    # box relations need no depth
    assert generate_offline("Is the cup to the left of the plate?", reg).family == "relation"


def test_without_simple_query(make_registry):
    reg = make_registry(*without("simple_query"))
    for question in ("Is there a dog?", "How many dogs are there?", "Is the table wooden?", "Is the car red or blue?"):
        g = generate_offline(question, reg)
        assert g.family != "fallback"
        assert_viper_program(g.code, reg)
    # a guard that cannot ask the image answers "no" for a yes/no question, or chooses on the whole image
    assert 'return "no"' in generate_offline("Is the table wooden?", reg).code
    assert 'return image_patch.best_text_match(["red", "blue"])' in generate_offline("Is the car red or blue?", reg).code
    with pytest.raises(DicecError, match="simple_query") as info:
        generate_offline("Why is the man smiling?", reg)
    assert "\n" not in str(info.value)


def test_only_find_like_the_builtin_folder_today(make_registry):
    reg = make_registry("find")
    assert operator_calls(generate_offline("How many dogs are there?", reg).code, reg) == [("find", ("dog",))]
    g = generate_offline("Is there a dog?", reg)
    assert_viper_program(g.code, reg)
    assert operator_calls(g.code, reg) == [("find", ("dog",))]
    with pytest.raises(DicecError):
        generate_offline("What colour is the car?", reg)


def test_without_find(make_registry):
    reg = make_registry(*without("find"))
    g = generate_offline("How many dogs are there?", reg)
    assert g.family == "fallback" and any("find" in w for w in g.warnings)
    assert_viper_program(g.code, reg)
    assert generate_offline("Is there a dog?", reg).code.count("exists(") == 1


@pytest.mark.parametrize("missing", ["verify_property", "best_text_match", "compute_depth", "exists", "simple_query", "find"])
def test_examples_only_call_operators_the_registry_has(make_registry, missing):
    reg = make_registry(*without(missing))
    for path in example_files():
        try:
            g = generate_offline(path.read_text(), reg)
        except DicecError as exc:
            assert missing == "simple_query" and "simple_query" in str(exc)
            continue
        assert_viper_program(g.code, reg)
        assert all(reg.method(name) for name, _ in operator_calls(g.code, reg))


# -- the rule table ------------------------------------------------------------------------------------
def test_rule_table_is_documented():
    assert RULES
    for rule in RULES:
        assert rule.family in FAMILIES
        assert rule.handler.__doc__ and "?" in rule.handler.__doc__, rule.handler.__name__


# -- real questions ----------------------------------------------------------------------------------
def test_gqa_questions(viper_registry):
    from support import shared_file

    rows = [json.loads(line) for line in shared_file("dev", "gqa_questions.jsonl").read_text().splitlines() if line.strip()]
    families = collections.Counter()
    for row in rows:
        g = generate_offline(row["question"], viper_registry)
        assert_viper_program(g.code, viper_registry)
        analyse(g.code, viper_registry)
        families[g.family] += 1
    print(f"\nfamilies over {len(rows)} GQA questions: {dict(families.most_common())}")
    assert len(rows) == 134
    assert families["fallback"] < 0.4 * len(rows), families


def test_viper_corpus_queries_do_not_crash(viper_registry):
    from support import shared_file

    rows = [json.loads(line) for line in shared_file("dev", "viper_programs.jsonl").read_text().splitlines() if line.strip()]
    for query in sorted({row["query"] for row in rows}):
        if not query.split() or len(norm(query)) > MAX_QUESTION_CHARS:
            continue
        assert_viper_program(generate_offline(query, viper_registry).code, viper_registry)
