"""Building the four models: tiny with random weights, full from the official files, full random (timing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ultrabench.ultrapixel import convert
from ultrabench.ultrapixel.configs import UltraPixelConfig
from ultrabench.ultrapixel.random_init import randomize_


@dataclass
class Models:
    stage_c: torch.nn.Module
    stage_b: torch.nn.Module
    stage_a: torch.nn.Module
    text_model: torch.nn.Module
    tokenizer: object


def _stage_c(cfg: UltraPixelConfig, unet_kwargs: dict | None = None, guidance_blocks: bool = True):
    from ultrabench.ultrapixel.stage_c import UltraPixelStageC

    return UltraPixelStageC(guidance=cfg.guidance, guidance_blocks=guidance_blocks,
                            **(unet_kwargs or cfg.stage_c.unet_kwargs()))


def _stage_b(cfg: UltraPixelConfig, unet_kwargs: dict | None = None):
    from ultrabench.ultrapixel.stage_b import UltraPixelStageB

    return UltraPixelStageB(**(unet_kwargs or cfg.stage_b.unet_kwargs()))


def _stage_a(cfg: UltraPixelConfig, vq_kwargs: dict | None = None):
    from diffusers.pipelines.deprecated.wuerstchen.modeling_paella_vq_model import PaellaVQModel

    kw = dict(vq_kwargs or cfg.stage_a.vq_kwargs())
    kw["scale_factor"] = cfg.stage_a.scale_factor  # the official 0.43 (diffusers' vqgan/ config says 0.3764)
    return PaellaVQModel(**kw)


def _folder_config(path: Path, model_cls) -> dict | None:
    """A diffusers model folder's own architecture (its config.json); None for a single file, whose
    architecture is the run's configuration."""
    if not (path.is_dir() and (path / "config.json").is_file()):
        return None
    return {k: v for k, v in model_cls.load_config(str(path)).items() if not k.startswith("_")}


def _text_model_from_config(cfg: UltraPixelConfig, eos_token_id: int = 49407):
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    t = cfg.text
    tc = CLIPTextConfig(
        vocab_size=t.vocab_size,
        hidden_size=t.hidden_size,
        intermediate_size=t.intermediate_size,
        num_hidden_layers=t.num_hidden_layers,
        num_attention_heads=t.num_attention_heads,
        max_position_embeddings=t.max_position_embeddings,
        projection_dim=t.projection_dim,
        hidden_act=t.hidden_act,
        eos_token_id=eos_token_id,
        bos_token_id=49406,
        pad_token_id=0,
    )
    return CLIPTextModelWithProjection(tc)


def build_random(
    cfg: UltraPixelConfig, seed: int = 0, device: str = "cpu", dtype=torch.float32, tiny_image_gain: float | None = None
) -> Models:
    """Every stage with deterministic random weights (tiny model, or full size for timing)."""
    from ultrabench.tiny.tokenizer import build_clip_tokenizer

    with torch.device(device):
        stage_c, stage_b, stage_a = _stage_c(cfg), _stage_b(cfg), _stage_a(cfg)
        text = _text_model_from_config(cfg)
    for i, m in enumerate((stage_c, stage_b, stage_a, text)):
        randomize_(m, seed * 10 + i)
        m.eval().requires_grad_(False)
    if tiny_image_gain is not None:
        # Random Stage C/B weights make the DDPM loop drift to latents in the hundreds; a small output
        # gain around mid-grey keeps the tiny model's images textured instead of saturated 0/1 pixels.
        with torch.no_grad():
            conv = stage_a.out_block[0]
            conv.weight.mul_(tiny_image_gain)
            conv.bias.fill_(0.5)
    if dtype != torch.float32:  # diffusers warns on any cast; skip the no-op one
        stage_c.to(dtype)
        stage_b.to(dtype)
    return Models(stage_c, stage_b, stage_a, text, build_clip_tokenizer())


@dataclass(frozen=True)
class WeightPaths:
    stage_c: Path
    stage_b: Path
    stage_a: Path
    ultrapixel: Path | None  # None: Stable Cascade alone, Stage C built without the guidance blocks
    text_encoder: Path  # a folder loadable by `CLIPTextModelWithProjection.from_pretrained`
    tokenizer: Path  # a folder loadable by `AutoTokenizer.from_pretrained`; must encode like the official one


def _load_unet_file(model, path: Path, convert_fn, what: str, only=None, prefer=("bf16", None)) -> None:
    state = convert.read_state_dict(path, prefer)
    if not any(".to_q." in k for k in state):
        state = convert_fn(state)
    convert.load_strict(model, state, what, only=only, assign=True)


def build_from_files(paths: WeightPaths, cfg: UltraPixelConfig, dtype=torch.bfloat16) -> Models:
    """Load the official files (or diffusers-format single files or folders) strictly; models stay on the CPU.

    A diffusers folder is built as its config.json says, a single file as `cfg` says. Without an
    UltraPixel file (`paths.ultrapixel` None) Stage C has no guidance blocks: Stable Cascade's own
    Stage C, computed as released. The tokenizer is checked first (`text_stack.check_tokenizer`): one
    that pads or splits the probe prompts differently from the official one is refused before any
    weight is read."""
    from diffusers.models import StableCascadeUNet
    from diffusers.pipelines.deprecated.wuerstchen.modeling_paella_vq_model import PaellaVQModel
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    from ultrabench.ultrapixel.text_stack import check_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(paths.tokenizer))
    check_tokenizer(tokenizer, str(paths.tokenizer))

    # diffusers folders may hold several variants: the one matching the run's precision comes first
    prefer = ("bf16", None) if dtype == torch.bfloat16 else (None, "bf16")
    guided = paths.ultrapixel is not None
    with torch.device("meta"):
        stage_c = _stage_c(cfg, _folder_config(paths.stage_c, StableCascadeUNet), guidance_blocks=guided)
        stage_b = _stage_b(cfg, _folder_config(paths.stage_b, StableCascadeUNet))
    stage_a = _stage_a(cfg, _folder_config(paths.stage_a, PaellaVQModel))
    _load_unet_file(stage_c, paths.stage_c, convert.convert_stage_c, f"Stage C ({paths.stage_c.name})",
                    only=lambda k: not convert.is_guidance_key(k), prefer=prefer)
    if guided:
        up = convert.convert_ultrapixel(convert.read_state_dict(paths.ultrapixel))
        convert.load_strict(stage_c, up, f"UltraPixel ({paths.ultrapixel.name})", only=convert.is_guidance_key,
                            assign=True)
    _load_unet_file(stage_b, paths.stage_b, convert.convert_stage_b, f"Stage B ({paths.stage_b.name})", prefer=prefer)
    stage_a_state = convert.read_state_dict(paths.stage_a, (None, "bf16"))  # Stage A runs in fp32
    if "vquantizer.codebook.weight" in stage_a_state:
        stage_a_state = convert.convert_stage_a(stage_a_state)
    convert.load_strict(stage_a, stage_a_state, f"Stage A ({paths.stage_a.name})")
    # The released CLIP-G checkpoint ships a projection dim in its top-level config only.
    text = CLIPTextModelWithProjection.from_pretrained(str(paths.text_encoder), dtype=torch.float32)
    for m in (stage_c, stage_b):
        m.to(dtype)
    for m in (stage_c, stage_b, stage_a, text):
        m.eval().requires_grad_(False)
    return Models(stage_c, stage_b, stage_a.float(), text, tokenizer)
