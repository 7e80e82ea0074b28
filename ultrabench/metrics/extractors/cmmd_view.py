"""The CMMD view: what the original google-research/cmmd code does to every file it reads
(`io_util._center_crop_and_resize`), in the decode worker (numpy and PIL only).

The largest centred square (offsets floor((h - l) / 2), floor((w - l) / 2), l = min(h, w)) is
cut out and resized to 336x336 with PIL bicubic (antialiased when shrinking), rounded to uint8. The
original then divides by 255 and calls `jax.image.resize(..., 'bicubic')` to 336x336, which on a
336x336 array returns it unchanged (measured: max difference 0.0), so PIL's resize is the whole of
its resampling.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CMMD_SIZE = 336


def centre_square(img: Image.Image | np.ndarray, size: int = CMMD_SIZE) -> np.ndarray:
    """RGB image -> uint8 (size, size, 3): centred square crop (floor offsets), PIL bicubic resize."""
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))
    w, h = im.size
    side = min(w, h)
    top, left = (h - side) // 2, (w - side) // 2
    if (w, h) != (side, side):
        im = im.crop((left, top, left + side, top + side))
    if side != size:
        im = im.resize((size, size), resample=Image.BICUBIC)
    return np.asarray(im, dtype=np.uint8)
