"""Tiny random-weight pipelines saved to disk, so adapters load them by path exactly like real weights.

Everything is built locally (no downloads): the CLIP tokenizer from open_clip's shipped BPE file, the
T5 tokenizer trained on a few sentences with `tokenizers`. Sizes are chosen for CPU tests that run in
seconds; the images are noise and mean nothing.
"""

from __future__ import annotations

from pathlib import Path

_SENTENCES = [
    "a photo of a cat sitting on a red sofa",
    "an astronaut riding a horse on the moon, highly detailed",
    "a watercolor painting of mountains at sunrise",
    "a city street at night with neon lights and rain",
    "portrait of an old man with a beard, studio light",
]


def build_clip_tokenizer(out_dir: str | Path, n_merges: int = 2000, max_length: int = 77):
    """A `CLIPTokenizer` with the first `n_merges` merges of CLIP's BPE (a small vocabulary for tiny models)."""
    from ultrabench.tiny.tokenizer import build_clip_tokenizer as build

    tok = build(out_dir, n_merges=n_merges)
    tok.model_max_length = max_length
    return tok


def build_t5_tokenizer(max_length: int = 32, vocab_size: int = 200):
    """A tiny `T5TokenizerFast` (Unigram trained on a few sentences): pad=0, eos=1, unk=2 like T5."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import T5TokenizerFast

    tk = Tokenizer(models.Unigram())
    tk.normalizer = normalizers.NFKC()
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tk.train_from_iterator(_SENTENCES * 4, trainer=trainer)
    from tokenizers.processors import TemplateProcessing

    tk.post_processor = TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=tk, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                           extra_ids=0, model_max_length=max_length)


def _clip_tokenizer_in_memory():
    """A tiny CLIP tokenizer built in a throwaway folder (the pipelines save it again themselves)."""
    import shutil
    import tempfile

    tmp = tempfile.mkdtemp(prefix="ultrabench-tok-")
    try:
        return build_clip_tokenizer(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tiny_vae(latent_channels: int = 4):
    """An `AutoencoderKL` with SDXL's x8 factor (four blocks) and a handful of channels."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent_channels,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=4, sample_size=128,
    )


def _clip_text_config(tok, projection: bool = False):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, projection_dim=32, hidden_act="gelu",
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )


def build_tiny_sdxl(out_dir: str | Path, *, sample_size: int = 16, seed: int = 0) -> Path:
    """A diffusers-format SDXL folder (Euler scheduler, like the real repo) with random weights.

    `sample_size` is the UNet's latent side: the "native" size is `8 * sample_size` pixels (128 by
    default, the tiny stand-in for SDXL's 1024).
    """
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    out = Path(out_dir)
    torch.manual_seed(seed)
    tok = _clip_tokenizer_in_memory()
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=sample_size, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=4,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear", timestep_spacing="leading"
    )
    te = CLIPTextModel(_clip_text_config(tok))
    te2 = CLIPTextModelWithProjection(_clip_text_config(tok, projection=True))
    pipe = StableDiffusionXLPipeline(
        vae=tiny_vae(), text_encoder=te, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok, unet=unet,
        scheduler=scheduler, add_watermarker=False,
    )
    pipe.save_pretrained(out)
    return out


