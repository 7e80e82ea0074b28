"""Real photographs with hand-made defects, for validating the native-resolution metrics.

The photographs are the ones scikit-image ships inside its wheel (`skimage.data`, read from the
package folder: no download). Each is Lanczos-upscaled to a square canvas, which leaves it smooth
at the pixel level; `sigma` adds Gaussian luma noise as a stand-in for native detail. The defects
are the failures the metrics are meant to see: tile seams of several kinds (a luma step, a blurred
band, a per-tile gain, an isoluminant chroma shift), pasted copies, a tiled grid of one region, and
the degradations detail metrics must not reward (blur, down-up-scaling, noise, JPEG).

`hog_tokens` is the repetition score's stand-in feature grid for photographs (HOG and colour per
token cell), used because no DINOv2 weights exist on this machine: it checks the score's
arithmetic on real content, not DINOv2's behaviour.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# (name, kind): 'texture' photos are uniformly textured, the others are scenes
PHOTOS = {"astronaut": "scene", "coffee": "scene", "chelsea": "scene", "rocket": "scene", "camera": "scene",
          "text": "scene", "coins": "texture", "brick": "texture", "grass": "texture", "gravel": "texture"}
SCENES = tuple(n for n, k in PHOTOS.items() if k == "scene")
TEXTURES = tuple(n for n, k in PHOTOS.items() if k == "texture")


def photo_source(name: str) -> np.ndarray:
    """The bundled photograph as (h, w, 3) uint8 (grey ones repeated over three channels)."""
    from skimage import data

    if name not in PHOTOS:
        raise KeyError(f"unknown photo {name!r}; known: {', '.join(PHOTOS)}")
    a = np.asarray(getattr(data, name)())
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a[..., :3]).astype(np.uint8)


def photo(name: str, size: int, sigma: float = 0.0, seed: int = 0) -> np.ndarray:
    """The photograph Lanczos-resized to size x size, plus Gaussian luma noise of `sigma` grey levels."""
    img = np.asarray(Image.fromarray(photo_source(name)).resize((size, size), Image.LANCZOS))
    return add_noise(img, sigma, seed) if sigma else img


def add_noise(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """The same Gaussian noise on all three channels (luma noise), rounded and clipped."""
    if not sigma:
        return img
    n = np.random.default_rng(seed).normal(0, sigma, img.shape[:2])[..., None]
    return np.clip(img + n, 0, 255).round().astype(np.uint8)


def _tile_index(n: int, stride: int, offset: int = 0) -> np.ndarray:
    return (np.arange(n) - offset) // stride


def seam(img: np.ndarray, kind: str, strength: float, stride: int, axis: int = 1, offset: int = 0) -> np.ndarray:
    """Tiles of `stride` pixels along `axis` (1: vertical lines, 0: horizontal), with a defect at each
    tile border. kind: 'step' (tiles alternately brighter and darker by strength/2 grey levels),
    'gain' (RGB alternately times 1 +- strength/200: a step of strength percent), 'chroma' (colour
    alternately shifted by +-strength/2 grey levels along an isoluminant direction of R and G), 'blur' (a Gaussian blur of sigma
    `strength` in a 4-pixel band centred on each border)."""
    x = img.astype(np.float64)
    n = img.shape[axis]
    idx = _tile_index(n, stride, offset)
    # alternating signs: neighbouring tiles differ by `strength` at every border
    signs = np.where(np.arange(idx.max() - idx.min() + 1) % 2 == 0, 1.0, -1.0)
    def along(v):
        return v[None, :, None] if axis == 1 else v[:, None, None]

    t = signs[idx - idx.min()]
    if kind == "step":
        x = x + along(t * strength / 2)
    elif kind == "gain":
        x = x * (1 + along(t * strength / 200))
    elif kind == "chroma":
        d = np.array([1.0, -0.299 / 0.587, 0.0])  # Y unchanged: 0.299 * 1 - 0.587 * 0.299 / 0.587 = 0
        x = x + along(t * strength / 2) * d
    elif kind == "blur":
        from scipy.ndimage import gaussian_filter1d

        blurred = gaussian_filter1d(x, strength, axis=axis) if strength else x
        borders = np.arange(offset % stride or stride, n, stride)
        band = np.zeros(n, bool)
        for b in borders:
            band[max(0, b - 2):b + 2] = True
        x = np.where(along(band), blurred, x)
    else:
        raise ValueError(f"unknown seam kind {kind!r}")
    return np.clip(x, 0, 255).round().astype(np.uint8)


def paste_copies(img: np.ndarray, copies: int, box: tuple[int, int, int, int] | None = None,
                 seed: int = 0) -> np.ndarray:
    """`copies` extra copies of a region (top, left, side, side; default the centre quarter's middle)
    pasted at random places of a grid of cells, so copies never overlap the source or each other."""
    h, w = img.shape[:2]
    side = box[2] if box else min(h, w) // 6
    top, left = (box[0], box[1]) if box else ((h - side) // 2, (w - side) // 2)
    src = img[top:top + side, left:left + side].copy()
    out = img.copy()
    cells = [(r, c) for r in range(h // side) for c in range(w // side)
             if not (abs(r * side - top) < side and abs(c * side - left) < side)]
    rng = np.random.default_rng(seed)
    for k in rng.permutation(len(cells))[:copies]:
        r, c = cells[k]
        out[r * side:(r + 1) * side, c * side:(c + 1) * side] = src
    return out


def tiled_grid(img: np.ndarray, period: int, box: tuple[int, int] | None = None) -> np.ndarray:
    """The canvas filled with copies of one period x period region (e.g. a face) in a grid."""
    h, w = img.shape[:2]
    top, left = box if box else ((h - period) // 2, (w - period) // 2)
    tile = img[top:top + period, left:left + period]
    return np.tile(tile, (-(-h // period), -(-w // period), 1))[:h, :w].copy()


def mirror_tiled(img: np.ndarray, period: int) -> np.ndarray:
    """Tiles of period x period alternately mirrored: no step at their borders, exact periodic content."""
    h, w = img.shape[:2]
    tile = img[:period, :period]
    pair = np.concatenate([tile, tile[:, ::-1]], axis=1)
    quad = np.concatenate([pair, pair[::-1]], axis=0)
    return np.tile(quad, (-(-h // (2 * period)), -(-w // (2 * period)), 1))[:h, :w].copy()


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    if not sigma:
        return img
    return np.clip(gaussian_filter(img.astype(np.float64), (sigma, sigma, 0)), 0, 255).round().astype(np.uint8)


def down_up(img: np.ndarray, factor: int) -> np.ndarray:
    """Lanczos down by `factor`, then back up: the detail of a smaller image upscaled."""
    if factor <= 1:
        return img
    h, w = img.shape[:2]
    im = Image.fromarray(img).resize((w // factor, h // factor), Image.LANCZOS)
    return np.asarray(im.resize((w, h), Image.LANCZOS))


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def hog_tokens(img: np.ndarray, size: int = 448, cell: int = 14) -> np.ndarray:
    """(size/cell, size/cell, 15) stand-in tokens of the image squashed to size x size (PIL bicubic):
    per cell a 9-bin HOG of the grey image and the mean and standard deviation of R, G, B, each
    feature standardised over the image's cells (so cosine similarity compares cells, not the
    image's average cell)."""
    from skimage.feature import hog

    sq = np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC)).astype(np.float64) / 255.0
    g = sq @ np.array([0.299, 0.587, 0.114])
    n = size // cell
    hf = hog(g, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(1, 1), feature_vector=False)
    hf = hf.reshape(n, n, 9)
    blocks = sq[:n * cell, :n * cell].reshape(n, cell, n, cell, 3)
    col = np.concatenate([blocks.mean(axis=(1, 3)), blocks.std(axis=(1, 3))], axis=2)
    t = np.concatenate([hf, col], axis=2)
    return (t - t.mean(axis=(0, 1))) / (t.std(axis=(0, 1)) + 1e-6)
