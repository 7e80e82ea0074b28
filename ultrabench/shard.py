"""Splitting work across processes and machines without a coordinator.

A unit belongs to shard `i` of `n` when its position in the sorted list of *all* units of the
invocation is `i mod n`. The full list depends only on the spec, never on what is already done or
on when a process starts, so every process of a launch computes the same split, the union covers
each unit exactly once, and a rerun with a different `n` is just as correct (finished units are
skipped, the rest are split again). Claims in the run store guard against overlapping launches.

The split is only where each process starts. Units differ in cost by orders of magnitude (a resized
SDXL image against a 4096x4096 DemoFusion one) and machines differ in speed, so a process that has
finished its own share goes on with the other shards' unclaimed units (`Shard.steal_order`),
through the same claims: an array ends when its work does, not when its unluckiest shard does.
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

    def owners(self, items: Sequence[T], key=lambda x: x) -> dict:
        """key(item) -> the index of the shard it belongs to."""
        return {key(x): pos % self.count for pos, x in enumerate(sorted(items, key=key))}

    def steal_order(self, items: Sequence[T], key=lambda x: x) -> list[tuple[int, T]]:
        """(owner, item) for every other shard's item, in the order this shard takes them once its own
        are done. `items` are in the order every process walks its own share; each owner's share is
        taken from its end, so owner and stealer meet in the middle of it, and shard i begins with
        shard i+1's share, i+1 with i+2's, so two stealers start on different shares."""
        owner = self.owners(items, key)
        shares: dict[int, list[T]] = {}
        for x in items:
            shares.setdefault(owner[key(x)], []).append(x)
        out = []
        for d in range(1, self.count):
            victim = (self.index + d) % self.count
            out += [(victim, x) for x in reversed(shares.get(victim, []))]
        return out


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


def scheduler_job() -> str | None:
    """The scheduler job this process runs in: a Slurm array task (`<array job>_<task>`), a Slurm job,
    or a job of submitit's local executor; None outside any."""
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get("SLURM_JOB_ID") or env.get("SUBMITIT_LOCAL_JOB_ID") or None
