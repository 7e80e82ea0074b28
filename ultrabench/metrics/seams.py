"""Seam score: periodic gradient energy at the tile strides of tiled decoders and patch samplers.

A tiled VAE decode (Sana's DC-AE at stride 896, SDXL-style 512/1024 tiles) or a patch-based sampler
(MultiDiffusion-style windows at 128 x k pixels, i.e. 16 x k latents) can leave a step in brightness
or texture along every tile boundary. Such a seam is a full-length line of extra gradient that
repeats at a fixed stride; image content is not. Definition (protocol `seam@grad-q25-v1`):

1. luma Y = 0.299 R + 0.587 G + 0.114 B (float, grey levels 0..255), at native resolution;
2. column profile g[x] = mean over bands of 32 rows of |mean over the band of (Y[:, x+1] - Y[:, x])|,
   for the boundary at p = x + 1 between columns x and x + 1 (rows likewise, for horizontal
   seams): a seam's step is constant along its line, so averaging the signed difference along the
   line first keeps it and cancels pixel noise (by sqrt(32)) before the absolute value;
3. excess at each boundary r[p] = (g[p] - b[p]) / (mean(g) + 1), where b[p] is the median of g over
   the 8 nearest boundaries (p-4..p+4 without p, mirrored at the edges): a boundary brighter in
   gradient than its neighbourhood, relative to the image's mean gradient (+1 grey level keeps
   flat images at 0);
4. for each candidate stride s (default 128..1024 in steps of 64, which includes 896 and 960) and
   offset o < s, E(s, o) = the lower quartile (numpy 'lower' method) of r[p] over the boundaries
   p = o, o + s, o + 2s, ... inside the image (at least 3 of them): a seam must be present at three
   of every four of its repeats, so multiples of a seam stride also score but its divisors (every
   other line a seam) do not;
5. the axis score is max E(s, o) minus the same maximum over the texture periods 2..min(s)/2 (so a
   finely periodic texture, which repeats at every multiple of its period, is not taken for seams),
   floored at 0; the detected stride is the smallest s whose best E reaches 0.5 of the maximum (the
   fundamental of its multiples), with its offset; below a score of 0.25 no stride is reported (0),
   since the best fit to noise means nothing;
6. seam score = max(column score, row score); per image, the detected axis, stride and offset
   are reported beside it (per_image.parquet's `details` column).

An image without periodic lines scores near 0 (a 4096-pixel profile averages 4096 rows, so its
noise is small); a visible seam of d grey levels on a flat image scores about d.
"""

from __future__ import annotations

import numpy as np

DEFAULT_STRIDES = "128-1024/64"
BAND = 32  # rows averaged (signed) before the absolute value: a seam is constant along its line
NEIGHBOURS = 4  # boundaries on each side that form the local baseline
FUNDAMENTAL = 0.5  # a smaller stride within this fraction of the best is reported as the stride
DETECTED = 0.25  # below this score no stride is reported (0): the best fit of noise means nothing
MIN_REPEATS = 3  # a stride seen fewer times is not a period (for 4096 pixels: strides up to 1024)
QUANTILE = 0.25  # of the excess over a stride's repeats: a seam must be at 3 of every 4 of them
# seam_features() layout: the per-image feature vector the plugin caches
FIELDS = ("score", "axis", "stride", "offset", "score_columns", "score_rows")


def parse_strides(spec: str) -> tuple[int, ...]:
    """'128-1024/64' (a range with a step) or '896,1024' (a list), or both joined by commas."""
    out: list[int] = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            rng, _, step = part.partition("/")
            lo, _, hi = rng.partition("-")
            out += list(range(int(lo), int(hi) + 1, int(step or 1)))
        else:
            out.append(int(part))
    if not out or min(out) < 2:
        raise ValueError(f"bad seam strides {spec!r}: give e.g. '128-1024/64' or '896,1024'")
    return tuple(sorted(set(out)))


def luma(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def band_profile(diff: np.ndarray) -> np.ndarray:
    """Mean over bands of BAND rows of |mean signed difference in the band| (see step 2)."""
    h = diff.shape[0]
    bands = max(1, h // BAND)
    d = diff[: bands * BAND] if h >= BAND else diff
    return np.abs(d.reshape(bands, -1, diff.shape[1]).mean(axis=1)).mean(axis=0)


def excess(profile: np.ndarray) -> np.ndarray:
    """r[p] for p = 0..len(profile) (index p-1 of the profile is boundary p; r[0] is NaN)."""
    g = np.asarray(profile, dtype=np.float64)
    n, k = len(g), NEIGHBOURS
    padded = np.pad(g, k, mode="reflect") if n > k else np.pad(g, k, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)
    base = np.median(np.delete(windows, k, axis=1), axis=1)
    r = (g - base) / (g.mean() + 1.0)
    return np.concatenate([[np.nan], r])


def _best_per_stride(r: np.ndarray, strides) -> dict[int, tuple[float, int]]:
    """stride -> (max over offsets of E(s, o), that offset), for the strides with MIN_REPEATS repeats."""
    n = len(r)  # boundaries 1..n-1
    best: dict[int, tuple[float, int]] = {}
    for s in strides:
        k = -(-n // s)
        grid = np.full(k * s, np.nan)
        grid[:n] = r
        grid = grid.reshape(k, s)
        count = np.isfinite(grid).sum(axis=0)
        ok = count >= MIN_REPEATS
        if not ok.any():
            continue
        # the 'lower' QUANTILE of each column's finite values (NaN sorts last): np.nanquantile, faster
        at = np.floor(QUANTILE * (np.maximum(count, 1) - 1)).astype(np.int64)
        e = np.where(ok, np.take_along_axis(np.sort(grid, axis=0), at[None, :], axis=0)[0], -np.inf)
        o = int(np.argmax(e))
        best[s] = (float(e[o]), o)
    return best


def axis_score(profile: np.ndarray, strides) -> tuple[float, int, int]:
    """(seam score of one profile, detected stride, its offset); (0, 0, 0) when no stride fits twice."""
    r = excess(profile)
    best = _best_per_stride(r, strides)
    if not best:
        return 0.0, 0, 0
    top = max(v for v, _ in best.values())
    texture = _best_per_stride(r, range(2, max(2, min(strides) // 2) + 1))
    floor = max([v for v, _ in texture.values()] + [0.0])
    stride = min(s for s, (v, _) in best.items() if v >= FUNDAMENTAL * top) if top > 0 else \
        max(best, key=lambda s: best[s][0])
    return max(0.0, top - floor), stride, best[stride][1]


def seam_features(rgb: np.ndarray, strides=parse_strides(DEFAULT_STRIDES)) -> np.ndarray:
    """[score, axis (0 columns / 1 rows), stride, offset, column score, row score] of one image."""
    y = luma(rgb)
    cols = band_profile(np.diff(y, axis=1)) if y.shape[1] > 1 else np.zeros(0)
    rows = band_profile(np.diff(y, axis=0).T) if y.shape[0] > 1 else np.zeros(0)
    sc, stc, oc = axis_score(cols, strides) if len(cols) else (0.0, 0, 0)
    sr, sts, osr = axis_score(rows, strides) if len(rows) else (0.0, 0, 0)
    axis = 0 if sc >= sr else 1
    stride, offset = (stc, oc) if axis == 0 else (sts, osr)
    if max(sc, sr) < DETECTED:
        stride = offset = 0
    return np.array([max(0.0, sc, sr), axis, stride, offset, sc, sr], dtype=np.float64)
