"""The figures the README, docs/cost.md and the insurance report state are what the commands that produce
them print now: the tables are regenerated here and compared line for line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def table_rows(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


@pytest.fixture(scope="module")
def insurance():
    report = load(REPO / "examples" / "insurance" / "report.py", "insurance_report")
    return report, {mode: report.price_all(mode, objective=objective, fuse=fuse)
                    for mode, objective, fuse, _ in report.MODES}


def test_the_insurance_report_is_what_its_script_writes(insurance):
    report, priced = insurance
    assert (REPO / "examples" / "insurance" / "REPORT.md").read_text() == report.markdown(priced)


def test_the_readme_and_docs_quote_the_insurance_summary(insurance):
    report, priced = insurance
    rows = report.summary_table(priced)
    for doc in ("README.md", "docs/cost.md"):
        assert table_rows((REPO / doc).read_text(), "| mode | queries/hour | chosen plan |") == rows, doc


def test_the_readme_and_docs_quote_the_corpus_benchmark():
    bench = load(REPO / "benchmarks" / "simulate.py", "simulate_benchmark")
    from dicec.placement import load_pools
    from dicec.timing.model import TimingModel
    from dicec.tools import discover

    registry, catalogue = discover(), load_pools()
    figs = []
    services = bench.compile_corpus(registry, catalogue, True, mode="services")
    for title, patch, requeue, cap, mode in bench.SUMMARY:
        if mode == "services":
            model = TimingModel(agent_patch_rate_s=patch, controller_requeue_s=requeue, max_batch=cap)
            figs.append(bench.figures(services, registry, catalogue, model, "services", True, title))
    pods = bench.compile_corpus(registry, catalogue, True, mode="pods")
    figs.append(bench.figures(pods, registry, catalogue, TimingModel(), "pods", True, "pods"))
    rows = bench.summary(figs).splitlines()
    for doc in ("README.md", "docs/cost.md"):
        assert table_rows((REPO / doc).read_text(), "| nodes | services, Argo's defaults") == rows, doc
    # the done-criterion of issue 11, as the docs state it: at Argo's defaults, 8 nodes, 1000 queries (9.03 since
    # find and exists name one GLIP-L file: one node fits every model of the corpus)
    default = figs[0]["batch_1000"][8]
    assert default["speedup"] == pytest.approx(9.03, abs=0.005) and default["bound_s"] == pytest.approx(45.0)
    assert figs[1]["batch_1000"][8]["speedup"] == pytest.approx(6.62, abs=0.005)


def test_the_readme_and_docs_quote_the_corpus_as_batch_workflows():
    bench = load(REPO / "benchmarks" / "simulate.py", "simulate_benchmark")
    from dicec.placement import load_pools
    from dicec.timing.model import TimingModel
    from dicec.tools import discover

    registry, catalogue = discover(), load_pools()
    pods = bench.compile_corpus(registry, catalogue, False, mode="pods")
    batched = bench.batch_figures(pods, registry, catalogue, TimingModel())
    alone = bench.batch_figures(pods, registry, catalogue, TimingModel(stage_batch_calls=1))
    cost = bench.batch_cost_table(bench.batch_cost(pods, registry, catalogue)).splitlines()
    header = "| queries asked (images x 118 questions) |"
    readme, docs = (REPO / "README.md").read_text(), (REPO / "docs" / "cost.md").read_text()
    assert table_rows(readme, header) == bench.batch_table(batched).splitlines()
    assert table_rows(docs, header) == bench.batch_table(batched).splitlines()
    second = docs.index(header, docs.index(header) + 1)
    assert table_rows(docs[second:], header) == bench.batch_table(alone).splitlines()
    for doc in (readme, docs):
        assert table_rows(doc, "| queries/hour | images a run | batch workflow |") == cost
    # issue 12's done-criterion: 1000 GQA-style queries on 8 nodes within 1.5x the bound; and every run within 1.2x,
    # as the docs say
    for fig in (batched, alone):
        run = next(r for r in fig["rows"] if r["nodes"] == 8 and r["asked"] == 1000)
        assert run["queries"] == 1062 and run["makespan_s"] <= 1.5 * run["bound_s"]
        assert all(r["makespan_over_bound"] <= 1.2 for r in fig["rows"])
