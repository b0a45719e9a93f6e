"""Reading the input image: from its URI, decoded to RGB pixels with the orientation a person sees.

Steps and the final step read the image themselves (``--image URI``), so every process decodes the
same bytes the same way. A URI is a local path, ``file://``, or ``http(s)://``, ``s3://`` or ``gs://``
(fetched by :mod:`dicec.runtime.fetch`, with the pod's credentials, bounded and with timeouts). The
image's identity for the seeded backend and the call records is the sha256 of its file bytes, wherever
they came from.

Formats: PNG, JPEG, WebP, GIF and BMP, through Pillow (a dependency of every install), with the pixel
and byte limits checked from the header before any pixel is decoded (a decompression bomb is one
line, not gigabytes). A JPEG's or WebP's EXIF orientation is applied (``ImageOps.exif_transpose``), so
a phone photo's boxes are in the picture a person sees and ``width``/``height`` are the upright ones.
PNGs without EXIF (8- and 16-bit, grey/RGB/palette, with or without alpha, not interlaced) keep the
small zlib + numpy decoder below, whose pixels every existing record and test was made with; Pillow
decodes the rest (interlaced, 1/2/4-bit, or with an ``eXIf`` chunk), with a 16-bit sample's high byte
kept as that decoder keeps it. A tiny PNG writer is included for the scene generator and the tests.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dicec.errors import DicecError, Location, one_line

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_BYTES = 256 * 1024 * 1024
MAX_PIXELS = 64_000_000


@dataclass(frozen=True, kw_only=True)
class SourceImage:
    """The workflow's input image.

    Attributes:
        uri: as the user gave it (a remote URI without its credentials: :func:`dicec.runtime.fetch.shown_uri`).
        digest: sha256 of the file bytes (hex): the image's identity in call records and seeds.
        width: in pixels.
        height: in pixels.
        data: the file bytes (decoded to pixels on first use).
    """

    uri: str
    digest: str
    width: int
    height: int
    data: bytes = field(repr=False)
    _pixels: list = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def pixels(self) -> np.ndarray:
        """(height, width, 3) uint8 RGB, decoded once."""
        with self._lock:
            if not self._pixels:
                self._pixels.append(decode(self.data, where=self.uri))
            return self._pixels[0]

    @property
    def wire_digest(self) -> str:
        """sha256 of the bytes a model server is sent: the file's (see :mod:`dicec.runtime.crops` for crops)."""
        return self.digest

    def border(self) -> np.ndarray:
        """The frame's one-pixel border ring, (N, 3) (:func:`border_ring`)."""
        return border_ring(self.pixels)

    def crop(self, box: dict) -> np.ndarray:
        """The pixels of a bottom-left-origin box ``{left, lower, right, upper}`` (clamped to the image)."""
        px = self.pixels
        h = px.shape[0]
        left, right = max(0, int(box["left"])), min(px.shape[1], int(box["right"]))
        top, bottom = max(0, h - int(box["upper"])), min(h, h - int(box["lower"]))
        return px[top:bottom, left:right]


def border_ring(pixels: np.ndarray) -> np.ndarray:
    """The frame's one-pixel border as an (N, 3) array: top row, bottom row, left column, right column."""
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


_CACHE: dict[tuple, SourceImage] = {}
_CACHE_LOCK = threading.Lock()
#: What Pillow may open: the formats a camera, a phone or a browser writes. Pillow's other plugins
#: (EPS through Ghostscript, PSD, TIFF's many codecs, ...) are not reached by untrusted bytes.
PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
_EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = (5, 6, 7, 8)  # the EXIF orientations that turn the picture by 90 degrees


def local_path(uri: str) -> Path:
    """The local file an image URI names (a path or ``file://``); an unsupported scheme is a clear error."""
    from dicec.files import local_file

    return local_file(uri, what="image URI", elsewhere="or an http://, https://, s3:// or gs:// URI")


