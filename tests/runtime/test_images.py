"""Reading images: PNG round trip, identity by bytes, URIs, and one clear line for bad input."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from dicec.errors import DicecError
from dicec.runtime.images import _unfilter, encode_png, load_image


def test_png_round_trip_and_crop(tmp_path):
    px = np.random.default_rng(1).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    path.write_bytes(encode_png(px))
    img = load_image(str(path))
    assert (img.width, img.height) == (40, 30)
    assert np.array_equal(img.pixels, px)
    box = {"left": 5, "lower": 10, "right": 15, "upper": 25}  # bottom-left origin
    assert np.array_equal(img.crop(box), px[30 - 25:30 - 10, 5:15])
    assert load_image(f"file://{path}").digest == img.digest


def test_all_png_filters_decode():
    rng = np.random.default_rng(2)
    raw = rng.integers(0, 256, size=(4, 12), dtype=np.uint8)
    # encode each row with a different filter by hand, then check the decoder inverts them
    rows, prev = [], np.zeros(12, dtype=np.int64)
    for y, kind in enumerate([0, 1, 3, 4]):
        cur = raw[y].astype(np.int64)
        enc = []
        for i in range(12):
            a = cur[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            enc.append((cur[i] - pred) % 256)
        rows.append([kind, *enc])
        prev = cur
    out = _unfilter(np.array(rows, dtype=np.uint8), 3)
    assert np.array_equal(out, raw)


@pytest.mark.parametrize("uri, message", [
    ("ftp://example.com/car.jpg", "scheme 'ftp' is not supported here"),
    ("s3://bucket-only", "needs a bucket and an object name"),
    ("gs://bucket/folder/", "needs a bucket and an object name"),
    ("/nonexistent/a.png", "image not found"),
])
def test_bad_uris_are_one_clear_line(uri, message):
    with pytest.raises(DicecError, match=message):
        load_image(uri)


def test_unreadable_image(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(DicecError, match="unreadable image"):
        load_image(str(bad))
    broken = tmp_path / "broken.png"
    good = encode_png(np.zeros((4, 4, 3), dtype=np.uint8))
    broken.write_bytes(good[:40] + zlib.compress(b"x") + good[-12:])
    with pytest.raises(DicecError, match="unreadable image"):
        load_image(str(broken)).pixels


# -- JPEG, WebP, EXIF orientation and the pixel limits, through Pillow ---------------------------------
def _pillow_bytes(image, fmt: str, **kw) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def _halves(width: int, height: int):
    """Left half red, right half blue: where each half ends up shows how the picture was turned."""
    from PIL import Image

    im = Image.new("RGB", (width, height), (220, 20, 20))
    im.paste((20, 20, 220), (width // 2, 0, width, height))
    return im


def test_jpeg_and_webp_decode(tmp_path):
    from PIL import Image

    px = np.random.default_rng(5).integers(0, 256, size=(18, 26, 3), dtype=np.uint8)
    webp = tmp_path / "a.webp"
    webp.write_bytes(_pillow_bytes(Image.fromarray(px), "WEBP", lossless=True))
    image = load_image(str(webp))
    assert (image.width, image.height) == (26, 18) and np.array_equal(image.pixels, px)
    jpeg = tmp_path / "car.jpg"
    jpeg.write_bytes(_pillow_bytes(_halves(40, 20), "JPEG", quality=95))
    image = load_image(str(jpeg))
    assert (image.width, image.height) == (40, 20) and image.pixels.shape == (20, 40, 3)
    assert image.pixels[10, 5].tolist()[0] > 200 and image.pixels[10, 35].tolist()[2] > 200  # red left, blue right
    import hashlib

    assert image.digest == hashlib.sha256(jpeg.read_bytes()).hexdigest()  # identity: the file's bytes


@pytest.mark.parametrize("orientation, upright_size, red_at, blue_at", [
    (1, (40, 20), (10, 5), (10, 35)),   # as stored
    (3, (40, 20), (10, 35), (10, 5)),   # turned 180 degrees
    (6, (20, 40), (5, 10), (35, 10)),   # a phone held upright: shown turned 90 degrees clockwise
    (8, (20, 40), (35, 10), (5, 10)),   # turned 90 degrees counter-clockwise
])
def test_exif_orientation_is_applied(tmp_path, orientation, upright_size, red_at, blue_at):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"phone-{orientation}.jpg"
    path.write_bytes(_pillow_bytes(_halves(40, 20), "JPEG", quality=95, exif=exif.tobytes()))
    image = load_image(str(path))
    assert (image.width, image.height) == upright_size
    assert image.pixels.shape == (upright_size[1], upright_size[0], 3)
    assert image.pixels[red_at][0] > 200 and image.pixels[blue_at][2] > 200
    # boxes are in the upright picture: the top half of an upright phone photo is its red half
    top = image.crop({"left": 0, "lower": image.height // 2, "right": image.width, "upper": image.height})
    if orientation == 6:
        assert top[..., 0].mean() > 200


def test_png_with_exif_orientation_is_turned(tmp_path):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "turned.png"
    path.write_bytes(_pillow_bytes(_halves(40, 20), "PNG", exif=exif.tobytes()))
    image = load_image(str(path))
    assert (image.width, image.height) == (20, 40) and image.pixels[5, 10][0] == 220


def _bmp_claiming(width: int, height: int) -> bytes:
    from PIL import Image

    data = bytearray(_pillow_bytes(Image.new("RGB", (2, 2)), "BMP"))
    data[18:26] = width.to_bytes(4, "little") + height.to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("width, height", [(9000, 9000), (20000, 20000)])  # over ours; over Pillow's bomb check too
def test_decompression_bombs_are_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "bomb.bmp"
    path.write_bytes(_bmp_claiming(width, height))
    with pytest.raises(DicecError, match="over the 64000000-pixel limit") as info:
        load_image(str(path))
    assert "\n" not in str(info.value)


def test_formats_outside_the_list_are_refused(tmp_path):
    from PIL import Image

    path = tmp_path / "a.tif"
    path.write_bytes(_pillow_bytes(Image.new("RGB", (4, 4)), "TIFF"))
    with pytest.raises(DicecError, match="not a PNG, JPEG, WEBP, GIF or BMP file"):
        load_image(str(path))


def _png16_rgb(px16: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (Pillow cannot write one), filter 0."""
    import struct

    h, w, _ = px16.shape
    raw = b"".join(b"\x00" + px16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_png_pixels_are_the_same_through_either_decoder(tmp_path):
    """The small PNG decoder (what PNGs without EXIF go through, as before Pillow was a dependency) and
    Pillow agree on every PNG kind the tests and the scene generator write."""
    from PIL import Image

    from dicec.runtime.images import _decode_png, decode_with_pillow
    from runtime.helpers import write_image

    rng = np.random.default_rng(9)
    rgb = rng.integers(0, 256, size=(13, 17, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, size=(13, 17), dtype=np.uint8)
    alpha = rng.integers(0, 256, size=(13, 17), dtype=np.uint8)
    pal = Image.fromarray(rgb).quantize(colors=64)  # more than 16 colours: written 8-bit
    pal_t = pal.copy()
    pal_t.info["transparency"] = 3
    pngs = {
        "encode_png": encode_png(rgb),
        "scene": write_image(tmp_path / "scene.png", seed=7).read_bytes(),
        "L": _pillow_bytes(Image.fromarray(grey), "PNG"),
        "LA": _pillow_bytes(Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]), "PNG"),
        "RGB": _pillow_bytes(Image.fromarray(rgb), "PNG"),
        "RGBA": _pillow_bytes(Image.fromarray(np.dstack([rgb, alpha])), "PNG"),
        "P": _pillow_bytes(pal, "PNG"),
        "P+tRNS": _pillow_bytes(pal_t, "PNG"),
        "I;16": _pillow_bytes(Image.fromarray(grey.astype(np.uint16) * 256 + 255), "PNG"),
        "RGB16": _png16_rgb(rgb.astype(np.uint16) * 256 + 255),
    }
    for kind, data in pngs.items():
        ours = _decode_png(data)
        assert np.array_equal(ours, decode_with_pillow(data, where=kind)), kind
    assert np.array_equal(_decode_png(pngs["RGB16"]), rgb)
    # what the small decoder leaves to Pillow: 1- and 4-bit images
    for kind, image in (("1-bit", Image.fromarray(grey > 128)), ("4-bit", Image.fromarray(rgb).quantize(colors=16))):
        path = tmp_path / f"{kind}.png"
        path.write_bytes(_pillow_bytes(image, "PNG", bits=4) if kind == "4-bit" else _pillow_bytes(image, "PNG"))
        assert load_image(str(path)).pixels.shape == (13, 17, 3), kind
    assert np.array_equal(load_image(str(tmp_path / "1-bit.png")).pixels[..., 0], np.where(grey > 128, 255, 0))
