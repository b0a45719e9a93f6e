"""``dicec submit`` of a batch too large for one Workflow: several Workflows, each under the bound, created
through the real kubernetes client against the loopback stand-in, followed, and planned without a cluster."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dicec.cli import cli
from kube_standin import KubeStandIn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The damage-parts question compiled as a pods-mode batch, and a file of 10,000 S3 URIs."""
    tmp = tmp_path_factory.mktemp("split")
    wf = tmp / "batch.yaml"
    r = CliRunner().invoke(cli, ["compile", str(REPO / "examples" / "questions" / "damage-parts.txt"), "--batch",
                                 "-o", str(wf)])
    assert r.exit_code == 0, r.output
    images = [f"s3://claims-2025/uploads/2025/05/{i:06d}/car.jpg" for i in range(10000)]
    listed = tmp / "images.json"
    listed.write_text(json.dumps(images))
    return {"wf": wf, "images": images, "file": listed}


def invoke(*args: str):
    return CliRunner().invoke(cli, ["submit", *args])


def test_ten_thousand_images_are_planned_without_a_cluster(batch):
    r = invoke(str(batch["wf"]), "--images-file", str(batch["file"]), "--dry-run", "--format", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    parts = body["parts"]
    assert len(parts) == 21 and [p["part"] for p in parts] == list(range(1, 22))
    assert parts[0]["start"] == 0 and parts[-1]["stop"] == 10000
    assert all(a["stop"] == b["start"] for a, b in zip(parts, parts[1:]))
    assert all(p["workflow_bytes"] <= body["argo"]["bound"] == 1024 * 1024 for p in parts)
    text = invoke(str(batch["wf"]), "--images-file", str(batch["file"]), "--dry-run")
    assert text.exit_code == 0 and text.stdout.splitlines()[-1] == (
        "10000 images in 21 Workflow(s), each under 1048576 bytes at 8 detections per find")


def test_a_split_batch_is_created_as_labelled_parts(batch, tmp_path):
    images = batch["images"][:1000]
    listed = tmp_path / "list.txt"
    listed.write_text("\n".join(images) + "\n")  # one per line works too
    with KubeStandIn() as s:
        r = invoke(str(batch["wf"]), "--kubeconfig", s.kubeconfig(tmp_path / "kc"), "--images-file", str(listed),
                   "--format", "json")
        assert r.exit_code == 0, r.output
        posts = [q.body for q in s.requests if q.method == "POST"]
    body = json.loads(r.stdout)
    assert len(posts) == len(body["parts"]) == 3  # 1000 images: 3 parts of 333-334
    got = []
    for n, (post, part) in enumerate(zip(posts, body["parts"]), start=1):
        labels, annotations = post["metadata"]["labels"], post["metadata"]["annotations"]
        assert labels["dicec.dev/part"] == str(n) and labels["dicec.dev/parts"] == "3"
        assert len(labels["dicec.dev/batch"]) == 16
        assert annotations["dicec.dev/images"] == f"{part['start']}-{part['stop']}"
        (param,) = post["spec"]["arguments"]["parameters"]
        got += json.loads(param["value"])
        assert part["name"].startswith(post["metadata"]["generateName"])
    assert got == images and len({p["metadata"]["labels"]["dicec.dev/batch"] for p in posts}) == 1


def test_max_images_caps_a_part_and_a_small_batch_stays_one_workflow(batch, tmp_path):
    with KubeStandIn() as s:
        cfg = s.kubeconfig(tmp_path / "kc")
        r = invoke(str(batch["wf"]), "--kubeconfig", cfg, "-p", f"images={json.dumps(batch['images'][:100])}",
                   "--max-images", "30")
        assert r.exit_code == 0, r.output
        assert len(r.stdout.split()) == 4  # four names: 25 images each
        one = invoke(str(batch["wf"]), "--kubeconfig", cfg, "-p", f"images={json.dumps(batch['images'][:10])}")
        assert one.exit_code == 0 and len(one.stdout.split()) == 1
        last = [q.body for q in s.requests if q.method == "POST"][-1]
    assert "dicec.dev/part" not in last["metadata"]["labels"]  # one Workflow: no part labels
    assert json.loads(last["spec"]["arguments"]["parameters"][0]["value"]) == batch["images"][:10]


def test_watch_follows_every_part_and_reads_compressed_node_statuses(batch, tmp_path):
    class Parts(KubeStandIn):
        def _get(self, h, plural, ns, name, qualified):  # each part answers its own images; compressed statuses
            start, stop = map(int, self.objects[(plural, ns, name)]["metadata"]["annotations"]
                              ["dicec.dev/images"].split("-"))
            nodes = {name: {"name": name, "outputs": {"parameters": [
                {"name": "answers", "value": json.dumps(list(range(start, stop)))}]}}}
            packed = base64.b64encode(gzip.compress(json.dumps(nodes).encode())).decode()
            self.statuses = [{"phase": "Running"}, {"phase": "Succeeded", "compressedNodes": packed}]
            return super()._get(h, plural, ns, name, qualified)

    with Parts() as s:
        r = invoke(str(batch["wf"]), "--kubeconfig", s.kubeconfig(tmp_path / "kc"), "-p",
                   f"images={json.dumps(batch['images'][:9])}", "--max-images", "4", "--watch", "--interval", "0.01",
                   "--format", "json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["phase"] == "Succeeded" and [p["phase"] for p in body["parts"]] == ["Succeeded"] * 3
    answers = [a for p in body["parts"] for a in json.loads(p["outputs"]["answers"])]
    assert answers == list(range(9))


@pytest.mark.parametrize("args, needle", [
    (("--max-images", "3"), "--max-images goes with a batch Workflow and its images"),
    (("--images-file", "x.json", "-p", "images=[]"), "give the images with -p images=... or --images-file"),
])
def test_bad_combinations_are_one_line(batch, tmp_path, args, needle):
    r = invoke(str(batch["wf"]), "--dry-run", *args)
    assert r.exit_code == 1 and needle in r.stderr and "Traceback" not in r.output


def test_an_image_too_heavy_alone_is_one_line(batch, tmp_path):
    listed = tmp_path / "big.json"
    listed.write_text(json.dumps(["a.png", "s3://b/" + "x" * 100000]))
    r = invoke(str(batch["wf"]), "--images-file", str(listed), "--dry-run", "--max-workflow-bytes", "200000")
    assert r.exit_code == 1 and "image 1 alone makes a Workflow of" in r.stderr
