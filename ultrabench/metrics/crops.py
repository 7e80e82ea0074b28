"""Native-resolution crops for the patch metrics (FID-patch, IS-patch, KID-patch).

Positions come from `np.random.default_rng([seed, crc32(key)])`, where the key is a stable name of
the image: prompt id + seed for generated images (`image_key`), the sha256 of the file for
reference images, which have neither (asked for by name: `scoring.views.CONTENT_KEY`; an empty key
is refused, so a generated image never falls back to its content). They therefore do not depend on
file order, worker count or method: every method gets the same positions for the same prompt and
seed at the same image size. Positions are drawn per size: the same key gives other positions at
another image size.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from ultrabench.errors import UltrabenchError

PATCH_SIZE = 299
PRESETS = {"ultrapixel": 3, "demofusion": 10}


class CropError(UltrabenchError):
    """An image is smaller than the crop: a patch metric cannot use it."""


def image_key(prompt_id: str, seed: int) -> str:
    return f"{prompt_id}__s{int(seed)}"


def crop_positions(height: int, width: int, key: str, n: int = 3, size: int = PATCH_SIZE,
                   seed: int = 0) -> list[list[int]]:
    """[[top, left, size, size], ...], uniformly random top-left corners, fully inside the image."""
    if height < size or width < size:
        raise CropError(f"image {key!r} is {height}x{width}, smaller than the {size}x{size} crop of the patch metrics")
    rng = np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8"))])
    tops = rng.integers(0, height - size + 1, size=n)
    lefts = rng.integers(0, width - size + 1, size=n)
    return [[int(t), int(left), size, size] for t, left in zip(tops, lefts)]


def take_crops(rgb: np.ndarray, boxes) -> np.ndarray:
    """(n, size, size, 3) uint8 from an (H, W, 3) array."""
    return np.stack([rgb[t:t + h, left:left + w] for t, left, h, w in boxes])


def pair_key(crop_key: str) -> str:
    """The prompt id of an image's crop key ('<prompt_id>__s<seed>' -> '<prompt_id>'): paired
    protocols place crops per prompt, so a method's image and the prompt's reference share them."""
    m = re.fullmatch(r"(.*)__s-?\d+", crop_key)
    return m.group(1) if m else crop_key


def tile_grid(height: int, width: int, size: int) -> list[list[int]]:
    """[[top, left, size, size], ...] covering every pixel with the fewest size x size tiles:
    ceil(H/size) rows and ceil(W/size) columns, spread evenly from edge to edge (first tile at 0, last
    flush with the far edge, overlaps rounded), row by row. An image smaller than a tile raises."""
    if height < size or width < size:
        raise CropError(f"image is {height}x{width}, smaller than the {size}x{size} tiles")

    def starts(extent: int) -> list[int]:
        k = -(-extent // size)
        return [0] if k == 1 else [round(i * (extent - size) / (k - 1)) for i in range(k)]

    return [[t, left, size, size] for t in starts(height) for left in starts(width)]
