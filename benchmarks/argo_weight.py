"""Workflows' weight in Argo: the estimate against ``dicec run``'s measure, and how 10,000 images are split.

    python benchmarks/argo_weight.py [--format text|json]

Prints, for every example question compiled in pods mode and run on a generated scene (``--models seeded``):
the nodes Argo would keep, the node statuses' JSON bytes as ``dicec run`` builds them, the estimate at what
the run showed (its detections per find, image size, URI), the estimate's error, and the same at the compile
default (8 detections per find, 1920x1080, 64-character URIs); then damage-parts without fusion and in
services mode, a batch of three drawn scenes with 48, 70 and 96 circles (built-in models, pods and services
batches), one crowded image of 1120 circles, and the split of 10,000 images (47-character S3 URIs) for the
damage-parts batch in both modes. Every figure in docs/production.md's "Workflows that fit Argo" section
comes from here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def _compile(question: Path, out: Path, *extra: str) -> Path:
    from click.testing import CliRunner

    from dicec.cli import cli

    r = CliRunner().invoke(cli, ["compile", str(question), "-o", str(out), *extra])
    if r.exit_code != 0:
        raise SystemExit(r.output)
    return out


def _row(label: str, path: Path, parameters: dict[str, str], models: str) -> dict:
    from dicec.runner.documents import load_workflow
    from dicec.runner.weight import at_run, estimate
    from dicec.runner.workflow import RunOptions, run_workflow

    run = run_workflow(str(path), RunOptions(parameters=parameters, env={"DICEC_MODELS": models})).argo
    doc = load_workflow(str(path))
    weight = estimate(doc, assumptions=at_run(run))
    default = estimate(doc)
    est = weight.status_bytes(run.images, run.uri_chars)
    return {"workflow": label, "images": run.images, "nodes": run.nodes, "status_bytes": run.status_bytes,
            "status_bytes_gzip": run.status_bytes_gzip, "detections": round(run.detections or 0, 2),
            "estimate": est, "error_pct": round(100 * (est - run.status_bytes) / run.status_bytes, 1),
            "per_image_at_defaults": default.status_bytes(1) - round(default.status_fixed) if default.batch
            else default.status_bytes(1), "max_images_at_defaults": default.max_images,
            "max_images_compressed_at_defaults": default.max_images_compressed}


def measure() -> tuple[list[dict], list[dict]]:
    """Every run's row and the two 10,000-image splits (tests/test_docs_figures.py holds docs/production.md to
    them)."""
    from runner.test_weight import crowded_scene, ten_thousand
    from runtime.helpers import write_image

    from dicec.runner.documents import load_workflow
    from dicec.runner.weight import estimate, plan_parts

    rows, splits = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        scene = write_image(tmp_path / "scene.png", seed=11)
        for q in sorted((REPO / "examples" / "questions").glob("*.txt")):
            rows.append(_row(q.stem, _compile(q, tmp_path / f"{q.stem}.yaml"), {"image": str(scene)}, "seeded"))
        parts = REPO / "examples" / "questions" / "damage-parts.txt"
        rows.append(_row("damage-parts --no-fuse", _compile(parts, tmp_path / "nf.yaml", "--no-fuse"),
                         {"image": str(scene)}, "seeded"))
        rows.append(_row("damage-parts --mode services", _compile(parts, tmp_path / "svc.yaml", "--mode", "services"),
                         {"image": str(scene)}, "seeded"))
        circles = tmp_path / "circles.txt"
        circles.write_text("How many circles are red?\n")
        crowd = [str(crowded_scene(tmp_path / f"c{n}.png", n, r)) for n, r in ((8, 6), (10, 7), (12, 8))]
        for mode in ("pods", "services"):
            wf = _compile(circles, tmp_path / f"circles-{mode}.yaml", "--batch", "--mode", mode)
            rows.append(_row(f"3 drawn scenes, 48-96 circles, {mode} batch", wf, {"images": json.dumps(crowd)},
                             "builtin"))
        big = str(crowded_scene(tmp_path / "crowd.png", 40, 28))
        rows.append(_row("1120 circles, one query", _compile(circles, tmp_path / "crowd.yaml"), {"image": big},
                         "builtin"))
        images = ten_thousand()
        for mode in ("pods", "services"):
            doc = load_workflow(str(_compile(parts, tmp_path / f"b-{mode}.yaml", "--batch", "--mode", mode)))
            weight = estimate(doc)
            ranges = plan_parts(weight, images)
            sizes = [b - a for a, b in ranges]
            splits.append({"workflow": f"damage-parts --batch --mode {mode}", "images": len(images),
                           "summary_at_defaults": weight.summary(),
                           "workflows": len(ranges), "images_per_workflow": [min(sizes), max(sizes)],
                           "largest_workflow_bytes": max(weight.workflow_bytes(b - a, len(images[0]))
                                                         for a, b in ranges),
                           "bound": weight.bound, "max_images": weight.max_images,
                           "max_images_compressed": weight.max_images_compressed})
    return rows, splits


def mean_and_worst(rows: list[dict]) -> tuple[float, dict]:
    """The mean |error| in percent over the runs and the run with the largest."""
    return sum(abs(r["error_pct"]) for r in rows) / len(rows), max(rows, key=lambda r: abs(r["error_pct"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args()
    rows, splits = measure()
    if args.format == "json":
        print(json.dumps({"runs": rows, "splits": splits}, indent=2))
        return
    print("| workflow | images | nodes | status bytes (gzip) | detections/find | estimate | error | "
          "per image at defaults | max images at defaults (gzip) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workflow']} | {r['images']} | {r['nodes']} | {r['status_bytes']:,} ({r['status_bytes_gzip']:,}) | "
              f"{r['detections']:g} | {r['estimate']:,} | {r['error_pct']:+.1f}% | {r['per_image_at_defaults']:,} | "
              f"{r['max_images_at_defaults']} ({r['max_images_compressed_at_defaults']}) |")
    mean, worst = mean_and_worst(rows)
    print(f"\nlargest error: {worst['error_pct']:+.1f}% ({worst['workflow']}); "
          f"mean |error| {mean:.1f}% over {len(rows)} runs")
    for s in splits:
        print(f"{s['workflow']}: {s['images']:,} images -> {s['workflows']:,} Workflows of "
              f"{s['images_per_workflow'][0]}-{s['images_per_workflow'][1]} images, the largest "
              f"{s['largest_workflow_bytes']:,} of {s['bound']:,} bytes (gzip-compressed statuses would "
              f"allow {s['max_images_compressed']} images per Workflow)")
        print(f"  at the defaults: {s['summary_at_defaults']}")


if __name__ == "__main__":
    main()
