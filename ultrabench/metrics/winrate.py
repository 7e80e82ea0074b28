"""Win rates of one method over another on matched pairs (same prompt id and sample index).

A pair is a win when s_A - s_B > tau, a loss when s_A - s_B < -tau and a tie (counted 0.5) when
|s_A - s_B| <= tau. The preference probability of a pair is softmax([s_A, s_B])[0] =
1 / (1 + exp(s_B - s_A)). The p-value is the two-sided exact sign test on the non-tied pairs
(ties dropped, the usual convention); with no untied pair it is 1.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from scipy.stats import binomtest

from ultrabench.metrics.bootstrap import bootstrap_ci


def pair_outcomes(a, b, tau: float = 0.0) -> np.ndarray:
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return np.where(np.abs(d) <= tau, 0.5, np.where(d > 0, 1.0, 0.0))


def win_rate(a, b, tau: float = 0.0, resamples: int = 1000, seed: int = 0) -> dict:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("win_rate needs two 1-D score arrays of equal length (matched pairs)")
    n = len(a)
    if n == 0:
        return {"win_rate": None, "mean_pref": None, "ci95": None, "p_value": None, "n_pairs": 0,
                "ties": 0, "wins": 0, "losses": 0, "tau": tau}
    out = pair_outcomes(a, b, tau)
    pref = expit(a - b)
    wins = int((out == 1.0).sum())
    losses = int((out == 0.0).sum())
    ties = n - wins - losses
    p = 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses, 0.5).pvalue)
    return {
        "win_rate": float(out.mean()),
        "mean_pref": float(pref.mean()),
        "ci95": bootstrap_ci(n, lambda idx: float(out[idx].mean()), resamples, seed),
        "p_value": p,
        "n_pairs": n,
        "ties": ties,
        "wins": wins,
        "losses": losses,
        "tau": tau,
    }
