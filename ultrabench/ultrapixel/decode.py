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


def decode_stage_a(
    vq, latents: torch.Tensor, scale_factor: float, tiled: bool = False, tile: int = 256, overlap: int = 32
) -> torch.Tensor:
    """Stage B latents (B, 4, h, w) -> images (B, 3, 4h, 4w) in float32, not yet clamped."""
    if not tiled or (latents.shape[-2] <= tile and latents.shape[-1] <= tile):
        return vq.decode(latents * scale_factor).sample.float()
    b, _, h, w = latents.shape
    up = 4
    out = torch.zeros(b, 3, h * up, w * up, device=latents.device, dtype=torch.float32)
    weight = torch.zeros(1, 1, h * up, w * up, device=latents.device, dtype=torch.float32)
    hs, ws = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    ramp = overlap * up // 2
    for y in hs:
        for x in ws:
            th, tw = min(tile, h - y), min(tile, w - x)
            dec = vq.decode(latents[:, :, y : y + th, x : x + tw] * scale_factor).sample.float()
            wy = _ramp(th * up, ramp, y > 0, y + th < h, latents.device)
            wx = _ramp(tw * up, ramp, x > 0, x + tw < w, latents.device)
            mask = wy[:, None] * wx[None, :]
            out[:, :, y * up : (y + th) * up, x * up : (x + tw) * up] += dec * mask
            weight[:, :, y * up : (y + th) * up, x * up : (x + tw) * up] += mask
            del dec
    return out / weight


def count_tiles(h: int, w: int, tile: int = 256, overlap: int = 32) -> int:
    return len(tile_starts(h, tile, overlap)) * len(tile_starts(w, tile, overlap))
