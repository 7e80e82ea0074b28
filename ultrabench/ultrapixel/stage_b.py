"""Stage B (the Stable Cascade decoder) as the official code computes it under autocast.

diffusers' `StableCascadeUNet` computes the same thing in float32. Under bf16 autocast three places
differ from the official module (`modules/stage_b.py` of UltraPixel, as of Stable Cascade):

- where the conditionings join the residual stream, the official forward interpolates the effnet
  latent in float32 and lifts `pixels_mapper`'s output to float32 before adding it, so the stream
  entering level 0 is float32; diffusers adds both in the compute dtype, and level 0's stream is
  then rounded to bf16 at every block (on the CPU autocast also keeps LayerNorm in bf16);
- where a decoder level's upsampled input does not match its skip connection (odd latent sizes,
  e.g. 540 x 960 at 2160 x 3840) the official model interpolates in float32 and goes on in float32,
  while diffusers casts the result back to the input dtype;
- its attention runs through torch's multi-head attention, whose matmul shapes round differently
  (`attention.py`).

In float32 every lift is a no-op, so the float32 results are diffusers' own. The resizes go through
`bilinear_resize`, one opaque op: compiled, AOT autograd would otherwise decompose them into ops that
round differently in float32 (2e-7 measured), which bf16 downstream amplifies.
"""

from __future__ import annotations

import torch
from diffusers.models.unets.unet_stable_cascade import (
    SDCascadeAttnBlock,
    SDCascadeResBlock,
    SDCascadeTimestepBlock,
    StableCascadeUNet,
    StableCascadeUNetOutput,
)
from torch.nn import functional as F

from ultrabench.ultrapixel.attention import use_multihead_attention


@torch.library.custom_op("ultrabench::bilinear_resize", mutates_args=())
def bilinear_resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`F.interpolate(x, (height, width), mode="bilinear", align_corners=True)`, the eager kernel's
    result bit for bit, compiled or not, in x's dtype (under autocast too)."""
    return F.interpolate(x, (height, width), mode="bilinear", align_corners=True)


@bilinear_resize.register_fake
def _(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return x.new_empty((*x.shape[:-2], height, width))


class UltraPixelStageB(StableCascadeUNet):
    """`StableCascadeUNet` whose conditionings join the residual stream in float32, whose decoder keeps
    the float32 interpolation result and whose attention goes through torch's multi-head attention,
    as released."""

    # for diffusers' regional compilation (`compile_repeated_blocks`); StableCascadeUNet declares none
    _repeated_blocks = ("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        use_multihead_attention(self)

    def forward(self, sample, timestep_ratio, clip_text_pooled, clip_text=None, clip_img=None, effnet=None,
                pixels=None, sca=None, crp=None, return_dict=True):
        """diffusers' signature and result; the two conditioning terms are added in float32."""
        if pixels is None:
            pixels = sample.new_zeros(sample.size(0), 3, 8, 8)
        r_embed = self.get_timestep_ratio_embedding(timestep_ratio)
        extra = {"sca": sca, "crp": crp}
        for name in self.config.timestep_conditioning_type:
            t_cond = extra.get(name)
            t_cond = torch.zeros_like(timestep_ratio) if t_cond is None else t_cond
            r_embed = torch.cat([r_embed, self.get_timestep_ratio_embedding(t_cond)], dim=1)
        clip = self.get_clip_embeddings(clip_txt_pooled=clip_text_pooled, clip_txt=clip_text, clip_img=clip_img)

        x = self.embedding(sample)
        h, w = x.shape[-2:]
        if effnet is not None and hasattr(self, "effnet_mapper"):
            # the official `effnet.float()`: the latent is resized in float32 whatever it came in as
            x = x + self.effnet_mapper(bilinear_resize(effnet.float(), h, w))
        if hasattr(self, "pixels_mapper"):
            # the official `.float()` on the mapper's output: the sum, and so level 0's stream, is float32
            x = x + bilinear_resize(self.pixels_mapper(pixels).float(), h, w)
        x = self._up_decode(self._down_encode(x, r_embed, clip), r_embed, clip)
        out = self.clf(x)
        return StableCascadeUNetOutput(sample=out) if return_dict else (out,)

    def _up_decode(self, level_outputs, r_embed, clip):
        x = level_outputs[0]
        for i, (up_block, upscaler, repmap) in enumerate(zip(self.up_blocks, self.up_upscalers, self.up_repeat_mappers)):
            for j in range(len(repmap) + 1):
                for k, block in enumerate(up_block):
                    if isinstance(block, SDCascadeResBlock):
                        skip = level_outputs[i] if k == 0 and i > 0 else None
                        if skip is not None and x.shape[-2:] != skip.shape[-2:]:
                            x = bilinear_resize(x.float(), *skip.shape[-2:])
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
