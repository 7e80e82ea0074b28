"""PixArt-Sigma through diffusers' `PixArtSigmaPipeline` (the 1024-MS or the 2K-MS transformer).

The pipeline's resolution binning is reproduced step by step (generate at the bucket, decode, then
diffusers' own bilinear resize-and-center-crop) so the size really generated is known and recorded.
No 4K checkpoint is public: above the 2K buckets the request is generated at a bucket and resized.
"""

from __future__ import annotations

from typing import Any, Sequence

from baselines._common import (RESAMPLE_FILTERS, aspect_bins, check_choice, library_versions, model_location, nearest_bin,
                               plan_or_refuse, resize_exact, resolve_model, seed_unit, torch_dtype)
from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least, one_of
from ultrabench.resolution import Resolution

T5_REPO = "PixArt-alpha/pixart_sigma_sdxlvae_T5_diffusers"
TRANSFORMERS = {"2K": "PixArt-alpha/PixArt-Sigma-XL-2-2K-MS", "1024": "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS"}
BINS = {"2K": "2048", "1024": "1024"}


class PixArtSigma(Method):
    name = "pixart-sigma"
    display_name = "PixArt-Sigma"
    aliases = ("pixart", "pixart_sigma", "PixArt-Σ", "pixart-sigma-2k")
    description = "PixArt-Sigma (diffusers PixArtSigmaPipeline), 2K-MS transformer by default; binned then resized"
    family = "baseline"
    kind = "generate"
    max_batch_size = 4
    # PixArt-alpha/PixArt-sigma README.md (1ce521a) lines 205-217: weight_dtype = torch.float16 for the
    # transformer and the pipeline.
    default_dtype = "float16"
    licence = "OpenRAIL (PixArt-Sigma 2K-MS card; the 1024-MS card: OpenRAIL++); T5-XXL encoder Apache-2.0"
    default_settings = {
        "dtype": None,  # None = the run's --dtype, else default_dtype (the authors' float16)
        # PixArtSigmaPipeline.__call__'s defaults (diffusers 0.42.1 pipeline_pixart_sigma.py lines 636-657:
        # negative_prompt "", 20 steps, CFG 4.5, clean_caption True, use_resolution_binning True, 300
        # tokens); the 2K-MS transformer is the largest model of the PixArt-sigma README's "Available Models".
        "model_size": "2K",  # "2K" or "1024": which public transformer (and which bucket table)
        "base_model": T5_REPO,  # T5, SDXL VAE, tokenizer, scheduler (hub id or local folder)
        "transformer": None,  # None = the public transformer for model_size; or hub id / local folder
        "num_inference_steps": 20,
        "guidance_scale": 4.5,
        "negative_prompt": "",
        "resolution_binning": True,  # the pipeline default: generate at the nearest bucket
        "resize": "pipeline",  # "pipeline" = diffusers' bilinear resize + center crop; or a PIL filter
        "max_sequence_length": 300,
        "clean_caption": True,
        "vae_tiling": False,
    }
    setting_rules = {"dtype": one_of("float32", "float16", "bfloat16", optional=True), "model_size": one_of(*BINS), "num_inference_steps": at_least(1), "guidance_scale": at_least(0.0),
                     "resize": one_of("pipeline", *RESAMPLE_FILTERS), "max_sequence_length": at_least(1)}

    # -- description ----------------------------------------------------------------------------
    def _bins(self):
        check_choice(self.name, "model_size", self.settings["model_size"], tuple(BINS))
        return aspect_bins(BINS[self.settings["model_size"]])

    def _resize_filter(self) -> str:
        r = self.settings["resize"]
        return "bilinear+center-crop" if r == "pipeline" else r

    def plan(self, res: Resolution) -> SizePlan:
        if not self.settings["resolution_binning"]:
            if res.height % 16 or res.width % 16:
                return SizePlan.unsupported(res, "without binning both sides must be multiples of 16")
            return SizePlan.native_at(res)
        native = nearest_bin(res, self._bins())
        top = max(h * w for h, w in self._bins().values())
        why = (
            f"no public PixArt-Sigma model above {self.settings['model_size']}: generated at its bucket {native.key}"
            if res.height * res.width > top
            else f"resolution binning: generated at the {self.settings['model_size']} bucket {native.key}"
        )
        return SizePlan.resized(res, native, why, self._resize_filter())

    def _transformer_id(self) -> str:
        return self.settings["transformer"] or TRANSFORMERS[self.settings["model_size"]]

    def weight_files(self):
        out = []
        for value, role, pats in (
            (self.settings["base_model"], "pixart_base", ("model_index.json", "scheduler/*", "tokenizer/*",
                                                          "text_encoder/*", "vae/*")),
            (self._transformer_id(), "pixart_transformer", ("transformer/*",)),
        ):
            wf, _ = model_location(self, value, role, pats)
            if wf is not None:
                out.append(wf)
        return out

    def recorded_settings(self) -> dict[str, Any]:
        rec = dict(self.settings)
        rec.update(transformer=self._transformer_id(), sampler="DPMSolverMultistepScheduler (repo config)",
                   dtype=self.dtype, watermark=False, vae="SDXL VAE (from base_model)")
        if getattr(self, "_pipe", None) is not None:
            rec["sampler"] = type(self._pipe.scheduler).__name__
        return rec

    # -- work -------------------------------------------------------------------------------------
    def load(self) -> None:
        from diffusers import PixArtSigmaPipeline, PixArtTransformer2DModel

        dtype = torch_dtype(self.dtype)
        base = resolve_model(self, self.settings["base_model"], "pixart_base")
        tpath = resolve_model(self, self._transformer_id(), "pixart_transformer")
        transformer = PixArtTransformer2DModel.from_pretrained(tpath, subfolder="transformer", dtype=dtype)
        self._pipe = PixArtSigmaPipeline.from_pretrained(base, transformer=transformer, dtype=dtype)
        self._pipe.to(self.device)
        self._pipe.set_progress_bar_config(disable=True)
        if self.settings["vae_tiling"]:
            self._pipe.vae.enable_tiling()

    def unload(self) -> None:
        self._pipe = None

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        import torch

        from ultrabench.seeding import cpu_generators
        from ultrabench.timing import StageTimer

        plan = plan_or_refuse(self, res)
        native = plan.native
        pipe = self._pipe
        out: list[GeneratedImage] = []
        # One image per call: per-unit seeding of every RNG, and results independent of batch size.
        for prompt, seed in zip(prompts, seeds):
            seed_unit(seed)
            timer = StageTimer(self.device)
            with timer.stage("denoise"):
                latents = pipe(
                    prompt=prompt, negative_prompt=self.settings["negative_prompt"],
                    num_inference_steps=self.settings["num_inference_steps"],
                    guidance_scale=self.settings["guidance_scale"], height=native.height, width=native.width,
                    generator=cpu_generators([seed])[0], use_resolution_binning=False, output_type="latent",
                    clean_caption=self.settings["clean_caption"],
                    max_sequence_length=self.settings["max_sequence_length"],
                ).images
            with timer.stage("decode"), torch.no_grad():
                image = pipe.vae.decode(latents.to(pipe.vae.dtype) / pipe.vae.config.scaling_factor,
                                        return_dict=False)[0]
            with timer.stage("resize"):
                if self.settings["resize"] == "pipeline":
                    image = pipe.image_processor.resize_and_crop_tensor(image, res.width, res.height)
                    pil = pipe.image_processor.postprocess(image, output_type="pil")[0]
                else:
                    pil = pipe.image_processor.postprocess(image, output_type="pil")[0]
                    pil = resize_exact(pil, res, self.settings["resize"])
            out.append(GeneratedImage(
                image=pil, stages=dict(timer.seconds), native_size=native,
                info={"support": plan.support.value, "resize_filter": plan.resize_filter if native != res else None,
                      "binned_size": [native.height, native.width], "bins": BINS[self.settings["model_size"]]
                      if self.settings["resolution_binning"] else None, "versions": library_versions()},
            ))
        return out
