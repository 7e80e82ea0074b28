"""The noise the official `inference/test_t2i.py` draws for a seed and an image index.

The script calls `torch.manual_seed(seed)` before it builds its models, and building them draws
from the CPU generator (every freshly initialised layer: the two EfficientNet encoders, the
previewer, Stage A, the UltraPixel guidance blocks and the unused scale-norm blocks; Stage C and
Stage B are built on the meta device and draw nothing). It then makes its images one after the
other from the same streams: per image the HR and the LR initial latents and the Stage B initial
latent from the CPU generator, and every DDPM step's noise from the compute device's generator (the
CPU one again when the device is the CPU).

`official_noise_source(seed, image_index, ...)` replays that consumption exactly: the setup's draws
are counted from the official layer shapes (every draw there is a float32 `uniform_`, one 32-bit
word per element, or a float32 `normal_` of at least 16 elements, one word per element plus 16 when
the size is not a multiple of 16) and skipped in one go; the earlier images' draws are made as the
script makes them. The CLIP models come from `from_pretrained`, whose draws depend on the
transformers release (`configs.OFFICIAL_CLIP_LOAD_DRAWS`). `benchmarks/parity_ultrapixel.py`
checks the count against the official setup code itself.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import torch

from ultrabench.ultrapixel.configs import (
    DEFAULT_TRANSFORMERS_LINE,
    OFFICIAL_CLIP_LOAD_DRAWS,
    GuidanceConfig,
    StageAConfig,
    StageCConfig,
)


def normal_words(numel: int) -> int:
    """32-bit words a float32 `normal_` of `numel` (>= 16) contiguous elements takes from the CPU generator."""
    return numel + (16 if numel % 16 else 0)


def _conv(c_in: int, c_out: int, k: int = 1, bias: bool = True, groups: int = 1) -> tuple[int, int]:
    return c_in // groups * c_out * k * k, c_out if bias else 0


def _default_init(layers) -> int:
    """What `nn.Conv2d`/`nn.Linear`/`nn.ConvTranspose2d` draw when constructed: weight and bias, uniform."""
    return sum(w + b for w, b in layers)


@lru_cache(maxsize=1)
def efficientnet_encoder_draws() -> int:
    """The official `EfficientNetEncoder`: torchvision's `efficientnet_v2_s()` (every layer drawn at
    construction, then convolutions redrawn with kaiming_normal_ and the classifier with uniform_),
    then a 1x1 convolution 1280 -> 16 without bias."""
    import torchvision
    from torch import nn

    with torch.device("meta"):
        net = torchvision.models.efficientnet_v2_s()
    total = 0
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            bias = m.bias.numel() if m.bias is not None else 0
            total += m.weight.numel() + bias  # construction
            total += normal_words(m.weight.numel()) if isinstance(m, nn.Conv2d) else m.weight.numel()
    return total + 1280 * 16


def previewer_draws() -> int:
    """The official `Previewer` (16 -> 512 channels, three x2 up-convolutions, 3 out), default init."""
    c = 512
    layers = [_conv(16, c), _conv(c, c, 3), _conv(c, c // 2, 2), _conv(c // 2, c // 2, 3), _conv(c // 2, c // 4, 2),
              _conv(c // 4, c // 4, 3), _conv(c // 4, c // 4, 2), _conv(c // 4, c // 4, 3), _conv(c // 4, 3)]
    return _default_init(layers)


def guidance_block_draws(g: GuidanceConfig) -> int:
    """One official `TransInr_withnorm`, as `_init_extra_parameter` builds it.

    At construction only the plain `nn.Conv2d`/`nn.Linear` layers draw (the module's own `Linear`
    skips its init), plus the two `torch.randn` tables and the hypernetwork's base weights
    (kaiming_uniform_ weight, uniform_ bias). Then every Conv2d/Linear weight is redrawn with
    xavier_uniform_ twice: by the block's own `apply(_init_weights)` and by `_init_extra_parameter`'s.
    """
    ind, ch, f = g.ind, g.ch, g.f_dim
    pe_in = 2 * g.pe_dim
    g0, g1 = min(g.n_groups, f), min(g.n_groups, ch)
    built = _default_init([
        _conv(ind, ch),  # input_layer
        (ch * ch, ch),  # tokenizer.prefc
        (f * pe_in, f), (pe_in * f, pe_in),  # base_params.wb0, wtoken_postfc.wb0
        (ch * f, ch), (f * f, f),  # base_params.wb1, wtoken_postfc.wb1
        _conv(ch, ind),  # output_layer
        _conv(ind, ind), _conv(ind, ind),  # hr_norm.alpha, hr_norm.gamma
    ])
    built += normal_words(g.max_lr_tokens * ch) + normal_words((g0 + g1) * f)  # tokenizer.posemb, wtokens
    weights = [ind * ch, ch * ch, f * f, 2 * f * f, f * f, f * f,  # input, prefc, to_q, to_kv, feed-forward
               pe_in * f, f * f, ch * ind,  # wtoken_postfc, output_layer
               2 * ind * g.time_dim, 2 * ind * g.scale_dim, ind * ind, ind * ind,  # mapp_t, hr_norm
               2 * ind * (ind // 4), (ind // 4) * ind]  # toout
    return built + 2 * sum(weights)


def scale_norm_draws(c: int, scale_dim: int = 64) -> int:
    """One unused `ScaleNormalize_res`: alpha/gamma built with default init, then one xavier pass."""
    return _default_init([_conv(c, c), _conv(c, c)]) + 2 * c * scale_dim + 2 * c * c


def stage_a_draws(a: StageAConfig) -> int:
    """The official `StageA` (f4 VQGAN): default init of every layer, each residual block's layers
    redrawn with xavier_uniform_, the codebook drawn normal_ (nn.Embedding) and then uniform_."""
    levels = [a.embed_dim // (2**i) for i in reversed(range(a.levels))]

    def res_block(c: int) -> int:
        layers = [_conv(c, c, 3, groups=c), (c * 4 * c, 4 * c), (4 * c * c, c)]
        return _default_init(layers) + sum(w for w, _ in layers)

    total = _default_init([_conv(3 * 4, levels[0])])
    for i, c in enumerate(levels):
        if i > 0:
            total += _default_init([_conv(levels[i - 1], c, 4)])
        total += res_block(c)
    total += _default_init([_conv(levels[-1], a.latent_channels, bias=False)])
    total += normal_words(a.num_vq_embeddings * a.latent_channels) + a.num_vq_embeddings * a.latent_channels
    total += _default_init([_conv(a.latent_channels, levels[-1])])
    for i in range(a.levels):
        c = levels[a.levels - 1 - i]
        total += (a.bottleneck_blocks if i == 0 else 1) * res_block(c)
        if i < a.levels - 1:
            total += _default_init([_conv(c, levels[a.levels - 2 - i], 4)])
    return total + _default_init([_conv(levels[0], 3 * 4)])


def setup_draws(transformers_line: str = DEFAULT_TRANSFORMERS_LINE) -> int:
    """CPU words the official script's model setup takes between its `manual_seed` and the first image."""
    if transformers_line not in OFFICIAL_CLIP_LOAD_DRAWS:
        from ultrabench.errors import UsageError

        raise UsageError(f"official noise: transformers line {transformers_line!r} is not one of "
                         f"{', '.join(OFFICIAL_CLIP_LOAD_DRAWS)}")
    c = StageCConfig()
    n_scale_norms = sum(math.ceil(n / 4) for n in c.down_num_layers_per_block + c.up_num_layers_per_block)
    stage_c_side = (efficientnet_encoder_draws() + previewer_draws()
                    + 2 * len(c.block_out_channels) * guidance_block_draws(GuidanceConfig())
                    + n_scale_norms * scale_norm_draws(c.block_out_channels[0])
                    + OFFICIAL_CLIP_LOAD_DRAWS[transformers_line])
    stage_b_side = efficientnet_encoder_draws() + stage_a_draws(StageAConfig())
    return stage_c_side + stage_b_side


