"""Sana 1.6B at 4K and 2K (NVIDIA) through diffusers' `SanaPipeline`, the way the model cards run it.

Model-card settings: the BF16 weights (`variant="bf16"`, bfloat16), 20 flow-matching steps, CFG 5.0,
the pipeline's default complex-human instruction and 300-token prompt, and for 4K the DC-AE tiled
decode with 1024-pixel tiles at stride 896 (diffusers' smaller default tiles leave seams on flat areas
at 4K). The pipeline bins every request to the nearest bucket of its table (chosen by the
transformer's `sample_size`: 128 -> 4096 buckets, 64 -> 2048), generates there and resizes back
(bilinear + centre crop); `plan()` predicts the bucket with the same rule, and each image records the
latent size the pipeline really used.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from baselines._common import (aspect_bins, check_choice, library_versions, model_location, nearest_bin,
                               plan_or_refuse, resolve_model, seed_unit, torch_dtype)
from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least, between, one_of
from ultrabench.resolution import Resolution

SANA_4K = "Efficient-Large-Model/Sana_1600M_4Kpx_BF16_diffusers"
SANA_2K = "Efficient-Large-Model/Sana_1600M_2Kpx_BF16_diffusers"
# transformer.config.sample_size -> the bucket table SanaPipeline bins with
BINS_BY_SAMPLE_SIZE = {128: "4096", 64: "2048", 32: "1024", 16: "512"}
DC_AE_FACTOR = 32  # SanaPipeline refuses sides that are not multiples of 32 (DC-AE f32)
LICENCE = ("NSCL v2-custom, governing terms the NVIDIA License (non-commercial); text encoder Gemma-2-2B-IT "
           "under the Gemma Terms of Use")


def sana_settings(repo: str, bins: str) -> dict[str, Any]:
    """The model card's settings for one Sana repo (`bins` is the bucket table of its sample_size).

    Sources: the Efficient-Large-Model/Sana_1600M_{4K,2K}px_BF16_diffusers model cards (variant "bf16",
    20 steps, guidance 5.0, the 4K card's DC-AE tiling at 1024/896); the rest are SanaPipeline.__call__'s
    defaults (diffusers 0.42.1 pipeline_sana.py lines 696-701: binning on, 300 tokens, the complex
    human instruction; negative_prompt ""), the bucket tables its lines 67 ff. (4096) and
    pipeline_pixart_sigma.py lines 62 ff. (2048).
    """
    return {
        "model": repo,  # hub id or a local folder laid out like it
        "variant": "bf16",  # the BF16 repos ship bf16 weight files
        "dtype": None,  # None = the run's --dtype, else default_dtype (the model card's bfloat16)
        "num_inference_steps": 20,
        "guidance_scale": 5.0,
        "negative_prompt": "",
        "max_sequence_length": 300,
        "complex_human_instruction": True,  # the pipeline's default prompt-enhancer instruction
        "resolution_binning": True,  # the pipeline default: generate at the nearest bucket, resize back
        "bins": bins,  # bucket table; must match the transformer's sample_size (checked at load)
        "vae_tiling": bins == "4096",  # the 4K card tiles the DC-AE decode
        "vae_tile": 1024,  # tile side in pixels (tile_sample_min_height/width)
        "vae_tile_stride": 896,  # tile stride in pixels (tile_sample_stride_height/width)
    }


class _Sana(Method):
    family = "baseline"
    kind = "generate"
    setting_rules = {"dtype": one_of("float32", "float16", "bfloat16", optional=True),
                     "num_inference_steps": at_least(1), "guidance_scale": at_least(0.0),
                     "max_sequence_length": between(1, 300), "bins": one_of("4096", "2048", "1024", "512"),
                     "vae_tile": at_least(32), "vae_tile_stride": at_least(32)}
    max_batch_size = 1  # one image per call: per-unit seeding, results independent of the batch
    licence: ClassVar[str] = LICENCE
    # The BF16 repos' precision: NVlabs/Sana asset/docs/model_zoo.md lists Sana_1600M_{2K,4K}px_BF16 as
    # "bf16/fp32", and their model cards load variant="bf16", torch_dtype=torch.bfloat16.
    default_dtype = "bfloat16"

    # -- description ----------------------------------------------------------------------------
    def _bins(self):
        check_choice(self.name, "bins", str(self.settings["bins"]), tuple(BINS_BY_SAMPLE_SIZE.values()))
        return aspect_bins(str(self.settings["bins"]))

    def plan(self, res: Resolution) -> SizePlan:
        if not self.settings["resolution_binning"]:
            if res.height % DC_AE_FACTOR or res.width % DC_AE_FACTOR:
                return SizePlan.unsupported(res, f"without binning both sides must be multiples of {DC_AE_FACTOR}")
            return SizePlan.native_at(res)
        native = nearest_bin(res, self._bins())
        return SizePlan.resized(res, native, f"resolution binning: generated at the {self.settings['bins']} bucket "
                                             f"{native.key}", "bilinear+center-crop")

    def weight_files(self):
        variant = self.settings["variant"]
        pats = ("model_index.json", "*/*.json", "tokenizer/*", f"*/*.{variant}.safetensors" if variant else "*/*")
        wf, _ = model_location(self, self.settings["model"], "sana", pats)
        return [wf] if wf is not None else []

    def recorded_settings(self) -> dict[str, Any]:
        rec = dict(self.settings)
        rec.update(dtype=self.dtype, sampler="FlowMatchEulerDiscreteScheduler (repo config)", watermark=False)
        if getattr(self, "_pipe", None) is not None:
            rec["sampler"] = type(self._pipe.scheduler).__name__
            rec["sample_size"] = int(self._pipe.transformer.config.sample_size)
        return rec

    # -- work -------------------------------------------------------------------------------------
    def load(self) -> None:
        from diffusers import SanaPipeline

        from ultrabench.errors import UsageError

        dtype = torch_dtype(self.dtype)
        path = resolve_model(self, self.settings["model"], "sana")
        kw = {"variant": self.settings["variant"]} if self.settings["variant"] else {}
        pipe = SanaPipeline.from_pretrained(path, dtype=dtype, **kw)
        size = int(pipe.transformer.config.sample_size)
        if self.settings["resolution_binning"] and BINS_BY_SAMPLE_SIZE.get(size) != str(self.settings["bins"]):
            # The pipeline picks its table from sample_size; plan() must predict the same buckets.
            raise UsageError(f"{self.name}: the transformer's sample_size {size} bins with the "
                             f"{BINS_BY_SAMPLE_SIZE.get(size, '?')} table, setting bins is {self.settings['bins']}")
        # The model card casts both explicitly (the text encoder may be stored in another precision).
        pipe.vae.to(dtype)
        pipe.text_encoder.to(dtype)
        if self.settings["vae_tiling"]:
            t, s = int(self.settings["vae_tile"]), int(self.settings["vae_tile_stride"])
            pipe.vae.enable_tiling(tile_sample_min_height=t, tile_sample_min_width=t, tile_sample_stride_height=s,
                                   tile_sample_stride_width=s)
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe

    def unload(self) -> None:
        self._pipe = None

    def _call_kwargs(self) -> dict[str, Any]:
        s = self.settings
        kw: dict[str, Any] = {
            "negative_prompt": s["negative_prompt"], "num_inference_steps": int(s["num_inference_steps"]),
            "guidance_scale": float(s["guidance_scale"]), "max_sequence_length": int(s["max_sequence_length"]),
            "use_resolution_binning": bool(s["resolution_binning"]),
        }
        if not s["complex_human_instruction"]:
            kw["complex_human_instruction"] = None
        return kw

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution) -> list[GeneratedImage]:
        from ultrabench.errors import UsageError
        from ultrabench.seeding import cpu_generators
        from ultrabench.timing import StageTimer

        plan = plan_or_refuse(self, res)
        out = []
        for prompt, seed in zip(prompts, seeds):
            seed_unit(seed)
            latent_sizes: list[tuple[int, int]] = []

            def seen(pipe, i, t, kw):
                latent_sizes.append(tuple(kw["latents"].shape[-2:]))
                return kw

            timer = StageTimer(self.device)
            with timer.stage("generate"):
                image = self._pipe(prompt=prompt, height=res.height, width=res.width,
                                   generator=cpu_generators([seed])[0], callback_on_step_end=seen,
                                   **self._call_kwargs()).images[0]
            lh, lw = latent_sizes[-1]
            scale = int(self._pipe.vae_scale_factor)
            native = Resolution(lh * scale, lw * scale)
            if native != plan.native:
                raise UsageError(f"{self.name}: the pipeline generated at {native.key}, binning predicted {plan.native.key}")
            out.append(GeneratedImage(
                image=image, stages=dict(timer.seconds), native_size=native,
                info={"support": plan.support.value, "binned_size": [native.height, native.width],
                      "latent_size": [lh, lw], "resize_filter": plan.resize_filter if native != res else None,
                      "bins": self.settings["bins"] if self.settings["resolution_binning"] else None,
                      "vae_tiling": {"tile": self.settings["vae_tile"], "stride": self.settings["vae_tile_stride"]}
                      if self.settings["vae_tiling"] else None, "versions": library_versions()},
            ))
        return out


class Sana4K(_Sana):
    name = "sana-4k"
    display_name = "Sana-1.6B 4K"
    aliases = ("sana", "sana4k", "Sana 4K")
    description = "Sana 1.6B 4K (diffusers SanaPipeline, BF16), 4096 buckets, DC-AE tiled decode 1024/896"
    default_settings = sana_settings(SANA_4K, "4096")


class Sana2K(_Sana):
    name = "sana-2k"
    display_name = "Sana-1.6B 2K"
    aliases = ("sana2k", "Sana 2K")
    description = "Sana 1.6B 2K (diffusers SanaPipeline, BF16), 2048 buckets; above 2K generated at a bucket and resized"
    default_settings = sana_settings(SANA_2K, "2048")
