"""Decode an image file once and derive every metric input from that one array.

Runs in worker processes, so it imports only numpy and PIL (never torch). What comes back is
small: the 299x299 float resize, the native 299 crops, the short-side-224 resize that CLIP and
PickScore crop from, and the native-resolution texture numbers.

Conversion to RGB (the same rule for every source):
- EXIF orientation is applied first (`ImageOps.exif_transpose`);
- 16-bit data keeps its high byte (`v >> 8`), which is what Pillow already does for 16-bit RGB
  PNGs, so 16-bit grey and 16-bit colour agree;
- alpha is dropped, not composited (what clean-fid, torch-fidelity and open_clip do with
  `convert("RGB")`); palette, grey, CMYK and YCbCr go through `convert("RGB")`.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

# 4K-16K generations are legitimate inputs; keep a bound against absurd files only.
Image.MAX_IMAGE_PIXELS = 1 << 30

INCEPTION_SIZE = 299
CLIP_SHORT_SIDE = 224


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


def resize_clean(rgb: np.ndarray, size: int = INCEPTION_SIZE) -> np.ndarray:
    """clean-fid 'clean' resize: PIL bicubic per channel on float32 ('F' mode), no re-quantisation."""
    out = np.empty((size, size, 3), dtype=np.float32)
    for c in range(3):
        ch = Image.fromarray(rgb[:, :, c].astype(np.float32), mode="F")
        out[:, :, c] = np.asarray(ch.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)
    return out


def resize_short_side(rgb: np.ndarray, short: int = CLIP_SHORT_SIDE) -> np.ndarray:
    """PIL bicubic resize of the short side to `short`, long side int(short * long / short_orig)
    (the size rule of torchvision.Resize and transformers' CLIPImageProcessor)."""
    h, w = rgb.shape[:2]
    if h <= w:
        nh, nw = short, int(short * w / h)
    else:
        nh, nw = int(short * h / w), short
    if (nh, nw) == (h, w):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((nw, nh), resample=Image.BICUBIC))


@dataclass
class Prepared:
    path: str
    sha256: str | None = None
    height: int = 0
    width: int = 0
    flags: list[str] = field(default_factory=list)
    x299: np.ndarray | None = None  # (299, 299, 3) float32 in [0, 255]
    crops: np.ndarray | None = None  # (P, 299, 299, 3) uint8
    boxes: list[list[int]] | None = None
    short224: np.ndarray | None = None  # (h', w', 3) uint8, short side 224
    glcm: float | None = None
    compression_ratio: float | None = None
    error: str | None = None
    crop_error: str | None = None


def prepare(path: str, want: dict[str, Any]) -> Prepared:
    """Decode `path` once and compute what `want` asks for. Never raises: failures go into `.error`.

    want keys: "resize" (bool), "crops" (dict key, n, seed, size or None), "short224" (bool),
    "glcm" (bool), "compression" (codec name or None).
    """
    from ultrabench.metrics import crops as cropmod
    from ultrabench.metrics import texture

    out = Prepared(path=str(path))
    try:
        data = Path(path).read_bytes()
        out.sha256 = sha256_bytes(data)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb, out.flags = to_rgb(im)
    except Exception as e:  # any decoder failure is reported by name, never fatal for the batch
        out.error = f"unreadable image {Path(path).name}: {type(e).__name__}: {e}"
        return out
    out.height, out.width = rgb.shape[:2]
    try:
        if want.get("resize"):
            out.x299 = resize_clean(rgb)
        c = want.get("crops")
        if c:
            try:
                out.boxes = cropmod.crop_positions(out.height, out.width, c["key"], c["n"], c.get("size", 299),
                                                   c.get("seed", 0))
                out.crops = cropmod.take_crops(rgb, out.boxes)
            except cropmod.CropError as e:
                out.crop_error = str(e)
        if want.get("short224"):
            out.short224 = resize_short_side(rgb)
        if want.get("glcm"):
            out.glcm = texture.glcm_score(rgb)
        if want.get("compression"):
            out.compression_ratio = texture.compression_ratio(rgb, want["compression"])
    except Exception as e:
        out.error = f"failed to process {Path(path).name}: {type(e).__name__}: {e}"
    return out