def build_tiny_pixart(out_dir: str | Path, *, sample_size: int = 8, seed: int = 0) -> Path:
    """A diffusers-format PixArt-Sigma folder (T5 + SDXL-style VAE + DPM-Solver) with random weights."""
    import torch
    from diffusers import DPMSolverMultistepScheduler, PixArtSigmaPipeline, PixArtTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    out = Path(out_dir)
    torch.manual_seed(seed)
    tok = build_t5_tokenizer()
    te = T5EncoderModel(T5Config(vocab_size=len(tok), d_model=32, d_ff=37, num_layers=2, num_heads=4, d_kv=8,
                                 pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    transformer = PixArtTransformer2DModel(
        sample_size=sample_size, num_layers=2, patch_size=2, attention_head_dim=8, num_attention_heads=3,
        caption_channels=32, in_channels=4, cross_attention_dim=24, out_channels=8, attention_bias=True,
        activation_fn="gelu-approximate", num_embeds_ada_norm=1000, norm_type="ada_norm_single",
        norm_elementwise_affine=False, norm_eps=1e-6,
    )
    pipe = PixArtSigmaPipeline(tokenizer=tok, text_encoder=te, vae=tiny_vae(), transformer=transformer,
                               scheduler=DPMSolverMultistepScheduler())
    pipe.save_pretrained(out)
    return out


def bsrgan_state_dict(nf: int = 4, nb: int = 1, gc: int = 32, scale: int = 4, seed: int = 0) -> dict:
    """A small random RRDBNet state dict (spandrel assumes the growth channels are 32) in BSRGAN's ("old ESRGAN") key layout, like BSRGAN.pth."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def conv(cin, cout):
        return torch.randn(cout, cin, 3, 3, generator=g) * 0.05, torch.zeros(cout)

    sd: dict = {}

    def put(name, cin, cout):
        w, b = conv(cin, cout)
        sd[f"{name}.weight"], sd[f"{name}.bias"] = w, b

    put("conv_first", 3, nf)
    for i in range(nb):
        for r in (1, 2, 3):
            for j in range(1, 6):
                cin = nf + (j - 1) * gc
                put(f"RRDB_trunk.{i}.RDB{r}.conv{j}", cin, gc if j < 5 else nf)
    put("trunk_conv", nf, nf)
    put("upconv1", nf, nf)
    if scale == 4:
        put("upconv2", nf, nf)
    put("HRconv", nf, nf)
    put("conv_last", nf, 3)
    return sd


def realesrgan_state_dict(nf: int = 4, nb: int = 1, gc: int = 32, seed: int = 0) -> dict:
    """The same tiny x4 network in basicsr/Real-ESRGAN key names, wrapped in `params_ema` like the releases."""
    sd = bsrgan_state_dict(nf, nb, gc, 4, seed)
    out = {}
    for k, v in sd.items():
        k2 = (k.replace("RRDB_trunk", "body").replace(".RDB", ".rdb").replace("trunk_conv", "conv_body")
              .replace("upconv1", "conv_up1").replace("upconv2", "conv_up2").replace("HRconv", "conv_hr"))
        out[k2] = v
    return {"params_ema": out}


def build_tiny_stable_cascade(out_dir: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Diffusers-format Stable Cascade prior and decoder folders with toy-width random stages.

    The stages have UltraPixel's tiny configuration (the same diffusers classes as the real ones);
    the folders are laid out like `stabilityai/stable-cascade-prior` and `stabilityai/stable-cascade`.
    """
    import torch
    from diffusers import DDPMWuerstchenScheduler, StableCascadePriorPipeline
    from diffusers.models import StableCascadeUNet

    from ultrabench.tiny.tokenizer import build_clip_tokenizer
    from ultrabench.ultrapixel import build
    from ultrabench.ultrapixel.configs import tiny_config

    out = Path(out_dir)
    cfg = tiny_config()
    torch.manual_seed(seed)
    prior = StableCascadeUNet(**cfg.stage_c.unet_kwargs())
    decoder, vqgan, text = build._stage_b(cfg), build._stage_a(cfg), build._text_model_from_config(cfg)
    tok = build_clip_tokenizer()
    StableCascadePriorPipeline(tokenizer=tok, text_encoder=text, prior=prior,
                               scheduler=DDPMWuerstchenScheduler()).save_pretrained(out / "prior")
    # The decoder folder is written part by part, as the hub repo has it (see base_sr._cascade_decoder).
    for name, part in (("decoder", decoder), ("vqgan", vqgan), ("text_encoder", text), ("tokenizer", tok),
                       ("scheduler", DDPMWuerstchenScheduler())):
        part.save_pretrained(out / "decoder" / name)
    return out / "prior", out / "decoder"


def build_gemma_tokenizer(vocab_size: int = 120, max_length: int = 512):
    """A tiny `GemmaTokenizerFast` (BPE trained on a few sentences): pad=0, eos=1, bos=2, unk=3."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import GemmaTokenizerFast

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    tk.train_from_iterator(_SENTENCES * 4, trainer=trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"]))
    tk.post_processor = TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 2)])
    return GemmaTokenizerFast(tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>",
                              pad_token="<pad>", model_max_length=max_length)


def build_tiny_sana(out_dir: str | Path, *, sample_size: int = 16, variant: str | None = "bf16", seed: int = 0) -> Path:
    """A diffusers-format Sana folder like the BF16 hub repos: Gemma-2 text encoder, DC-AE with the real
    x32 compression (six blocks), a one-layer transformer, flow-matching scheduler; random weights.

    `sample_size` picks the pipeline's bucket table as for the real models (16 -> the 512 buckets,
    small enough for a CPU; the 4K model has 128, the 2K model 64).
    """
    import torch
    from diffusers import AutoencoderDC, FlowMatchEulerDiscreteScheduler, SanaPipeline, SanaTransformer2DModel
    from transformers import Gemma2Config, Gemma2Model

    torch.manual_seed(seed)
    tok = build_gemma_tokenizer()
    te = Gemma2Model(Gemma2Config(head_dim=8, hidden_size=16, intermediate_size=32, max_position_embeddings=1024,
                                  num_attention_heads=2, num_hidden_layers=1, num_key_value_heads=1,
                                  vocab_size=len(tok), pad_token_id=0, eos_token_id=1, bos_token_id=2))
    transformer = SanaTransformer2DModel(
        patch_size=1, in_channels=4, out_channels=4, num_layers=1, num_attention_heads=2, attention_head_dim=4,
        num_cross_attention_heads=2, cross_attention_head_dim=4, cross_attention_dim=8, caption_channels=16,
        sample_size=sample_size)
    blocks = ("ResBlock",) * 3 + ("EfficientViTBlock",) * 3
    scales = ((),) * 3 + ((5,),) * 3
    vae = AutoencoderDC(
        in_channels=3, latent_channels=4, attention_head_dim=2, encoder_block_types=blocks, decoder_block_types=blocks,
        encoder_block_out_channels=(8,) * 6, decoder_block_out_channels=(8,) * 6, encoder_qkv_multiscales=scales,
        decoder_qkv_multiscales=scales, encoder_layers_per_block=(1,) * 6, decoder_layers_per_block=(1,) * 6,
        downsample_block_type="conv", upsample_block_type="interpolate", decoder_norm_types="rms_norm",
        decoder_act_fns="silu", scaling_factor=0.41407)
    pipe = SanaPipeline(tokenizer=tok, text_encoder=te, vae=vae, transformer=transformer,
                        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))
    out = Path(out_dir)
    pipe.save_pretrained(out, variant=variant)
    return out


def build_tiny_flux(out_dir: str | Path, *, seed: int = 0) -> Path:
    """A diffusers-format FLUX.1-dev folder: CLIP + T5 text encoders, a 4-channel x8 VAE
    with FLUX's shift/scale config, a guidance-distilled transformer with one double and one single block,
    and FLUX.1-dev's scheduler config (dynamic shift); random weights."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    clip_tok = _clip_tokenizer_in_memory()
    t5_tok = build_t5_tokenizer(max_length=512)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        norm_num_groups=4, sample_size=64, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159,
        scaling_factor=0.3611)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(2, 2, 4))
    clip = CLIPTextModel(_clip_text_config(clip_tok))
    t5 = T5EncoderModel(T5Config(vocab_size=len(t5_tok), d_model=32, d_ff=37, num_layers=1, num_heads=4, d_kv=8,
                                 pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                                                base_image_seq_len=256, max_image_seq_len=4096)
    pipe = FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=clip, tokenizer=clip_tok, text_encoder_2=t5,
                        tokenizer_2=t5_tok, transformer=transformer)
    out = Path(out_dir)
    pipe.save_pretrained(out)
    return out


