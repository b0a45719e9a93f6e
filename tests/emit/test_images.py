"""Issue 14, items 4 and 5: ``compile --image`` / ``--operator-image`` / ``--arch-image`` reach every template
(pods, fused groups, model servers, batch stage pods, the answer step and the answer server), references are
validated, and an edge pool's steps name an image for its architecture and select it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dicec.cli import cli
from dicec.emit.images import answer_image, for_arch, image_reference

REPO = Path(__file__).resolve().parents[2]
DAMAGE = REPO / "examples" / "questions" / "damage-parts.txt"
MARINE = REPO / "examples" / "marine"
MINE = "registry.example.com/team/vision:1.2"


def containers(stream: str) -> dict[str, tuple[str, dict]]:
    """name -> (image, nodeSelector) of every container template, Deployment and batch pod of a YAML stream."""
    out = {}
    for doc in yaml.safe_load_all(stream):
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            out[doc["metadata"]["name"]] = (pod["containers"][0]["image"], pod.get("nodeSelector") or {})
        elif doc["kind"] in ("Workflow", "WorkflowTemplate"):
            for t in doc["spec"]["templates"]:
                if "container" in t:
                    out[t["name"]] = (t["container"]["image"], t.get("nodeSelector") or {})
    return out


def compile_(tmp_path: Path, *args: str, question: Path = DAMAGE) -> dict[str, tuple[str, dict]]:
    out = tmp_path / "wf.yaml"
    r = CliRunner().invoke(cli, ["compile", str(question), "-o", str(out), *args])
    assert r.exit_code == 0, r.output
    return containers(out.read_text())


@pytest.mark.parametrize("shape", [[], ["--no-fuse"], ["--mode", "services"], ["--batch", "--shards", "2"],
                                   ["--mode", "services", "--batch"], ["--input-artifact", "s3"]])
def test_image_reaches_every_template(shape, tmp_path):
    default = compile_(tmp_path, *shape)
    assert default and all(image == "ghcr.io/dicec/vision:0.1.0" for image, _ in default.values())
    mine = compile_(tmp_path, *shape, "--image", MINE)
    assert mine.keys() == default.keys() and all(image == MINE for image, _ in mine.values())
    assert all(selector.get("kubernetes.io/arch") == "amd64" for _, selector in mine.values())


def test_an_operator_image_wins_for_its_operator_only(tmp_path):
    got = compile_(tmp_path, "--no-fuse", "--image", MINE, "--operator-image", "find=registry.example.com/glip:2")
    finds = {n for n in got if n.startswith("find-")}
    assert finds and all(got[n][0] == "registry.example.com/glip:2" for n in finds)
    assert all(image == MINE for n, (image, _) in got.items() if n not in finds)  # verify_property, the answer
    servers = compile_(tmp_path, "--mode", "services", "--operator-image", "find=registry.example.com/glip:2")
    # find and verify_property no longer share an image, so they no longer share a server
    assert {n: i for n, (i, _) in servers.items() if n.startswith("dicec-")} == {
        "dicec-answer": "ghcr.io/dicec/vision:0.1.0", "dicec-find-a4000": "registry.example.com/glip:2",
        "dicec-verify-property-a4000": "ghcr.io/dicec/vision:0.1.0"}


@pytest.mark.parametrize("args, message", [
    (["--image", "Not An Image"], "--image 'Not An Image' is not a container image reference"),
    (["--image", "{{workflow.name}}"], "is not a container image reference"),
    (["--operator-image", "find"], "--operator-image 'find': expected OP=IMAGE"),
    (["--operator-image", "read_text=x:1"], "the workflow runs no 'read_text' step"),
    (["--operator-image", "find=a:1", "--operator-image", "find=b:1"], "find is given twice"),
    (["--arch-image", "sparc=x:1"], "the architecture is one of amd64, arm64, ppc64le, s390x"),
])
def test_bad_image_options_are_one_line(args, message, tmp_path):
    r = CliRunner().invoke(cli, ["compile", str(DAMAGE), "-o", str(tmp_path / "x.yaml"), *args])
    assert r.exit_code == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_references_follow_the_distribution_grammar():
    for ok in ("busybox", "ubuntu:24.04", "localhost:5000/a/b:tag", "ghcr.io/dicec/vision:0.1.0",
               "nvcr.io/nvidia/l4t-base@sha256:" + "a" * 64, "[::1]:5000/x:y"):
        assert image_reference(ok, what="--image") == ok
    for bad in ("", "Upper", "a b", "x:", "-x", "a//b", "x:tag with space", "x@sha256:short", 3):
        with pytest.raises(Exception, match="not a container image reference"):
            image_reference(bad, what="--image")


def test_edge_steps_select_and_name_their_architecture(tmp_path):
    """The marine example's vessel (a Jetson, arm64): its steps select arm64 nodes and run an arm64 image (the
    image's tag with -arm64, or --arch-image's); the cloud steps stay amd64."""
    question = MARINE / "questions" / "floating-bottles.txt"
    pools = ["--pools", str(MARINE / "pools.yaml")]
    got = compile_(tmp_path, *pools, question=question)
    edge = {n: v for n, v in got.items() if v[1].get("node-role.kubernetes.io/edge") == ""}
    cloud = {n: v for n, v in got.items() if n not in edge}
    assert edge and all(sel["kubernetes.io/arch"] == "arm64" and image == "ghcr.io/dicec/vision:0.1.0-arm64"
                        for image, sel in edge.values())
    assert all(sel["kubernetes.io/arch"] == "amd64" and image == "ghcr.io/dicec/vision:0.1.0" for image, sel in cloud.values())
    l4t = "nvcr.io/example/dicec-l4t:0.1.0"
    got = compile_(tmp_path, *pools, "--arch-image", f"arm64={l4t}", question=question)
    assert all(got[n][0] == l4t for n in edge) and all(got[n][0] == "ghcr.io/dicec/vision:0.1.0" for n in cloud)


def test_the_answer_image_and_a_digest_pinned_image_on_another_arch():
    from dicec.emit.argo import EmitOptions
    from dicec.placement.pools import Pool

    images = {"find": "a:1", "verify_property": "b:1"}
    assert answer_image(images, EmitOptions()) == "a:1"
    assert answer_image(images, EmitOptions(operator_images=(("find", "z:9"),))) == "b:1"
    assert answer_image(images, EmitOptions(image="c:1")) == "c:1"
    assert answer_image({"find": "z:9"}, EmitOptions(operator_images=(("find", "z:9"),))) == "ghcr.io/dicec/vision:0.1.0"
    jetson = Pool(name="orin", gpu_class="ORIN", gpu_memory_gb=8, usd_per_hour=None, node_labels={}, arch="arm64")
    assert for_arch("a:1", jetson, EmitOptions()) == "a:1-arm64" and for_arch("a", jetson, EmitOptions()) == "a:latest-arm64"
    with pytest.raises(Exception, match="give --arch-image arm64=IMAGE"):
        for_arch("a@sha256:" + "b" * 64, jetson, EmitOptions())
