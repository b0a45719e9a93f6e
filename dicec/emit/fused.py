"""Emitting fused groups: several tasks as ONE container step (``dicec op --group``).

A placed graph's fused groups (:mod:`dicec.placement.fusion`) become one DAG task each, named for
what it runs (:func:`step_names`: ``fused-`` + the group's operators in first-seen order + its pool,
``fused-find-verify-property-a4000``, with ``-2``, ``-3``... for a second group of the same kind; a
group of one fan-out task keeps the task's id), running a template of that name (``fused-ID`` for a
one-task group) on the group's pool: the vision image running ``dicec op --group`` (the contract is in :mod:`dicec.emit.steps`), with an input
artifact ``inputs`` holding the values of the tasks outside the group that it needs (``raw`` data the task
builds from their ``value`` outputs, written to a file: a detection's boxes can outgrow an argument), and the output
parameters ``value-TASK`` and ``record-TASK`` for each of its tasks. Everything that referred to a
grouped task -- a dependency, a ``withParam``, a ``--patch`` or ``--refs`` value, the final step's
records -- refers to the group's step and that task's output instead. Services mode emits no groups
(its steps call warm model servers; placement fuses only in pods mode).

:class:`FusedSteps` is what :func:`dicec.emit.argo.emit_workflow` asks; with no groups every answer
is the plain one (``tasks.ID.outputs.parameters.value``), so a graph without fusion emits as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from dicec.emit import steps

TEMPLATE_PREFIX = "fused-"
#: Room left in Argo's 128-character task and template names for a ``-N`` suffix.
_MAX_NAME = 120


def step_names(placed, groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """A step name for each group (keyed by its first task): ``fused-OPS-POOL`` for a group of several
    tasks, unique among the groups and the graph's task ids; a group of one task (a fan-out run in one
    pod) keeps that task's id, which says what it runs. The same for the same placed graph."""
    taken = {t.id for t in placed.graph.tasks}
    out = {}
    for first, tasks in groups.items():
        if len(tasks) == 1:
            out[first] = first
            continue
        operators = list(dict.fromkeys(placed.graph.task(t).operator.replace("_", "-").lower() for t in tasks))
        pool = placed.placements[first].pool
        kept = []
        for i, op in enumerate(operators):
            rest = len(operators) - i - 1
            tail = f"-{pool}" + (f"-{rest}-more" if rest else "")
            if len(TEMPLATE_PREFIX + "-".join([*kept, op]) + tail) > _MAX_NAME and kept:
                kept.append(f"{len(operators) - i}-more")
                break
            kept.append(op)
        base = f"{TEMPLATE_PREFIX}{'-'.join(kept)}-{pool}"[:_MAX_NAME].rstrip("-")
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        out[first] = name
    return out


