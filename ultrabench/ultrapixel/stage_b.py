"""Stage B (the Stable Cascade decoder) as the official code computes it under autocast.

diffusers' `StableCascadeUNet` computes the same thing in float32. Under bf16 autocast one place
differs: where a decoder level's upsampled input does not match its skip connection (odd latent
sizes, e.g. 540 x 960 at 2160 x 3840) the official model interpolates in float32 and goes on in
float32, while diffusers casts the result back to the input dtype. And its attention runs through
torch's multi-head attention, whose matmul shapes round differently (`attention.py`).
"""

from __future__ import annotations

import torch
from diffusers.models.unets.unet_stable_cascade import (
    SDCascadeAttnBlock,
    SDCascadeResBlock,
    SDCascadeTimestepBlock,
    StableCascadeUNet,
)

from ultrabench.ultrapixel.attention import use_multihead_attention


class UltraPixelStageB(StableCascadeUNet):
    """`StableCascadeUNet` whose decoder keeps the float32 interpolation result and whose attention
    goes through torch's multi-head attention, as released."""

    # for diffusers' regional compilation (`compile_repeated_blocks`); StableCascadeUNet declares none
    _repeated_blocks = ("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        use_multihead_attention(self)

    def _up_decode(self, level_outputs, r_embed, clip):
        x = level_outputs[0]
        for i, (up_block, upscaler, repmap) in enumerate(zip(self.up_blocks, self.up_upscalers, self.up_repeat_mappers)):
            for j in range(len(repmap) + 1):
                for k, block in enumerate(up_block):
                    if isinstance(block, SDCascadeResBlock):
                        skip = level_outputs[i] if k == 0 and i > 0 else None
                        if skip is not None and x.shape[-2:] != skip.shape[-2:]:
                            x = torch.nn.functional.interpolate(x.float(), skip.shape[-2:], mode="bilinear",
                                                                align_corners=True)
                        x = block(x, skip)
                    elif isinstance(block, SDCascadeAttnBlock):
                        x = block(x, clip)
                    elif isinstance(block, SDCascadeTimestepBlock):
                        x = block(x, r_embed)
                    else:
                        x = block(x)
                if j < len(repmap):
                    x = repmap[j](x)
            x = upscaler(x)
        return x
