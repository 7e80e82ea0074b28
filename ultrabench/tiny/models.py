"""Tiny random-weight Stable-Diffusion-style components, built locally and deterministically.

They exist so the whole workflow (generate -> score -> report) runs anywhere with no download.
Their images are structured noise: any number computed from them means nothing.
"""

from __future__ import annotations

from functools import lru_cache

TINY_SEED = 20241226  # fixed so the stand-in weights (hence demo images) are identical everywhere


@lru_cache(maxsize=2)
def tiny_sd_components(dtype_name: str = "float32"):
    """(tokenizer, text_encoder, unet, vae, scheduler) of a ~1M-parameter latent diffusion model."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from ultrabench.tiny.tokenizer import build_clip_tokenizer

    dtype = getattr(torch, dtype_name)
    # fork_rng keeps the caller's global RNG untouched while the weights are drawn from TINY_SEED.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=77, projection_dim=32,
            )
        )
        unet = UNet2DConditionModel(
            sample_size=32, in_channels=4, out_channels=4, layers_per_block=1,
            block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
            attention_head_dim=8, norm_num_groups=8,
        )
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=4,
            block_out_channels=(8, 8, 8, 8), down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64,
        )
    scheduler = DDIMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1,
    )
    for m in (text_encoder, unet, vae):
        m.eval().requires_grad_(False)
        if dtype != torch.float32:  # only cast when asked: diffusers warns on any .to(dtype)
            m.to(dtype=dtype)
    return build_clip_tokenizer(), text_encoder, unet, vae, scheduler


def build_tiny_sd_pipeline(device: str = "cpu", dtype_name: str = "float32"):
    from diffusers import StableDiffusionPipeline

    tokenizer, text_encoder, unet, vae, scheduler = tiny_sd_components(dtype_name)
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
