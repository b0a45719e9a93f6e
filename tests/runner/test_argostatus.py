"""Argo's node statuses as dicec builds them (dicec/runner/argostatus.py), held against Argo v4.1.2's rules."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from click.testing import CliRunner

from dicec.runner.argostatus import (NodeTree, compressed_size, fnv32a, go_json, item_description, item_node_name,
                                     node_id, pod_name, workflow_name)

WF = "wf-abcde"
POD = {"name": "op", "container": {"image": "x", "resources": {"requests": {"cpu": "2", "memory": "8Gi",
                                                                              "nvidia.com/gpu": "1"}}},
       "retryStrategy": {"limit": 2},
       "inputs": {"parameters": [{"name": "call"}, {"name": "patch", "default": '"image"'}]},
       "outputs": {"parameters": [{"name": "value", "valueFrom": {"path": "/tmp/dicec/value.json", "default": "[]"}}]}}


def test_ids_are_fnv1a_of_the_node_name_as_go_computes_them():
    assert fnv32a("") == 0x811C9DC5 and fnv32a("a") == 0xE40C292C and fnv32a("foobar") == 0xBF9CF968
    assert node_id(WF, WF) == WF  # the root node's ID is the workflow's name
    assert node_id(WF, f"{WF}.find") == f"{WF}-{fnv32a(WF + '.find')}"
    assert pod_name(WF, f"{WF}.find(0)", "find-a4000") == f"{WF}-find-a4000-{fnv32a(WF + '.find(0)')}"
    assert workflow_name({"generateName": "dicec-q-"}) == "dicec-q-x7k2q" and workflow_name({"name": "n"}) == "n"


@pytest.mark.parametrize("item, text", [
    ({"upper": 4, "left": 1, "lower": 2, "right": 3}, "left:1,lower:2,right:3,upper:4"),  # keys sorted
    ({"box": {"b": 1, "a": 2}, "name": "x(y)"}, 'box:{"b":1,"a":2},name:xy'),  # nested as JSON, parentheses gone
    ("scene-000.png", "scene-000.png"), ("a<b>&c", "a<b>&c"), (7, "7"), (True, "true"),
    (["a", {"k": 1}], '[a {"k":1}]'),
])
def test_an_items_node_name_is_generateNodeName_s(item, text):
    assert item_description(item) == text
    assert item_node_name(f"{WF}.t", 3, item) == f"{WF}.t(3:{text})"


def test_go_json_escapes_as_encoding_json_does():
    assert go_json({"a": "<x> & é\u2028"}) == '{"a":"\\u003cx\\u003e \\u0026 é\\u2028"}'


def test_compressed_size_is_base64_of_gzip():
    text = go_json({"k": "v" * 1000})
    assert compressed_size(text) == len(base64.b64encode(gzip.compress(text.encode(), compresslevel=6)))
    assert compressed_size(text) < len(text) / 10


def _tree() -> NodeTree:
    """root: a (a retried pod) -> b (a fan-out over two boxes) -> c; d skipped by its when."""
    tree = NodeTree(WF)
    tree.dag(WF, {"name": "main", "outputs": {"parameters": [{"name": "answer"}]}}, boundary=None)
    tree.step(f"{WF}.a", POD, boundary=WF, parameters={"call": "AAA"}, outputs={"value": "[1,2]"})
    tree.group(f"{WF}.b", "op", boundary=WF, parents=(f"{WF}.a",))
    for i, box in enumerate([{"left": 1}, {"left": 2}]):
        tree.step(item_node_name(f"{WF}.b", i, box), POD, boundary=WF, member_of=f"{WF}.b",
                  parameters={"call": "B", "patch": json.dumps(box)}, outputs={"value": "true"})
    tree.step(f"{WF}.c", {**POD, "retryStrategy": None}, boundary=WF, parents=(f"{WF}.b",), parameters={"call": "C"})
    tree.skipped(f"{WF}.d", "op", boundary=WF, parents=(f"{WF}.a",), message="when 'false' evaluated false")
    tree.dag_done(WF, {"name": "main", "outputs": {"parameters": [{"name": "answer"}]}}, outputs={"answer": "42"},
                  leaves=[f"{WF}.c", f"{WF}.d"])
    return tree


def test_nodes_are_built_as_the_controller_builds_them():
    nodes = _tree().nodes()
    by_name = {n["name"]: n for n in nodes.values()}
    assert list(nodes) == sorted(nodes) and all(k == n["id"] for k, n in nodes.items())
    root, a, a0 = by_name[WF], by_name[f"{WF}.a"], by_name[f"{WF}.a(0)"]
    # a retried template: a Retry node holding the inputs and a copy of the outputs, above its attempt (the pod)
    assert (a["type"], a0["type"], a["children"]) == ("Retry", "Pod", [a0["id"]])
    assert a["inputs"] == a0["inputs"] == {"parameters": [{"name": "call", "value": "AAA"},
                                                          {"name": "patch", "default": '"image"', "value": '"image"'}]}
    assert a0["outputs"] == a["outputs"] == {"parameters": [{"name": "value", "value": "[1,2]", "valueFrom": {
        "path": "/tmp/dicec/value.json", "default": "[]"}}], "exitCode": "0"}
    assert a0["nodeFlag"] == {"retried": True} and "nodeFlag" not in a and a0["taskResultSynced"] is True
    assert a0["resourcesDuration"] == {"cpu": 66, "memory": 2517, "nvidia.com/gpu": 30}  # 30 s, + init and wait
    assert (a0["displayName"], a0["boundaryID"], a0["templateScope"]) == ("a(0)", WF, f"local/{WF}")
    # the fan-out: a TaskGroup under a's attempt, its items under it; c under each item's attempt
    group, d = by_name[f"{WF}.b"], by_name[f"{WF}.d"]
    assert group["type"] == "TaskGroup" and group["nodeFlag"] == {} and "inputs" not in group
    items = [by_name[f"{WF}.b(0:left:1)"], by_name[f"{WF}.b(1:left:2)"]]
    assert group["children"] == [n["id"] for n in items]
    assert a0["children"] == [group["id"], d["id"]] and root["children"] == [a["id"]]
    c = by_name[f"{WF}.c"]
    assert c["type"] == "Pod" and all(by_name[n["name"] + "(0)"]["children"] == [c["id"]] for n in items)
    assert (d["type"], d["phase"], d["message"]) == ("Skipped", "Skipped", "when 'false' evaluated false")
    # the DAG: outputs without valueFrom, outbound nodes of its leaves, progress summed over the pods below
    assert root["outputs"] == {"parameters": [{"name": "answer", "value": "42"}]}
    assert root["outboundNodes"] == [c["id"], d["id"]] and root["progress"] == "4/4" and a0["progress"] == "1/1"
    assert "boundaryID" not in root and root["displayName"] == WF
    assert list(a0) == ["id", "name", "displayName", "type", "templateName", "templateScope", "phase", "boundaryID",
                        "startedAt", "finishedAt", "progress", "resourcesDuration", "nodeFlag", "inputs", "outputs",
                        "children", "hostNodeName", "taskResultSynced"]  # NodeStatus's field order


def test_status_json_is_the_node_map_as_go_writes_it():
    tree = _tree()
    assert json.loads(tree.status_json()) == tree.nodes()
    assert tree.status_json() == go_json(tree.nodes())


def test_a_run_records_every_node_with_consistent_ids(tmp_path):
    """dicec run of a compiled fan-out: every child, boundary and outbound ID names a node; inputs hold values."""
    from dicec.placement import load_pools
    from dicec.pipeline import compile_text
    from dicec.runner.workflow import RunOptions, run_workflow
    from dicec.runtime.backend import registry_for
    from runtime.helpers import write_image
    from support import CAR_CHECK_PROGRAM

    wf = tmp_path / "wf.yaml"
    wf.write_text(compile_text(CAR_CHECK_PROGRAM, "program", path="p.py", registry=registry_for(),
                               catalogue=load_pools(), placement={"fuse": False}).yaml)
    image = write_image(tmp_path / "a.png", seed=3)
    result = run_workflow(str(wf), RunOptions(parameters={"image": str(image)}, env={"DICEC_MODELS": "seeded"}))
    nodes = result.nodes.nodes()
    for n in nodes.values():
        assert all(ref in nodes for ref in [*n.get("children", ()), *n.get("outboundNodes", ())])
        assert n.get("boundaryID", next(iter(nodes))) in nodes
    kinds = sorted(n["type"] for n in nodes.values())
    assert kinds.count("DAG") == 1 and kinds.count("Retry") == kinds.count("Pod")
    answer = next(n for n in nodes.values() if n["name"].endswith(".answer(0)"))
    (records,) = answer["inputs"]["artifacts"]
    assert records["name"] == "records" and "{{" not in records["raw"]["data"]  # the substituted raw data
    assert result.argo.nodes == len(nodes) and result.argo.status_bytes == len(result.nodes.status_json().encode())


def test_run_json_reports_argo_figures(tmp_path):
    from dicec.cli import cli
    from runtime.helpers import write_image

    question = tmp_path / "q.txt"
    question.write_text("How many dogs are there?\n")
    wf = tmp_path / "wf.yaml"
    assert CliRunner().invoke(cli, ["compile", str(question), "-o", str(wf)]).exit_code == 0
    image = write_image(tmp_path / "a.png", seed=5)
    r = CliRunner().invoke(cli, ["run", str(wf), "-p", f"image={image}", "--models", "seeded", "--format", "json"])
    assert r.exit_code == 0, r.output
    argo = json.loads(r.stdout)["argo"]
    assert argo["nodes"] == 5 and argo["max_images_per_workflow"] == 1  # root, 2 x (Retry + Pod)
    assert argo["status_bytes_gzip"] < argo["status_bytes"] < argo["workflow_bytes"] < argo["bound"] == 1024 * 1024
    assert abs(argo["estimate"]["status_bytes"] - argo["status_bytes"]) < 0.05 * argo["status_bytes"]
