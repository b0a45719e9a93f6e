"""Reading the input image: a local path or ``file://`` URI, PNG decoded here, other formats via Pillow.

Steps and the final step read the image themselves (``--image URI``), so every process decodes the
same bytes the same way. The image's identity for the seeded backend and the call records is the
sha256 of its file bytes. PNG (8- and 16-bit, grey/RGB/palette, with or without alpha, not
interlaced) is decoded with zlib and numpy, so no imaging library is needed; any other format is
handed to Pillow when it is installed. A tiny PNG writer is included for the scene generator and
the tests.

Other URI schemes (``s3://``, ``http://``, ...) are refused with one clear line: a container reads
them through a mounted volume or an Argo input artifact, not through dicec.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dicec.errors import DicecError, Location

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_BYTES = 256 * 1024 * 1024
MAX_PIXELS = 64_000_000


@dataclass(frozen=True, kw_only=True)
class SourceImage:
    """The workflow's input image.

    Attributes:
        uri: as the user gave it.
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


def local_path(uri: str) -> Path:
    """The local file an image URI names; any scheme other than a path or ``file://`` is a clear error."""
    from dicec.files import local_file

    return local_file(uri, what="image URI",
                      elsewhere="on a cluster, mount the image or pass it as an input artifact")


def load_image(uri: str) -> SourceImage:
    """Read and identify the image at ``uri`` (cached per process by path, size and mtime)."""
    if not uri or uri.strip() != uri:
        raise DicecError("the image parameter is empty or has surrounding spaces", location=Location(path=uri or "''"))
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
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached if cached.uri == uri else SourceImage(uri=uri, digest=cached.digest, width=cached.width,
                                                            height=cached.height, data=cached.data,
                                                            _pixels=cached._pixels)
    if st.st_size > MAX_IMAGE_BYTES:
        raise DicecError(f"image is {st.st_size} bytes, over the {MAX_IMAGE_BYTES}-byte limit", location=where)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DicecError(f"cannot read image: {exc.strerror or exc}", location=where) from None
    width, height = image_size(data, where=uri)
    image = SourceImage(uri=uri, digest=hashlib.sha256(data).hexdigest(), width=width, height=height, data=data)
    with _CACHE_LOCK:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = image
    return image


def image_size(data: bytes, *, where: str) -> tuple[int, int]:
    """(width, height) from the header, without decoding the pixels."""
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise DicecError("unreadable image: a PNG without its IHDR header", location=Location(path=where))
        width, height = struct.unpack(">II", data[16:24])
        if width == 0 or height == 0 or width * height > MAX_PIXELS:
            raise DicecError(f"unreadable image: {width}x{height} pixels", location=Location(path=where))
        return width, height
    arr = decode(data, where=where)
    return arr.shape[1], arr.shape[0]


def decode(data: bytes, *, where: str) -> np.ndarray:
    """Image file bytes -> (H, W, 3) uint8 RGB."""
    if data.startswith(PNG_SIGNATURE):
        try:
            return _decode_png(data)
        except (ValueError, zlib.error, struct.error, IndexError) as exc:
            raise DicecError(f"unreadable image: broken PNG ({exc})", location=Location(path=where)) from None
    try:
        from PIL import Image  # optional: other formats
    except ImportError:
        raise DicecError("unreadable image: not a PNG (install Pillow to read other formats)",
                         location=Location(path=where)) from None
    import io

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # Pillow raises many types for bad files
        raise DicecError(f"unreadable image: {exc}", location=Location(path=where)) from None


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
        raise ValueError("interlaced PNG is not supported")
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
