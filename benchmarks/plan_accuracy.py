"""How right the plans are: of the calls ViperGPT programs make on drawn scenes, the share the plan predicted,
the share the answer step computed, and the precomputed records nobody used.

    python benchmarks/plan_accuracy.py [--dev DIR] [--scenes 12] [--models seeded,builtin] [--format text|json]

Every program of ../shared/dev/viper_programs.jsonl (beside the repository; --dev to name another folder)
that plans (``dicec plan`` accepts it; the rest are refused with a reason and not counted) is compiled, 100
programs to a workflow, as a pods-mode ``--batch`` over --scenes drawn scenes (seeds 0, 1, ...: shapes on a
plain background, :mod:`dicec.runtime.scene.generate`), and run by ``dicec run``'s own code with each model
set: ``seeded`` (answers drawn from a hash of the call, the same on every run) and ``builtin`` (the scene
models, which see the shapes). The stage pods compute every task of every program for every scene; each
answer pod replays each program over its records and reports what it used and computed, against the plan
(:mod:`dicec.runtime.replaycounts`, what ``dicec run --format json`` reports as ``answer_step``). Summed
over every replay that answered (a program that raises on a scene has no counts), per model set and per
class of plan (fully predicted: no residual call; with residual calls):

* ``calls``: the operator calls the programs made; ``predicted``: the share a record answered;
  ``computed``: the share the answer step computed serially (``mispredicted``: how many of those calls the
  plan had predicted a task for; 0 when the plan is right);
* ``records``: the records the tasks wrote (one per call; a fan-out one per element); ``wasted``: the share
  no call used (``mispredicted``: those of tasks the plan did not mark speculative; 0 when it is right).

The figures are deterministic (same programs, scenes and models, same counts); tests/test_docs_figures.py
reruns :func:`measure` with the README's arguments and compares the table line for line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEV = ROOT.parent / "shared" / "dev"
#: Programs compiled into one batch workflow (its stage pods run them all, over every scene).
PER_WORKFLOW = 100
#: Scenes drawn by default (the README's figures).
SCENES = 12
MODELS = ("seeded", "builtin")
#: Plan classes, by whether the plan leaves any call to the answer step.
CLASSES = ("all", "fully predicted", "with residual calls")


@dataclass(frozen=True, kw_only=True)
class Program:
    """One planned program of the development set.

    Attributes:
        name: ``viper-N`` (N: its line in viper_programs.jsonl, from 1).
        planned: what ``dicec plan`` made of it (:class:`dicec.pipeline.PlannedInput`).
        residual: whether its plan leaves any call to the answer step.
    """

    name: str
    planned: object
    residual: bool


def load_programs(dev: Path, registry, catalogue) -> tuple[list[Program], int]:
    """The planned programs of ``dev``'s viper_programs.jsonl, and how many were refused."""
    from dicec.errors import DicecError
    from dicec.pipeline import plan_text

    programs, refused = [], 0
    for i, line in enumerate((dev / "viper_programs.jsonl").read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            planned = plan_text(json.loads(line)["code"], "program", path=f"viper-{i}.py", registry=registry,
                                catalogue=catalogue)
        except DicecError:
            refused += 1
            continue
        programs.append(Program(name=f"viper-{i}", planned=planned, residual=bool(planned.graph.residual)))
    return programs, refused


def draw_scenes(folder: Path, count: int) -> list[Path]:
    """``count`` scene PNGs (seeds 0 .. count-1) written into ``folder``."""
    from dicec.files import write_atomic
    from dicec.runtime.images import encode_png
    from dicec.runtime.scene.generate import make_scene, render

    paths = []
    for seed in range(count):
        path = folder / f"scene-{seed:03d}.png"
        write_atomic(path, encode_png(render(make_scene(seed))))
        paths.append(path)
    return paths


def replay_counts(programs: list[Program], scenes: list[Path], models: str, registry, folder: Path) -> tuple[dict, int]:
    """Each program's replay counts over the scenes (name -> list of
    :class:`~dicec.runtime.replaycounts.ReplayCounts`), and the replays that raised instead of answering."""
    from dicec.emit import EmitOptions
    from dicec.pipeline import emit_planned
    from dicec.runner.batch import stage_answers
    from dicec.runner.workflow import RunOptions, run_workflow

    counts: dict[str, list] = {p.name: [] for p in programs}
    raised = 0
    params = {"images": json.dumps([str(s) for s in scenes])}
    for start in range(0, len(programs), PER_WORKFLOW):
        chunk = programs[start:start + PER_WORKFLOW]
        compiled = emit_planned([p.planned for p in chunk], registry=registry, options=EmitOptions(batch=True, shards=2))
        workflow = folder / "batch.yaml"
        workflow.write_text(compiled.yaml)
        result = run_workflow(str(workflow), RunOptions(parameters=params, parallelism=2, isolation="thread",
                                                        env={"DICEC_MODELS": models}))
        outcomes = stage_answers(result.outputs["answers"], params, len(chunk), str(workflow))[1]
        answered = sum(1 for row in outcomes for o in row if "answer" in o)
        raised += sum(1 for row in outcomes for o in row if "error" in o)
        if len(result.answer_counts) != answered:
            raise RuntimeError(f"{len(result.answer_counts)} replays reported counts for {answered} answers")
        for reported in result.answer_counts:
            counts[chunk[reported.where["question"] - 1].name].append(reported.counts)
    return counts, raised


def figures(programs: list[Program], counts: dict) -> dict:
    """Per plan class (:data:`CLASSES`): the summed counts' figures."""
    from dicec.runtime.replaycounts import total

    out = {}
    for cls in CLASSES:
        chosen = [p for p in programs if cls == "all" or p.residual == (cls == "with residual calls")]
        summed = total(c for p in chosen for c in counts[p.name])
        unused_by_operator: dict[str, int] = {}
        for p in chosen:
            operator_of = {t.id: t.operator for t in p.planned.graph.tasks}
            for c in counts[p.name]:
                for task, n in c.unused.items():
                    op = operator_of.get(task, "?")
                    unused_by_operator[op] = unused_by_operator.get(op, 0) + n
        calls, records = summed.calls, summed.records
        out[cls] = {
            "programs": len(chosen), "replays": summed.queries, "calls": calls,
            "calls_predicted": calls - summed.computed_calls, "calls_computed": summed.computed_calls,
            "calls_mispredicted": summed.calls_mispredicted, "records": records,
            "records_used": summed.records_used, "records_unused": summed.records_unused,
            "records_mispredicted": summed.records_mispredicted,
            "calls_computed_by_operator": dict(sorted(summed.calls_computed.items())),
            "records_unused_by_operator": dict(sorted(unused_by_operator.items())),
            "predicted_share": _share(calls - summed.computed_calls, calls),
            "computed_share": _share(summed.computed_calls, calls),
            "wasted_share": _share(summed.records_unused, records),
        }
    return out


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def measure(dev: Path, scenes: int, models: tuple[str, ...] = MODELS) -> dict:
    """The benchmark's figures as JSON (what ``--format json`` prints)."""
    from dicec.placement import load_pools
    from dicec.runtime.backend import registry_for

    registry, catalogue = registry_for(), load_pools()
    programs, refused = load_programs(dev, registry, catalogue)
    body = {"dev": str(dev), "programs_planned": len(programs), "programs_refused": refused, "scenes": scenes,
            "models": {}}
    with tempfile.TemporaryDirectory(prefix="dicec-plan-accuracy-") as tmp:
        folder = Path(tmp)
        drawn = draw_scenes(folder, scenes)
        for models_name in models:
            counts, raised = replay_counts(programs, drawn, models_name, registry, folder)
            body["models"][models_name] = {"replays_raised": raised, "classes": figures(programs, counts)}
    return body


def table(body: dict) -> str:
    """The figures as the README's Markdown table."""
    lines = ["| models | plans | programs | replays | calls | predicted | computed in the answer step "
             "| records | wasted (unused) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for models_name, figs in body["models"].items():
        for cls, f in figs["classes"].items():
            lines.append(f"| {models_name} | {cls} | {f['programs']} | {f['replays']} | {f['calls']:,} "
                         f"| {_percent(f['predicted_share'])} "
                         f"| {_percent(f['computed_share'])} ({f['calls_computed']:,}; "
                         f"{f['calls_mispredicted']} mispredicted) "
                         f"| {f['records']:,} | {_percent(f['wasted_share'])} ({f['records_unused']:,}; "
                         f"{f['records_mispredicted']} mispredicted) |")
    return "\n".join(lines)


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help=f"the development set folder (default {DEFAULT_DEV})")
    parser.add_argument("--scenes", type=int, default=SCENES, help=f"scenes to draw (default {SCENES})")
    parser.add_argument("--models", default=",".join(MODELS), help="model sets, comma-separated (default seeded,builtin)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if args.scenes < 1:
        parser.error("--scenes must be at least 1")
    if not models or any(m not in MODELS for m in models):
        parser.error(f"--models: choose from {', '.join(MODELS)}")
    if not (args.dev / "viper_programs.jsonl").is_file():
        print(f"plan_accuracy: {args.dev} has no viper_programs.jsonl (the shared development set is not beside "
              "this repository; name it with --dev)", file=sys.stderr)
        return 1
    body = measure(args.dev, args.scenes, models)
    if args.format == "json":
        print(json.dumps(body, indent=2, sort_keys=True))
        return 0
    raised = ", ".join(f"{m} {f['replays_raised']}" for m, f in body["models"].items())
    print(f"{body['programs_planned']} ViperGPT programs planned ({body['programs_refused']} refused) x "
          f"{body['scenes']} drawn scenes; replays that raised (no counts): {raised}")
    print(table(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
