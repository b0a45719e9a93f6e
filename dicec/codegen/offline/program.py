"""The program builder: :class:`ProgramWriter` writes the body of ``execute_command``, and the result it makes.

A family handler parses the question and says what to compute; the writer turns that into program
lines over the ``ImagePatch`` API, so that every family's programs have the same shape:

* calls only operators the registry offers (:class:`Operators`), in their method form: without
  ``verify_property`` a property check becomes a ``simple_query`` yes/no question, without ``exists``
  an existence check becomes ``len(find(...)) > 0``, and so on, each with a warning; a call with no
  substitute raises :class:`OperatorUnavailable`, which stops the rules (see ``generator``);
* :meth:`ProgramWriter.locate` writes every ``find`` of a question first, so independent finds
  become parallel tasks, then narrows the detections by attributes and qualifiers in comprehensions
  over them, so checks on each detection become fan-outs;
* :meth:`ProgramWriter.firsts` guards a missing object with one whole-image question;
* geometry (relations between boxes, sides of the image, sizes) is written from box attributes,
  depth from ``compute_depth``, in ViperGPT's coordinates (y grows upwards).

:class:`GeneratedProgram` is what every code-generation backend returns; the offline one makes it
here, with :meth:`ProgramWriter.result`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dicec.codegen.offline.literals import comment_words, list_literal, literal, slug
from dicec.codegen.offline.phrases import Filter, NounPhrase
from dicec.codegen.usage import NONE as NO_USAGE
from dicec.codegen.usage import Usage
from dicec.tools.registry import Registry


@dataclass(frozen=True, kw_only=True)
class GeneratedProgram:
    """A generated serial program and how it was made.

    Attributes:
        code: the full program text (``def execute_command(image):`` ...), ending with a newline; it
            parses with :mod:`ast` and calls only operators of the registry it was generated for.
        family: the rule that matched: ``existence``, ``count``, ``attribute``, ``relation``,
            ``compare``, ``logic``, ``choice``, ``which``, ``object``, ``position``, ``scene``,
            ``damage``, ``search``, ``text``, or ``fallback`` when no rule decomposed the question.
        warnings: one-line messages, e.g. the fallback's "could not decompose the question; asking
            the whole image", or an operator the registry lacks and what was used instead.
        backend: the backend that wrote it: ``offline``, ``anthropic`` (family ``llm``) or ``replay``
            (family ``pinned``, and also an ``anthropic`` build answered from its lock).
        rounds: LLM replies read before one passed the checker (0 when no LLM was asked).
        usage: LLM calls and tokens spent (zero for ``offline`` and ``replay``).
    """

    code: str
    family: str
    warnings: tuple[str, ...] = ()
    backend: str = "offline"
    rounds: int = 0
    usage: Usage = NO_USAGE


# -- operators the registry offers -------------------------------------------------------------------
#: The ImagePatch methods the rules call, with the number of arguments they pass.
_METHOD_ARGS = {"find": 1, "exists": 1, "verify_property": 2, "best_text_match": 1, "simple_query": 1,
                "compute_depth": 0, "read_text": 0}


class OperatorUnavailable(Exception):
    """A handler needs an operator the registry lacks; ``args[0]`` names it."""


class Operators:
    """Which of the ViperGPT methods this registry offers, with an arity that fits the call."""

    def __init__(self, registry: Registry) -> None:
        names = []
        for name, n in _METHOD_ARGS.items():
            found = registry.method(name)
            if found is not None and found[1].min_args <= n <= found[1].max_args:
                names.append(name)
        self.available = frozenset(names)

    def has(self, name: str) -> bool:
        return name in self.available


# -- writing a program -------------------------------------------------------------------------------
class ProgramWriter:
    """The body of ``execute_command`` being written, with helpers that degrade to what the registry has.

    Lines are added with a depth (1 = the function body). When an object is missing and
    ``simple_query`` is unavailable, a guard returns ``default_code`` (an expression) or else the
    literal ``default``; with neither, the handler cannot do without ``simple_query``. A handler may
    set ``family`` to label the program otherwise than its rule does.
    """

    def __init__(self, ops: Operators, question: str) -> None:
        self.ops = ops
        self.question = question
        self.lines: list[str] = []
        self.taken = {"image", "image_patch"}
        self.warnings: list[str] = []
        self.default: str | None = None
        self.default_code: str | None = None
        self.family: str | None = None
        self._found: dict[tuple[str, str], str] = {}
        self._located: dict[NounPhrase, str] = {}
        self._first: dict[NounPhrase, str] = {}

    # -- text ----------------------------------------------------------------------------------
    def add(self, depth: int, line: str) -> None:
        """Append ``line`` indented ``depth`` levels (1 = the function body)."""
        self.lines.append("    " * depth + line)

    def name(self, stem: str) -> str:
        """A fresh variable name from an ASCII ``stem``."""
        candidate, n = stem, 2
        while candidate in self.taken:
            candidate, n = f"{stem}_{n}", n + 1
        self.taken.add(candidate)
        return candidate

    def note(self, message: str) -> None:
        """Add a warning to the result (once)."""
        if message not in self.warnings:
            self.warnings.append(message)

    def result(self, family: str) -> GeneratedProgram:
        """The finished program, labelled with ``family``."""
        code = "\n".join(["def execute_command(image):", "    image_patch = ImagePatch(image)", *self.lines]) + "\n"
        return GeneratedProgram(code=code, family=family, warnings=tuple(self.warnings))

    # -- operator calls, degrading to what the registry offers ----------------------------------------
    def has(self, name: str) -> bool:
        return self.ops.has(name)

    def need(self, name: str) -> None:
        """Raise :class:`OperatorUnavailable` unless the registry offers ``name``."""
        if not self.ops.has(name):
            raise OperatorUnavailable(name)

    def find(self, receiver: str, name: str) -> str:
        self.need("find")
        return f"{receiver}.find({literal(name)})"

    def exists(self, receiver: str, name: str, *, name_var: bool = False) -> str:
        """``receiver.exists(name)`` or ``len(receiver.find(name)) > 0`` (``name_var``: name is a variable)."""
        code = name if name_var else literal(name)
        if self.has("exists"):
            return f"{receiver}.exists({code})"
        if self.has("find"):
            self.note("exists is not in the registry; using len(find(...)) > 0 instead")
            return f"len({receiver}.find({code})) > 0"
        raise OperatorUnavailable("exists")

    def verify(self, patch: str, noun: str, prop: str, *, negated: bool = False, noun_var: bool = False) -> str:
        """``patch.verify_property(noun, prop)`` or its ``simple_query`` phrasing (``noun_var``: noun is a variable)."""
        noun_code = noun if noun_var else literal(noun)
        if self.has("verify_property"):
            expr = f"{patch}.verify_property({noun_code}, {literal(prop)})"
        elif self.has("simple_query"):
            self.note("verify_property is not in the registry; asking simple_query yes/no questions instead")
            if noun_var:
                text = f"{literal('Is the ')} + {noun} + {literal(' ' + prop + '?')}"
            else:
                text = literal(f"Is the {noun} {prop}?")
            expr = f'{patch}.simple_query({text}) == "yes"'
        else:
            raise OperatorUnavailable("verify_property")
        return f"not {expr}" if negated else expr

    def query(self, patch: str, question: str) -> str:
        self.need("simple_query")
        return f"{patch}.simple_query({literal(question)})"

    def choose(self, patch: str, options, question: str) -> str:
        """``patch.best_text_match(options)``, or ``simple_query(question)`` on the patch without it."""
        if self.has("best_text_match"):
            return f"{patch}.best_text_match({list_literal(options)})"
        if self.has("simple_query"):
            self.note("best_text_match is not in the registry; asking simple_query instead")
            return self.query(patch, question)
        raise OperatorUnavailable("best_text_match")

    def depth(self, patch: str) -> str:
        self.need("compute_depth")
        return f"{patch}.compute_depth()"

    def read_text(self, patch: str, question: str) -> str:
        """``patch.read_text()``, or ``simple_query(question)`` on the patch without it."""
        if self.has("read_text"):
            return f"{patch}.read_text()"
        if self.has("simple_query"):
            self.note("read_text is not in the registry; asking simple_query instead")
            return self.query(patch, question)
        raise OperatorUnavailable("read_text")

    def ask_whole(self, depth: int) -> None:
        """``return image_patch.simple_query(<question>)``, or ``return <default>`` without simple_query."""
        if self.has("simple_query"):
            self.add(depth, f"return image_patch.simple_query({literal(self.question)})")
        elif self.default_code is not None:
            self.add(depth, f"return {self.default_code}")
        elif self.default is not None:
            self.add(depth, f"return {literal(self.default)}")
        else:
            raise OperatorUnavailable("simple_query")

    def ask_whole_if_empty(self, list_var: str) -> None:
        """``if len(<list_var>) == 0:`` then :meth:`ask_whole`: no detection, so ask the whole image."""
        self.add(1, f"if len({list_var}) == 0:")
        self.ask_whole(2)

    def return_joined(self, list_var: str) -> None:
        """Return the names in ``list_var`` joined by ", ", or "none" when there are none."""
        self.add(1, f"if len({list_var}) == 0:")
        self.add(2, 'return "none"')
        self.add(1, f'return ", ".join({list_var})')

    # -- noun phrases ----------------------------------------------------------------------------
    def locate(self, *nps: NounPhrase, receiver: str = "image_patch") -> list[str]:
        """Find ``nps`` and narrow them by their attributes and qualifiers; return their list variables.

        Every ``find`` (including those of noun phrases the qualifiers refer to) is written first, so
        they are independent parallel tasks; the narrowing comprehensions follow.
        """
        order: list[NounPhrase] = []

        def collect(np: NounPhrase) -> None:
            for f in np.filters:
                if f.ref is not None:
                    collect(f.ref)
            if np not in order:
                order.append(np)

        for np in nps:
            collect(np)
        for np in order:
            key = (receiver, self._find_name(np))
            if key not in self._found:
                var = self.name(f"{slug(key[1])}_patches")
                self.add(1, f"{var} = {self.find(receiver, key[1])}")
                self._found[key] = var
        for np in order:
            self._narrow(np, receiver)
        return [self._located[np] for np in nps]

    def _find_name(self, np: NounPhrase) -> str:
        if np.attrs and not (self.has("verify_property") or self.has("simple_query")):
            return np.text
        return np.head

    def _narrow(self, np: NounPhrase, receiver: str) -> None:
        if np in self._located:
            return
        name = self._find_name(np)
        var = self._found[(receiver, name)]
        attrs = np.attrs if name == np.head else ()
        filters = [f for f in np.filters if f.kind != "owner"]
        if attrs or filters:
            var = self._narrow_by(np, var, attrs, filters)
        for f in np.filters:
            if f.kind == "owner":
                var = self._owned(np, var, f)
        self._located[np] = var

    def _narrow_by(self, np: NounPhrase, raw: str, attrs: tuple[str, ...], filters: list) -> str:
        """The detections in ``raw`` that have ``attrs`` and pass ``filters``, as a new list variable."""
        refs = [f.ref for f in filters if f.kind == "relation" and f.ref is not None and f.ref.definite]
        ref_vars = self.firsts(*refs) if refs else []
        item = self.name(f"{slug(np.head)}_patch")
        conds = []
        ref_iter = iter(ref_vars)
        for f in filters:
            if f.kind == "position":
                conds.append(_negate(self.on_side(item, f.value), f.negated))
            elif f.kind == "relation":
                assert f.ref is not None
                if f.ref.definite:
                    conds.append(_negate(self.relation(f.value, item, next(ref_iter)), f.negated))
                else:
                    other_list = self._located[f.ref]
                    other = self.name(f"{slug(f.ref.head)}_patch")
                    test = f"any({self.relation(f.value, item, other)} for {other} in {other_list})"
                    conds.append(_negate(test, f.negated))
        for attr in attrs:
            conds.append(self.verify(item, np.head, attr))
        for f in filters:
            if f.kind == "prop":
                conds.append(self.verify(item, np.head, f.value, negated=f.negated))
        tag = "_".join(attrs) or self._tag(filters[0])
        var = self.name(f"{slug(tag + ' ' + np.head)}_patches")
        self.add(1, f"{var} = [{item} for {item} in {raw} if {' and '.join(conds)}]")
        return var

    def _owned(self, np: NounPhrase, raw: str, owner: Filter) -> str:
        """The detections in ``raw`` inside an owner's box ("the girl's dress"), or all of them if none is."""
        assert owner.ref is not None
        owners = self._located[owner.ref]
        item, other = self.name(f"{slug(np.head)}_patch"), self.name(f"{slug(owner.ref.head)}_patch")
        var = self.name(f"{slug(owner.ref.head + ' ' + np.head)}_patches")
        self.add(1, f"# The {comment_words(np.head)} of a {comment_words(owner.ref.head)}, or any {comment_words(np.head)} "
                    f"if none is on one")
        self.add(1, f"{var} = [{item} for {item} in {raw} if any({self.relation('in', item, other)} "
                    f"for {other} in {owners})] or {raw}")
        return var

    @staticmethod
    def _tag(f: Filter) -> str:
        prefix = "not " if f.negated else ""
        if f.kind == "prop":
            return prefix + f.value.split()[0]
        return prefix + f.value

    def firsts(self, *nps: NounPhrase) -> list[str]:
        """One guard for all of ``nps`` (ask the whole image if any is missing), then each one's first patch."""
        todo = [np for np in nps if np not in self._first]
        todo = list(dict.fromkeys(todo))
        if todo:
            lists = [self._located[np] for np in todo]
            self.add(1, f"if {' or '.join(f'len({v}) == 0' for v in lists)}:")
            if self.has("simple_query"):
                names = " or ".join(f"no {comment_words(np.text)}" for np in todo)
                self.add(2, f"# If there is {names}, ask the whole image")
            self.ask_whole(2)
            for np, var in zip(todo, lists):
                patch = self.name(f"{slug(np.text)}_patch")
                self.add(1, f"{patch} = {var}[0]")
                self._first[np] = patch
        return [self._first[np] for np in nps]

    # -- geometry --------------------------------------------------------------------------------------
    def relation(self, rel: str, a: str, b: str) -> str:
        """The condition "patch ``a`` is ``rel`` patch ``b``" (ViperGPT coordinates: y grows upwards)."""
        box = f"{b}.left, {b}.lower, {b}.right, {b}.upper"
        if rel == "left":
            return f"{a}.horizontal_center < {b}.horizontal_center"
        if rel == "right":
            return f"{a}.horizontal_center > {b}.horizontal_center"
        if rel == "above":
            return f"{a}.vertical_center > {b}.vertical_center"
        if rel == "below":
            return f"{a}.vertical_center < {b}.vertical_center"
        if rel == "on":
            return f"{a}.vertical_center > {b}.vertical_center and {a}.overlaps_with({box})"
        if rel == "under":
            return f"{a}.vertical_center < {b}.vertical_center and {a}.overlaps_with({box})"
        if rel == "in":
            return f"{a}.overlaps_with({box})"
        if rel == "near":
            return f"distance({a}, {b}) < max({b}.width, {b}.height)"
        if rel == "behind":
            return f"{self.depth(a)} > {self.depth(b)}"
        if rel == "front":
            return f"{self.depth(a)} < {self.depth(b)}"
        raise AssertionError(rel)

    @staticmethod
    def on_side(patch: str, side: str) -> str:
        """The condition "``patch`` is on ``side`` of the image" (left/right/top/bottom/middle)."""
        if side == "left":
            return f"{patch}.horizontal_center < image_patch.horizontal_center"
        if side == "right":
            return f"{patch}.horizontal_center > image_patch.horizontal_center"
        if side == "top":
            return f"{patch}.vertical_center > image_patch.vertical_center"
        if side == "bottom":
            return f"{patch}.vertical_center < image_patch.vertical_center"
        return f"abs({patch}.horizontal_center - image_patch.horizontal_center) < image_patch.width / 4"

    def measure(self, patch: str, what: str) -> str:
        """An expression for ``patch``'s ``what``: ``area``, ``length``, ``depth`` or a box attribute."""
        if what == "area":
            return f"{patch}.width * {patch}.height"
        if what == "length":
            return f"max({patch}.width, {patch}.height)"
        if what == "depth":
            return self.depth(patch)
        return f"{patch}.{what}"


def _negate(cond: str, negated: bool) -> str:
    return f"not ({cond})" if negated else cond