def build_tiny_cascade_repos(weights_dir: str | Path, seed: int = 0) -> Path:
    """`<dir>/stabilityai/stable-cascade-prior/prior/`, `<dir>/stabilityai/stable-cascade/{decoder_lite,
    vqgan,text_encoder,tokenizer}/` and `<dir>/laion/CLIP-ViT-bigG-14-laion2B-39B-b160k/` as the hub repos lay them out, with UltraPixel's tiny
    configuration and its deterministic random weights (plain Stable Cascade: no guidance blocks)."""
    import torch
    from diffusers.models import StableCascadeUNet

    from ultrabench.ultrapixel import convert
    from ultrabench.ultrapixel.build import build_random
    from ultrabench.ultrapixel.configs import tiny_config

    root = Path(weights_dir) / "stabilityai"
    cfg = tiny_config()
    models = build_random(cfg, seed=seed, tiny_image_gain=0.005)
    stage_c = StableCascadeUNet(**cfg.stage_c.unet_kwargs())
    state = {k: v for k, v in models.stage_c.state_dict().items() if not convert.is_guidance_key(k)}
    stage_c.load_state_dict(state)
    torch.manual_seed(seed)
    stage_c.save_pretrained(root / "stable-cascade-prior" / "prior")
    decoder = root / "stable-cascade"
    models.stage_b.save_pretrained(decoder / "decoder_lite")
    models.stage_a.save_pretrained(decoder / "vqgan")
    models.text_model.save_pretrained(decoder / "text_encoder")
    models.tokenizer.save_pretrained(decoder / "tokenizer")
    # the text stack UltraPixel (and so this ablation) loads: LAION's CLIP-G repo, text model and
    # tokenizer side by side; its tokenizer pads with "!" (the loader refuses one that pads otherwise)
    from ultrabench.tiny.tokenizer import write_clip_tokenizer_files
    from ultrabench.ultrapixel.text_stack import OFFICIAL_TEXT_REPO

    models.text_model.save_pretrained(Path(weights_dir) / OFFICIAL_TEXT_REPO)
    write_clip_tokenizer_files(Path(weights_dir) / OFFICIAL_TEXT_REPO, pad_token="!")
    return Path(weights_dir)
