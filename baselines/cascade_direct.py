"""Stable Cascade sampled directly at the target size, without UltraPixel's low-resolution guidance.

The ablation of the paper's Figure 9: the same Stage C (the released Stable Cascade 3.6B, which
UltraPixel keeps frozen), the same official GDF sampler and settings (20 steps, CFG 4 with the 0.7 std
rescale), the same Stage B lite (10 steps, CFG 1.1) and Stage A decode as `ultrapixel`, but one Stage
C pass at the HR latent size from noise, with no LR pass and no guidance blocks. Built from
ultrabench's own UltraPixel pieces (`UltraPixelPipeline`'s text encoding, Stage B and Stage A steps,
the GDF sampler, the checkpoint converters); the HR initial noise is drawn first from the seed, as
UltraPixel draws it, so both start Stage C from the same latent for the same seed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from baselines._common import plan_or_refuse
from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least, between, one_of
from ultrabench.resolution import Resolution
from ultrabench.ultrapixel.configs import STAGE_A_TILED, SamplerSettings

STAGES = ("text_encode", "stage_c", "stage_b", "stage_a")
_SAMPLER_KEYS = ("steps", "cfg", "cfg_rho", "decoder_steps", "decoder_cfg", "decoder_cfg_rho", "stage_a_tiled",
                 "stage_a_tile", "stage_a_overlap", "stage_a_tile_batch")
# role -> subfolder of the diffusers-format snapshot that holds it
_DIFFUSERS_SUBFOLDERS = {"stage_c": "prior", "stage_b_lite": "decoder_lite", "stage_a": "vqgan"}
MAX_SIDE = 6144  # UltraPixel's largest side, so the two compare at every size UltraPixel makes
MIN_SIDE = 64  # a Stage C latent of at least 2 x 2 (42.67 px per cell)


class StableCascadeDirect(Method):
    name = "stable-cascade-direct"
    display_name = "Stable Cascade (direct, no LR guidance)"
    aliases = ("cascade-direct", "sc-direct", "Stable Cascade direct")
    description = ("Stable Cascade Stage C sampled directly at the target size (no LR pass, no guidance), "
                   "Stage B lite + Stage A: the paper's Figure 9 ablation")
    family = "baseline"
    kind = "generate"
    max_batch_size = 1
    licence: ClassVar[str] = "Stability AI Non-Commercial Research Community License (Stable Cascade weights)"
    setting_rules = {"steps": at_least(1), "decoder_steps": at_least(1), "cfg": at_least(0.0),
                     "decoder_cfg": at_least(0.0), "cfg_rho": between(0.0, 1.0), "decoder_cfg_rho": between(0.0, 1.0),
                     "stage_a_tile": at_least(1), "stage_a_overlap": at_least(0), "stage_a_tile_batch": at_least(0),
                     "stage_a_tiled": one_of(*STAGE_A_TILED),
                     "precision": one_of("bf16", "bfloat16", "fp32", "float32"), "layout": one_of("official", "diffusers")}
    default_settings: ClassVar[dict[str, Any]] = {
        **{k: getattr(SamplerSettings, k) for k in _SAMPLER_KEYS},
        "precision": "bf16",  # Stage C/B weights and autocast, as UltraPixel runs
        # "official": the single files UltraPixel's scripts use; "diffusers": stable-cascade-prior's prior/ and
        # stable-cascade's decoder_lite/ and vqgan/ (model configs read from each folder).
        "layout": "official",
    }

    def plan(self, res: Resolution) -> SizePlan:
        if max(res.height, res.width) > MAX_SIDE:
            return SizePlan.unsupported(res, f"sides up to {MAX_SIDE} px (UltraPixel's range); {res.key} is larger")
        if min(res.height, res.width) < MIN_SIDE:
            return SizePlan.unsupported(res, f"sides of at least {MIN_SIDE} px (a Stage C latent of 2 x 2)")
        return SizePlan.native_at(res)

    def weight_files(self):
        # UltraPixel's own files for its layout, less the guidance checkpoint
        from ultrabench.ultrapixel.method import UltraPixel

        return [wf for wf in UltraPixel({"layout": self.settings["layout"]}).weight_files() if wf.role != "ultrapixel"]

    def _sampler_settings(self) -> SamplerSettings:
        return SamplerSettings.from_settings(self.settings, _SAMPLER_KEYS)

    def recorded_settings(self) -> dict[str, Any]:
        rec = dict(self.settings)
        rec.update(sampler="GDF DDPM (official Stable Cascade sampler)", lr_guidance=False, stage_b="lite (700M)")
        return rec

    # -- loading --------------------------------------------------------------------------------
    def _paths(self) -> dict:
        from pathlib import Path

        got = {wf.role: Path(self.weights.resolve(wf)) for wf in self.weight_files()}
        if self.settings["layout"] == "diffusers":
            for role, sub in _DIFFUSERS_SUBFOLDERS.items():
                if (got[role] / sub).is_dir():  # a snapshot; an explicit override may name the subfolder itself
                    got[role] = got[role] / sub
        clip = got["clip_text_g"]
        got["text_encoder"] = clip / "text_encoder" if (clip / "text_encoder").exists() else clip
        got["tokenizer"] = clip / "tokenizer" if (clip / "tokenizer").exists() else clip
        return got

    def _unet(self, path, full_kwargs: dict, convert_fn, what: str, prefer):
        """A StableCascadeUNet from a diffusers folder (its own config.json) or an official single file."""
        import torch
        from diffusers.models import StableCascadeUNet

        from ultrabench.ultrapixel import convert

        kwargs = dict(StableCascadeUNet.load_config(str(path))) if path.is_dir() else full_kwargs
        kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        with torch.device("meta"):
            model = StableCascadeUNet(**kwargs)
        state = convert.read_state_dict(path, prefer)
        if not any(".to_q." in k for k in state):
            state = convert_fn(state)
        convert.load_strict(model, state, what, assign=True)
        return model

    def load(self) -> None:
        import torch
        from diffusers.pipelines.deprecated.wuerstchen.modeling_paella_vq_model import PaellaVQModel
        from transformers import AutoTokenizer, CLIPTextModelWithProjection

        from ultrabench.ultrapixel import convert
        from ultrabench.ultrapixel.configs import full_config
        from ultrabench.errors import UsageError
        from ultrabench.ultrapixel.pipeline import UltraPixelPipeline

        paths = self._paths()  # one line naming the missing file and its hub repo, before any work
        precision = str(self.settings["precision"]).lower()
        if precision not in ("bf16", "bfloat16", "fp32", "float32"):
            raise UsageError(f"{self.name}: precision {precision!r} is not bf16 or fp32")
        dtype = torch.bfloat16 if precision in ("bf16", "bfloat16") else torch.float32
        prefer = ("bf16", None) if dtype == torch.bfloat16 else (None, "bf16")
        cfg = full_config()
        stage_c = self._unet(paths["stage_c"], cfg.stage_c.unet_kwargs(), convert.convert_stage_c,
                             f"Stage C ({paths['stage_c'].name})", prefer)
        stage_b = self._unet(paths["stage_b_lite"], cfg.stage_b.unet_kwargs(), convert.convert_stage_b,
                             f"Stage B ({paths['stage_b_lite'].name})", prefer)
        a_path = paths["stage_a"]
        if a_path.is_dir():
            stage_a = PaellaVQModel.from_config(PaellaVQModel.load_config(str(a_path)))
        else:
            kw = cfg.stage_a.vq_kwargs()
            kw.pop("scale_factor")
            stage_a = PaellaVQModel(**kw, scale_factor=cfg.stage_a.scale_factor)
        a_state = convert.read_state_dict(a_path, (None, "bf16"))  # Stage A runs in fp32
        if "vquantizer.codebook.weight" in a_state:
            a_state = convert.convert_stage_a(a_state)
        convert.load_strict(stage_a, a_state, f"Stage A ({a_path.name})")
        text = CLIPTextModelWithProjection.from_pretrained(str(paths["text_encoder"]), dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(paths["tokenizer"]))
        for m in (stage_c, stage_b):
            m.to(dtype)
        for m in (stage_c, stage_b, stage_a, text):
            m.eval().requires_grad_(False)
        self._pipe = UltraPixelPipeline(
            stage_c, stage_b, stage_a.float(), text, tokenizer, device=self.device,
            autocast_dtype=torch.bfloat16 if dtype == torch.bfloat16 else None, settings=self._sampler_settings(),
        )

    def unload(self) -> None:
        self._pipe = None

    # -- work -------------------------------------------------------------------------------------
    def _autocast(self):
        import contextlib

        import torch

        dt = self._pipe.autocast_dtype
        return contextlib.nullcontext() if dt is None else torch.autocast(self._pipe.device.type, dtype=dt)

    def _direct_stage_c(self, cond: dict, uncond: dict, x, noise):
        """One Stage C pass at the HR latent size: UltraPixel's HR pass with no guidance."""
        import torch

        from ultrabench.ultrapixel import sampler as gdf

        pipe, s = self._pipe, self._pipe.settings
        inputs = {k: torch.cat([cond[k], uncond[k]], dim=0) for k in cond}
        if pipe.autocast_dtype is None:  # under autocast the float32 conditioning is cast per op
            dt = next(pipe.stage_c.parameters()).dtype
            inputs = {k: v.to(dt) for k, v in inputs.items()}

        def model(x2, t2, i):
            with self._autocast():
                return pipe.stage_c(x2, t2, clip_text_pooled=inputs["clip_text_pooled"], clip_text=inputs["clip_text"],
                                    clip_img=inputs["clip_img"], return_dict=False)[0]

        # .x: the post-step latent, as this adapter handed on before the sampler also returned x0
        return gdf.sample(model, x, gdf.time_grid(s.steps), noise, s.cfg, s.cfg_rho).x

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        import torch
        from PIL import Image

        from ultrabench.timing import PeakMemory, StageTimer
        from ultrabench.ultrapixel import sampler as gdf
        from ultrabench.ultrapixel.sizes import stage_b_latent_size, stage_c_latent_size

        plan_or_refuse(self, res)
        if getattr(self, "_pipe", None) is None:
            self.load()
        pipe = self._pipe
        out = []
        for prompt, seed in zip(prompts, seeds):
            timer = StageTimer(str(pipe.device))
            hr, bl = stage_c_latent_size(res.height, res.width), stage_b_latent_size(res.height, res.width)
            with PeakMemory(str(pipe.device)) as peak, torch.no_grad():
                noise = gdf.NoiseSource(int(seed), pipe.device)
                x_hr = noise.initial((1, 16, *hr))  # drawn first, as UltraPixel draws its HR noise
                with timer.stage("text_encode"):
                    cond, uncond = pipe.encode_text(prompt)
                with timer.stage("stage_c"):
                    c_latent = self._direct_stage_c(cond, uncond, x_hr, noise)
                x_b = noise.initial((1, 4, *bl))
                with timer.stage("stage_b"):
                    b_latent = pipe.stage_b_pass(c_latent, cond, uncond, x_b, noise).x
                with timer.stage("stage_a"):
                    img = pipe.stage_a_decode(b_latent)[0, :, : res.height, : res.width]
            arr = img.permute(1, 2, 0).mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
            out.append(GeneratedImage(
                Image.fromarray(arr), stages={k: round(timer.seconds.get(k, 0.0), 4) for k in STAGES},
                native_size=res,
                info={"seed": int(seed), "stage_c_latent": list(hr), "stage_b_latent": list(bl), "lr_guidance": False,
                      "peak_memory_bytes": peak.bytes, "peak_memory_kind": peak.kind, "device": str(pipe.device)},
            ))
        return out