def load_image(uri: str) -> SourceImage:
    """Read and identify the image at ``uri``: a local path or ``file://`` (cached per process by path,
    size and mtime), or ``http(s)://``, ``s3://``, ``gs://`` (:mod:`dicec.runtime.fetch`; cached per
    process by URI, so the steps ``dicec run`` runs in one process download it once)."""
    if not uri or uri.strip() != uri:
        raise DicecError("the image parameter is empty or has surrounding spaces", location=Location(path=uri or "''"))
    from dicec.runtime import fetch

    if fetch.is_remote(uri):
        key: tuple = ("remote", uri)
        cached = _cached(key, uri)
        if cached is not None:
            return cached
        shown = fetch.shown_uri(uri)  # what messages (and the image's uri) show: no credentials
        return _remember(key, _identify(fetch.read_remote(uri, max_bytes=MAX_IMAGE_BYTES), uri=shown))
    path = local_path(uri)
    where = Location(path=uri)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DicecError("image not found", location=where) from None
    except OSError as exc:
        raise DicecError(f"cannot read image: {exc.strerror or exc}", location=where) from None
    if path.is_dir():
        raise DicecError("is a directory, expected an image file", location=where)
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    cached = _cached(key, uri)
    if cached is not None:
        return cached
    if st.st_size > MAX_IMAGE_BYTES:
        raise DicecError(f"image is {st.st_size} bytes, over the {MAX_IMAGE_BYTES}-byte limit", location=where)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DicecError(f"cannot read image: {exc.strerror or exc}", location=where) from None
    return _remember(key, _identify(data, uri=uri))


def _identify(data: bytes, *, uri: str) -> SourceImage:
    width, height = image_size(data, where=uri)
    return SourceImage(uri=uri, digest=hashlib.sha256(data).hexdigest(), width=width, height=height, data=data)


def _cached(key: tuple, uri: str) -> SourceImage | None:
    """The image cached under ``key``, as ``uri`` names it (sharing its decoded pixels), or ``None``."""
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is None or cached.uri == uri:
        return cached
    return SourceImage(uri=uri, digest=cached.digest, width=cached.width, height=cached.height, data=cached.data,
                       _pixels=cached._pixels)


def _remember(key: tuple, image: SourceImage) -> SourceImage:
    with _CACHE_LOCK:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = image
    return image


def image_size(data: bytes, *, where: str) -> tuple[int, int]:
    """(width, height) as a person sees the image (EXIF orientation applied), from the header alone."""
    if data.startswith(PNG_SIGNATURE) and not _png_has_exif(data):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise DicecError("unreadable image: a PNG without its IHDR header", location=Location(path=where))
        width, height = struct.unpack(">II", data[16:24])
        if width == 0 or height == 0 or width * height > MAX_PIXELS:
            raise DicecError(f"unreadable image: {width}x{height} pixels", location=Location(path=where))
        return width, height
    with _PillowHeader(data, where=where) as im:
        width, height = im.size
        if im.getexif().get(_EXIF_ORIENTATION) in _SWAPS_SIDES:
            return height, width
        return width, height


def decode(data: bytes, *, where: str) -> np.ndarray:
    """Image file bytes -> (H, W, 3) uint8 RGB, upright."""
    if data.startswith(PNG_SIGNATURE) and not _png_has_exif(data):
        try:
            return _decode_png(data)
        except _PillowReadsIt:
            pass
        except (ValueError, zlib.error, struct.error, IndexError) as exc:
            raise DicecError(f"unreadable image: broken PNG ({exc})", location=Location(path=where)) from None
    return decode_with_pillow(data, where=where)


def decode_with_pillow(data: bytes, *, where: str) -> np.ndarray:
    """:func:`decode` through Pillow whatever the format (the PNG decoder's pixels equal these)."""
    from PIL import ImageOps

    with _PillowHeader(data, where=where) as im:
        try:
            return _rgb(ImageOps.exif_transpose(im))
        except Exception as exc:  # Pillow raises many types for a file that breaks while decoding
            raise DicecError(f"unreadable image: {one_line(exc)}", location=Location(path=where)) from None


