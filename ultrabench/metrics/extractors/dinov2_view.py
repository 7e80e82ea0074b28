"""The FD-DINOv2 view: dgm-eval's resize, done in the decode worker (numpy and PIL only).

dgm-eval opens each file with PIL, converts it to RGB and applies torchvision
`Resize((224, 224), BICUBIC)`, which on a PIL image is `Image.resize((224, 224), BICUBIC)`: the
whole image squashed to a square (no crop), Pillow's bicubic (a = -0.5) with its support widened
by the downscale factor (so antialiased), rounded back to uint8.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

DINOV2_SIZE = 224


def square(img: Image.Image | np.ndarray, size: int = DINOV2_SIZE, filter: str = "bicubic") -> np.ndarray:
    """PIL resize of the RGB image to (size, size) -> uint8 (size, size, 3); an image already that size is kept."""
    if filter != "bicubic":
        raise ValueError(f"square view: only the bicubic filter is implemented, got {filter!r}")
    im = img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, dtype=np.uint8))
    if im.size == (size, size):
        return np.asarray(im, dtype=np.uint8)
    return np.asarray(im.resize((size, size), resample=Image.BICUBIC), dtype=np.uint8)
