"""Counts over the shared development material: ViperGPT programs planned or refused, and GQA questions
the offline generator could not decompose.

Usage: python benchmarks/dev_corpus.py [DIR]   (DIR: the folder holding viper_programs.jsonl and
gqa_questions.jsonl; default ../shared/dev beside the repository)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "dev"


def main(argv: list[str]) -> int:
    from dicec.analysis import analyse
    from dicec.errors import DicecError
    from dicec.pipeline import generate
    from dicec.tools import discover

    folder = Path(argv[0]) if argv else DEFAULT
    if not (folder / "viper_programs.jsonl").is_file():
        print(f"{folder}: no viper_programs.jsonl here (the shared material is not beside this clone)", file=sys.stderr)
        return 1
    registry = discover()
    widths, paths, refused = [], [], 0
    for i, line in enumerate((folder / "viper_programs.jsonl").read_text().splitlines()):
        try:
            graph = analyse(json.loads(line)["code"], registry, path=f"viper:{i + 1}")
        except DicecError:
            refused += 1
            continue
        widths.append(graph.stats["max_width"])
        paths.append(graph.stats["critical_path"])
    print(f"ViperGPT programs: {len(widths) + refused}; planned {len(widths)}; refused {refused}; "
          f"mean max_width {statistics.mean(widths):.2f}; mean critical path {statistics.mean(paths):.2f}")
    questions = [json.loads(line)["question"] for line in (folder / "gqa_questions.jsonl").read_text().splitlines()]
    fallback = sum(bool(generate(q, registry).warnings) for q in questions)
    print(f"GQA questions: {len(questions)}; offline codegen fell back to a whole-image simple_query on "
          f"{fallback} ({fallback / len(questions):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
