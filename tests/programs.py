"""A hypothesis strategy for ViperGPT-style programs, built from the constructs LLMs actually write.

Programs are assembled statement by statement with a tracked set of variables of each kind (patch,
patch list, scalar), so every generated program passes the checker: the tests exercise the analyser
and emitter on shapes nobody wrote by hand (nested loops, guarded appends, sorted picks, f-strings of
earlier answers, crops). The runtime issue reuses it for serial-versus-parallel equivalence.
"""

from __future__ import annotations

from hypothesis import strategies as st

NOUNS = ["car", "dog", "person", "cup", "table", "wheel", "bottle", "bag"]
PROPS = ["red", "damaged", "wooden", "open", "large"]
QUESTIONS = ["What is this?", "What color is it?", "Is it broken?", "What is it made of?"]


@st.composite
def programs(draw, max_statements: int = 8) -> str:
    lines = ["def execute_command(image):", "    image_patch = ImagePatch(image)"]
    patches, lists, scalars = ["image_patch"], [], []
    counter = [0]

    def fresh(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def emit(indent: int, text: str) -> None:
        lines.append("    " * indent + text)

    def scalar_call(patch: str) -> str:
        kind = draw(st.sampled_from(["exists", "verify", "query", "depth", "match", "fquery"]))
        if kind == "exists":
            return f"{patch}.exists({draw(st.sampled_from(NOUNS))!r})"
        if kind == "verify":
            return f"{patch}.verify_property({draw(st.sampled_from(NOUNS))!r}, {draw(st.sampled_from(PROPS))!r})"
        if kind == "depth":
            return f"{patch}.compute_depth()"
        if kind == "match":
            return f"{patch}.best_text_match({draw(st.lists(st.sampled_from(PROPS), min_size=2, max_size=3, unique=True))!r})"
        if kind == "fquery" and scalars:
            return f'{patch}.simple_query(f"Is the {{{draw(st.sampled_from(scalars))}}} one here?")'
        return f"{patch}.simple_query({draw(st.sampled_from(QUESTIONS))!r})"

    def block(indent: int, depth: int, n: int, loop_patch: str | None = None) -> None:
        for _ in range(n):
            choice = draw(st.sampled_from(["find", "scalar", "loop", "if", "index", "sort", "comp", "crop", "append"]))
            patch = loop_patch or draw(st.sampled_from(patches))
            if choice == "find":
                name = fresh("found")
                emit(indent, f"{name} = {patch}.find({draw(st.sampled_from(NOUNS))!r})")
                if indent == 1:
                    lists.append(name)
            elif choice == "scalar":
                name = fresh("ans")
                emit(indent, f"{name} = {scalar_call(patch)}")
                if indent == 1:
                    scalars.append(name)
            elif choice == "loop" and lists and depth < 2:
                var = fresh("p")
                emit(indent, f"for {var} in {draw(st.sampled_from(lists))}:")
                block(indent + 1, depth + 1, draw(st.integers(1, 3)), loop_patch=var)
            elif choice == "if" and depth < 2:
                emit(indent, f"if {scalar_call(patch)}:")
                block(indent + 1, depth + 1, draw(st.integers(1, 2)), loop_patch=loop_patch)
                if draw(st.booleans()):
                    emit(indent, "else:")
                    block(indent + 1, depth + 1, 1, loop_patch=loop_patch)
            elif choice == "index" and lists and indent == 1:
                lst = draw(st.sampled_from(lists))
                name = fresh("first")
                emit(indent, f"if len({lst}) > 0:")
                emit(indent + 1, f"{name} = {lst}[{draw(st.sampled_from([0, -1]))}]")
                emit(indent + 1, f"{fresh('ans')} = {scalar_call(name)}")
            elif choice == "sort" and lists:
                lst = draw(st.sampled_from(lists))
                key = draw(st.sampled_from(["x.horizontal_center", "x.compute_depth()", "x.width * x.height"]))
                emit(indent, f"{lst}.sort(key=lambda x: {key})")
            elif choice == "comp" and lists:
                name = fresh("vals")
                emit(indent, f"{name} = [q.simple_query({draw(st.sampled_from(QUESTIONS))!r}) for q in {draw(st.sampled_from(lists))}]")
            elif choice == "crop":
                name = fresh("crop")
                emit(indent, f"{name} = {patch}.crop({patch}.left, {patch}.lower, {patch}.horizontal_center, {patch}.upper)")
                emit(indent, f"{fresh('ans')} = {scalar_call(name)}")
            elif choice == "append" and lists and indent == 1:
                acc, src = fresh("keep"), draw(st.sampled_from(lists))
                emit(indent, f"{acc} = []")
                emit(indent, f"for c in {src}:")
                emit(indent + 1, f"if c.{draw(st.sampled_from(['exists', 'simple_query']))}({draw(st.sampled_from(NOUNS))!r}):")
                emit(indent + 2, f"{acc}.append(c)")
                lists.append(acc)
            else:
                emit(indent, f"{fresh('ans')} = {scalar_call(patch)}")

    block(1, 0, draw(st.integers(1, max_statements)))
    result = draw(st.sampled_from(scalars)) if scalars else "'done'"
    emit(1, f"return {result}")
    return "\n".join(lines) + "\n"
