"""Diffusion-4K texture metrics: GLCM score and compression ratio.

GLCM score (zhang0jhon/diffusion-4k `eval.py`): grey image (OpenCV's fixed-point BT.601
RGB->grey), quantised to 64 levels by `v // 4`, cut into non-overlapping 64x64 patches; per patch
`skimage.feature.graycomatrix(patch, distances=[1,2,3,4], angles=[0, pi/4, pi/2, 3pi/4], levels=64,
normed=True)` and `skimage.measure.shannon_entropy` of that array (the entropy of the histogram of
*distinct values* of the normalised GLCM, not the textbook GLCM entropy); mean over patches. The
original sizes the grid for square images; here the grid is floor(H/64) x floor(W/64) patches.

This module computes the same number vectorised over all patches: per-patch GLCMs by `bincount`,
and the distinct-value histogram through exact rationals (count / slice total reduced by their
gcd), which is what float equality of `count/total` amounts to for these small integers.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

GLCM_PATCH = 64
GLCM_LEVELS = 64
GLCM_DISTANCES = (1, 2, 3, 4)
GLCM_ANGLES = (0.0, math.pi / 4, math.pi / 2, 3 * math.pi / 4)


def rgb_to_gray_cv2(rgb: np.ndarray) -> np.ndarray:
    """cv2.cvtColor(..., COLOR_RGB2GRAY) for uint8: 14-bit fixed-point BT.601 weights, rounded."""
    r = rgb[..., 0].astype(np.int32)
    g = rgb[..., 1].astype(np.int32)
    b = rgb[..., 2].astype(np.int32)
    return ((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14).astype(np.uint8)


def _offsets(patch: int = GLCM_PATCH):
    # skimage: row offset round(sin(a) * d), column offset round(cos(a) * d), in (distance, angle) order
    out = []
    for d in GLCM_DISTANCES:
        for a in GLCM_ANGLES:
            dr = int(round(math.sin(a) * d))
            dc = int(round(math.cos(a) * d))
            out.append((dr, dc, (patch - abs(dr)) * (patch - abs(dc))))
    return out


@lru_cache(maxsize=4)
def _value_ids(totals: tuple[int, ...]):
    """For each slice total T: an array mapping count c in [0, T] to the id of the rational c/T."""
    ids: dict[Fraction, int] = {}
    luts = []
    for t in totals:
        lut = np.empty(t + 1, dtype=np.int64)
        for c in range(t + 1):
            lut[c] = ids.setdefault(Fraction(c, t), len(ids))
        luts.append(lut)
    return luts, len(ids)


def glcm_scores(gray_q: np.ndarray, patch: int = GLCM_PATCH, levels: int = GLCM_LEVELS,
                chunk: int = 64) -> np.ndarray:
    """Diffusion-4K GLCM score for every full patch of a quantised grey image (values < levels)."""
    h, w = gray_q.shape
    ph, pw = h // patch, w // patch
    if ph == 0 or pw == 0:
        return np.zeros(0)
    g = gray_q[:ph * patch, :pw * patch].astype(np.int64)
    # (P, patch, patch) stack of patches in row-major grid order
    patches = g.reshape(ph, patch, pw, patch).transpose(0, 2, 1, 3).reshape(ph * pw, patch, patch)
    offs = _offsets(patch)
    luts, n_ids = _value_ids(tuple(t for _, _, t in offs))
    cells = levels * levels
    scores = np.empty(len(patches))
    for s in range(0, len(patches), chunk):
        p = patches[s:s + chunk]
        n = len(p)
        base = (np.arange(n, dtype=np.int64) * cells)[:, None]
        hist = np.zeros(n * n_ids, dtype=np.int64)
        id_base = (np.arange(n, dtype=np.int64) * n_ids)[:, None]
        for (dr, dc, _), lut in zip(offs, luts):
            r0, r1 = max(0, -dr), patch - max(0, dr)
            c0, c1 = max(0, -dc), patch - max(0, dc)
            a = p[:, r0:r1, c0:c1].reshape(n, -1)
            b = p[:, r0 + dr:r1 + dr, c0 + dc:c1 + dc].reshape(n, -1)
            counts = np.bincount((base + a * levels + b).ravel(), minlength=n * cells).reshape(n, cells)
            hist += np.bincount((id_base + lut[counts]).ravel(), minlength=n * n_ids)
        hist = hist.reshape(n, n_ids).astype(np.float64)
        total = hist.sum(axis=1, keepdims=True)
        pr = hist / total
        with np.errstate(divide="ignore", invalid="ignore"):
            scores[s:s + n] = -np.where(pr > 0, pr * np.log2(pr), 0.0).sum(axis=1)
    return scores


def glcm_score(rgb: np.ndarray) -> float:
    """Mean Diffusion-4K GLCM score over the image's 64x64 patches (NaN when smaller than one patch)."""
    q = rgb_to_gray_cv2(rgb) // 4
    s = glcm_scores(q)
    return float(s.mean()) if len(s) else float("nan")


CODECS = {
    # lossless re-encode of the decoded pixels: fixed zlib level, no optimisation pass
    "png": {"format": "PNG", "params": {"compress_level": 6, "optimize": False}},
    # Diffusion-4K's own files were JPEG q95 (PIL defaults: 4:2:0 subsampling)
    "jpeg-q95": {"format": "JPEG", "params": {"quality": 95, "optimize": False, "subsampling": "4:2:0"}},
}


def codec_settings(codec: str = "png") -> dict:
    import PIL

    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; known: {', '.join(CODECS)}")
    return {"codec": codec, **CODECS[codec], "pillow": PIL.__version__}


def compression_ratio(rgb: np.ndarray, codec: str = "png") -> float:
    """Raw RGB bytes (H*W*3) over the encoded size of the same pixels; lower means more detail."""
    from PIL import Image

    spec = CODECS[codec]
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=spec["format"], **spec["params"])
    return float(rgb.shape[0] * rgb.shape[1] * 3) / buf.tell()


# Noise: GLCM entropy and compression size both grow with pixel noise, which is not detail. The
# estimate published beside them is Immerkaer's (1996, "Fast noise variance estimation", CVIU 64(2))
# Laplacian-difference operator N = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]], which cancels any locally
# linear (and most smooth) content; for Gaussian noise of sd s, N * I has sd 6 s. The median of |N * I|
# (over 0.6745 * 6) replaces the paper's mean so that edges, sparse in an image, do not count.
NOISE_FLAG = 2.0  # grey levels: above it an image's fine "detail" is largely noise (validated on photos)


def noise_sigma(rgb: np.ndarray) -> float:
    """Estimated sd of the white noise in the grey image, in grey levels (cv2 BT.601 grey, not rounded)."""
    x = rgb.astype(np.float32)
    g = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    if g.shape[0] < 3 or g.shape[1] < 3:
        return float("nan")
    c = g[1:-1, 1:-1]
    edges = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    corners = g[:-2, :-2] + g[:-2, 2:] + g[2:, :-2] + g[2:, 2:]
    r = np.abs(4 * c - 2 * edges + corners)
    return float(np.median(r) / (0.6745 * 6.0))
