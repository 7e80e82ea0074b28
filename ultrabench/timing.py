"""Wall-clock stage timing and peak memory, synchronising CUDA so GPU work is not under-counted."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


def cuda_sync(device: str) -> None:
    if "torch" not in sys.modules:  # nothing can be queued on a GPU without torch imported
        return
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(device)


class StageTimer:
    """Accumulates seconds per named stage: `with timer.stage("stage_b"): ...`."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = str(device)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        cuda_sync(self.device)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            cuda_sync(self.device)
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def total(self) -> float:
        return sum(self.seconds.values())


class PeakMemory:
    """Peak GPU memory (`torch.cuda.max_memory_allocated`, reset at start) or peak RSS on CPU.

    On CPU the process-wide peak RSS can only grow, so the value is the peak so far, which is
    recorded as such (`kind = "cpu_peak_rss"`).
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = str(device)
        self.kind = "cuda_max_allocated" if self.device.startswith("cuda") else "cpu_peak_rss"
        self.bytes: int | None = None

    def __enter__(self) -> "PeakMemory":
        if self.kind == "cuda_max_allocated":
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc) -> None:
        if self.kind == "cuda_max_allocated":
            import torch

            self.bytes = int(torch.cuda.max_memory_allocated(self.device))
        else:
            self.bytes = peak_rss_bytes()


def peak_rss_bytes() -> int | None:
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(kb) * (1 if sys.platform == "darwin" else 1024)
    except Exception:  # pragma: no cover - non-POSIX
        return None


def free_cached_memory(device: str) -> None:
    """Return cached GPU blocks between units (UltraPixel's OOM on the second image, issue #15).
    Only on a GPU: on a CPU tensors are freed when their last reference goes, and a full
    `gc.collect()` after every unit cost 0.67 s a unit, more than the tiny methods' sampling."""
    if not str(device).startswith("cuda") or "torch" not in sys.modules:
        return
    import gc

    import torch

    gc.collect()
    torch.cuda.empty_cache()
