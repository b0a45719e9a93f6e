"""Emitting fused groups: several tasks as ONE container step (``dicec op --group``).

A placed graph's fused groups (:mod:`dicec.placement.fusion`) become one DAG task each, named after
the group's first task, running a template of its own (``fused-FIRST``) on the group's pool: the
vision image running ``dicec op --group`` (the contract is in :mod:`dicec.emit.steps`), with an input
``inputs`` holding the values of the tasks outside the group that it needs, and the output
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


@dataclass(frozen=True, kw_only=True)
class FusedSteps:
    """The fused groups of one placed graph, as emission sees them.

    Attributes:
        groups: by step name (the group's first task), the group's task ids in order.
        step_of: task id -> the step that runs it (only tasks in a group).
    """

    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    step_of: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, placed, *, mode: str = "pods") -> "FusedSteps":
        """The groups of ``placed`` (none in services mode)."""
        if mode != "pods":
            return cls()
        groups = {g.name: tuple(g.tasks) for g in getattr(placed, "fusion", ())}
        return cls(groups=groups, step_of={tid: name for name, ts in groups.items() for tid in ts})

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

    def step(self, name: str, graph, placed, templates: dict, *, image: str, arguments: dict[str, str],
             inputs: list, fields: Callable[[Any], dict], crops_from: str | None = None):
        """The hera Task of group ``name``; adds its template to ``templates``.

        ``image`` is what ``--image`` gets, ``arguments`` and ``inputs`` the image's task arguments
        and template inputs (:mod:`dicec.emit.inputs`), ``fields(pool)`` the pod fields of a step on
        ``pool`` (resources, node selector, tolerations, security, retries). With ``crops_from`` (an
        edge task) the group reads that task's crop bundle instead of the image (:mod:`dicec.emit.offload`).
        """
        from hera.workflows import Container, Parameter, Task
        from hera.workflows.models import ValueFrom

        from dicec.emit import offload

        members = [graph.task(t) for t in self.groups[name]]
        inside = set(self.groups[name])
        needed = sorted({d for t in members for d in t.depends if d not in inside})
        pool = placed.pools[placed.placements[members[0].id].pool]
        template_name = TEMPLATE_PREFIX + name
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
            image=placed.images[members[0].operator],
            command=command,
            args=args,
            inputs=[*inputs, Parameter(name="group"), Parameter(name="inputs", default="{}")],
            outputs=outputs,
            **fields(pool),
        )
        params = {**arguments, "group": steps.group_payload(members)}
        if needed:
            params["inputs"] = "{" + ", ".join(f'"{d}": {self.value_of(d)}' for d in needed) + "}"
        return Task(name=name, template=templates[template_name], arguments=params,
                    dependencies=self.step_names(needed) or None)
