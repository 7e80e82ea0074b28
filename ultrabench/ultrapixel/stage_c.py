"""UltraPixel's Stage C: diffusers' `StableCascadeUNet` plus the LR-guidance capture and injection.

Capture (LR pass): the feature right after the first attention block of every encoder level and
every decoder level. Injection (HR pass): at the same places, `x + guide` where `guide` comes from
the matching `GuidanceBlock` fed with the captured LR feature; the decoder guide is scaled by HR latent
area (0.7 / 0.5 / 0.3), the encoder guide is not. The official model also builds 16 scale-norm blocks
(`norm_down_blocks`, `norm_up_blocks`) that its forward never calls; they are not built here.

Under bf16 autocast it computes what the official module computes: the level down/up blocks cast to
float32 as released (`FloatUpDownBlock2d`), the guidance blocks follow the released op order
(`guidance.py`), the attention goes through torch's multi-head attention as in the official blocks
(`attention.py`), and so the dtype of every residual stream matches the official one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.unets.unet_stable_cascade import (
    SDCascadeAttnBlock,
    SDCascadeResBlock,
    SDCascadeTimestepBlock,
    StableCascadeUNet,
    UpDownBlock2d,
)
from torch import nn

from ultrabench.ultrapixel.attention import use_multihead_attention
from ultrabench.ultrapixel.configs import GuidanceConfig, StageCConfig
from ultrabench.ultrapixel.guidance import GuidanceBlock
from ultrabench.ultrapixel.sizes import decoder_guide_scale


@dataclass
class LRGuide:
    """Features captured in the LR pass: one per encoder level, one per decoder level (decoder order)."""

    encoder: list[torch.Tensor]
    decoder: list[torch.Tensor]

    def conditional_half_for_cfg(self) -> "LRGuide":
        """Keep the conditional half of a [cond; uncond] batch and use it for both branches (as released)."""

        def pick(f: torch.Tensor) -> torch.Tensor:
            return f.chunk(2)[0].repeat(2, 1, 1, 1)

        return LRGuide([pick(f) for f in self.encoder], [pick(f) for f in self.decoder])


def _first_attention_index(block_types) -> int:
    return list(block_types).index("SDCascadeAttnBlock")


class FloatUpDownBlock2d(UpDownBlock2d):
    """diffusers' `UpDownBlock2d` with the official forward, which casts to float32 before each of
    its two blocks. With `switch_level=[False]` the interpolation is an identity, so a down block
    hands the next level a float32 tensor: the residual stream of every later level then stays in
    float32 under bf16 autocast, as in the official model, instead of being rounded to bf16."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x.float())
        return x


def _use_float_updown(scalers: nn.ModuleList) -> None:
    for seq in scalers:
        if isinstance(seq, nn.Sequential):
            for m in seq:
                if type(m) is UpDownBlock2d:  # same parameters, only the forward differs
                    m.__class__ = FloatUpDownBlock2d


