"""Kernel Inception Distance: unbiased MMD^2 with the polynomial kernel k(a,b) = (a.b/d + 1)^3.

Subsets are drawn like torch-fidelity (`np.random.RandomState(seed).choice(n, m, replace=False)`
for the first set, then the second, per subset), so with the same seed the value equals
torch-fidelity's `kid_features_to_metric` exactly. With m equal to both set sizes every subset is a
permutation and the value is seed-free (that is how it matches clean-fid's unseeded version).
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x, y, degree: int = 3, gamma: float | None = None, coef: float = 1.0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    g = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * g + coef) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    m = k_xx.shape[0]
    n = k_yy.shape[0]
    if m < 2 or n < 2:
        raise ValueError("unbiased MMD needs at least 2 samples on each side")
    sxx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    syy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * k_xy.mean())


def mmd2(x, y, **kernel) -> float:
    return mmd2_unbiased(polynomial_kernel(x, x, **kernel), polynomial_kernel(y, y, **kernel),
                         polynomial_kernel(x, y, **kernel))


def kernel_inception_distance(feats1, feats2, *, subsets: int = 100, subset_size: int = 1000, seed: int = 2020,
                              **kernel) -> tuple[float, float, int]:
    """(mean, std over subsets, subset size actually used). The subset size is capped at min(n1, n2)."""
    f1 = np.asarray(feats1, dtype=np.float64)
    f2 = np.asarray(feats2, dtype=np.float64)
    m = min(subset_size, len(f1), len(f2))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples on each side (got {len(f1)} and {len(f2)})")
    rng = np.random.RandomState(seed)
    vals = np.empty(subsets)
    for i in range(subsets):
        a = f1[rng.choice(len(f1), m, replace=False)]
        b = f2[rng.choice(len(f2), m, replace=False)]
        vals[i] = mmd2(a, b, **kernel)
    return float(vals.mean()), float(vals.std()), m


class KIDBootstrap:
    """Full-set unbiased MMD^2 of resampled generated features against a fixed reference.

    Kernel matrices are computed once; a resample only indexes them.
    """

    def __init__(self, feats, ref_feats, **kernel):
        self.k_xx = polynomial_kernel(feats, feats, **kernel)
        k_yy = polynomial_kernel(ref_feats, ref_feats, **kernel)
        n = k_yy.shape[0]
        self.syy = float((k_yy.sum() - np.trace(k_yy)) / (n * (n - 1)))
        self.k_xy_rowmean = polynomial_kernel(feats, ref_feats, **kernel).mean(axis=1)

    def value(self, idx: np.ndarray) -> float:
        k = self.k_xx[np.ix_(idx, idx)]
        m = len(idx)
        sxx = (k.sum() - np.trace(k)) / (m * (m - 1))
        return float(sxx + self.syy - 2.0 * self.k_xy_rowmean[idx].mean())
