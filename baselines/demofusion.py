"""DemoFusion through diffusers' community pipeline (`pipeline_demofusion_sdxl.py`) on SDXL.

The community file is not installed with diffusers: it is loaded from a local file (`pipeline_file`)
or, by name, from the hub cache (`custom_pipeline="pipeline_demofusion_sdxl"`). DemoFusion works in
whole multiples of SDXL's 1024 on the long side, so some requests come back smaller (2160x3840 ->
1728x3072) and are resized; `plan()` computes that from the pipeline's own phase rule.
"""

from __future__ import annotations

from typing import Any, Sequence

from baselines._common import (RESAMPLE_FILTERS, library_versions, model_location, resize_exact, resolve_model, seed_unit,
                               torch_dtype)
from ultrabench.methods.base import AsRun, GeneratedImage, Method, SizePlan, at_least, one_of
from ultrabench.resolution import Resolution

SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
COMMUNITY_NAME = "pipeline_demofusion_sdxl"


def demofusion_request(height: int, width: int, base: int = 1024, vae_factor: int = 8) -> Resolution | None:
    """The size to ask the pipeline for: the long side in whole multiples of `base` (the pipeline
    refuses anything else), the short side at the requested aspect ratio; None below one base."""
    scale = int(max(height, width) / base)
    if scale < 1:
        return None
    long = base * scale
    short = int(long * min(height, width) / max(height, width)) // vae_factor * vae_factor
    return Resolution(long, short) if height > width else Resolution(short, long)


