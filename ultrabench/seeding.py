"""Seeds per unit, independent of order, batch size and number of processes.

A unit's seed is derived from (base seed, prompt id, sample index) by hashing, so adding prompts or
sharding a run never changes the seed of an existing unit, and every method gets the same seed for
the same prompt (which is what paired comparisons such as PickScore win rates need).
"""

from __future__ import annotations

import hashlib
import random
from typing import Sequence


def unit_seed(base_seed: int, prompt_id: str, sample_index: int = 0) -> int:
    digest = hashlib.sha256(f"{int(base_seed)}|{prompt_id}|{int(sample_index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch's global RNGs (some baselines draw from them, e.g. DemoFusion)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass
    import torch

    torch.manual_seed(seed)


def cpu_generators(seeds: Sequence[int]):
    """One CPU `torch.Generator` per image: noise is then identical on any device (diffusers' advice)."""
    import torch

    return [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