@dataclass(frozen=True, kw_only=True)
class FusedSteps:
    """The fused groups of one placed graph, as emission sees them.

    Attributes:
        groups: by the group's first task id, the group's task ids in order.
        names: by the group's first task id, the name of its step and template (:func:`step_names`).
        step_of: task id -> the name of the step that runs it (only tasks in a group).
    """

    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    step_of: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, placed, *, mode: str = "pods") -> "FusedSteps":
        """The groups of ``placed`` (none in services mode)."""
        if mode != "pods":
            return cls()
        groups = {g.tasks[0]: tuple(g.tasks) for g in getattr(placed, "fusion", ())}
        names = step_names(placed, groups)
        return cls(groups=groups, names=names,
                   step_of={tid: names[first] for first, ts in groups.items() for tid in ts})

    def skip(self, task_id: str) -> bool:
        """Whether the task is emitted as part of a group's step rather than on its own."""
        return task_id in self.step_of

    def value_of(self, task_id: str) -> str:
        """The Argo reference to a task's value."""
        step = self.step_of.get(task_id)
        if step is None:
            return "{{tasks.%s.outputs.parameters.value}}" % task_id
        return "{{tasks.%s.outputs.parameters.%s}}" % (step, steps.value_output(task_id))

    def record_of(self, task_id: str) -> str:
        """The Argo reference to a task's record."""
        step = self.step_of.get(task_id)
        if step is None:
            return "{{tasks.%s.outputs.parameters.record}}" % task_id
        return "{{tasks.%s.outputs.parameters.%s}}" % (step, steps.record_output(task_id))

    def step_names(self, task_ids) -> list[str]:
        """The DAG tasks that run ``task_ids``, in first-seen order, without repeats."""
        return list(dict.fromkeys(self.step_of.get(t, t) for t in task_ids))

    def depends(self, task) -> list[str] | None:
        """A task's dependencies as DAG task names (``None`` for none, as hera wants)."""
        return self.step_names(task.depends) or None

    def step(self, first: str, graph, placed, templates: dict, *, image: str, arguments: dict[str, str],
             inputs: list, fields: Callable[[Any, float], dict], crops_from: str | None = None,
             container_image: Callable[[str, Any], str] = lambda image, pool: image):
        """The hera Task of the group whose first task is ``first``; adds its template to ``templates``.

        ``image`` is what ``--image`` gets, ``arguments`` and ``inputs`` the image's task arguments
        and template inputs (:mod:`dicec.emit.inputs`), ``fields(pool, model_gb)`` the pod fields of a step on
        ``pool`` loading models of ``model_gb`` GB (resources, node selector, tolerations, security, retries),
        ``container_image(image, pool)`` the container image for that pool's architecture. With ``crops_from`` (an
        edge task) the group reads that task's crop bundle instead of the image (:mod:`dicec.emit.offload`).
        """
        from hera.workflows import Container, Parameter, RawArtifact, Task
        from hera.workflows.models import ValueFrom

        from dicec.emit import offload

        members = [graph.task(t) for t in self.groups[first]]
        inside = set(self.groups[first])
        needed = sorted({d for t in members for d in t.depends if d not in inside})
        pool = placed.pools[placed.placements[members[0].id].pool]
        name = self.names[first]
        template_name = name if name.startswith(TEMPLATE_PREFIX) else TEMPLATE_PREFIX + name
        while template_name in templates:  # an operator template of the same name (unlikely, but possible)
            template_name += "-group"
        command, args = steps.group_command(image=image)
        arguments = dict(arguments)
        if crops_from is not None:
            args = offload.crops_in_args(args)
            inputs = [*(i for i in inputs if isinstance(i, Parameter)), offload.crops_input()]
            arguments[offload.CROPS_ARTIFACT] = offload.crops_argument(crops_from)
        outputs = []
        for t in members:
            outputs.append(Parameter(name=steps.value_output(t.id),
                                     value_from=ValueFrom(path=steps.member_value_path(t.id), default=steps.VALUE_DEFAULT)))
            outputs.append(Parameter(name=steps.record_output(t.id),
                                     value_from=ValueFrom(path=steps.member_record_path(t.id), default=steps.RECORD_DEFAULT)))
        templates[template_name] = Container(
            name=template_name,
            image=container_image(placed.images[members[0].operator], pool),
            command=command,
            args=args,
            inputs=[*inputs, Parameter(name="group"),
                    RawArtifact(name=steps.GROUP_INPUTS_ARTIFACT, path=steps.GROUP_INPUTS_PATH, data="{}")],
            outputs=outputs,
            **fields(pool, sum({t.operator: placed.placements[t.id].gpu_memory_gb for t in members}.values())),
        )
        params = {**arguments, "group": steps.group_payload(members)}
        if needed:
            params[steps.GROUP_INPUTS_ARTIFACT] = RawArtifact(
                name=steps.GROUP_INPUTS_ARTIFACT,
                data="{" + ", ".join(f'"{d}": {self.value_of(d)}' for d in needed) + "}")
        return Task(name=name, template=templates[template_name], arguments=params,
                    dependencies=self.step_names(needed) or None)
