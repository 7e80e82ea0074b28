"""Latent sizes and the resolution-dependent constants of UltraPixel, as pure functions (no torch).

Everything here is H x W (height first), like the rest of ultrabench. The rules mirror the official
inference helpers (`calculate_latent_sizes`, `get_target_lr_size`) and the Stage C forward pass.
"""

from __future__ import annotations

import math

# Stage C compresses by 42.67 per side (the official constant, not 128/3), Stage A/B by 4.
STAGE_C_COMPRESSION = 42.67
STAGE_B_COMPRESSION = 4.0
# Side (in 32-pixel units) of the square base resolution of the low-resolution pass: 32 * 32 = 1024 px.
LR_STD_SIZE = 32
# Latent area of the 1024^2 training resolution (24 x 24), the base of the scale embedding.
SCALE_BASE_AREA = 24 * 24
# Largest low-resolution token count the guidance tokenizer's learned position table holds.
MAX_LR_TOKENS = 32 * 32


def stage_c_latent_size(height: int, width: int) -> tuple[int, int]:
    """Stage C latent (16 channels): ceil(H / 42.67) x ceil(W / 42.67); 24x24 at 1024^2, 96x96 at 4096^2."""
    return math.ceil(height / STAGE_C_COMPRESSION), math.ceil(width / STAGE_C_COMPRESSION)


def stage_b_latent_size(height: int, width: int) -> tuple[int, int]:
    """Stage B latent (4 channels): ceil(H / 4) x ceil(W / 4); Stage A then decodes x4."""
    return math.ceil(height / STAGE_B_COMPRESSION), math.ceil(width / STAGE_B_COMPRESSION)


def lr_pixel_size(height: int, width: int, std_size: int = LR_STD_SIZE) -> tuple[int, int]:
    """Pixel size of the low-resolution pass: about (32 * std_size)^2 of area at the target aspect ratio.

    Same truncations as the official `get_target_lr_size(H / W, std_size)`: int() of each side in
    32-pixel units, then times 32.
    """
    ratio = height / width
    lr_w = int(std_size / math.sqrt(ratio))
    lr_h = int(std_size * math.sqrt(ratio))
    return lr_h * 32, lr_w * 32


def lr_latent_size(height: int, width: int, std_size: int = LR_STD_SIZE) -> tuple[int, int]:
    """Stage C latent of the low-resolution pass (18x32 for 2160x3840, 24x24 for any square)."""
    return stage_c_latent_size(*lr_pixel_size(height, width, std_size))


def decoder_guide_scale(latent_h: int, latent_w: int) -> float:
    """Weight of the decoder-side guidance at inference, by HR latent area (the encoder side is unscaled)."""
    area = latent_h * latent_w
    if area >= 96 * 96:
        return 0.7
    if area >= 72 * 72:
        return 0.5
    return 0.3


def scale_norm_value(latent_h: int, latent_w: int, base_area: int = SCALE_BASE_AREA) -> float:
    """The scale s = sqrt(log_576(H * W)) that the scale-aware normalisation embeds (1.0 at 24x24)."""
    return math.sqrt(math.log(latent_h * latent_w, base_area))


def sinusoidal_embedding_values(r: float, dim: int = 64, max_positions: int = 10000) -> list[float]:
    """The Stable Cascade sinusoidal embedding of a scalar, in plain Python (for tests and records).

    Frequencies exp(-k * ln(10000) / (dim/2 - 1)) for k < dim/2, applied to r * 10000; sines then cosines.
    """
    half = dim // 2
    step = math.log(max_positions) / (half - 1)
    args = [r * max_positions * math.exp(-k * step) for k in range(half)]
    out = [math.sin(a) for a in args] + [math.cos(a) for a in args]
    if dim % 2 == 1:
        out.append(0.0)
    return out
