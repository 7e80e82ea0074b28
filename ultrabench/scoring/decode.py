"""Decode an image file once and derive every metric input from that one array.

Runs in worker processes, so it imports only numpy and PIL (never torch). What comes back is
small: the views the extractors asked for (`ultrabench.scoring.views`), e.g. the 299x299 float
resize, native crops, the short-side-224 resize that CLIP and PickScore crop from, and the
native-resolution texture numbers.

Conversion to RGB (the same rule for every source):
- EXIF orientation is applied first (`ImageOps.exif_transpose`);
- 16-bit data keeps its high byte (`v >> 8`), which is what Pillow already does for 16-bit RGB
  PNGs, so 16-bit grey and 16-bit colour agree;
- alpha is dropped, not composited (what clean-fid, torch-fidelity and open_clip do with
  `convert("RGB")`); palette, grey, CMYK and YCbCr go through `convert("RGB")`.

PNG decoding: 8-bit RGB/RGBA PNGs without EXIF or animation go through libspng (pyspng) when it is
installed: same pixels and flags as Pillow (tested), 0.35 s instead of 0.57 s for a 4096^2 file.
pyspng ignores chunk CRCs, and it decoded an image body with 60 zeroed bytes without an error
where Pillow reports a broken stream. So every chunk's CRC is checked here first (5 ms for 35 MB),
and a file that fails goes to Pillow, which names the damage. The one case left where Pillow
would refuse a file that libspng decodes: correct CRCs around a broken deflate stream, which only
a faulty encoder writes.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from ultrabench.scoring import views

try:  # libspng decodes 8-bit PNGs about 1.6x faster than Pillow, with identical pixels (tested)
    import pyspng
except ImportError:  # optional: platforms without a wheel use Pillow alone
    pyspng = None

# 4K-16K generations are legitimate inputs; keep a bound against absurd files only.
Image.MAX_IMAGE_PIXELS = 1 << 30
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks after which Pillow's result may differ from the plain pixels: EXIF orientation (eXIf, or
# ImageMagick's text-chunk copy of it) and animation (Pillow shows frame 0, libspng the default image).
_EXIF_TEXT_KEY = b"Raw profile type exif"

INCEPTION_SIZE = views.INCEPTION_SIZE
CLIP_SHORT_SIDE = views.CLIP_SHORT_SIDE


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_rgb(img: Image.Image) -> tuple[np.ndarray, list[str]]:
    """(H, W, 3) uint8 and flags describing what was converted."""
    flags: list[str] = []
    orientation = img.getexif().get(0x0112, 1)
    if orientation not in (None, 1):
        img = ImageOps.exif_transpose(img)
        flags.append(f"exif_orientation_{orientation}")
    mode = img.mode
    if mode != "RGB":
        flags.append(f"mode_{mode}")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.int64)
        if mode == "I" and a.max(initial=0) <= 255:
            g = a.clip(0, 255).astype(np.uint8)
        else:
            g = (a.clip(0, 65535) >> 8).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2), flags
    if mode == "F":
        g = np.asarray(img).clip(0, 255).round().astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2), flags
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        flags.append("alpha_dropped")
    if mode == "P":
        img = img.convert("RGBA")
    rgb = img.convert("RGB") if img.mode != "RGB" else img
    return np.asarray(rgb, dtype=np.uint8).copy(), flags


def resize_clean(rgb: np.ndarray | Image.Image, size: int = INCEPTION_SIZE) -> np.ndarray:
    """clean-fid's float resize of the whole image (the `resize-clean` view)."""
    img = rgb if isinstance(rgb, Image.Image) else None
    return views.resize_clean(np.asarray(rgb) if img is None else None, img, None, size)


def resize_short_side(rgb: np.ndarray | Image.Image, short: int = CLIP_SHORT_SIDE) -> np.ndarray:
    """The short side to `short` with PIL bicubic (the `short-side` view)."""
    img = rgb if isinstance(rgb, Image.Image) else None
    return views.short_side(np.asarray(rgb), img, None, short)


