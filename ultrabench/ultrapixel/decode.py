"""Stage A (VQGAN, x4) decoding, whole or in a few large overlapping tiles blended with linear ramps.

The official tiled decode slides a 256-latent window with stride 24 (1369 windows at 4096^2, 128 s).
Here tiles are large (default 256 latent px = 1024 image px) and overlap by a margin wider than the
decoder's receptive field (default 32 latent px), so 4096^2 takes 25 tiles; each tile's contribution
is weighted by a ramp that falls to ~0 at its interior edges, which hides the seams.
"""

from __future__ import annotations

import torch


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` overlapping by at least `overlap`."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    n = -(-(length - tile) // stride) + 1
    # Spread the tiles evenly so the last one ends exactly at `length`.
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _ramp(size: int, ramp: int, at_start: bool, at_end: bool, device) -> torch.Tensor:
    w = torch.ones(size, device=device)
    if ramp <= 0:
        return w
    steps = (torch.arange(ramp, device=device, dtype=torch.float32) + 0.5) / ramp
    if at_start:
        w[:ramp] = steps
    if at_end:
        w[-ramp:] = torch.minimum(w[-ramp:], steps.flip(0))
    return w


# When "auto" tiles: the untiled decode's peak is estimated from the decoder's widest activation
# (the top level's mixing block: 4 x its width channels at half the image size), PEAK_FACTOR times its
# size in float32. Calibrated on the official README's untiled Stage A peaks on an A100 (11.2 GB at
# 2048^2, 45.3 GB at 4096^2; the formula gives 11.3 and 45.1). The decode is tiled when that estimate
# exceeds HEADROOM of the device's free memory; tiles are then decoded as many at a time as fit it.
PEAK_FACTOR = 3.5
HEADROOM = 0.9


def decode_peak_bytes(vq, h: int, w: int) -> int:
    """Estimated peak bytes of decoding Stage B latents of h x w (batch 1) in one piece."""
    cfg = vq.config
    top = cfg.embed_dim // 2 ** (cfg.levels - 1)
    positions = (4 * h // cfg.up_down_scale_factor) * (4 * w // cfg.up_down_scale_factor)
    return int(PEAK_FACTOR * 4 * (4 * top) * positions)


def free_memory_bytes(device: torch.device) -> int | None:
    """What a decode may still allocate on `device`: CUDA's free memory plus what torch's caching
    allocator holds unused; on a CPU, the kernel's MemAvailable. None when unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def plan_decode(vq, h: int, w: int, tiled, tile: int, overlap: int, tile_batch: int, device) -> tuple[bool, int]:
    """(tile or not, tiles per batch) for Stage B latents of h x w. `tiled`: True, False or "auto"
    (tile only when the untiled decode would not fit, see HEADROOM); `tile_batch` 0: as many tiles
    per decode call as fit the free memory (at least 1), else that many."""
    if tiled == "auto":
        free = free_memory_bytes(device)
        tiled = free is not None and decode_peak_bytes(vq, h, w) > HEADROOM * free
    if not tiled or (h <= tile and w <= tile):
        return False, 1
    n = count_tiles(h, w, tile, overlap)
    if tile_batch > 0:
        return True, min(tile_batch, n)
    free = free_memory_bytes(device)
    per_tile = decode_peak_bytes(vq, min(tile, h), min(tile, w))
    fit = n if free is None else int(HEADROOM * free // per_tile)
    return True, max(1, min(n, fit))


def decode_stage_a(
    vq, latents: torch.Tensor, scale_factor: float, tiled: bool = False, tile: int = 256, overlap: int = 32,
    tile_batch: int = 1,
) -> torch.Tensor:
    """Stage B latents (B, 4, h, w) -> images (B, 3, 4h, 4w) in float32, not yet clamped.

    Tiled: the tiles (all `tile` x `tile`, spread edge to edge) are decoded `tile_batch` at a time,
    stacked along the batch axis, which gives each tile what decoding it alone gives."""
    if not tiled or (latents.shape[-2] <= tile and latents.shape[-1] <= tile):
        return vq.decode(latents * scale_factor).sample.float()
    b, _, h, w = latents.shape
    up = 4
    out = torch.zeros(b, 3, h * up, w * up, device=latents.device, dtype=torch.float32)
    weight = torch.zeros(1, 1, h * up, w * up, device=latents.device, dtype=torch.float32)
    ramp = overlap * up // 2
    boxes = [(y, x, min(tile, h - y), min(tile, w - x))
             for y in tile_starts(h, tile, overlap) for x in tile_starts(w, tile, overlap)]
    for first in range(0, len(boxes), tile_batch):
        group = boxes[first:first + tile_batch]
        crops = torch.cat([latents[:, :, y : y + th, x : x + tw] for y, x, th, tw in group])
        decoded = vq.decode(crops * scale_factor).sample.float().split(b)
        for (y, x, th, tw), dec in zip(group, decoded):
            wy = _ramp(th * up, ramp, y > 0, y + th < h, latents.device)
            wx = _ramp(tw * up, ramp, x > 0, x + tw < w, latents.device)
            mask = wy[:, None] * wx[None, :]
            out[:, :, y * up : (y + th) * up, x * up : (x + tw) * up] += dec * mask
            weight[:, :, y * up : (y + th) * up, x * up : (x + tw) * up] += mask
        del decoded, crops
    return out / weight


def count_tiles(h: int, w: int, tile: int = 256, overlap: int = 32) -> int:
    return len(tile_starts(h, tile, overlap)) * len(tile_starts(w, tile, overlap))
