"""HPSv2's evaluation resize as a decode-worker view (numpy and PIL only, no torch).

HPSv2 scores with the transform its factory builds for `light_augmentation=True`: ToTensor, then
`ResizeMaxSize(224, fill=0)`: scale = 224 / max(h, w), new size (round(h * scale), round(w * scale))
with Python's round, torchvision's *tensor* resize (bicubic, antialiased: the default for tensors
since torchvision 0.17; older releases resized tensors without antialiasing, so HPS scores of large
images computed with them differ from these), then zero padding, pad // 2 on the left/top and the
rest on the right/bottom, before the mean/std normalisation (so the bars are black, not mean grey).

torch's antialiased bicubic kernel is a port of Pillow's resampling, so each channel is resized here
in Pillow's float ('F') mode: same filter, no 8-bit rounding, and no clipping (the tensor path does
not clip either; bicubic overshoot stays). Measured against torchvision 0.29 on noise images: at
most 1.4e-5 apart on the [0, 1] scale. One departure: an image whose longest side is already `size`
but which is not square is padded here; the reference skips resize and padding together when the
scale is 1 and hands the model a non-square tensor it cannot take.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

VIEW_KIND = "longest-side-pad"


def longest_side_pad(img: Image.Image, size: int = 224) -> np.ndarray:
    """(size, size, 3) float32 on the 0..255 scale: longest side to `size`, bicubic, zero padding."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    scale = size / float(max(h, w))
    nh, nw = round(h * scale), round(w * scale)
    out = np.zeros((size, size, 3), dtype=np.float32)
    top, left = (size - nh) // 2, (size - nw) // 2
    for c in range(3):
        ch = img.getchannel(c).convert("F")  # exact for 8-bit values
        if (nh, nw) != (h, w):
            ch = ch.resize((nw, nh), resample=Image.BICUBIC)
        out[top:top + nh, left:left + nw, c] = np.asarray(ch)
    return out
