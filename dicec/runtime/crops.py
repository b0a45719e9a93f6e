"""The crops an edge detection sends to the cloud: one file with the pixels of each box it found.

DiCE-M's saving is that the vessel uploads what its detector found, not the frame. An edge step whose
detections feed an offloaded cloud step (:mod:`dicec.placement.edge`) writes, beside its value, a
*crop bundle* (``dicec op ... --crops-out FILE``); Argo uploads it as the step's output artifact and
hands it to the cloud step as an input artifact, which reads it instead of the image (``--crops FILE``).

The bundle is a ZIP archive, stored (the members are PNG already) and byte-for-byte deterministic
(fixed member order and timestamps):

* ``manifest.json``: ``{"format": "dicec-crops", "version": 1, "source": {"sha256", "width", "height"},
  "crops": [{"box": {"left", "lower", "right", "upper"}, "file": "crop-N.png" or null}],
  "border": "border.png"}``, one entry per distinct box (``null``: a box without area);
* ``crop-N.png``: the pixels of one box, exactly (lossless), one member per entry;
* ``border.png``: the frame's one-pixel border ring, the four edges in a row (what a backend that
  takes the plain background from the frame's edge needs: the built-in scene models).

A :class:`CroppedImage` stands in for the frame on the cloud side. It keeps the *source's* sha256,
width and height, so every call record, seed and cache key is the one the same call on the whole frame
would have: the final step matches the cloud step's records, and ``dicec run`` of an edge-cloud
workflow answers exactly as ``dicec exec`` of its program. Pixels outside the sent boxes do not exist
there: an operator asking for the whole frame (one whose spec says ``reads: frame``, which placement
never feeds crops) or for a box that was not sent gets a clear error, not a wrong answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dicec.errors import DicecError, Location
from dicec.runtime.calls import BOX_KEYS, boxes_read, is_box
from dicec.runtime.images import MAX_IMAGE_BYTES, MAX_PIXELS, PNG_SIGNATURE, decode, encode_png, image_size

FORMAT = "dicec-crops"
VERSION = 1
MANIFEST = "manifest.json"
BORDER = "border.png"
ZIP_MAGIC = b"PK\x03\x04"
#: A fixed timestamp for every member (ZIP's epoch), so the same crops give the same bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_MEMBER = re.compile(r"^crop-[0-9]{1,6}\.png$")
#: At most this many crops in one bundle (a detection's boxes; far more than any detector returns).
MAX_CROPS = 10_000
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


def is_bundle(data: bytes) -> bool:
    """Whether ``data`` looks like a crop bundle (a ZIP archive) rather than an image file."""
    return data.startswith(ZIP_MAGIC)


def _box_key(box: dict) -> tuple[int, int, int, int]:
    return tuple(int(box[k]) for k in BOX_KEYS)


def bundle_bytes(image: Any, boxes: list) -> bytes:
    """The crop bundle of ``boxes`` (root boxes in ``image``, e.g. a detection's value) cut from ``image``."""
    if not isinstance(boxes, list) or not all(is_box(b) for b in boxes):
        raise DicecError("--crops-out needs the step's value to be a list of boxes (a patch-list operator)")
    members: dict[str, bytes] = {}
    entries, files = [], {}
    for box in boxes:
        key = _box_key(box)
        if key in files:  # a box found twice is sent once
            continue
        pixels = image.crop(box)
        files[key] = None
        if pixels.size:
            files[key] = f"crop-{len(members)}.png"
            members[files[key]] = encode_png(pixels)
        entries.append({"box": dict(zip(BOX_KEYS, key)), "file": files[key]})
    manifest = {"format": FORMAT, "version": VERSION,
                "source": {"sha256": image.digest, "width": image.width, "height": image.height},
                "crops": entries, "border": BORDER}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in [(MANIFEST, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()),
                           *members.items(), (BORDER, encode_png(image.border()[None]))]:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = 3  # the same header bytes on every platform
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True, kw_only=True)
class CroppedImage:
    """The frame as a cloud step that was sent crops sees it.

    Attributes:
        uri: where the bundle came from (for messages).
        digest: the *source frame's* sha256 (its identity in records and seeds).
        width: the source frame's width.
        height: its height.
        data: the bundle's bytes (what a services-mode step uploads to a model server).
        crops: root box ``(left, lower, right, upper)`` -> its pixels ((h, w, 3) uint8, maybe empty).
        ring: the frame's border ring (:func:`dicec.runtime.images.border_ring`).
    """

    uri: str
    digest: str
    width: int
    height: int
    data: bytes = field(repr=False)
    crops: dict = field(repr=False)
    ring: np.ndarray = field(repr=False)

    @property
    def wire_digest(self) -> str:
        """sha256 of the bytes a model server is sent (the bundle, not the frame)."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def pixels(self) -> np.ndarray:
        raise DicecError(f"{self.uri}: this step was sent the crops of an edge detection, not the frame, and the "
                         "operator asked for the whole frame (its spec should say 'reads: frame')")

    def crop(self, box: dict) -> np.ndarray:
        """The pixels of a box that was sent; any other box is an error (its pixels never left the edge)."""
        found = self.crops.get(_box_key(box))
        if found is None:
            raise DicecError(f"{self.uri}: box {json.dumps({k: int(box[k]) for k in BOX_KEYS}, sort_keys=True)} "
                             "is not among the crops the edge step sent")
        return found

    def border(self) -> np.ndarray:
        return self.ring


def load_bundle(data: bytes, *, where: str) -> CroppedImage:
    """A bundle's bytes -> :class:`CroppedImage`; anything malformed is one error naming ``where``.

    A bundle may come from another machine (a model server is sent them), so it is checked before any
    pixel is decoded: members stored, not compressed; integer coordinates; each crop a member of its
    own whose PNG header gives exactly its box's size; at most :data:`MAX_CROPS` crops and
    ``MAX_PIXELS`` pixels in all, so a small file cannot ask for a large decode.
    """
    loc = Location(path=where)
    if len(data) > MAX_IMAGE_BYTES:
        raise DicecError(f"crop bundle is {len(data)} bytes, over the {MAX_IMAGE_BYTES}-byte limit", location=loc)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = {i.filename: i for i in archive.infolist()}
        if sum(i.file_size for i in infos.values()) > MAX_IMAGE_BYTES or \
                any(i.compress_type != zipfile.ZIP_STORED for i in infos.values()):
            raise ValueError("members must be stored uncompressed and within the size limit")
        if infos.get(MANIFEST) is None or infos[MANIFEST].file_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"no {MANIFEST} of at most {MAX_MANIFEST_BYTES} bytes")
        manifest = json.loads(archive.read(MANIFEST))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise ValueError(f"the manifest is not a {FORMAT} version {VERSION} manifest")
        source = manifest["source"]
        digest, width, height = source["sha256"], source["width"], source["height"]
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise ValueError("source.sha256 must be 64 lower-case hex digits")
        if not all(_is_int(v) and 0 < v <= MAX_PIXELS for v in (width, height)) or width * height > MAX_PIXELS:
            raise ValueError("source width and height must be positive integers within the pixel limit")
        entries = manifest["crops"]
        if not isinstance(entries, list) or len(entries) > MAX_CROPS:
            raise ValueError(f"'crops' must be a list of at most {MAX_CROPS} entries")
        planned: list[tuple[tuple, str | None]] = []
        used: set[str] = set()
        pixels_total = 0
        for entry in entries:
            box, name = entry["box"], entry["file"]
            if not isinstance(box, dict) or not all(_is_int(box.get(k)) and abs(box[k]) <= MAX_PIXELS
                                                    for k in BOX_KEYS):
                raise ValueError(f"a box must have integer {', '.join(BOX_KEYS)}")
            key = _box_key(box)
            rows, cols = min(height, key[3]) - max(0, key[1]), min(width, key[2]) - max(0, key[0])
            if name is not None:
                if not isinstance(name, str) or not _MEMBER.match(name) or name in used:
                    raise ValueError(f"bad or repeated crop file name {name!r}")
                used.add(name)
                if _png_size(archive, name, where) != (cols, rows):
                    raise ValueError(f"{name}'s size is not its box's ({cols}x{rows})")
                pixels_total += rows * cols
                if pixels_total > MAX_PIXELS:
                    raise ValueError(f"the crops hold more than {MAX_PIXELS} pixels")
            planned.append((key, name))
        crops: dict = {}
        for key, name in planned:
            crops[key] = np.zeros((0, 0, 3), dtype=np.uint8) if name is None else \
                decode(archive.read(name), where=f"{where}:{name}")
        if infos.get(BORDER) is None or _png_size(archive, BORDER, where) != (2 * (width + height), 1):
            raise ValueError("border.png does not match the frame's size")
        ring = decode(archive.read(BORDER), where=f"{where}:{BORDER}")
    except DicecError:
        raise
    except Exception as exc:  # untrusted bytes: any failure to read them is this one line
        raise DicecError(f"not a valid crop bundle: {type(exc).__name__}: {exc}"[:300], location=loc) from None
    return CroppedImage(uri=where, digest=digest, width=width, height=height, data=data, crops=crops, ring=ring[0])


def _png_size(archive: zipfile.ZipFile, name: str, where: str) -> tuple[int, int]:
    """(width, height) from a member's PNG header, without reading the rest."""
    with archive.open(name) as member:
        head = member.read(32)
    if not head.startswith(PNG_SIGNATURE):
        raise ValueError(f"{name} is not a PNG")
    return image_size(head, where=f"{where}:{name}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_bundle(path: str) -> CroppedImage:
    """Read the crop bundle at ``path`` (a local file)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DicecError(f"cannot read the crop bundle: {exc.strerror or exc}", location=Location(path=path)) from None
    return load_bundle(data, where=path)


@dataclass(frozen=True)
class Upload:
    """What a services-mode step sends a model server for one call: bytes and their sha256 (sent with
    the first request, as the server cannot hold a bundle cut for this call)."""

    data: bytes
    wire_digest: str
    send_data: bool = True


def call_upload(image: Any, call: Any) -> Upload:
    """The bundle of the boxes ``call`` reads (its receiver, and patches among its arguments), cut from ``image``."""
    data = bundle_bytes(image, boxes_read(call.patch, call.args))
    return Upload(data=data, wire_digest=hashlib.sha256(data).hexdigest())
