"""How the offline code generator does on real GQA questions, against the programs LLMs wrote for them.

    python benchmarks/codegen_quality.py [--dev DIR] [--format text|json] [--questions]

For each GQA question in ../shared/dev (beside the repository; --dev to name another folder): the
object agreement of the offline program with each LLM-written program that answered correctly (mean
Jaccard of their find/exists targets, lower case, last word singular), the agreement of those LLM
programs with each other (the ceiling), whether the generator fell back to a whole-image
simple_query, and the operators it called. Figures per question family (read from the question's
words: see dicec.codegen.quality.FAMILY_PATTERNS), for the tuning part, the held-out part (about a
quarter, chosen by a hash of the question id, never used to write rules) and all. --questions lists
the tuning part question by question (never the held-out part). The measure is
dicec.codegen.quality; tests/codegen/test_quality.py asserts floors on the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEV = ROOT.parent / "shared" / "dev"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help=f"the development set folder (default {DEFAULT_DEV})")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--questions", action="store_true", help="also list the tuning part question by question")
    args = parser.parse_args(argv)
    if not (args.dev / "gqa_questions.jsonl").is_file() or not (args.dev / "viper_programs.jsonl").is_file():
        print(f"codegen_quality: {args.dev} has no gqa_questions.jsonl and viper_programs.jsonl "
              "(the shared development set is not beside this repository; name it with --dev)", file=sys.stderr)
        return 1

    from dicec.codegen import generate_offline
    from dicec.codegen.quality import PARTS, by_family, load_cases, measure, summarise
    from dicec.tools import discover

    registry = discover()
    scored = measure(load_cases(args.dev), lambda q: generate_offline(q, registry), [s.name for s in registry])
    parts = {"all": None, **{p: p for p in PARTS}}
    overall = {name: summarise(r for r in scored if part is None or r.case.part == part) for name, part in parts.items()}
    families = {name: by_family(scored, part) for name, part in parts.items()}
    if args.format == "json":
        body = {"dev": str(args.dev), "registry": sorted(s.name for s in registry),
                "overall": {name: s.to_json() for name, s in overall.items()},
                "families": {name: {f: s.to_json() for f, s in fams.items()} for name, fams in families.items()}}
        if args.questions:
            body["questions"] = [_question_json(r) for r in scored if r.case.part == PARTS[0]]
        print(json.dumps(body, indent=2, sort_keys=True))
        return 0
    print(f"offline codegen on {overall['all'].questions} GQA questions ({args.dev}); agreement = mean Jaccard of "
          "find/exists targets with each correct LLM program")
    header = (f"{'family':<10} {'n':>4} {'tune':>4} {'held':>4} {'agree':>6} {'tune':>6} {'held':>6} {'ceiling':>7} "
              f"{'fallback':>8}  operators (calls)")
    print(header)
    print("-" * len(header))
    for family, summary in [*families["all"].items(), ("all", overall["all"])]:
        tune = families[PARTS[0]].get(family) if family != "all" else overall[PARTS[0]]
        held = families[PARTS[1]].get(family) if family != "all" else overall[PARTS[1]]
        ops = " ".join(f"{name}:{n}" for name, n in summary.operators)
        print(f"{family:<10} {summary.questions:>4} {_n(tune):>4} {_n(held):>4} {_f(summary.agreement):>6} "
              f"{_f(tune and tune.agreement):>6} {_f(held and held.agreement):>6} {_f(summary.ceiling):>7} "
              f"{summary.fallback_rate:>8.1%}  {ops}")
    for name, s in overall.items():
        print(f"{name}: {s.questions} questions, {s.scored} scored; agreement {_f(s.agreement)} "
              f"(LLM programs with each other {_f(s.ceiling)}); fallback {s.fallback_rate:.1%}")
    if args.questions:
        print(f"\nthe {PARTS[0]} part, question by question (agreement, targets, family):")
        for r in scored:
            if r.case.part == PARTS[0]:
                refs = "; ".join(",".join(sorted(t)) or "-" for t in r.case.references)
                print(f"{_f(r.agreement):>5} {r.case.family:<9} {r.case.question}  ->  "
                      f"{','.join(sorted(r.targets)) or '-'}{'  (fallback)' if r.fallback else ''}  | LLM: {refs}")
    return 0


def _n(summary) -> str:
    return "-" if summary is None else str(summary.questions)


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _question_json(r) -> dict:
    return {"question_id": r.case.question_id, "question": r.case.question, "family": r.case.family,
            "agreement": r.agreement, "targets": sorted(r.targets), "fallback": r.fallback,
            "references": [sorted(t) for t in r.case.references]}


if __name__ == "__main__":
    sys.exit(main())
