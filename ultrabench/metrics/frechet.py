"""Frechet distance between Gaussians fitted to features (FID).

The trace term tr((S1 S2)^{1/2}) is computed in the symmetric form tr((A S2 A)^{1/2}) with
A = S1^{1/2}: both factors are PSD, so `eigh`/`eigvalsh` apply and the eigenvalues are real by
construction. Tiny negative eigenvalues from rounding are clipped to zero instead of becoming
complex numbers that a caller would have to discard silently (clean-fid) or raise on (pyiqa).
No `scipy.linalg.sqrtm(disp=...)`: that path is deprecated in SciPy >= 1.16.
"""

from __future__ import annotations

import numpy as np


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample covariance (ddof=1), in float64, as clean-fid / torch-fidelity compute them."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature rows to estimate a covariance, got shape {x.shape}")
    mu = x.mean(axis=0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - 1)
    return mu, sigma


def sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix via eigh; negative rounding noise is clipped to 0."""
    a = np.asarray(a, dtype=np.float64)
    a = (a + a.T) / 2
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, sqrt_sigma1: np.ndarray | None = None) -> float:
    """tr((sigma1 sigma2)^{1/2}) for PSD inputs, real by construction."""
    a = sqrt_sigma1 if sqrt_sigma1 is not None else sqrtm_psd(sigma1)
    m = a @ np.asarray(sigma2, dtype=np.float64) @ a
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))


def fid_from_features(feats1, feats2) -> float:
    mu1, s1 = feature_stats(feats1)
    mu2, s2 = feature_stats(feats2)
    return frechet_distance(mu1, s1, mu2, s2)


class FrechetToReference:
    """FID of (resampled) generated features against fixed reference features, made cheap.

    With centred reference rows R (n_r x d) and centred generated rows X (n x d),
    tr((S_r S_g)^{1/2}) is the sum of the singular values of X R^T divided by
    sqrt((n - 1)(n_r - 1)), because the nonzero eigenvalues of S_r^{1/2} S_g S_r^{1/2} equal those of
    (X R^T)(X R^T)^T / ((n - 1)(n_r - 1)). With n, n_r below d that replaces d x d eigenproblems by an
    SVD of an n x n_r matrix. A resample only re-centres rows of the precomputed product X_raw R^T.
    When the reference has more rows than dimensions, the d x d symmetric form is used instead.
    """

    def __init__(self, ref_feats):
        r = np.asarray(ref_feats, dtype=np.float64)
        self.n_ref, self.d = r.shape
        if self.n_ref < 2:
            raise ValueError("reference needs at least 2 feature rows")
        self.mu_ref = r.mean(axis=0)
        self.rc = r - self.mu_ref
        self.tr_ref = float((self.rc * self.rc).sum() / (self.n_ref - 1))
        self.gram = self.n_ref <= self.d
        self.sqrt_ref = None if self.gram else sqrtm_psd(self.rc.T @ self.rc / (self.n_ref - 1))

    def bind(self, feats) -> "_Bound":
        return _Bound(self, np.asarray(feats, dtype=np.float64))

    def distance(self, feats) -> float:
        b = self.bind(feats)
        return b.value(np.arange(len(b.x)))


class _Bound:
    def __init__(self, ref: FrechetToReference, x: np.ndarray):
        self.ref, self.x = ref, x
        self.proj = x @ (ref.rc.T if ref.gram else ref.sqrt_ref)

    def value(self, idx) -> float:
        ref = self.ref
        x = self.x[idx]
        n = len(x)
        if n < 2:
            raise ValueError("need at least 2 generated feature rows")
        mu = x.mean(axis=0)
        xc = x - mu
        tr_g = float((xc * xc).sum() / (n - 1))
        p = self.proj[idx]
        p = p - p.mean(axis=0)
        if ref.gram:
            tr_cov = float(np.linalg.svd(p, compute_uv=False).sum() / np.sqrt((n - 1) * (ref.n_ref - 1)))
        else:
            m = p @ p.T if n <= ref.d else p.T @ p
            w = np.linalg.eigvalsh((m + m.T) / 2 / (n - 1))
            tr_cov = float(np.sqrt(np.clip(w, 0, None)).sum())
        diff = mu - ref.mu_ref
        return float(diff @ diff + tr_g + ref.tr_ref - 2.0 * tr_cov)
