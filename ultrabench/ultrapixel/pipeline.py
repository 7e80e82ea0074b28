"""Text -> LR pass -> HR pass -> Stage B -> Stage A, for one prompt and seed at a time (no file I/O).

Models are passed in already built; this module only orchestrates, times (`StageTimer`) and keeps
tensors on the compute device. Dtype policy follows the official inference script: bf16 weights for
Stage C and Stage B, everything under bf16 autocast, CLIP text in float32, Stage A in float32 weights
under the same autocast, latents and sampler arithmetic in float32.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ultrabench.ultrapixel import sampler as gdf
from ultrabench.ultrapixel.configs import SamplerSettings
from ultrabench.ultrapixel.decode import count_tiles, decode_stage_a
from ultrabench.ultrapixel.sizes import (
    decoder_guide_scale,
    lr_latent_size,
    scale_norm_value,
    stage_b_latent_size,
    stage_c_latent_size,
)
from ultrabench.ultrapixel.stage_c import LRGuide


@dataclass
class StageCOutput:
    latent: torch.Tensor  # (1, 16, h, w) float32
    lr_latent: torch.Tensor
    guide: LRGuide | None = None


class UltraPixelPipeline:
    def __init__(
        self,
        stage_c,
        stage_b,
        stage_a,
        text_model,
        tokenizer,
        device: str | torch.device = "cpu",
        autocast_dtype: torch.dtype | None = None,
        settings: SamplerSettings = SamplerSettings(),
        offload: bool = False,
        compile: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.stage_c, self.stage_b, self.stage_a = stage_c, stage_b, stage_a
        self.text_model, self.tokenizer = text_model, tokenizer
        self.autocast_dtype = autocast_dtype
        self.settings = settings
        self.offload = offload
        self._stage_c_call = stage_c
        self._stage_b_call = stage_b
        if compile:
            # One graph per latent shape (LR and HR); dynamic shapes would cost more than they save.
            self._stage_c_call = torch.compile(stage_c, dynamic=False)
            self._stage_b_call = torch.compile(stage_b, dynamic=False)
        if not offload:
            for m in (stage_c, stage_b, stage_a, text_model):
                m.to(self.device)

    # -- helpers ------------------------------------------------------------------------------------------
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    @contextlib.contextmanager
    def _on_device(self, *modules):
        """With offload, a stage's models live on the CPU except while that stage runs."""
        if self.offload:
            for m in modules:
                m.to(self.device)
        try:
            yield
        finally:
            if self.offload:
                for m in modules:
                    m.to("cpu")
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    # -- stages -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, prompt: str) -> tuple[dict, dict]:
        """CLIP-G conditioning of the prompt and of the empty prompt (the unconditional branch)."""
        with self._on_device(self.text_model):
            tok = self.tokenizer(
                [prompt, ""], truncation=True, padding="max_length", max_length=77, return_tensors="pt"
            )
            tok = {k: v.to(self.device) for k, v in tok.items() if k in ("input_ids", "attention_mask")}
            out = self.text_model(**tok, output_hidden_states=True)
            hidden = out.hidden_states[-1].float()
            pooled = out.text_embeds.float().unsqueeze(1)
        n_img = getattr(self.stage_c.config, "clip_image_in_channels", 768) or 768
        clip_img = torch.zeros(1, 1, n_img, device=self.device)
        cond = {"clip_text": hidden[:1], "clip_text_pooled": pooled[:1], "clip_img": clip_img}
        uncond = {"clip_text": hidden[1:], "clip_text_pooled": pooled[1:], "clip_img": clip_img}
        return cond, uncond

    @staticmethod
    def _batched(cond: dict, uncond: dict) -> dict:
        return {k: torch.cat([cond[k], uncond[k]], dim=0) for k in cond}

    def _model_dtype_inputs(self, model, tensors: dict) -> dict:
        # Under autocast the float32 conditioning is cast per op, as in the official run.
        if self.autocast_dtype is not None:
            return tensors
        dtype = next(model.parameters()).dtype
        return {k: v.to(dtype) for k, v in tensors.items()}

    def _stage_c_inputs(self, cond, uncond):
        return self._model_dtype_inputs(self.stage_c, self._batched(cond, uncond))

    @torch.no_grad()
    def lr_pass(self, inputs: dict, x_lr: torch.Tensor, noise: gdf.NoiseSource, grid: gdf.TimeGrid, on_step=None):
        s = self.settings
        capture_at = gdf.lr_capture_step(s.steps)
        captured: dict[str, LRGuide] = {}

        def model(x2, t2, i):
            with self._autocast():
                if i == capture_at:
                    out, feats = self._stage_c_call(x2, t2, capture=True, **inputs)
                    captured["guide"] = feats.conditional_half_for_cfg()
                    return out
                return self._stage_c_call(x2, t2, **inputs)

        x_lr = gdf.sample(model, x_lr, grid, noise, s.cfg, s.cfg_rho, on_step)
        return x_lr, captured["guide"]

    @torch.no_grad()
    def hr_pass(self, inputs, x_hr, guide: LRGuide, noise, grid, on_step=None):
        s = self.settings

        def model(x2, t2, i):
            with self._autocast():
                return self._stage_c_call(x2, t2, lr_guide=guide, **inputs)

        return gdf.sample(model, x_hr, grid, noise, s.cfg, s.cfg_rho, on_step)

    @torch.no_grad()
    def stage_b_pass(self, c_latent, cond, uncond, x_b, noise):
        s = self.settings
        b_in = self._model_dtype_inputs(
            self.stage_b,
            {
                "effnet": torch.cat([c_latent, torch.zeros_like(c_latent)], dim=0),
                "pooled": torch.cat([cond["clip_text_pooled"], uncond["clip_text_pooled"]], dim=0),
            },
        )
        effnet, pooled = b_in["effnet"], b_in["pooled"]

        def model(x2, t2, i):
            with self._autocast():
                return self._stage_b_call(x2, t2, clip_text_pooled=pooled, effnet=effnet, return_dict=False)[0]

        return gdf.sample(model, x_b, gdf.time_grid(s.decoder_steps), noise, s.decoder_cfg, s.decoder_cfg_rho)

    @torch.no_grad()
    def stage_a_decode(self, b_latent):
        s = self.settings
        with self._autocast():
            img = decode_stage_a(self.stage_a, b_latent, s.stage_a_scale, s.stage_a_tiled, s.stage_a_tile, s.stage_a_overlap)
        return img.clamp(0, 1)

    # -- everything -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompt: str, seed: int, height: int, width: int, timer=None, trace: dict | None = None):
        """One image (3, height, width) in [0, 1] float32 on the device, plus the settings that matter.

        `trace`, when given, receives the LR and HR latents after every step (the parity harness uses it).
        """
        from ultrabench.timing import StageTimer

        timer = timer or StageTimer(str(self.device))
        s = self.settings
        hr = stage_c_latent_size(height, width)
        lr = lr_latent_size(height, width, s.lr_std_size)
        bl = stage_b_latent_size(height, width)
        noise = gdf.NoiseSource(seed, self.device)
        # Official order: HR noise first, then LR noise, both from the CPU stream; Stage B noise after.
        x_hr = noise.initial((1, 16, *hr))
        x_lr = noise.initial((1, 16, *lr))
        grid = gdf.time_grid(s.steps)
        hooks = {}
        if trace is not None:
            trace.setdefault("lr", [])
            trace.setdefault("hr", [])
            hooks = {
                "lr": lambda i, x, x0: trace["lr"].append(x.detach().cpu().clone()),
                "hr": lambda i, x, x0: trace["hr"].append(x.detach().cpu().clone()),
            }

        with timer.stage("text_encode"):
            cond, uncond = self.encode_text(prompt)
        inputs = self._stage_c_inputs(cond, uncond)
        with self._on_device(self.stage_c):
            with timer.stage("lr_pass"):
                x_lr, guide = self.lr_pass(inputs, x_lr, noise, grid, hooks.get("lr"))
            with timer.stage("hr_pass"):
                c_latent = self.hr_pass(inputs, x_hr, guide, noise, grid, hooks.get("hr"))
        del guide, inputs
        x_b = noise.initial((1, 4, *bl))
        with self._on_device(self.stage_b):
            with timer.stage("stage_b"):
                b_latent = self.stage_b_pass(c_latent, cond, uncond, x_b, noise)
        with self._on_device(self.stage_a):
            with timer.stage("stage_a"):
                img = self.stage_a_decode(b_latent)
        if trace is not None:
            trace["stage_c_latent"] = c_latent.detach().cpu()
            trace["stage_b_latent"] = b_latent.detach().cpu()
        img = img[0, :, :height, :width]
        info: dict[str, Any] = {
            "stage_c_latent": list(hr),
            "lr_latent": list(lr),
            "stage_b_latent": list(bl),
            "decoder_guide_scale": decoder_guide_scale(*hr),
            "scale_norm_s": round(scale_norm_value(*hr), 6),
            "stage_a_tiles": count_tiles(*bl, s.stage_a_tile, s.stage_a_overlap) if s.stage_a_tiled else 1,
            "sampler": asdict(s),
        }
        return img, info
