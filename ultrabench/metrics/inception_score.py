"""Inception Score from logits (`logits_unbiased`, the fc layer without bias, 1008 classes).

Protocol: shuffle once with `np.random.RandomState(seed).permutation(N)` (torch-fidelity's rule,
seed 2020 by default), cut into `splits` contiguous chunks `[i*N//splits, (i+1)*N//splits)`, and
report mean and population std of exp(E KL(p(y|x) || p(y))) over chunks. KL terms use the
convention 0 * log 0 = 0 (xlogy), so logits like -1e4 give finite values instead of NaN.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, xlogy


def _split_score(logp: np.ndarray) -> float:
    p = np.exp(logp)
    # log of the split's marginal, computed stably from the per-sample log-probabilities
    logq = np.log(p.mean(axis=0))
    kl = xlogy(p, p) - np.where(p > 0, p * logq, 0.0)
    return float(np.exp(kl.sum(axis=1).mean()))


def inception_score(logits, splits: int = 10, shuffle: bool = True, seed: int = 2020) -> tuple[float, float, int]:
    """(mean, std, splits actually used); splits is capped at N so no chunk is empty."""
    x = np.asarray(logits, dtype=np.float64)
    n = x.shape[0]
    if n < 1:
        raise ValueError("Inception Score needs at least one image")
    splits = max(1, min(splits, n))
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    logp = log_softmax(x, axis=1)
    scores = [_split_score(logp[i * n // splits:(i + 1) * n // splits]) for i in range(splits)]
    return float(np.mean(scores)), float(np.std(scores)), splits
