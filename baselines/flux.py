"""FLUX.1-dev at up to 2K, natively, through diffusers' `FluxPipeline` (the model card's settings).

The card's call: 50 steps, guidance 3.5 (FLUX.1-dev is guidance-distilled: one pass per step, the
value goes into the transformer's guidance embedding), 512 T5 tokens, a seeded CPU generator, and the
scheduler's resolution-dependent shift. Sides must be multiples of 16 (VAE x8, then 2x2 patches).
Requests up to `max_pixels` (2048^2) are generated as asked; larger ones at the largest size of the
same aspect ratio that fits, then resized: this is the base that HiFlow and I-Max take to 4K.
"""

from __future__ import annotations

from typing import Any, Sequence

from baselines._common import (fit_area, library_versions, model_location, plan_or_refuse, resize_exact, resolve_model,
                               seed_unit, torch_dtype)
from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least, between, one_of
from ultrabench.resolution import Resolution

FLUX_DEV = "black-forest-labs/FLUX.1-dev"
FLUX_DEV_LICENCE = "FLUX.1 [dev] Non-Commercial License (Black Forest Labs)"
PATCH = 16  # VAE x8, then 2x2 patches


class FluxDev2K(Method):
    name = "flux-dev-2k"
    display_name = "FLUX.1-dev 2K"
    aliases = ("flux-dev", "flux", "FLUX.1-dev")
    description = "FLUX.1-dev (diffusers FluxPipeline), native up to 2048^2 pixels; larger requests made at 2K and resized"
    family = "baseline"
    kind = "generate"
    max_batch_size = 1
    licence = FLUX_DEV_LICENCE
    default_dtype = "bfloat16"  # the black-forest-labs/FLUX.1-dev model card: torch_dtype=torch.bfloat16
    setting_rules = {"dtype": one_of("float32", "float16", "bfloat16", optional=True),
                     "num_inference_steps": at_least(1), "guidance_scale": at_least(0.0),
                     "max_sequence_length": between(1, 512), "max_pixels": at_least(256),
                     "above_max": one_of("resize", "unsupported")}
    # The black-forest-labs/FLUX.1-dev model card's call: 50 steps, guidance 3.5, max_sequence_length 512, a
    # seeded CPU generator (FluxPipeline.__call__'s own defaults, diffusers 0.42.1 pipeline_flux.py lines
    # 611-613, are 28 steps and 3.5). max_pixels, above_max and resize_filter are ultrabench's.
    default_settings = {
        "model": FLUX_DEV,  # hub id or a local folder laid out like it
        "dtype": None,  # None = the run's --dtype, else default_dtype (the card's bfloat16)
        "num_inference_steps": 50,
        "guidance_scale": 3.5,
        "max_sequence_length": 512,
        "max_pixels": 2048 * 2048,  # largest area generated natively ("2K")
        "above_max": "resize",  # larger requests: "resize" (generate at 2K, resize) or "unsupported"
        "resize_filter": "lanczos",
        "vae_tiling": False,
    }

    def native_size(self, res: Resolution) -> Resolution:
        return fit_area(res, int(self.settings["max_pixels"]), PATCH)

    def plan(self, res: Resolution) -> SizePlan:
        native = self.native_size(res)
        if native == res:
            return SizePlan.native_at(res)
        if res.height * res.width <= int(self.settings["max_pixels"]):
            return SizePlan.resized(res, native, f"sides must be multiples of {PATCH}: generated at {native.key}",
                                    self.settings["resize_filter"])
        if self.settings["above_max"] == "unsupported":
            return SizePlan.unsupported(res, f"above {self.settings['max_pixels']} pixels (setting above_max)")
        return SizePlan.resized(res, native, f"FLUX.1-dev at 2K: generated at {native.key}, then resized",
                                self.settings["resize_filter"])

    def weight_files(self):
        wf, _ = model_location(self, self.settings["model"], "flux_dev",
                               ("model_index.json", "scheduler/*", "tokenizer/*", "tokenizer_2/*", "text_encoder/*",
                                "text_encoder_2/*", "vae/*", "transformer/*"))
        return [wf] if wf is not None else []

    def recorded_settings(self) -> dict[str, Any]:
        rec = dict(self.settings)
        rec.update(dtype=self.dtype, sampler="FlowMatchEulerDiscreteScheduler (repo config, dynamic shift)")
        if getattr(self, "_pipe", None) is not None:
            rec["sampler"] = type(self._pipe.scheduler).__name__
            rec["use_dynamic_shifting"] = bool(self._pipe.scheduler.config.use_dynamic_shifting)
        return rec

    def load(self) -> None:
        from diffusers import FluxPipeline

        pipe = FluxPipeline.from_pretrained(resolve_model(self, self.settings["model"], "flux_dev"),
                                            dtype=torch_dtype(self.dtype))
        if self.settings["vae_tiling"]:
            pipe.vae.enable_tiling()
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe

    def unload(self) -> None:
        self._pipe = None

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        from ultrabench.errors import UsageError
        from ultrabench.seeding import cpu_generators
        from ultrabench.timing import StageTimer

        plan = plan_or_refuse(self, res)
        s, native = self.settings, plan.native
        out = []
        for prompt, seed in zip(prompts, seeds):
            seed_unit(seed)
            timer = StageTimer(self.device)
            with timer.stage("generate"):
                image = self._pipe(prompt=prompt, height=native.height, width=native.width,
                                   num_inference_steps=int(s["num_inference_steps"]),
                                   guidance_scale=float(s["guidance_scale"]),
                                   max_sequence_length=int(s["max_sequence_length"]),
                                   generator=cpu_generators([seed])[0]).images[0]
            got = Resolution(image.height, image.width)
            if got != native:
                raise UsageError(f"{self.name}: the pipeline returned {got.key}, expected {native.key}")
            with timer.stage("resize"):
                final = resize_exact(image, res, s["resize_filter"])
            out.append(GeneratedImage(
                image=final, stages=dict(timer.seconds), native_size=native,
                info={"support": plan.support.value, "resize_filter": s["resize_filter"] if native != res else None,
                      "versions": library_versions()},
            ))
        return out