class _PillowHeader:
    """Opens ``data`` with Pillow (header only) and checks its size against :data:`MAX_PIXELS` before any
    pixel is decoded; every failure is one :class:`DicecError` line."""

    def __init__(self, data: bytes, *, where: str) -> None:
        self.data, self.where = data, Location(path=where)
        self.image = None

    def __enter__(self):
        import io
        import warnings

        from PIL import Image, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self.image = Image.open(io.BytesIO(self.data), formats=PILLOW_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DicecError(f"unreadable image: over the {MAX_PIXELS}-pixel limit (a decompression bomb?)",
                             location=self.where) from None
        except UnidentifiedImageError:
            raise DicecError(f"unreadable image: not a {', '.join(PILLOW_FORMATS[:-1])} or {PILLOW_FORMATS[-1]} file",
                             location=self.where) from None
        except Exception as exc:  # a header Pillow cannot parse
            raise DicecError(f"unreadable image: {one_line(exc)}", location=self.where) from None
        width, height = self.image.size
        if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
            self.image.close()
            raise DicecError(f"unreadable image: {width}x{height} pixels is over the {MAX_PIXELS}-pixel limit",
                             location=self.where)
        return self.image

    def __exit__(self, *exc: object) -> None:
        if self.image is not None:
            self.image.close()


def _rgb(im) -> np.ndarray:
    """A Pillow image -> (H, W, 3) uint8 RGB; a 16-bit grey sample keeps its high byte (as :func:`_decode_png`)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = (np.asarray(im).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _png_has_exif(data: bytes) -> bool:
    """Whether a PNG carries an ``eXIf`` chunk (its orientation is applied through Pillow); chunk headers
    only, and a header cut short (the first bytes of a file) has none."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"eXIf":
            return True
        if kind in (b"IDAT", b"IEND"):
            return False
        pos += 12 + length
    return False


class _PillowReadsIt(ValueError):
    """A valid PNG the small decoder does not read (interlaced, 1/2/4-bit): Pillow decodes it."""


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _decode_png(data: bytes) -> np.ndarray:
    pos, idat, palette, header = 8, [], None, None
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise ValueError("truncated chunk")
        pos += 12 + length
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif ctype == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, ctype, _, _, interlace = header
    if interlace:
        raise _PillowReadsIt("interlaced")
    if ctype in _CHANNELS and depth in (1, 2, 4) and ctype in (0, 3):
        raise _PillowReadsIt(f"{depth}-bit")
    if ctype not in _CHANNELS or depth not in (8, 16) or (ctype == 3 and depth != 8):
        raise ValueError(f"colour type {ctype} at bit depth {depth} is not supported")
    channels = _CHANNELS[ctype]
    bpp = channels * depth // 8
    stride = width * bpp
    if width * height > MAX_PIXELS:
        raise ValueError(f"{width}x{height} pixels is over the limit")
    expected = height * (stride + 1)
    inflater = zlib.decompressobj()  # at most what the header says: a small file cannot inflate to gigabytes
    raw = np.frombuffer(inflater.decompress(b"".join(idat), expected), dtype=np.uint8)
    if raw.size < expected:
        raise ValueError("image data is shorter than its size says")
    rows = raw[:height * (stride + 1)].reshape(height, stride + 1)
    out = _unfilter(rows, bpp)
    if depth == 16:
        out = out.reshape(height, width * channels, 2)[..., 0]
    px = out.reshape(height, width, channels)
    if ctype == 3:
        if palette is None:
            raise ValueError("palette image without PLTE")
        return palette[px[..., 0]]
    if ctype in (0, 4):
        return np.repeat(px[..., :1], 3, axis=2)
    return np.ascontiguousarray(px[..., :3])


def _unfilter(rows: np.ndarray, bpp: int) -> np.ndarray:
    height, stride = rows.shape[0], rows.shape[1] - 1
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 2:
            cur = (line.astype(np.uint16) + prev).astype(np.uint8)
        elif kind == 1:
            cur = _sub(line, bpp)
        elif kind in (3, 4):
            cur = _sequential(line, prev, bpp, kind)
        else:
            raise ValueError(f"bad filter type {kind}")
        out[y] = cur
        prev = cur
    return out


def _sub(line: np.ndarray, bpp: int) -> np.ndarray:
    n = line.size
    padded = np.zeros(-(-n // bpp) * bpp, dtype=np.int64)
    padded[:n] = line
    return (np.cumsum(padded.reshape(-1, bpp), axis=0) % 256).astype(np.uint8).reshape(-1)[:n]


def _sequential(line: np.ndarray, prev: np.ndarray, bpp: int, kind: int) -> np.ndarray:
    cur = bytearray(line.tobytes())
    up = prev.tobytes()
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            cur[i] = (cur[i] + ((a + b) >> 1)) & 0xFF
        else:
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            cur[i] = (cur[i] + pred) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB -> PNG bytes (8-bit RGB, filter 'up', deterministic)."""
    px = np.ascontiguousarray(np.asarray(pixels, dtype=np.uint8))
    if px.ndim != 3 or px.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) pixels, got {px.shape}")
    h, w = px.shape[:2]
    flat = px.reshape(h, w * 3)
    up = flat.copy()
    up[1:] = (flat[1:].astype(np.int16) - flat[:-1]).astype(np.uint8)
    filt = np.full((h, 1), 2, dtype=np.uint8)
    filt[0] = 0
    raw = np.concatenate([filt, up], axis=1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
