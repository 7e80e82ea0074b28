"""Repetition score: how much better a region of one image matches a distant region than its own
surroundings, in DINOv2 patch tokens (protocol `repetition@dinov2-block-s448-v2`).

The typical failure of training-free methods at 4096x4096 is an object drawn again and again across
the canvas (several heads, a second sun, a grid of faces). A duplicated object's tokens find, at any
distance, a partner whose whole neighbourhood matches theirs; ordinary content does not, and in a
smooth or uniformly textured image a token's shifted surroundings match as well. Definition, for the
patch tokens of the image squashed to a square (default 448 pixels: a 32x32 grid of 14-pixel
patches, each token 128 pixels of a 4096 image):

1. tokens t_i, L2-normalised; i's best match j(i) = argmax cos(t_i, t_j) over the tokens farther
   than NEAR (1) cell (Chebyshev): past the neighbours, whose content overlaps i's, at every distance;
2. block match B(i, d, sign) = mean over the 3x3 block of cells i + b of cos(t_(i+b), t_(i+d+sign*b))
   (cells whose partner falls off the grid left out);
3. contrast c_i = B(i, j(i) - i, +1) - max(max over the 8 unit shifts u of B(i, u, +1),
   B(i, j(i) - i, -1)): the per-image null is what the same image gives without a copy: its
   surroundings shifted by one cell (smooth and textured regions match there as well), and the
   partner's block turned by 180 degrees (a repeated texture or pattern matches turned; a copy of an
   object does not);
4. score = the mean of the largest 10% of c_i (a whole-image mean would dilute an object that fills
   a tenth of the canvas); beside it, per image: the fraction of tokens with c_i > FIRES, and the best
   pair (i, j(i)), as token centres, so a report can point at the two copies.

The FIRES threshold (0.25) and the score's scale are unvalidated until real DINOv2 weights run it:
here it was checked with random stand-in weights (tests) and on scikit-image's photographs with HOG
and colour stand-in tokens (`ultrabench.metrics.photos.hog_tokens`; reports/validation/), where a
grid of one region scores far above every clean photograph at every period, and pasted copies raise
it in every photograph, but photographs of genuinely repeated things (coins, bricks) score above a
scene with two or three unaligned copies: HOG is not shift-invariant, so its copies match worse than
DINOv2's should.
"""

from __future__ import annotations

import math

import numpy as np

TOP = 0.10  # fraction of tokens whose contrasts are averaged
NEAR = 1  # a token's best match is sought beyond this Chebyshev distance (its neighbours overlap it)
FIRES = 0.25  # a token whose contrast exceeds this counts as repeated (unvalidated: see the docstring)
# repetition_features() layout
FIELDS = ("score", "fraction", "y0", "x0", "y1", "x1")
_BLOCK = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
_UNIT = [d for d in _BLOCK if d != (0, 0)]


def cell_distance(rows: int, cols: int) -> np.ndarray:
    """(n, n) Chebyshev distances between token cells."""
    y, x = np.divmod(np.arange(rows * cols), cols)
    return np.maximum(np.abs(y[:, None] - y[None, :]), np.abs(x[:, None] - x[None, :]))


def _block_match(sim: np.ndarray, rows: int, cols: int, dy: np.ndarray, dx: np.ndarray, sign: int = 1) -> np.ndarray:
    """For each token i: the mean over the 3x3 block around i (cells i + b) of cos(t_(i + b),
    t_(i + d_i + sign * b)), over the cells whose partner is inside the grid; sign -1 pairs the block
    with the partner's block turned by 180 degrees."""
    y, x = np.divmod(np.arange(rows * cols), cols)
    total = np.zeros(rows * cols)
    count = np.zeros(rows * cols)
    for by, bx in _BLOCK:
        ay, ax = y + by, x + bx
        py, px = y + dy + sign * by, x + dx + sign * bx
        ok = (ay >= 0) & (ay < rows) & (ax >= 0) & (ax < cols) & (py >= 0) & (py < rows) & (px >= 0) & (px < cols)
        a = np.where(ok, ay * cols + ax, 0)
        q = np.where(ok, py * cols + px, 0)
        total += np.where(ok, sim[a, q], 0.0)
        count += ok
    return total / np.maximum(count, 1)


def contrasts(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(c_i per token, index of i's best far match) for a (rows, cols, D) token grid."""
    rows, cols = tokens.shape[:2]
    t = tokens.reshape(rows * cols, -1).astype(np.float64)
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    sim = t @ t.T
    dist = cell_distance(rows, cols)
    best = np.argmax(np.where(dist > NEAR, sim, -np.inf), axis=1)
    y, x = np.divmod(np.arange(rows * cols), cols)
    by, bx = np.divmod(best, cols)
    far = _block_match(sim, rows, cols, by - y, bx - x)
    turned = _block_match(sim, rows, cols, by - y, bx - x, -1)
    near = np.max([_block_match(sim, rows, cols, np.full(len(t), dy), np.full(len(t), dx)) for dy, dx in _UNIT],
                  axis=0)
    return far - np.maximum(near, turned), best


def repetition_features(tokens: np.ndarray, height: int, width: int) -> np.ndarray:
    """[score, fraction, y0, x0, y1, x1] of one image's (rows, cols, D) tokens; (height, width): the
    original image's size, for the best pair's pixel centres."""
    rows, cols = tokens.shape[:2]
    c, best = contrasts(tokens)
    k = max(1, int(round(TOP * len(c))))
    score = float(np.sort(c)[-k:].mean())
    i = int(np.argmax(c))
    j = int(best[i])

    def centre(n):
        y, x = divmod(n, cols)
        return (y + 0.5) * height / rows, (x + 0.5) * width / cols

    (y0, x0), (y1, x1) = centre(i), centre(j)
    return np.array([score, float((c > FIRES).mean()), y0, x0, y1, x1], dtype=np.float64)
