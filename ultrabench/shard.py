"""Splitting work across processes and machines without a coordinator.

A unit belongs to shard `i` of `n` when its position in the sorted list of *all* units of the
invocation is `i mod n`. The full list depends only on the spec, never on what is already done or
on when a process starts, so every process of a launch computes the same split, the union covers
each unit exactly once, and a rerun with a different `n` is just as correct (finished units are
skipped, the rest are split again). Claims in the run store guard against overlapping launches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, TypeVar

from ultrabench.errors import UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def take(self, items: Sequence[T], key=lambda x: x) -> list[T]:
        ordered = sorted(items, key=key)
        return ordered[self.index :: self.count]


def parse_shard(text: str | None) -> Shard | None:
    if text is None:
        return None
    try:
        i, n = (int(p) for p in str(text).split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r} is not i/n (e.g. 0/4 for the first of four shards)") from None
    if n < 1 or not 0 <= i < n:
        raise UsageError(f"--shard {text!r}: need 0 <= i < n")
    return Shard(i, n)


def launcher_shard() -> Shard | None:
    """The shard implied by `torchrun` / `accelerate launch` (RANK and WORLD_SIZE), if any."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return None
    return Shard(rank, world) if world > 1 else None


def launcher_device(default: str) -> str:
    """Under a launcher each process takes its own GPU (LOCAL_RANK)."""
    local = os.environ.get("LOCAL_RANK")
    if local is not None and default.startswith("cuda") and ":" not in default:
        return f"cuda:{int(local)}"
    return default
