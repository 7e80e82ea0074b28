"""Set statistics computed from cached feature rows: the `statistic` a set metric names.

Each takes the rows of one (method, resolution) set, the row indices of each image (a bootstrap
resample draws images, and all rows of a drawn image go with it), the reference rows when the
metric needs them, and the bootstrap settings; it returns a `SetValue`, or raises `NotComputed`
with the reason in words (the caller records the reason instead of a number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ultrabench.metrics import bootstrap as bs

INCEPTION_SPLITS = 10
IS_SEED = 2020
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 2020
# Below this many reference rows a reference metric is printed with a warning beside it. Table 1's
# protocol compares 1,000 images per method; the bias of a Frechet distance falls like 1/N in both
# sets (Chong & Forsyth, CVPR 2020), so a reference smaller than the sets it ranks adds more noise
# than the differences between methods (a 2-image reference gave FID 80.95 +- 0.65, KID -0.11).
MIN_REFERENCE_ROWS = 1000


class NotComputed(Exception):
    """The statistic cannot be formed for this set (too few rows, no reference...)."""


@dataclass
class SetInput:
    rows: np.ndarray  # (n_rows, d)
    groups: list[np.ndarray]  # row indices of each image
    ref: np.ndarray | None  # reference rows, when the metric needs them
    resamples: int
    seed: int
    ci_over: str  # what a resample draws, in words
    shared: dict = field(default_factory=dict)  # per-reference precomputations, reused across sets


@dataclass
class SetValue:
    value: float
    ci: list[float] | None
    ci_method: str
    extra: dict = field(default_factory=dict)


def _ci(inp: SetInput, statistic: Callable[[np.ndarray], float]):
    if inp.resamples <= 0:
        return None
    return bs.bootstrap_ci(len(inp.groups), lambda idx: statistic(np.concatenate([inp.groups[i] for i in idx])),
                           inp.resamples, inp.seed)


def _describe(inp: SetInput, suffix: str = "") -> str:
    return bs.describe(inp.resamples, inp.seed, inp.ci_over) + suffix


def _reference_extra(inp: SetInput) -> dict:
    extra = {"n_ref": len(inp.ref)}
    if len(inp.ref) < MIN_REFERENCE_ROWS:
        extra["warning"] = f"small reference: {len(inp.ref)} rows, fewer than {MIN_REFERENCE_ROWS}"
    return extra


def frechet(inp: SetInput) -> SetValue:
    from ultrabench.metrics.frechet import FrechetToReference

    if len(inp.rows) < 2:
        raise NotComputed("needs at least 2 feature rows")
    key = ("frechet", id(inp.ref))
    if key not in inp.shared:
        inp.shared[key] = FrechetToReference(inp.ref)
    bound = inp.shared[key].bind(inp.rows)
    value = bound.value(np.arange(len(inp.rows)))
    return SetValue(value, _ci(inp, bound.value), _describe(inp, " (reference statistics fixed)"),
                    _reference_extra(inp))


def kid(inp: SetInput) -> SetValue:
    from ultrabench.metrics.kid import KIDBootstrap, kernel_inception_distance

    if len(inp.rows) < 2:
        raise NotComputed("needs at least 2 feature rows")
    value, _, _ = kernel_inception_distance(inp.rows, inp.ref, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE,
                                            seed=KID_SEED)
    ci = None
    if inp.resamples > 0:
        ci = _ci(inp, KIDBootstrap(inp.rows, inp.ref).value)
    return SetValue(value, ci, _describe(inp, " (reference fixed; full-set unbiased MMD^2 per resample)"),
                    _reference_extra(inp))


def inception_score(inp: SetInput) -> SetValue:
    from ultrabench.metrics.inception_score import inception_score as score

    def value(idx):
        return score(inp.rows[idx], INCEPTION_SPLITS, True, IS_SEED)[0]

    v = value(np.arange(len(inp.rows)))
    return SetValue(v, _ci(inp, value), _describe(inp), {"splits": min(INCEPTION_SPLITS, len(inp.rows))})


STATISTICS: dict[str, Callable[[SetInput], SetValue]] = {
    "frechet": frechet,
    "kid": kid,
    "inception-score": inception_score,
}


def register_statistic(name: str, fn: Callable[[SetInput], SetValue]) -> None:
    """For plugins whose set metric is not one of the above (e.g. an MMD with another kernel)."""
    if name in STATISTICS and STATISTICS[name] is not fn:
        raise ValueError(f"a set statistic named {name!r} is already registered")
    STATISTICS[name] = fn