# -- skipping words --------------------------------------------------------------------------------

def skip_words(gen: torch.Generator, words: int) -> None:
    """Advance a CPU generator exactly as `words` 32-bit draws would.

    `random_` on a byte tensor takes one word per element, like float32 `uniform_`, at about 9 ns a
    word (the official setup's 659 million: ~6 s on the shared 2-core development VM)."""
    buf = torch.empty(min(max(words, 0), 1 << 22), dtype=torch.uint8)
    while words > 0:
        n = min(words, buf.numel())
        buf[:n].random_(generator=gen)
        words -= n


@lru_cache(maxsize=4)
def _after_setup(seed: int, transformers_line: str) -> torch.Tensor:
    gen = torch.Generator("cpu").manual_seed(int(seed))
    skip_words(gen, setup_draws(transformers_line))
    return gen.get_state()


def generator_after_setup(seed: int, transformers_line: str = DEFAULT_TRANSFORMERS_LINE) -> torch.Generator:
    """A CPU generator in the state the script's leaves after its model setup (cached per seed)."""
    gen = torch.Generator("cpu")
    gen.set_state(_after_setup(int(seed), transformers_line))
    return gen


def official_noise_source(
    seed: int,
    image_index: int,
    device: torch.device | str,
    shapes: dict[str, Sequence[int]],
    steps: int,
    decoder_steps: int,
    transformers_line: str = DEFAULT_TRANSFORMERS_LINE,
):
    """A `NoiseSource` whose streams stand where the script's stand when it starts image `image_index`.

    `shapes`: "hr", "lr", "b" latent shapes (batch 1) of the images, which the script makes all at
    the same size.
    """
    from ultrabench.ultrapixel.sampler import NoiseSource

    device = torch.device(device)
    cpu = generator_after_setup(seed, transformers_line)
    step = cpu if device.type == "cpu" else torch.Generator(device).manual_seed(int(seed))
    hr, lr, b = (tuple(shapes[k]) for k in ("hr", "lr", "b"))
    for _ in range(int(image_index)):
        # one earlier image, in the script's order of draws
        torch.randn(hr, generator=cpu)
        torch.randn(lr, generator=cpu)
        for shape in (lr,) * steps + (hr,) * steps:
            torch.randn(shape, generator=step, device=step.device)
        torch.randn(b, generator=cpu)
        for _ in range(decoder_steps):
            torch.randn(b, generator=step, device=step.device)
    return NoiseSource(seed, device, cpu=cpu, step=step)
