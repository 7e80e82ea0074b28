"""CMMD (Jayasumana et al., CVPR 2024): squared MMD between CLIP embedding sets with a Gaussian RBF
kernel k(x, y) = exp(-||x - y||^2 / (2 sigma^2)), sigma = 10, reported x 1000.

Two estimators of MMD^2 (m = |X|, n = |Y|):
- "biased" (the released google-research/cmmd `distance.mmd`, its docstring: "the
  minimum-variance/biased version" of Gretton et al. 2012, Eq. 5): means over all pairs, i = j
  included: mean K_XX + mean K_YY - 2 mean K_XY.
- "unbiased" (the estimator the paper writes): K_XX and K_YY averaged over i != j only.
Since k(x, x) = 1, biased - unbiased = (1 - u_XX) / m + (1 - u_YY) / n exactly, where u are the
off-diagonal means: a gap that shrinks as 1/m but is not negligible for small sets.

float64 throughout, kernels summed in row blocks so 30k embeddings need no 30k x 30k matrix.
"""

from __future__ import annotations

import numpy as np

SIGMA = 10.0
SCALE = 1000.0
ESTIMATORS = ("biased", "unbiased")


def rbf_kernel(x, y, sigma: float = SIGMA) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
    return np.exp(-np.clip(d2, 0.0, None) / (2.0 * sigma * sigma))


def _kernel_sum(x: np.ndarray, y: np.ndarray, sigma: float, block: int) -> float:
    return float(sum(rbf_kernel(x[i:i + block], y, sigma).sum() for i in range(0, len(x), block)))


def _check(x, y, estimator: str) -> tuple[np.ndarray, np.ndarray]:
    if estimator not in ESTIMATORS:
        raise ValueError(f"CMMD estimator must be one of {ESTIMATORS}, got {estimator!r}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    least = 2 if estimator == "unbiased" else 1
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"CMMD needs two (n, d) embedding arrays of one width, got {x.shape} and {y.shape}")
    if len(x) < least or len(y) < least:
        raise ValueError(f"the {estimator} CMMD estimator needs at least {least} embeddings per set, "
                         f"got {len(x)} and {len(y)}")
    return x, y


def cmmd(x, y, *, sigma: float = SIGMA, scale: float = SCALE, estimator: str = "biased", block: int = 2048) -> float:
    """scale * MMD^2 of the two embedding sets (rows), with the chosen estimator."""
    x, y = _check(x, y, estimator)
    m, n = len(x), len(y)
    sxx, syy = _kernel_sum(x, x, sigma, block), _kernel_sum(y, y, sigma, block)
    sxy = _kernel_sum(x, y, sigma, block)
    if estimator == "biased":
        return float(scale * (sxx / m ** 2 + syy / n ** 2 - 2.0 * sxy / (m * n)))
    # k(x, x) = 1: the diagonal of each within-set sum is its size
    return float(scale * ((sxx - m) / (m * (m - 1)) + (syy - n) / (n * (n - 1)) - 2.0 * sxy / (m * n)))


class CMMDBootstrap:
    """CMMD of resampled generated embeddings against fixed reference embeddings.

    Kernel matrices are computed once; a resample (indices, repeats allowed) only indexes them.
    The unbiased form leaves out the pairs of a resample with themselves (positions i = j), as
    KIDBootstrap does.
    """

    def __init__(self, feats, ref_feats, *, sigma: float = SIGMA, scale: float = SCALE, estimator: str = "biased"):
        x, y = _check(feats, ref_feats, estimator)
        self.estimator, self.scale = estimator, scale
        self.k_xx = rbf_kernel(x, x, sigma)
        n = len(y)
        syy = _kernel_sum(y, y, sigma, 2048)
        self.syy = syy / n ** 2 if estimator == "biased" else (syy - n) / (n * (n - 1))
        self.k_xy_rowmean = rbf_kernel(x, y, sigma).mean(axis=1)

    def value(self, idx) -> float:
        idx = np.asarray(idx)
        k = self.k_xx[np.ix_(idx, idx)]
        m = len(idx)
        sxx = k.sum() / m ** 2 if self.estimator == "biased" else (k.sum() - np.trace(k)) / (m * (m - 1))
        return float(self.scale * (sxx + self.syy - 2.0 * self.k_xy_rowmean[idx].mean()))
