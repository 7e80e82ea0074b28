"""Stable Cascade sampled directly at the target size, without UltraPixel's low-resolution guidance.

The ablation of the paper's Figure 9: the same Stage C (the released Stable Cascade 3.6B, which
UltraPixel keeps frozen), the same official GDF sampler and settings (20 steps, CFG 4 with the 0.7 std
rescale), the same Stage B lite (10 steps, CFG 1.1) and Stage A decode as `ultrapixel`, but one Stage
C pass at the HR latent size from noise, with no LR pass and no guidance blocks. It is
`UltraPixelPipeline` with `guided_steps = 0`: Stage C built without the guidance blocks (so no
UltraPixel file is read), every stage computed as the released modules compute it under autocast,
each stage handing on its last x0 prediction. The official counterpart is Stable Cascade's own path
in the UltraPixel checkout (`modules/stage_c.StageC` sampled by the base `gdf.GDF.sample`, then
`decode_b`); `benchmarks/parity_ultrapixel.py` compares the two. The HR initial noise is drawn first
from the seed, as UltraPixel draws it, so both start Stage C from the same latent for the same seed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from baselines._common import plan_or_refuse
from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least, between, one_of
from ultrabench.resolution import Resolution
from ultrabench.ultrapixel.configs import STAGE_A_TILED, SamplerSettings

_SAMPLER_KEYS = ("steps", "cfg", "cfg_rho", "decoder_steps", "decoder_cfg", "decoder_cfg_rho", "stage_a_tiled",
                 "stage_a_tile", "stage_a_overlap", "stage_a_tile_batch")
# this method's stages (recorded per unit) and the pipeline's timer of each
_STAGE_TIMERS = {"text_encode": "text_encode", "stage_c": "hr_pass", "stage_b": "stage_b", "stage_a": "stage_a"}
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
        # The paper's Figure 9 ablation is UltraPixel's own script without the LR guidance, so its
        # defaults are that script's: the sampler's (SamplerSettings, whose docstring cites them) and
        # its precision, --dtype bf16 (catcathh/UltraPixel e85d3bc inference/test_t2i.py line 27).
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
        from dataclasses import replace

        return replace(SamplerSettings.from_settings(self.settings, _SAMPLER_KEYS), guided_steps=0)

    def recorded_settings(self) -> dict[str, Any]:
        rec = dict(self.settings)
        rec.update(sampler="GDF DDPM (official Stable Cascade sampler)", lr_guidance=False, stage_b="lite (700M)")
        return rec

    def load(self) -> None:
        from ultrabench.ultrapixel.configs import full_config
        from ultrabench.ultrapixel.method import weight_paths

        # one line naming the missing file and its hub repo, before any work
        paths = weight_paths(self.weights, self.weight_files(), self.settings["layout"])
        self._pipe = build_pipeline(paths, full_config(), self.settings["precision"], self.device, self._sampler_settings())

    def unload(self) -> None:
        self._pipe = None

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        from ultrabench.timing import PeakMemory, StageTimer
        from ultrabench.ultrapixel.pipeline import to_pil

        plan_or_refuse(self, res)
        if getattr(self, "_pipe", None) is None:
            self.load()
        pipe = self._pipe
        out = []
        for prompt, seed in zip(prompts, seeds):
            timer = StageTimer(str(pipe.device))
            with PeakMemory(str(pipe.device)) as peak:
                img, info = pipe.generate(prompt, int(seed), res.height, res.width, timer=timer)
            keep = ("stage_c_latent", "stage_b_latent", "stage_a_tiled", "stage_a_tiles", "attention_backend", "sampler")
            out.append(GeneratedImage(
                to_pil(img), stages={k: round(timer.seconds.get(t, 0.0), 4) for k, t in _STAGE_TIMERS.items()},
                native_size=res,
                info={"seed": int(seed), **{k: info[k] for k in keep}, "lr_guidance": False,
                      "peak_memory_bytes": peak.bytes, "peak_memory_kind": peak.kind, "device": str(pipe.device)},
            ))
        return out


def build_pipeline(paths, cfg, precision: str, device, settings: SamplerSettings):
    """The method's pipeline from its files (`build.WeightPaths` without an UltraPixel file): Stage C
    without guidance blocks, `settings.guided_steps` 0. The parity harness builds it the same way."""
    import torch

    from ultrabench.errors import UsageError
    from ultrabench.ultrapixel.build import build_from_files
    from ultrabench.ultrapixel.method import precision_dtype
    from ultrabench.ultrapixel.pipeline import UltraPixelPipeline

    if paths.ultrapixel is not None or settings.guided_steps != 0:
        raise UsageError("stable-cascade-direct: Stable Cascade alone takes no UltraPixel file and no guided steps")
    dtype = precision_dtype(precision)
    models = build_from_files(paths, cfg, dtype=dtype)
    return UltraPixelPipeline(models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
                              device=device, autocast_dtype=torch.bfloat16 if dtype == torch.bfloat16 else None,
                              settings=settings)