class UltraPixelStageC(StableCascadeUNet):
    """`StableCascadeUNet` with `agg_net` (encoder) and `agg_net_up` (decoder) guidance blocks."""

    # for diffusers' regional compilation (`compile_repeated_blocks`); StableCascadeUNet declares none
    _repeated_blocks = ("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock", "GuidanceBlock")

    def __init__(self, guidance: GuidanceConfig | None = None, guidance_blocks: bool = True, **unet_kwargs) -> None:
        """`guidance_blocks=False`: Stable Cascade's Stage C alone (no `agg_net`s, so no UltraPixel
        weights to load), computed as released; it runs only unguided."""
        super().__init__(**unet_kwargs)
        self.guidance_blocks = guidance_blocks
        if guidance_blocks:
            guidance = guidance or GuidanceConfig(ind=self.config.block_out_channels[0])
            levels = len(self.config.block_out_channels)
            self.agg_net = nn.ModuleList(GuidanceBlock(guidance) for _ in range(levels))
            self.agg_net_up = nn.ModuleList(GuidanceBlock(guidance) for _ in range(levels))
        types = self.config.block_types_per_layer
        self._down_hook_index = [_first_attention_index(t) for t in types]
        self._up_hook_index = [_first_attention_index(t) for t in reversed(types)]
        self.apply_guide_scale_rule = True  # the released model scales the decoder guide at inference
        _use_float_updown(self.down_downscalers)
        _use_float_updown(self.up_upscalers)
        use_multihead_attention(self)

    @classmethod
    def from_configs(cls, stage_c: StageCConfig, guidance: GuidanceConfig) -> "UltraPixelStageC":
        return cls(guidance=guidance, **stage_c.unet_kwargs())

    # -- one forward, three modes: plain, capture (LR pass), guided (HR pass) ----------------------------
    def forward(
        self,
        sample: torch.Tensor,
        timestep_ratio: torch.Tensor,
        clip_text_pooled: torch.Tensor,
        clip_text: torch.Tensor | None = None,
        clip_img: torch.Tensor | None = None,
        lr_guide: LRGuide | None = None,
        capture: bool = False,
        **_unused,
    ):
        if lr_guide is not None and not self.guidance_blocks:
            raise ValueError("this Stage C was built without UltraPixel's guidance blocks; it cannot take an LR guide")
        r_embed = self.get_timestep_ratio_embedding(timestep_ratio)
        for _ in self.config.timestep_conditioning_type:  # sca / crp are always zero for text-to-image
            r_embed = torch.cat([r_embed, self.get_timestep_ratio_embedding(torch.zeros_like(timestep_ratio))], dim=1)
        # The guidance blocks are modulated by the time embedding alone (no sca / crp part).
        t_emb = r_embed[:, : self.config.timestep_ratio_embedding_dim]
        clip = self.get_clip_embeddings(clip_txt_pooled=clip_text_pooled, clip_txt=clip_text, clip_img=clip_img)
        x = self.embedding(sample)
        captured = LRGuide([], []) if capture else None
        levels = self._encode(x, r_embed, clip, lr_guide, t_emb, captured)
        x = self._decode(levels, r_embed, clip, lr_guide, t_emb, captured)
        out = self.clf(x)
        return (out, captured) if capture else out

    def _run_block(self, block: nn.Module, x: torch.Tensor, r_embed, clip, skip=None) -> torch.Tensor:
        if isinstance(block, SDCascadeResBlock):
            return block(x, skip)
        if isinstance(block, SDCascadeAttnBlock):
            return block(x, clip)
        if isinstance(block, SDCascadeTimestepBlock):
            return block(x, r_embed)
        return block(x)

    def _encode(self, x, r_embed, clip, lr_guide, t_emb, captured):
        level_outputs = []
        groups = zip(self.down_blocks, self.down_downscalers, self.down_repeat_mappers)
        for level, (blocks, downscaler, repmap) in enumerate(groups):
            x = downscaler(x)
            hook = self._down_hook_index[level]
            for rep in range(len(repmap) + 1):
                for idx, block in enumerate(blocks):
                    x = self._run_block(block, x, r_embed, clip)
                    if idx == hook:
                        if captured is not None:
                            captured.encoder.append(x.clone())
                        if lr_guide is not None:
                            x = x + self.agg_net[level](x.shape, x, lr_guide.encoder[level], t_emb)
                if rep < len(repmap):
                    x = repmap[rep](x)
            level_outputs.insert(0, x)
        return level_outputs

    def _decode(self, level_outputs, r_embed, clip, lr_guide, t_emb, captured):
        x = level_outputs[0]
        groups = zip(self.up_blocks, self.up_upscalers, self.up_repeat_mappers)
        for level, (blocks, upscaler, repmap) in enumerate(groups):
            hook = self._up_hook_index[level]
            for rep in range(len(repmap) + 1):
                for idx, block in enumerate(blocks):
                    skip = level_outputs[level] if idx == 0 and level > 0 else None
                    if skip is not None and x.shape[-2:] != skip.shape[-2:]:
                        # float32 on, as released (diffusers casts back to the input dtype)
                        x = nn.functional.interpolate(x.float(), skip.shape[-2:], mode="bilinear", align_corners=True)
                    x = self._run_block(block, x, r_embed, clip, skip)
                    if idx == hook:
                        if captured is not None:
                            captured.decoder.append(x.clone())
                        if lr_guide is not None:
                            guide = self.agg_net_up[level](x.shape, x, lr_guide.decoder[level], t_emb)
                            if self.apply_guide_scale_rule:
                                guide = decoder_guide_scale(x.shape[-2], x.shape[-1]) * guide
                            x = x + guide
                if rep < len(repmap):
                    x = repmap[rep](x)
            x = upscaler(x)
        return x