def demofusion_phases(height: int, width: int, base: int = 1024, vae_factor: int = 8) -> list[Resolution]:
    """The size of each phase's output for a call at (height, width), by the pipeline's own rule
    (the last one is what it returns), with the same float arithmetic so predictions match.

    scale = int(max(H, W) / base); phase 1 runs at (H // scale, W // scale); phase k at base*k on the
    long side and int(base*k*aspect) on the short one; latents are int(size / 8).
    """
    hs, ws = height / base, width / base
    scale = int(max(hs, ws))
    if scale < 1:
        return []
    aspect = min(hs, ws) / max(hs, ws)
    first = Resolution((height // scale) // vae_factor * vae_factor, (width // scale) // vae_factor * vae_factor)
    out = [first]
    for k in range(2, scale + 1):
        ch = cw = base * k
        if height > width:
            cw = int(cw * aspect)
        else:
            ch = int(ch * aspect)
        out.append(Resolution(int(ch / vae_factor) * vae_factor, int(cw / vae_factor) * vae_factor))
    return out


class DemoFusion(Method):
    name = "demofusion"
    display_name = "DemoFusion"
    aliases = ("demo-fusion", "DemoFusion")
    description = "DemoFusion (diffusers community pipeline) on SDXL; long side in whole multiples of 1024"
    family = "baseline"
    kind = "generate"
    licence = "CreativeML Open RAIL++-M (SDXL 1.0 base weights)"
    max_batch_size = 1  # phase noise comes from the global RNGs: one image per call keeps units independent
    # PRIS-CV/DemoFusion README.md (5024487) lines 64-65 and diffusers' examples/community/README.md
    # (DemoFusion): DemoFusionSDXLPipeline.from_pretrained(..., torch_dtype=torch.float16)
    default_dtype = "float16"
    default_settings = {
        "dtype": None,  # None = the run's --dtype, else default_dtype (the authors' float16)
        "model": SDXL_REPO,
        "pipeline_file": None,  # local path to pipeline_demofusion_sdxl.py; None = by name from the hub cache
        "vae": None,  # e.g. "madebyollin/sdxl-vae-fp16-fix" (changes pixels; the README's low-VRAM recipe)
        # The README's recommended call, PRIS-CV/DemoFusion README.md (5024487) lines 69-75: 50 steps, CFG 7.5
        # (the signature's default is 5.0), its negative prompt, view batch 16, stride 64, cosine scales
        # 3/1/1, sigma 0.8, multi_decoder on.
        "num_inference_steps": 50,
        "guidance_scale": 7.5,
        "negative_prompt": "blurry, ugly, duplicate, poorly drawn, deformed, mosaic",
        "view_batch_size": 16,
        "stride": 64,
        "cosine_scale_1": 3.0,
        "cosine_scale_2": 1.0,
        "cosine_scale_3": 1.0,
        "sigma": 0.8,
        "multi_decoder": True,  # tiled decode; README: needed above 3072^2 on 24 GB
        "base_size": 1024,  # SDXL's native side (unet.sample_size * 8); checked at load
        "resize_filter": "lanczos",
    }
    setting_rules = {
        "dtype": one_of("float32", "float16", "bfloat16", optional=True),
        "num_inference_steps": at_least(1), "guidance_scale": at_least(0.0), "view_batch_size": at_least(1),
        "stride": at_least(8), "cosine_scale_1": at_least(0.0), "cosine_scale_2": at_least(0.0),
        "cosine_scale_3": at_least(0.0), "sigma": at_least(0.0), "base_size": at_least(64),
        "resize_filter": one_of(*RESAMPLE_FILTERS),
    }

    def call_size(self, res: Resolution) -> Resolution | None:
        return demofusion_request(res.height, res.width, int(self.settings["base_size"]))

    def phases(self, res: Resolution) -> list[Resolution]:
        call = self.call_size(res)
        return demofusion_phases(call.height, call.width, int(self.settings["base_size"])) if call else []

    def plan(self, res: Resolution) -> SizePlan:
        ph = self.phases(res)
        if not ph:
            return SizePlan.unsupported(res, f"both sides below {self.settings['base_size']}: DemoFusion has no phase")
        final = ph[-1]
        plan = SizePlan.resized(
            res, final, f"DemoFusion works in whole multiples of {self.settings['base_size']} on the long side: "
                        f"{len(ph)} phase(s), final {final.key}", self.settings["resize_filter"])
        if len(ph) == 1:
            # Phase 1 is plain SDXL at the call size; the skip residuals, dilated sampling and
            # upscaling are all in the later phases, and a long side below 2 x base has none.
            scale = max(res.height / final.height, res.width / final.width)
            resized = f", resized {scale:.3g}x to {res.key}" if final != res else ""
            plan = plan.but(AsRun.OTHER_METHOD, f"DemoFusion at {res.key} is plain SDXL at {final.key}{resized}: "
                                                "a long side under 2 x 1024 leaves one phase, no DemoFusion phase runs")
        return plan

    def weight_files(self):
        out = []
        for value, role in ((self.settings["model"], "sdxl_base"), (self.settings["vae"], "vae")):
            if value:
                wf, _ = model_location(self, value, role)
                if wf is not None:
                    out.append(wf)
        return out

    def recorded_settings(self) -> dict[str, Any]:
        rec = dict(self.settings)
        rec.update(dtype=self.dtype, watermark=False, vae=self.settings["vae"] or "stock SDXL VAE")
        if getattr(self, "_pipe", None) is not None:
            rec["sampler"] = type(self._pipe.scheduler).__name__
            rec["pipeline_source"] = self._source
        return rec

    def load(self) -> None:
        from diffusers import AutoencoderKL, DiffusionPipeline

        from ultrabench.errors import UsageError

        dtype = torch_dtype(self.dtype)
        path = resolve_model(self, self.settings["model"], "sdxl_base")
        kw: dict[str, Any] = {"dtype": dtype}
        if self.settings["vae"]:
            kw["vae"] = AutoencoderKL.from_pretrained(resolve_model(self, self.settings["vae"], "vae"), dtype=dtype)
        source = self.settings["pipeline_file"] or COMMUNITY_NAME
        try:
            # Choosing this method (and `pipeline_file`) is the consent to run the community code.
            pipe = DiffusionPipeline.from_pretrained(path, custom_pipeline=str(source), trust_remote_code=True, **kw)
        except Exception as e:
            raise UsageError(
                f"demofusion: cannot load the community pipeline {source!r} ({type(e).__name__}: {str(e)[:160]}); "
                "download examples/community/pipeline_demofusion_sdxl.py from diffusers and set pipeline_file=PATH"
            ) from e
        base = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
        if base != int(self.settings["base_size"]):
            raise UsageError(f"demofusion: the model's native side is {base}, setting base_size is "
                             f"{self.settings['base_size']}; set base_size={base}")
        if not hasattr(pipe.scheduler, "_init_step_index"):
            # The upscaling phases call scheduler._init_step_index (Euler family); DDIM has none.
            raise UsageError(f"demofusion needs an Euler-family scheduler, got {type(pipe.scheduler).__name__}")
        # Watermarking changes pixels (the community file never calls it, but keep it off regardless).
        if getattr(pipe, "watermark", None) is not None:
            pipe.watermark = None
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        self._pipe, self._source = pipe, str(source)

    def unload(self) -> None:
        self._pipe = None

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        from ultrabench.errors import UsageError
        from ultrabench.seeding import cpu_generators
        from ultrabench.timing import StageTimer

        plan = self.plan(res)
        if plan.native is None:
            raise UsageError(f"demofusion cannot generate {res.key}: {plan.reason}")
        s = self.settings
        out = []
        for prompt, seed in zip(prompts, seeds):
            # Phase-1 latents use the generator; later phases draw from torch's global RNG and the
            # view jitter from Python's `random`: all of them are seeded per unit.
            seed_unit(seed)
            timer = StageTimer(self.device)
            with timer.stage("demofusion"):
                # Ask for a size DemoFusion accepts: the pipeline refuses a long side that is not a
                # whole multiple of 1024 (e.g. 3840 or 1792); its phases then end at `plan.native`.
                call = self.call_size(res)
                images = self._pipe(
                    prompt, negative_prompt=s["negative_prompt"] or None, height=call.height, width=call.width,
                    num_inference_steps=s["num_inference_steps"], guidance_scale=s["guidance_scale"],
                    generator=cpu_generators([seed])[0], view_batch_size=s["view_batch_size"], stride=s["stride"],
                    cosine_scale_1=s["cosine_scale_1"], cosine_scale_2=s["cosine_scale_2"],
                    cosine_scale_3=s["cosine_scale_3"], sigma=s["sigma"], multi_decoder=s["multi_decoder"],
                    show_image=False,
                )
            # The pipeline returns a plain list with one image per phase; the last is the result.
            images = images.images if hasattr(images, "images") else images
            final = images[-1]
            native = Resolution(final.height, final.width)
            if native != plan.native:
                raise UsageError(f"demofusion returned {native.key}, its phase rule predicts {plan.native.key}")
            with timer.stage("resize"):
                img = resize_exact(final, res, s["resize_filter"])
            out.append(GeneratedImage(
                image=img, stages=dict(timer.seconds), native_size=native,
                info={"support": plan.support.value, "phases": [p.key for p in self.phases(res)],
                      "phase_outputs": [f"{i.height}x{i.width}" for i in images],
                      "resize_filter": s["resize_filter"] if native != res else None, "versions": library_versions()},
            ))
        return out
