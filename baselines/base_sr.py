"""Base model at its ~1 MP native size, then x4 super-resolution, then a resize to the exact request.

The paper's "Base + BSRGAN" row does not say which base model; SDXL (the DemoFusion paper's
"SDXL + BSRGAN") is the default and Stable Cascade (UltraPixel's own base) is a setting. The base
size is the ~1 MP bucket with the request's aspect ratio (SDXL's training buckets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from baselines._common import (RESAMPLE_FILTERS, aspect_bins, check_choice, library_versions, model_location, nearest_bin,
                               resize_exact, resolve_model, seed_unit, torch_dtype)
from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least, one_of
from ultrabench.resolution import Resolution

SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
CASCADE_PRIOR = "stabilityai/stable-cascade-prior"
CASCADE_DECODER = "stabilityai/stable-cascade"
# BSRGAN.pth is released on GitHub (cszn/KAIR v1.0), not the hub: put it in the weights folder under
# this repo id, or give `sr_model` as a file path.
BSRGAN = ("cszn/KAIR", "BSRGAN.pth")
# BSRGAN is published as a GitHub release of KAIR, not on the HF hub.
BSRGAN_URL = "https://github.com/cszn/KAIR/releases/download/v1.0/BSRGAN.pth"

BASE_DEFAULTS = {
    # StableDiffusionXLPipeline.__call__ defaults (diffusers 0.42.1 pipeline_stable_diffusion_xl.py lines 831, 835)
    "sdxl": {"num_inference_steps": 50, "guidance_scale": 5.0},
    "stable-cascade": {"num_inference_steps": 20, "guidance_scale": 4.0,  # prior; decoder: 10 steps, CFG 0
                       "decoder_steps": 10, "decoder_guidance_scale": 0.0},
}


def cascade_base_size(res: Resolution, area: int = 1024 * 1024, step: int = 128) -> Resolution:
    """About 1 MP at the requested aspect ratio, sides in multiples of 128.

    diffusers' decoder takes int(ceil(side / 42.67) * 10.67) latents per side and Stage B's patch
    size 2 needs that even; SDXL's buckets break it (1344 px -> 341), multiples of 128 never do.
    """
    aspect = res.height / res.width
    h = max(step, round((area * aspect) ** 0.5 / step) * step)
    w = max(step, round((area / aspect) ** 0.5 / step) * step)
    return Resolution(int(h), int(w))


def _cascade_decoder(path, dtype):
    """Stable Cascade's decoder pipeline, assembled from its folders.

    Current diffusers keeps Stage A's class (`PaellaVQModel`) under `deprecated` and refuses the
    repository's model_index entry for it, even when the component is passed in, so
    `StableCascadeDecoderPipeline.from_pretrained` cannot load the repo: each part is loaded by hand.
    """
    from diffusers import DDPMWuerstchenScheduler, StableCascadeDecoderPipeline
    from diffusers.models import StableCascadeUNet
    from diffusers.pipelines.deprecated.wuerstchen.modeling_paella_vq_model import PaellaVQModel
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    return StableCascadeDecoderPipeline(
        decoder=StableCascadeUNet.from_pretrained(path, subfolder="decoder", dtype=dtype),
        tokenizer=AutoTokenizer.from_pretrained(path, subfolder="tokenizer"),
        text_encoder=CLIPTextModelWithProjection.from_pretrained(path, subfolder="text_encoder", dtype=dtype),
        scheduler=DDPMWuerstchenScheduler.from_pretrained(path, subfolder="scheduler"),
        vqgan=PaellaVQModel.from_pretrained(path, subfolder="vqgan", dtype=dtype),
    )


class BaseSR(Method):
    name = "base-sr"
    display_name = "Base + BSRGAN"
    aliases = ("bsrgan", "base+bsrgan", "sdxl+bsrgan", "Base + BSRGAN")
    description = "SDXL (or Stable Cascade) at ~1 MP, BSRGAN x4 (spandrel, tiled) or Lanczos, resized to the request"
    family = "baseline"
    kind = "generate"
    max_batch_size = 4
    licence = ("SDXL 1.0: CreativeML Open RAIL++-M (base = stable-cascade: Stability AI Non-Commercial Research "
               "Community License); BSRGAN.pth: Apache-2.0 (cszn/BSRGAN)")
    # The base model's: the stabilityai/stable-diffusion-xl-base-1.0 model card loads
    # torch_dtype=torch.float16, variant="fp16". The SR network has its own, `sr_dtype`.
    default_dtype = "float16"
    # The paper names no settings for this row: the base's steps and CFG are its pipeline's (BASE_DEFAULTS),
    # the ~1 MP bucket, x4 and the final resize follow DemoFusion's "SDXL + BSRGAN" description, and the SR
    # tiling (sr_tile, sr_tile_pad: overlapping tiles, to bound memory) is ultrabench's.
    default_settings = {
        "dtype": None,  # the base model's; None = the run's --dtype, else default_dtype (the card's float16)
        "base": "sdxl",  # "sdxl" | "stable-cascade"
        "base_model": None,  # None = the public repo for `base`; or hub id / local folder
        "decoder_model": None,  # stable-cascade only
        "num_inference_steps": None,  # None = the base pipeline's default
        "guidance_scale": None,
        "negative_prompt": "",
        "upscaler": "bsrgan",  # "bsrgan" (any spandrel model file) | "lanczos" (weight-free)
        "sr_model": None,  # None = BSRGAN.pth from the weights folder; or a file path
        "sr_scale": 4,  # for "lanczos"; spandrel models report their own scale
        "sr_tile": 256,  # low-resolution tile side in pixels; 0 = whole image
        "sr_tile_pad": 24,
        # cszn/BSRGAN main_test_bsrgan.py (5ce1a9c) lines 69-81: the network is built, loaded and moved to
        # the device in float32 (no .half()); spandrel casts to a half type only where the arch supports it.
        "sr_dtype": "float32",
        "resize_filter": "lanczos",
        "bins": "1024",  # base-size bucket table ("1024" = ~1 MP, SDXL's training buckets)
        "vae_tiling": False,
    }
    setting_rules = {
        "dtype": one_of("float32", "float16", "bfloat16", optional=True), "sr_dtype": one_of("float32", "float16", "bfloat16"),
        "base": one_of("sdxl", "stable-cascade"), "num_inference_steps": at_least(1, optional=True),
        "guidance_scale": at_least(0.0, optional=True), "upscaler": one_of("bsrgan", "lanczos"),
        "sr_scale": at_least(1), "sr_tile": at_least(0), "sr_tile_pad": at_least(0),
        "resize_filter": one_of(*RESAMPLE_FILTERS), "bins": one_of("1024", "2048", "512"),
    }

    # -- description ----------------------------------------------------------------------------
    def _scale(self) -> int:
        if self.settings["upscaler"] == "bsrgan" and getattr(self, "_sr", None) is not None:
            return int(self._sr.scale)
        return int(self.settings["sr_scale"])

    def base_size(self, res: Resolution) -> Resolution:
        if self.settings["base"] == "stable-cascade":
            return cascade_base_size(res)
        return nearest_bin(res, aspect_bins(self.settings["bins"]))

    def plan(self, res: Resolution) -> SizePlan:
        check_choice(self.name, "base", self.settings["base"], tuple(BASE_DEFAULTS))
        check_choice(self.name, "upscaler", self.settings["upscaler"], ("bsrgan", "lanczos"))
        base = self.base_size(res)
        s = self._scale()
        if self.settings["upscaler"] == "lanczos":
            return SizePlan.resized(res, base, f"{self.settings['base']} at {base.key}, Lanczos upscale",
                                    self.settings["resize_filter"])
        sr = Resolution(base.height * s, base.width * s)
        return SizePlan.resized(res, sr, f"{self.settings['base']} at {base.key}, x{s} SR to {sr.key}",
                                self.settings["resize_filter"])

    def _base_ids(self) -> list[tuple[str, str]]:
        if self.settings["base"] == "sdxl":
            return [(self.settings["base_model"] or SDXL_REPO, "sdxl_base")]
        return [(self.settings["base_model"] or CASCADE_PRIOR, "cascade_prior"),
                (self.settings["decoder_model"] or CASCADE_DECODER, "cascade_decoder")]

    def _sr_file(self):
        from ultrabench.weights import WeightFile

        if self.settings["sr_model"]:
            return None, Path(self.settings["sr_model"]).expanduser()
        return WeightFile(BSRGAN[0], BSRGAN[1], "bsrgan", size_hint="67 MB", url=BSRGAN_URL), None

    def weight_files(self):
        out = []
        for value, role in self._base_ids():
            wf, _ = model_location(self, value, role)
            if wf is not None:
                out.append(wf)
        if self.settings["upscaler"] == "bsrgan":
            wf, _ = self._sr_file()
            if wf is not None:
                out.append(wf)
        return out

    def _steps_cfg(self) -> dict[str, Any]:
        d = dict(BASE_DEFAULTS[self.settings["base"]])
        for k in ("num_inference_steps", "guidance_scale"):
            if self.settings[k] is not None:
                d[k] = self.settings[k]
        return d

    def recorded_settings(self) -> dict[str, Any]:
        rec = dict(self.settings)
        rec.update(self._steps_cfg())
        rec.update(base_model=self._base_ids()[0][0], dtype=self.dtype, watermark=False)
        if getattr(self, "_pipe", None) is not None:
            rec["sampler"] = type(self._pipe.scheduler).__name__
            rec["vae_force_upcast"] = bool(getattr(self._pipe.vae.config, "force_upcast", False))
        if getattr(self, "_sr_info", None):
            rec["sr"] = dict(self._sr_info)
        return rec

    # -- work -------------------------------------------------------------------------------------
    def load(self) -> None:
        dtype = torch_dtype(self.dtype)
        if self.settings["base"] == "sdxl":
            from diffusers import StableDiffusionXLPipeline

            path = resolve_model(self, *self._base_ids()[0])
            self._pipe = StableDiffusionXLPipeline.from_pretrained(path, dtype=dtype, add_watermarker=False)
            self._decoder = None
        else:
            from diffusers import StableCascadePriorPipeline

            (pv, pr), (dv, dr) = self._base_ids()
            self._pipe = StableCascadePriorPipeline.from_pretrained(resolve_model(self, pv, pr), dtype=dtype)
            self._decoder = _cascade_decoder(resolve_model(self, dv, dr), dtype)
            self._decoder.to(self.device)
            self._decoder.set_progress_bar_config(disable=True)
        self._pipe.to(self.device)
        self._pipe.set_progress_bar_config(disable=True)
        if self.settings["vae_tiling"] and hasattr(self._pipe, "vae"):
            self._pipe.vae.enable_tiling()
        self._sr = None
        self._sr_info = {"upscaler": self.settings["upscaler"]}
        if self.settings["upscaler"] == "bsrgan":
            from baselines.sr import load_sr_model
            from ultrabench.hashing import sha256_file

            wf, local = self._sr_file()
            path = local if local is not None else Path(self.weights.resolve(wf))
            if not path.is_file():
                from ultrabench.errors import MissingWeightsError

                raise MissingWeightsError(f"super-resolution weights {path} do not exist")
            # SR runs in float32 unless the model supports the requested half type (spandrel decides).
            self._sr = load_sr_model(path, self.device, self.settings["sr_dtype"])
            self._sr_info.update(file=path.name, sha256=sha256_file(path), arch=self._sr.architecture.name,
                                 scale=int(self._sr.scale), dtype=str(next(self._sr.model.parameters()).dtype))

    def unload(self) -> None:
        self._pipe = self._decoder = self._sr = None

    def _base_image(self, prompt: str, seed: int, size: Resolution):
        from ultrabench.seeding import cpu_generators

        sc = self._steps_cfg()
        g = cpu_generators([seed])[0]
        if self._decoder is None:
            return self._pipe(
                prompt=prompt, negative_prompt=self.settings["negative_prompt"] or None, height=size.height,
                width=size.width, num_inference_steps=sc["num_inference_steps"], guidance_scale=sc["guidance_scale"],
                generator=g,
            ).images[0]
        prior = self._pipe(
            prompt=prompt, negative_prompt=self.settings["negative_prompt"], height=size.height, width=size.width,
            num_inference_steps=sc["num_inference_steps"], guidance_scale=sc["guidance_scale"], generator=g,
        )
        return self._decoder(
            image_embeddings=prior.image_embeddings.to(self._decoder.dtype), prompt=prompt,
            negative_prompt=self.settings["negative_prompt"], num_inference_steps=sc["decoder_steps"],
            guidance_scale=sc["decoder_guidance_scale"], generator=g, output_type="pil",
        ).images[0]

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        from baselines.sr import upscale_image
        from ultrabench.timing import StageTimer

        plan = self.plan(res)
        base = self.base_size(res)
        out = []
        for prompt, seed in zip(prompts, seeds):
            seed_unit(seed)
            timer = StageTimer(self.device)
            with timer.stage("base"):
                img = self._base_image(prompt, seed, base)
            base_got = Resolution(img.height, img.width)
            if self._sr is not None:
                with timer.stage("sr"):
                    img = upscale_image(self._sr, img, self.settings["sr_tile"], self.settings["sr_tile_pad"])
            native = Resolution(img.height, img.width)
            with timer.stage("resize"):
                final = resize_exact(img, res, self.settings["resize_filter"] if self._sr is not None
                                     else self.settings["resize_filter"])
            out.append(GeneratedImage(
                image=final, stages=dict(timer.seconds), native_size=native,
                info={"support": plan.support.value, "base_size": [base_got.height, base_got.width],
                      "sr_size": [native.height, native.width] if self._sr is not None else None,
                      "resize_filter": self.settings["resize_filter"] if native != res else None,
                      **({"sr": dict(self._sr_info)} if self._sr_info else {}), "versions": library_versions()},
            ))
        return out
