"""Deterministic random weights for the tiny models and the GPU timing benchmark.

diffusers' Stable Cascade init zeroes the output convolution and the timestep mappers, which would
make a random-weight model predict exactly zero; here every tensor gets noise of a sensible scale.
"""

from __future__ import annotations

import math

import torch


@torch.no_grad()
def randomize_(module: torch.nn.Module, seed: int, gain: float = 1.0) -> torch.nn.Module:
    """Fill every parameter: matrices/kernels ~ N(0, gain / fan_in), vectors ~ N(0, 0.02), norms' weights 1."""
    gens: dict = {}
    for name, p in module.named_parameters():
        dev = p.device
        if dev not in gens:  # draw on the parameter's device: full-size models are filled on the GPU
            gens[dev] = torch.Generator(dev).manual_seed(int(seed))
        gen = gens[dev]
        if p.ndim >= 2:
            fan_in = p[0].numel() if p.ndim > 2 or "base_params" not in name else p.shape[0]
            std = gain / math.sqrt(max(fan_in, 1))
        else:
            std = 0.02
        values = torch.randn(p.shape, generator=gen, dtype=torch.float32, device=dev) * std
        if p.ndim == 1 and name.endswith("norm.weight"):
            values = values + 1.0
        p.copy_(values.to(dtype=p.dtype))
    return module
