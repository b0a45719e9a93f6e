"""Crop bundles (dicec.runtime.crops): what an edge step sends the cloud instead of the frame."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from helpers import write_image  # noqa: E402

from dicec.runtime.contract import b64  # noqa: E402
from dicec.errors import DicecError  # noqa: E402
from dicec.runtime.calls import Call  # noqa: E402
from dicec.runtime.crops import bundle_bytes, call_upload, load_bundle, read_bundle  # noqa: E402
from dicec.runtime.images import encode_png, load_image  # noqa: E402
from dicec.runtime.step import run_op  # noqa: E402

BOXES = [{"left": 5, "lower": 5, "right": 60, "upper": 90}, {"left": 100, "lower": 30, "right": 319, "upper": 239},
         {"left": 5, "lower": 5, "right": 60, "upper": 90}]


@pytest.fixture()
def image(tmp_path):
    return load_image(str(write_image(tmp_path / "frame.png", seed=4)))


def payload(operator, args, form="method"):
    return b64(json.dumps({"task": "t", "operator": operator, "form": form, "args": args}))


def test_a_bundle_holds_exactly_the_boxes_pixels_and_keeps_the_frames_identity(image):
    data = bundle_bytes(image, BOXES)
    assert data == bundle_bytes(image, BOXES)  # deterministic bytes
    crops = load_bundle(data, where="b.zip")
    assert (crops.digest, crops.width, crops.height) == (image.digest, image.width, image.height)
    for box in BOXES:
        assert np.array_equal(crops.crop(box), image.crop(box))
    assert np.array_equal(crops.border(), image.border())
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["manifest.json", "crop-0.png", "crop-1.png", "border.png"]  # the repeated box once
    assert len(data) < len(image.data)


def test_pixels_that_were_not_sent_are_an_error_not_a_wrong_answer(image):
    crops = load_bundle(bundle_bytes(image, BOXES[:1]), where="b.zip")
    with pytest.raises(DicecError, match="not among the crops"):
        crops.crop(BOXES[1])
    with pytest.raises(DicecError, match="reads: frame"):
        crops.pixels


def _rezip(data: bytes, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    members = {n: src.read(n) for n in src.namelist()}
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    return out.getvalue()


def _manifest(members, **changes):
    m = json.loads(members["manifest.json"])
    m.update(changes)
    members["manifest.json"] = json.dumps(m).encode()


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("manifest.json"), "manifest.json"),
    (lambda m: _manifest(m, format="other"), "not a dicec-crops version 1 manifest"),
    (lambda m: _manifest(m, source={"sha256": "x", "width": 1, "height": 1}), "64 lower-case hex"),
    (lambda m: _manifest(m, crops=[{"box": BOXES[0], "file": "../../etc/passwd"}]), "bad or repeated crop file name"),
    (lambda m: m.update({"crop-0.png": encode_png(np.zeros((3, 3, 3), np.uint8))}), "size is not its box's"),
    (lambda m: m.update({"border.png": encode_png(np.zeros((1, 3, 3), np.uint8))}), "border.png"),
])
def test_a_malformed_bundle_is_one_clear_error(image, change, message):
    bad = _rezip(bundle_bytes(image, BOXES[:1]), change)
    with pytest.raises(DicecError, match=message) as info:
        load_bundle(bad, where="bad.zip")
    assert "\n" not in str(info.value) and "bad.zip" in str(info.value)


def test_a_small_bundle_cannot_ask_for_a_large_decode(image):
    """Repeated members, out-of-frame boxes, too many entries, non-integer or huge coordinates: refused
    before any pixel is decoded (a model server is sent bundles from other machines)."""
    def entries(n, name="crop-0.png", **box):
        return lambda m: _manifest(m, crops=[{"box": {**BOXES[0], "left": BOXES[0]["left"] - i, **box}, "file": name}
                                             for i in range(n)])

    cases = [(entries(2), "repeated"), (entries(10_001, None), "at most 10000"),
             (entries(1, left=float("inf")), "integer"), (entries(1, left=True), "integer"),
             (entries(1, left="0"), "integer"), (entries(1, right=10 ** 30), "integer"),
             (lambda m: _manifest(m, source={"sha256": "a" * 64, "width": 10 ** 6, "height": 10 ** 6}), "pixel limit"),
             (lambda m: m.update({"manifest.json": b"[" * 100_000}), "not a valid crop bundle")]
    for change, message in cases:
        with pytest.raises(DicecError, match=message) as info:
            load_bundle(_rezip(bundle_bytes(image, BOXES[:1]), change), where="bad.zip")
        assert "\n" not in str(info.value)


def test_a_png_that_inflates_past_its_header_is_refused():
    import struct
    import zlib

    from dicec.runtime.images import PNG_SIGNATURE, decode

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    bomb = zlib.compress(b"\0" * 50_000_000, 9)  # 2x2 pixels by its header, 50 MB once inflated
    data = PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)) + chunk(b"IDAT", bomb) \
        + chunk(b"IEND", b"")
    assert decode(data, where="bomb.png").shape == (2, 2, 3)  # only what the header says is inflated


def test_a_compressed_member_or_a_non_zip_is_refused(image, tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", "{}")
    with pytest.raises(DicecError, match="stored uncompressed"):
        load_bundle(out.getvalue(), where="z.zip")
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(DicecError, match="not a valid crop bundle"):
        read_bundle(str(tmp_path / "x.zip"))
    with pytest.raises(DicecError, match="cannot read the crop bundle"):
        read_bundle(str(tmp_path / "missing.zip"))


@pytest.mark.parametrize("models", ["seeded", "builtin"])
def test_a_step_on_crops_writes_what_the_step_on_the_frame_writes(image, tmp_path, models):
    """find with --crops-out on the frame, then each element's call on the crops == on the frame."""
    frame = image.uri
    run_op(name="find", image_uri=frame, call_payload=payload("find", [{"literal": "circle"}]),
           value_out=str(tmp_path / "v.json"), record_out=str(tmp_path / "r.json"), models="seeded",
           crops_out=str(tmp_path / "crops.zip"))
    boxes = json.loads((tmp_path / "v.json").read_text())
    assert boxes and (tmp_path / "crops.zip").is_file()
    for i in range(len(boxes)):
        outputs = []
        for how in ("image", "crops"):
            out = tmp_path / how
            run_op(name="verify_property", image_uri=frame if how == "image" else None,
                   crops=str(tmp_path / "crops.zip") if how == "crops" else None,
                   call_payload=payload("verify_property", [{"literal": "circle"}, {"literal": "red"}]),
                   patch_json=json.dumps(boxes), index=str(i), value_out=str(out / "v.json"),
                   record_out=str(out / "r.json"), models=models)
            outputs.append(((out / "v.json").read_text(), (out / "r.json").read_text()))
        assert outputs[0] == outputs[1]


