"""Percentile bootstrap over items (images or prompt pairs), seeded and described in words."""

from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_indices(n: int, resamples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield rng.integers(0, n, size=n)


def bootstrap_ci(n: int, statistic: Callable[[np.ndarray], float], resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> list[float] | None:
    """Percentile interval of statistic(idx) over resampled index sets; None when it cannot be formed."""
    if resamples <= 0 or n < 2:
        return None
    vals = []
    for idx in bootstrap_indices(n, resamples, seed):
        try:
            v = statistic(idx)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
            continue
        if np.isfinite(v):
            vals.append(v)
    if len(vals) < max(10, resamples // 2):
        return None
    lo, hi = np.quantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
    return [float(lo), float(hi)]


def mean_ci(values, resamples: int = 1000, seed: int = 0) -> list[float] | None:
    v = np.asarray(values, dtype=np.float64)
    return bootstrap_ci(len(v), lambda idx: float(v[idx].mean()), resamples, seed)


def describe(resamples: int, seed: int, over: str = "images") -> str:
    return f"bootstrap over {over}, {resamples} resamples, seed {seed}, percentile 95%"
