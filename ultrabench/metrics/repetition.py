"""Repetition score: how strongly distant regions of one image match each other, in DINOv2 patch
tokens, beyond what the image's texture makes alike (protocol `repetition@dinov2-farnear-s448-v1`).

The typical failure of training-free methods at 4096x4096 is an object drawn again and again across
the canvas (several heads, a second sun). A duplicated object's tokens find an almost equal token far
away that is closer to them than anything around them; ordinary content does not, and in a smooth
or uniformly textured image a token's neighbours are as alike as its best distant match.
Definition, for the patch tokens of the image
squashed to a square (default 448 pixels: a 32x32 grid of 14-pixel patches, each token 128 pixels of
a 4096 image):

1. tokens t_i, L2-normalised; with R = ceil(grid / 8) cells, far(i) = the tokens at Chebyshev
   distance > R from i, near(i) = those at distance 1..R;
2. contrast c_i = max_{j in far(i)} cos(t_i, t_j) - max_{j in near(i)} cos(t_i, t_j): how much
   better i's best distant match is than its best match around it (>= 0 only where a distant region
   repeats i more closely than i's own surroundings do);
3. score = the mean of the largest 10% of c_i (the duplicated object's tokens; a whole-image mean
   would dilute an object that fills a tenth of the canvas);
4. beside it, per image: the fraction of tokens with c_i > 0.25, and the best pair (i, argmax j), as
   pixel centres in the original image, so a report can point at the two copies.

Numpy only: the plugin runs DINOv2 and hands this function the token grid. With random stand-in
weights (tests) the score separates aligned tiled copies from single objects, smooth images and
textures of a token's period, but fires on pixel noise and on fine textures whose period is not a
multiple of the token cell: a random ViT is not shift-invariant and its 64-dimensional tokens make
the best of ~700 distant candidates stand out from the best of ~80 near ones by chance
(tests/test_repetition_score.py shows both). Trained DINOv2 tokens are what the definition is for.
"""

from __future__ import annotations

import math

import numpy as np

TOP = 0.10  # fraction of tokens whose contrasts are averaged
FAR_FRACTION = 8  # R = ceil(grid side / FAR_FRACTION) cells
FIRES = 0.25  # a token whose contrast exceeds this counts as repeated (the reported fraction)
# repetition_features() layout
FIELDS = ("score", "fraction", "y0", "x0", "y1", "x1")


def cell_distance(rows: int, cols: int) -> tuple[np.ndarray, int]:
    """((n, n) Chebyshev distances between token cells, R)."""
    y, x = np.divmod(np.arange(rows * cols), cols)
    return np.maximum(np.abs(y[:, None] - y[None, :]), np.abs(x[:, None] - x[None, :])), \
        math.ceil(max(rows, cols) / FAR_FRACTION)


def contrasts(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(c_i per token, index of i's best far match) for a (rows, cols, D) token grid."""
    rows, cols = tokens.shape[:2]
    t = tokens.reshape(rows * cols, -1).astype(np.float64)
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    sim = t @ t.T
    dist, r = cell_distance(rows, cols)
    far = np.where(dist > r, sim, -np.inf)
    best = np.argmax(far, axis=1)
    near = np.where((dist >= 1) & (dist <= r), sim, -np.inf).max(axis=1)
    return far.max(axis=1) - near, best


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