def test_crops_indices_select_elements_and_nothing_found_writes_nothing(image, tmp_path):
    from dicec.runtime.step import parse_crop_indices, write_crops

    assert parse_crop_indices("all") is None
    write_crops(str(tmp_path / "a.zip"), image, BOXES, parse_crop_indices("1,-1,9"))
    crops = read_bundle(str(tmp_path / "a.zip"))
    assert sorted(crops.crops) == sorted({(5, 5, 60, 90), (100, 30, 319, 239)})
    write_crops(str(tmp_path / "none.zip"), image, [])
    assert not (tmp_path / "none.zip").exists()
    with pytest.raises(DicecError, match="comma-separated"):
        parse_crop_indices("first")
    with pytest.raises(DicecError, match="list of boxes"):
        write_crops(str(tmp_path / "b.zip"), image, "yes")


def test_the_cli_wants_exactly_one_of_image_and_crops(image, tmp_path):
    from dicec.cli import cli

    args = ["op", "exists", "--call", payload("exists", [{"literal": "x"}]), "--value-out", str(tmp_path / "v"),
            "--record-out", str(tmp_path / "r"), "--models", "seeded"]
    for extra in ([], ["--image", image.uri, "--crops", str(tmp_path / "c.zip")]):
        result = CliRunner().invoke(cli, [*args, *extra])
        assert result.exit_code == 1, result.output
        assert "exactly one of --image" in result.output and "Traceback" not in result.output


