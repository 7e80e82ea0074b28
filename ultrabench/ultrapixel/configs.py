"""Full-size and tiny configurations of every UltraPixel stage (plain data, no torch import).

The full sizes are the official ones: Stage C 3.6B (`modules/model_4stage_lite.py` defaults), the
UltraPixel guidance blocks (`TransInr_withnorm(ind=2048, ch=1024, n_head=32, n_groups=64,
f_dim=1024, time_dim=64)`), Stage B lite (700M), Stage A (f4 VQGAN, 20M) and CLIP ViT-bigG text.
The tiny ones keep every structural feature (two levels, CTA blocks, repeat mappers, guidance at the
first attention block of each level) at widths that run in milliseconds on a CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

_CTA = ("SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock")
_CT = ("SDCascadeResBlock", "SDCascadeTimestepBlock")


@dataclass(frozen=True)
class GuidanceConfig:
    """One `TransInr_withnorm` block (INR upsampler + fusion + scale-aware norm).

    `tokens` (the INR transformer width) must equal `f_dim`, as in the official module, which
    concatenates LR tokens of width `ch` with weight tokens of width `f_dim`.
    """

    ind: int = 2048  # Stage C width
    ch: int = 1024  # reduced LR token width
    n_head: int = 32
    n_groups: int = 64  # weight tokens per hypernetwork layer (capped at that layer's width)
    f_dim: int = 1024  # INR transformer and hidden MLP width
    time_dim: int = 64  # width of the timestep embedding that modulates the fused feature
    scale_dim: int = 64  # width of the sinusoidal scale embedding
    pe_dim: int = 128  # Fourier features per coordinate of the HR grid
    pe_sigma: float = 1024.0
    hypo_depth: int = 2
    max_lr_tokens: int = 1024  # learned position table of the LR tokenizer (32 x 32)


@dataclass(frozen=True)
class StageCConfig:
    """Arguments of diffusers' `StableCascadeUNet` for the prior (Stage C)."""

    in_channels: int = 16
    out_channels: int = 16
    timestep_ratio_embedding_dim: int = 64
    patch_size: int = 1
    conditioning_dim: int = 2048
    block_out_channels: tuple[int, ...] = (2048, 2048)
    num_attention_heads: tuple[int, ...] = (32, 32)
    down_num_layers_per_block: tuple[int, ...] = (8, 24)
    up_num_layers_per_block: tuple[int, ...] = (24, 8)
    down_blocks_repeat_mappers: tuple[int, ...] = (1, 1)
    up_blocks_repeat_mappers: tuple[int, ...] = (1, 1)
    block_types_per_layer: tuple[tuple[str, ...], ...] = (_CTA, _CTA)
    clip_text_in_channels: int = 1280
    clip_text_pooled_in_channels: int = 1280
    clip_image_in_channels: int = 768
    clip_seq: int = 4
    kernel_size: int = 3
    dropout: tuple[float, ...] = (0.1, 0.1)
    self_attn: bool = True
    timestep_conditioning_type: tuple[str, ...] = ("sca", "crp")
    switch_level: tuple[bool, ...] = (False,)

    def unet_kwargs(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


@dataclass(frozen=True)
class StageBConfig:
    """Arguments of diffusers' `StableCascadeUNet` for the decoder (Stage B lite, 700M)."""

    in_channels: int = 4
    out_channels: int = 4
    timestep_ratio_embedding_dim: int = 64
    patch_size: int = 2
    conditioning_dim: int = 1280
    block_out_channels: tuple[int, ...] = (320, 576, 1152, 1152)
    num_attention_heads: tuple[int, ...] = (0, 9, 18, 18)
    down_num_layers_per_block: tuple[int, ...] = (2, 4, 14, 4)
    up_num_layers_per_block: tuple[int, ...] = (4, 14, 4, 2)
    down_blocks_repeat_mappers: tuple[int, ...] = (1, 1, 1, 1)
    up_blocks_repeat_mappers: tuple[int, ...] = (2, 2, 2, 2)
    block_types_per_layer: tuple[tuple[str, ...], ...] = (_CT, _CT, _CTA, _CTA)
    clip_text_pooled_in_channels: int = 1280
    clip_seq: int = 4
    effnet_in_channels: int = 16
    pixel_mapper_in_channels: int = 3
    kernel_size: int = 3
    dropout: tuple[float, ...] = (0.0, 0.0, 0.1, 0.1)
    self_attn: bool = True
    timestep_conditioning_type: tuple[str, ...] = ("sca",)

    def unet_kwargs(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


@dataclass(frozen=True)
class StageAConfig:
    """Arguments of diffusers' `PaellaVQModel` (the Stable Cascade Stage A) plus the official scale."""

    levels: int = 2
    bottleneck_blocks: int = 12
    embed_dim: int = 384
    latent_channels: int = 4
    num_vq_embeddings: int = 8192
    # The official Stage A multiplies latents by 0.43 before decoding; diffusers' default config says
    # 0.3764 (the Wuerstchen v2 value). We always decode with the official 0.43.
    scale_factor: float = 0.43

    def vq_kwargs(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TextConfig:
    """CLIP text tower (`CLIPTextModelWithProjection`); only used to build tiny random encoders."""

    hidden_size: int = 1280
    intermediate_size: int = 5120
    num_hidden_layers: int = 32
    num_attention_heads: int = 20
    projection_dim: int = 1280
    max_position_embeddings: int = 77
    vocab_size: int = 49408
    hidden_act: str = "gelu"


@dataclass(frozen=True)
class UltraPixelConfig:
    stage_c: StageCConfig = field(default_factory=StageCConfig)
    guidance: GuidanceConfig = field(default_factory=GuidanceConfig)
    stage_b: StageBConfig = field(default_factory=StageBConfig)
    stage_a: StageAConfig = field(default_factory=StageAConfig)
    text: TextConfig = field(default_factory=TextConfig)
    lr_std_size: int = 32  # low-resolution pass area: (32 * lr_std_size)^2 pixels


def full_config() -> UltraPixelConfig:
    return UltraPixelConfig()


def tiny_config() -> UltraPixelConfig:
    """Every stage at toy width; same topology, so the same code paths run."""
    width, cond, text = 32, 32, 32
    return UltraPixelConfig(
        stage_c=StageCConfig(
            conditioning_dim=cond,
            block_out_channels=(width, width),
            num_attention_heads=(2, 2),
            down_num_layers_per_block=(1, 2),
            up_num_layers_per_block=(2, 1),
            clip_text_in_channels=text,
            clip_text_pooled_in_channels=text,
            clip_image_in_channels=768,
        ),
        guidance=GuidanceConfig(ind=width, ch=16, n_head=2, n_groups=4, f_dim=16, pe_dim=8),
        stage_b=StageBConfig(
            conditioning_dim=cond,
            block_out_channels=(8, 16, 16, 16),
            num_attention_heads=(0, 2, 2, 2),
            down_num_layers_per_block=(1, 1, 1, 1),
            up_num_layers_per_block=(1, 1, 1, 1),
            up_blocks_repeat_mappers=(2, 2, 2, 2),
            clip_text_pooled_in_channels=text,
        ),
        stage_a=StageAConfig(levels=2, bottleneck_blocks=1, embed_dim=16, num_vq_embeddings=16),
        text=TextConfig(
            hidden_size=text,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            projection_dim=text,
        ),
    )


STAGE_B_DTYPES = ("fp16", "bf16")
ATTENTION_BACKENDS = ("auto", "flash", "cudnn", "efficient", "math")  # see attention.py
COMPILE_MODES = ("off", "regional", "full", "reduce-overhead")  # see compile.py
STAGE_A_TILED = (False, True, "auto")

# CPU generator words that the official script's two CLIP `from_pretrained` calls draw (text tower of
# laion/CLIP-ViT-bigG-14, width 1280 and projection 1280; vision tower of openai/clip-vit-large-patch14,
# width 1024 and projection 768), per transformers release line; measured with random-weight folders
# of several sizes. 4.44 draws the projection heads (normal_) and builds the vision class embedding
# with torch.randn before loading; 5.x builds on the meta device and draws nothing. "4.44" is what
# `pip install -r requirements.txt` resolved to when UltraPixel was released (2024).
OFFICIAL_CLIP_LOAD_DRAWS = {"4.44": 1280 * 1280 + 1024 + 768 * 1024, "5": 0}
DEFAULT_TRANSFORMERS_LINE = "4.44"


@dataclass(frozen=True)
class SamplerSettings:
    """The official sampler's and precision policy's defaults; the methods' settings table is derived
    from these.

    Where each comes from (catcathh/UltraPixel at e85d3bc): inference/test_t2i.py lines 113 and 115
    (Stage C cfg 4, 20 timesteps; cfg_rho is GDF's 0.7, never overridden), lines 122 and 124 (Stage B
    cfg 1.1, 10 timesteps), inference/utils.py line 85 (Stage B weights `.half()` in decode_b), and
    test_t2i.py lines 27 and 52 (--dtype bf16: bf16 autocast, lines 146 and 160).
    """

    steps: int = 20
    cfg: float = 4.0
    cfg_rho: float = 0.7
    # The official HR loop passes the LR guide only `if i <= 19`: with more than 20 steps the later
    # ones run unguided. 0 skips the LR pass and its noise altogether: Stable Cascade's own sampler
    # (the official base `GDF.sample`) on its prior alone.
    guided_steps: int = 20
    decoder_steps: int = 10
    decoder_cfg: float = 1.1
    decoder_cfg_rho: float = 0.7
    lr_std_size: int = 32
    # True, False (the official default) or "auto": tiled only when the untiled decode would not fit
    # the device's free memory (`decode.plan_decode`)
    stage_a_tiled: bool | str = False
    stage_a_tile: int = 256  # Stage B latent pixels per tile side (x4 in the image)
    stage_a_overlap: int = 32
    stage_a_tile_batch: int = 0  # tiles per decode call; 0: as many as fit the free memory
    stage_a_scale: float = StageAConfig.scale_factor
    # Stage B weights under bf16 autocast: "fp16" as the official `decode_b` (`.half()`; its
    # elementwise ops on fp16 parameters then run in float32); "bf16" is the faster named variant.
    stage_b_dtype: str = "fp16"
    # The scaled-dot-product kernel of the UNets' attention (`attention.ATTENTION_BACKENDS`); "auto"
    # pins the one torch's dispatch picks, which the official code gets.
    attention: str = "auto"
    # Fast settings that change the numbers, each off as in the official script (which sets neither):
    # channels_last memory format for the three stages' convolutions, and TF32 for float32 matmuls
    # and convolutions on CUDA (the float32 ones left under bf16 autocast: Stage B's text encoding).
    channels_last: bool = False
    tf32: bool = False

    @classmethod
    def from_settings(cls, settings, keys) -> "SamplerSettings":
        """The fields `keys` taken from a method's validated settings; numbers coerced to each
        default's type (a TOML spec may write 20.0 for 20 or 4 for 4.0), the rest as given (e.g.
        `stage_a_tiled = "auto"`)."""

        def coerce(key, value):
            default = getattr(cls, key)
            numeric = (int, float)
            if isinstance(default, numeric) and not isinstance(default, bool) and isinstance(value, numeric) \
                    and not isinstance(value, bool):
                return type(default)(value)
            return value

        return cls(**{k: coerce(k, settings[k]) for k in keys})
