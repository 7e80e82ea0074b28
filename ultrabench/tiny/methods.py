"""The `tiny` family: random-weight stand-ins that exercise every code path without weights.

`tiny-sd` generates any multiple-of-8 size natively; `tiny-sd-sr` generates at half size and
resizes with Lanczos, so the demo and tests also cover the "native-then-resized" path.
"""

from __future__ import annotations

from typing import Sequence

from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least
from ultrabench.resolution import Resolution


class TinySD(Method):
    name = "tiny-sd"
    display_name = "tiny-sd"
    family = "tiny"
    kind = "generate"
    description = "Tiny random-weight latent diffusion (stand-in; its numbers mean nothing)"
    default_settings = {"steps": 4, "guidance_scale": 3.0, "negative_prompt": ""}
    setting_rules = {"steps": at_least(1), "guidance_scale": at_least(0.0)}

    def plan(self, res: Resolution) -> SizePlan:
        if res.height % 8 or res.width % 8:
            return SizePlan.unsupported(res, "the VAE needs sides divisible by 8")
        if res.megapixels > 1.0:
            # Keeps a CPU demo from running for minutes by accident; real methods have no such cap.
            return SizePlan.unsupported(res, "tiny stand-ins stop at 1 megapixel")
        return SizePlan.native_at(res)

    def load(self) -> None:
        from ultrabench.tiny.models import build_tiny_sd_pipeline

        self.pipe = build_tiny_sd_pipeline(self.device, self.dtype)

    def _generate_at(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> tuple[list, dict]:
        import torch

        threads = torch.get_num_threads()
        # Toy-sized ops spend more time handing work between threads than computing (several
        # times slower with 2 threads on a busy 2-core machine), so the stand-ins run on one.
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                return self._sample(prompts, seeds, res)
        finally:
            torch.set_num_threads(threads)

    def _sample(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> tuple[list, dict]:
        from ultrabench.seeding import cpu_generators
        from ultrabench.timing import StageTimer

        timer = StageTimer(self.device)
        s = self.settings
        cfg = float(s["guidance_scale"])
        with timer.stage("text_encode"):
            embeds, negative = self.pipe.encode_prompt(
                list(prompts), self.device, 1, cfg > 1.0, negative_prompt=[s["negative_prompt"]] * len(prompts)
            )
        with timer.stage("denoise"):
            latents = self.pipe(
                prompt_embeds=embeds, negative_prompt_embeds=negative, height=res.height, width=res.width,
                num_inference_steps=int(s["steps"]), guidance_scale=cfg,
                generator=cpu_generators(seeds), output_type="latent",
            ).images
        with timer.stage("decode"):
            vae = self.pipe.vae
            decoded = vae.decode(latents / vae.config.scaling_factor).sample
            images = self.pipe.image_processor.postprocess(decoded, output_type="pil")
        return images, timer.seconds

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        images, stages = self._generate_at(prompts, seeds, res)
        return [GeneratedImage(im, dict(stages), res) for im in images]


class TinySDUpscaled(TinySD):
    name = "tiny-sd-sr"
    display_name = "tiny-sd + Lanczos x2"
    description = "tiny-sd at half size, then Lanczos to the requested size (stand-in for base + SR)"

    def _native(self, res: Resolution) -> Resolution:
        return Resolution(max(8, res.height // 2 // 8 * 8), max(8, res.width // 2 // 8 * 8))

    def plan(self, res: Resolution) -> SizePlan:
        return SizePlan.resized(res, self._native(res), "generates at half size, then upscales", "lanczos")

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        import time

        from PIL import Image

        native = self._native(res)
        images, stages = self._generate_at(prompts, seeds, native)
        t0 = time.perf_counter()
        images = [im.resize((res.width, res.height), Image.Resampling.LANCZOS) for im in images]
        stages["upscale"] = time.perf_counter() - t0
        return [GeneratedImage(im, dict(stages), native, {"resize_filter": "lanczos"}) for im in images]