def test_a_call_upload_carries_its_receiver_and_patch_arguments_only(image):
    call = Call(operator="best_image_match", form="method", patch=BOXES[0], args=([BOXES[1]], "a dog"))
    upload = call_upload(image, call)
    crops = load_bundle(upload.data, where="u.zip")
    assert sorted(crops.crops) == sorted({(5, 5, 60, 90), (100, 30, 319, 239)})
    assert crops.digest == image.digest and upload.wire_digest != image.digest


def test_a_model_server_answers_a_crop_upload_as_it_answers_the_frame(image, tmp_path):
    """--send-crops: the server gets bundles, never the frame, and the step's files are the same."""
    from dicec.runtime.client import run_call
    from dicec.runtime.crops import CroppedImage
    from dicec.serving.model_server import ModelServer, ServeOptions

    server = ModelServer(ServeOptions(operators=("verify_property",), port=0, models="seeded"))
    server.start()
    try:
        server.wait_ready(30)
        outputs = []
        for send in (False, True):
            out = tmp_path / str(send)
            run_call(name="verify_property", service=server.url, image_uri=image.uri,
                     call_payload=payload("verify_property", [{"literal": "circle"}, {"literal": "red"}]),
                     patch_json=json.dumps(BOXES[:2]), index="none", value_out=str(out / "v.json"),
                     record_out=str(out / "r.json"), send_crops=send)
            outputs.append(((out / "v.json").read_text(), (out / "r.json").read_text()))
            kinds = [isinstance(i, CroppedImage) for i in server.images.values()]
            assert kinds == ([False, True, True] if send else [False])  # the frame once, then a bundle per call
        assert outputs[0] == outputs[1]
    finally:
        server.stop(delay_s=0)


def test_a_bundle_claiming_another_frames_identity_cannot_poison_a_shared_server(tmp_path):
    """The scene models cache by the bytes received, not the sha256 a bundle's manifest claims."""
    from dicec.runtime.client import ServiceClient
    from dicec.runtime.crops import Upload
    from dicec.runtime.scene.generate import make_scene, render
    from dicec.serving.model_server import ModelServer, ServeOptions

    frame_path = tmp_path / "scene.png"
    frame_path.write_bytes(encode_png(render(make_scene(3))))
    frame = load_image(str(frame_path))
    whole = {"left": 0, "lower": 0, "right": frame.width, "upper": frame.height}
    blank = load_image(str(_write(tmp_path / "blank.png", np.full((frame.height, frame.width, 3), 255, np.uint8))))
    forged = _rezip(bundle_bytes(blank, [whole]), lambda m: _manifest(
        m, source={"sha256": frame.digest, "width": frame.width, "height": frame.height}))
    call = Call(operator="find", form="method", patch=whole, args=("square",))
    server = ModelServer(ServeOptions(operators=("find",), port=0, models="builtin"))
    server.start()
    try:
        server.wait_ready(60)
        client = ServiceClient(server.url)
        import hashlib

        poisoned, _ = client.evaluate(Upload(data=forged, wire_digest=hashlib.sha256(forged).hexdigest()), call)
        honest, _ = client.evaluate(frame, call)
        client.close()
    finally:
        server.stop(delay_s=0)
    assert poisoned == [] and len(honest) == 3  # scene 3 has three squares


def _write(path, pixels):
    path.write_bytes(encode_png(pixels))
    return path