def _spng_format(data: bytes) -> tuple[list[str], tuple[int, int]] | None:
    """(flags, (h, w)) when libspng gives exactly what Pillow + `to_rgb` give for this file; else None.

    Only 8-bit RGB and RGBA PNGs qualify, without EXIF or animation chunks. Reads chunk headers only.
    """
    if pyspng is None or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    depth, colour = data[24], data[25]
    if depth != 8 or colour not in (2, 6) or w * h > Image.MAX_IMAGE_PIXELS:
        return None
    view, pos = memoryview(data), 8
    while pos + 12 <= len(data):
        n, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        # libspng as pyspng builds it skips chunk CRCs and decodes damaged bodies without a word
        # (tested); checking them here costs ~5 ms for a 35 MB file, and Pillow names the damage
        if zlib.crc32(view[pos + 4:pos + 8 + n]) != int.from_bytes(data[pos + 8 + n:pos + 12 + n], "big"):
            return None
        if kind in (b"eXIf", b"acTL"):
            return None
        if kind in (b"tEXt", b"zTXt", b"iTXt") and data[pos + 8:pos + 8 + len(_EXIF_TEXT_KEY)] == _EXIF_TEXT_KEY:
            return None
        if kind == b"IEND":
            return (["mode_RGBA", "alpha_dropped"] if colour == 6 else []), (h, w)
        pos += 12 + n
    return None  # truncated: let Pillow name the error


def decode_rgb(data: bytes) -> tuple[np.ndarray, list[str], Image.Image | None]:
    """(H, W, 3) uint8, flags, and a PIL RGB image of the same pixels when one came for free."""
    fast = _spng_format(data)
    if fast is not None:
        try:
            rgb = pyspng.load(data, "RGB")
            if rgb.shape == (*fast[1], 3):
                return rgb, list(fast[0]), None
        except Exception:  # libspng is stricter about some damage; Pillow decides and names the error
            pass
    im = Image.open(io.BytesIO(data))  # in memory: nothing to close
    im.load()
    rgb, flags = to_rgb(im)
    return rgb, flags, (im if im.mode == "RGB" and not flags else None)


def _reason(e: Exception) -> str:
    """The decoder's message without object reprs: Pillow names the in-memory buffer it was given
    ("cannot identify image file <_io.BytesIO object at 0x7f...>"), which says nothing to a user."""
    import re

    msg = re.sub(r"\s*<[\w.]+ object at 0x[0-9a-f]+>", "", str(e)).strip()
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


@dataclass
class Prepared:
    path: str
    sha256: str | None = None
    height: int = 0
    width: int = 0
    flags: list[str] = field(default_factory=list)
    views: dict[str, Any] = field(default_factory=dict)  # view key -> array
    boxes: dict[str, list[list[int]]] = field(default_factory=dict)  # view key -> crop boxes, for crop views
    view_errors: dict[str, str] = field(default_factory=dict)  # view key -> why this image cannot give it
    error: str | None = None
    stat: tuple[int, int] | None = None  # (size, mtime_ns) the bytes were read under, if stable


def prepare(path: str, wanted: list[views.View], crop_key: str = views.CONTENT_KEY, tiling: str = "") -> Prepared:
    """Decode `path` once and compute each wanted view from that one array. Never raises: a file that
    cannot be read goes into `.error`, a view the image cannot give (too small for the crop) into
    `.view_errors`, and the other views are still made."""
    out = Prepared(path=str(path))
    try:
        before = os.stat(path)
        data = Path(path).read_bytes()
        out.sha256 = sha256_bytes(data)
        after = os.stat(path)
        if before.st_size == after.st_size == len(data) and before.st_mtime_ns == after.st_mtime_ns:
            out.stat = (after.st_size, after.st_mtime_ns)
        rgb, out.flags, img = decode_rgb(data)
    except Exception as e:  # any decoder failure is reported by name, never fatal for the batch
        out.error = f"unreadable image {Path(path).name}: {_reason(e)}"
        return out
    out.height, out.width = rgb.shape[:2]
    ctx = views.ViewContext(out.sha256, crop_key, tiling)
    try:
        if img is None and any(views.VIEW_KINDS[v.kind].needs_pil for v in wanted):
            img = Image.fromarray(rgb)  # one PIL copy shared by every resize
        for v in dict.fromkeys(wanted):
            try:
                made = views.compute(v, rgb, img, ctx)
            except views.ViewError as e:
                out.view_errors[v.key] = str(e)
                continue
            if isinstance(made, tuple):
                made, out.boxes[v.key] = made
            out.views[v.key] = made
    except Exception as e:
        out.error = f"failed to process {Path(path).name}: {type(e).__name__}: {e}"
    return out
