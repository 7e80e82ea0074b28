"""`score --shard i/n`: feature extraction of one shard's images, then of the other shards' images
that no process has claimed or finished (work stealing, as in generation: `ultrabench.shard`).

Images are claimed in chunks of one forward batch with the run store's lock files, and each image
done gets a marker, both in a folder named by the image list and the features asked for, so no
image is decoded twice by the processes of one launch, and a process killed mid-chunk leaves its
images to the others (its locks are recovered) instead of to nobody.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ultrabench.progress import bar as progress_bar
from ultrabench.runstore import atomic_write_bytes, claim_file, release_file
from ultrabench.scoring import engine as E


def work_folder(out_dir: Path, tasks, needs) -> Path:
    what = sorted(str(t.path) for t in tasks) + sorted(f"{n.cache_id}/{n.protocol}" for n in needs)
    return Path(out_dir) / "shards" / f"work-{hashlib.sha1(chr(10).join(what).encode()).hexdigest()[:12]}"


def extract_share(tasks, shard, needs, cache, out_dir: Path, *, steal: bool, batch_size: int, workers,
                  progress: bool, device: str) -> dict:
    """Fill the cache for this shard's images, then (with `steal`) for every other shard's image still
    unclaimed; returns the engine's counters plus `images` (done here) and `stolen` (of those, others')."""
    folder = work_folder(out_dir, tasks, needs)
    key = lambda t: str(t.path)  # noqa: E731
    owner = shard.owners(tasks, key)
    order = [(None, t) for t in tasks if owner[key(t)] == shard.index]
    if steal:
        order += shard.steal_order(tasks, key)
    counts = {"decoded": 0, "cached": 0, "unreadable": 0, "images": 0, "stolen": 0}
    held: list = []
    bar = progress_bar("scoring", len(order), progress)

    def run_held() -> None:
        if not held:
            return
        try:
            part = E.run_pass([t for _, t, _ in held], needs, cache, batch_size=batch_size, workers=workers,
                              progress=False, device=device)
            for k, v in part.items():
                counts[k] += v
            for _, _, name in held:
                atomic_write_bytes(folder / f"{name}.done", b"")
            counts["images"] += len(held)
            counts["stolen"] += sum(victim is not None for victim, _, _ in held)
        finally:
            for _, _, name in held:
                release_file(folder / f"{name}.lock")
            if bar is not None:
                bar.update(len(held))
            held.clear()

    for victim, t in order:
        name = hashlib.sha1(key(t).encode()).hexdigest()
        if (folder / f"{name}.done").exists() or not claim_file(folder / f"{name}.lock"):
            continue
        if (folder / f"{name}.done").exists():  # finished between the look and the claim
            release_file(folder / f"{name}.lock")
            continue
        held.append((victim, t, name))
        if len(held) >= max(1, batch_size):
            run_held()
    run_held()
    if bar is not None:
        bar.close()
    return counts
