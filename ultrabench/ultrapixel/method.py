"""The `ultrapixel` and `tiny-ultrapixel` methods. No torch / diffusers import at module level: the CLI
imports this module only to read class attributes and call `plan()`."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

from ultrabench.methods.base import GeneratedImage, Method, SizePlan, at_least, between, one_of
from ultrabench.resolution import Resolution
from ultrabench.ultrapixel.configs import (
    ATTENTION_BACKENDS,
    COMPILE_MODES,
    DEFAULT_TRANSFORMERS_LINE,
    OFFICIAL_CLIP_LOAD_DRAWS,
    STAGE_A_TILED,
    SamplerSettings,
)
from ultrabench.ultrapixel.sizes import MAX_LR_TOKENS, lr_latent_size
from ultrabench.ultrapixel.text_stack import OFFICIAL_TEXT_REPO

STAGES = ("text_encode", "lr_pass", "hr_pass", "stage_b", "stage_a")

# The sampler settings a spec may change; their defaults are SamplerSettings' own.
_SAMPLER_KEYS = ("steps", "cfg", "cfg_rho", "guided_steps", "decoder_steps", "decoder_cfg", "decoder_cfg_rho",
                 "stage_a_tiled", "stage_a_tile", "stage_a_overlap", "stage_a_tile_batch", "stage_b_dtype",
                 "attention", "channels_last", "tf32")
NOISE_MODES = ("per-unit", "official")
# transformers-format files of that repository (not the open_clip copies of the same weights)
_LAION_TEXT_FILES = ("config.json", "*.safetensors.index.json", "model*.safetensors", "pytorch_model-*.safetensors",
                     "tokenizer*", "vocab.json", "merges.txt", "special_tokens_map.json")
_COMMON_SETTINGS: dict[str, Any] = {
    **{k: getattr(SamplerSettings, k) for k in _SAMPLER_KEYS},
    # false, or how the UNets are compiled (compile.py): true is "regional"
    "compile": False,
    "offload": False,
    # "per-unit": each unit's own seed, independent of order (benchmarks). "official": the noise the
    # official test_t2i.py draws with --seed official_seed for image number `sample index` of its
    # run (its generator consumption replayed, see official_noise.py; official_transformers names
    # the transformers release line of that run, whose CLIP loading draws differ).
    "noise": "per-unit",
    "official_seed": 123,  # test_t2i.py's default --seed
    "official_transformers": DEFAULT_TRANSFORMERS_LINE,
}
_COMMON_RULES = {
    "steps": at_least(1), "decoder_steps": at_least(1), "cfg": at_least(0.0), "decoder_cfg": at_least(0.0),
    "cfg_rho": between(0.0, 1.0), "decoder_cfg_rho": between(0.0, 1.0), "stage_a_tile": at_least(1),
    "stage_a_overlap": at_least(0), "stage_a_tile_batch": at_least(0), "stage_a_tiled": one_of(*STAGE_A_TILED),
    "compile": one_of(False, True, *COMPILE_MODES), "attention": one_of(*ATTENTION_BACKENDS),
}


def _plan(res: Resolution, max_side: int, min_side: int, what: str) -> SizePlan:
    if max(res.height, res.width) > max_side:
        return SizePlan.unsupported(res, f"{what} supports sides up to {max_side} px (6K); {res.key} is larger")
    if min(res.height, res.width) < min_side:
        return SizePlan.unsupported(res, f"{what} needs sides of at least {min_side} px")
    lr_h, lr_w = lr_latent_size(res.height, res.width)
    if lr_h * lr_w > MAX_LR_TOKENS or min(lr_h, lr_w) < 1:
        return SizePlan.unsupported(res, f"aspect ratio of {res.key} too extreme for the LR guidance tokenizer")
    return SizePlan.native_at(res)



# role -> subfolder of a diffusers-format snapshot that holds it (layout "diffusers")
DIFFUSERS_SUBFOLDERS = {"stage_c": "prior", "stage_b_lite": "decoder_lite", "stage_a": "vqgan"}


def weight_paths(weights, files, layout: str):
    """The `build.WeightPaths` of `files` (WeightFiles by role) as `weights` resolves them; raises
    MissingWeightsError (one line, file + hub repo) before any work. No "ultrapixel" file: None."""
    from pathlib import Path

    from ultrabench.ultrapixel.build import WeightPaths

    got = {wf.role: Path(weights.resolve(wf)) for wf in files}
    if layout == "diffusers":
        for role, sub in DIFFUSERS_SUBFOLDERS.items():
            if (got[role] / sub).is_dir():  # a snapshot; an explicit override may name the subfolder itself
                got[role] = got[role] / sub
    clip = got["clip_text_g"]
    # A diffusers-format repo has text_encoder/ + tokenizer/; a plain CLIP repo (laion) is both at once.
    text = clip / "text_encoder" if (clip / "text_encoder").exists() else clip
    tok = clip / "tokenizer" if (clip / "tokenizer").exists() else clip
    return WeightPaths(got["stage_c"], got["stage_b_lite"], got["stage_a"], got.get("ultrapixel"), text, tok)


def precision_dtype(precision: str):
    """The Stage C / B weight dtype of a `precision` setting (bf16 runs under bf16 autocast)."""
    import torch

    return {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp32": torch.float32,
            "float32": torch.float32}[str(precision).lower()]

class _UltraPixelBase(Method):
    _pipe = None
    _threads: ClassVar[int | None] = None  # intra-op threads while generating (None: leave as is)

    def plan(self, res: Resolution) -> SizePlan:
        return _plan(res, 6144, 256, "UltraPixel")

    def _sampler_settings(self) -> SamplerSettings:
        return SamplerSettings.from_settings(self.settings, _SAMPLER_KEYS)

    def _check_noise_settings(self) -> None:
        from ultrabench.errors import UsageError

        if self.settings["noise"] not in NOISE_MODES:
            raise UsageError(f"{self.name}: noise {self.settings['noise']!r} is not one of {', '.join(NOISE_MODES)}")
        if self.settings["official_transformers"] not in OFFICIAL_CLIP_LOAD_DRAWS:
            raise UsageError(f"{self.name}: official_transformers {self.settings['official_transformers']!r} is not "
                             f"one of {', '.join(OFFICIAL_CLIP_LOAD_DRAWS)}")

    def _noise(self, seed: int, image_index: int, res: Resolution):
        """None (the pipeline's per-unit default) or the official script's streams for this image."""
        if self.settings["noise"] != "official":
            return None
        from ultrabench.ultrapixel.official_noise import official_noise_source

        s = self._pipe.settings
        return official_noise_source(int(self.settings["official_seed"]), image_index, self._pipe.device,
                                     self._pipe.latent_shapes(res.height, res.width), s.steps, s.decoder_steps,
                                     str(self.settings["official_transformers"]))

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], res: Resolution,
                 image_indices: Sequence[int] | None = None) -> list[GeneratedImage]:
        """`image_indices`: each image's number in the official script's run (the unit's sample index);
        used by `noise = "official"` only."""
        import torch

        from ultrabench.timing import PeakMemory, StageTimer
        from ultrabench.ultrapixel.pipeline import to_pil

        self._check_noise_settings()
        if self._pipe is None:
            self.load()
        plan = self.plan(res)
        if plan.native is None:
            from ultrabench.errors import UsageError

            raise UsageError(f"{self.name}: {plan.reason}")
        indices = list(image_indices) if image_indices is not None else [0] * len(prompts)
        saved_threads = torch.get_num_threads()
        if self._threads is not None:
            torch.set_num_threads(self._threads)
        out = []
        try:
            for prompt, seed, index in zip(prompts, seeds, indices):
                timer = StageTimer(str(self._pipe.device))
                with PeakMemory(str(self._pipe.device)) as peak:
                    noise = self._noise(int(seed), int(index), res)
                    img, info = self._pipe.generate(prompt, int(seed), res.height, res.width, timer=timer, noise=noise)
                info.update(
                    {
                        "seed": int(seed),
                        "noise": self.settings["noise"],
                        **({"official_seed": int(self.settings["official_seed"]), "official_image_index": int(index),
                            "official_transformers": self.settings["official_transformers"]}
                           if noise is not None else {}),
                        "peak_memory_bytes": peak.bytes,
                        "peak_memory_kind": peak.kind,
                        "device": str(self._pipe.device),
                        **self._extra_info(),
                    }
                )
                stages = {k: round(timer.seconds.get(k, 0.0), 4) for k in STAGES}
                out.append(GeneratedImage(to_pil(img), stages=stages, native_size=res, info=info))
        finally:
            torch.set_num_threads(saved_threads)
        return out

    def generate_units(self, units, res: Resolution) -> list[GeneratedImage]:
        return self.generate([u.prompt for u in units], [u.seed for u in units], res,
                             image_indices=[u.sample_index for u in units])

    def _extra_info(self) -> dict[str, Any]:
        return {}

    def unload(self) -> None:
        self._pipe = None


class UltraPixel(_UltraPixelBase):
    name = "ultrapixel"
    display_name = "UltraPixel"
    aliases = ("UltraPixel",)
    description = (
        "UltraPixel (NeurIPS 2024) on Stable Cascade: LR pass whose features guide a 20-step HR pass, "
        "Stage B lite + Stage A decode; official weights, official GDF sampler"
    )
    # layout "official": the single files of the StableCascade release, as the UltraPixel scripts use;
    # layout "diffusers": the diffusers-format repos (stable-cascade-prior's prior/, stable-cascade's
    # decoder_lite/ and vqgan/), which hold the same weights in diffusers' key names.
    default_settings: ClassVar[Mapping[str, Any]] = {**_COMMON_SETTINGS, "precision": "bf16", "layout": "official"}
    setting_rules = {**_COMMON_RULES, "precision": one_of("bf16", "bfloat16", "fp32", "float32"),
                     "layout": one_of("official", "diffusers")}
    max_batch_size = 1
    # The official mix, catcathh/UltraPixel (e85d3bc) inference/test_t2i.py --dtype bf16 (line 27, its
    # default): Stage C in bf16 weights (its WurstCoreC.setup_models casts them) under bf16 autocast (lines
    # 146, 160), Stage B lite loaded bf16 (line 83) and cast .half() inside decode_b (inference/utils.py line
    # 85), Stage A and the CLIP models in float32
    # (configs/training/t2i.yaml dtype: float32). Its knob is the `precision` setting.
    default_dtype = "bf16-mix"
    # Weights only: UltraPixel's own code (AGPL-3.0) is neither used nor shipped; this is a rewrite.
    licence: ClassVar[str] = (
        "guidance weights (roubaofeipi/UltraPixel): Apache-2.0; Stable Cascade Stages A/B/C: Stability AI "
        "Non-Commercial Research Community License; CLIP ViT-bigG-14 (LAION): MIT"
    )

    def weight_files(self):
        from ultrabench.weights import WeightFile

        sc = "stabilityai/stable-cascade"
        up = WeightFile("roubaofeipi/UltraPixel", "ultrapixel_t2i.safetensors", "ultrapixel", size_hint="211 MB")
        # The official text stack: LAION's CLIP ViT-bigG-14 in float32 with its own tokenizer (which
        # pads with "!"; stable-cascade's tokenizer/ pads with the end token and is refused on load).
        clip = WeightFile(OFFICIAL_TEXT_REPO, None, "clip_text_g", size_hint="10 GB (both towers; the text tower is read)",
                          allow_patterns=_LAION_TEXT_FILES)
        layout = self.settings["layout"]
        if layout == "diffusers":
            return [
                WeightFile(sc + "-prior", None, "stage_c", size_hint="7.2 GB (bf16 variant)", allow_patterns=("prior/*",)),
                WeightFile(sc, None, "stage_b_lite", size_hint="1.4 GB", allow_patterns=("decoder_lite/*",)),
                WeightFile(sc, None, "stage_a", size_hint="74 MB", allow_patterns=("vqgan/*",)),
                clip,
                up,
            ]
        if layout != "official":
            from ultrabench.errors import UsageError

            raise UsageError(f"ultrapixel: layout {layout!r} is not 'official' or 'diffusers'")
        return [
            WeightFile(sc, "stage_c_bf16.safetensors", "stage_c", size_hint="7.2 GB"),
            WeightFile(sc, "stage_b_lite_bf16.safetensors", "stage_b_lite", size_hint="1.4 GB"),
            WeightFile(sc, "stage_a.safetensors", "stage_a", size_hint="74 MB"),
            clip,
            up,
        ]

    def _paths(self):
        return weight_paths(self.weights, self.weight_files(), self.settings["layout"])

    def load(self) -> None:
        import torch

        from ultrabench.ultrapixel.build import build_from_files
        from ultrabench.ultrapixel.configs import full_config
        from ultrabench.ultrapixel.pipeline import UltraPixelPipeline

        paths = self._paths()  # raises MissingWeightsError (one line, file + hub repo) before any work
        dtype = precision_dtype(self.settings["precision"])
        models = build_from_files(paths, full_config(), dtype=dtype)
        self._pipe = UltraPixelPipeline(
            models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
            device=self.device,
            autocast_dtype=torch.bfloat16 if dtype == torch.bfloat16 else None,
            settings=self._sampler_settings(),
            offload=bool(self.settings["offload"]),
            compile=bool(self.settings["compile"]),
        )

    def _resolve_dtype(self, given: Mapping[str, Any], flag: str | None) -> tuple[str, str]:
        """`precision` is UltraPixel's dtype (bf16 is the official mix, whoever asked for it)."""
        dtype, source = self._resolve_precision(given, flag)
        return ("bf16-mix" if dtype == "bfloat16" else dtype), source

    @classmethod
    def precision(cls) -> str:
        return ("bf16-mix, the official test_t2i.py --dtype bf16: Stage C bfloat16 weights under bf16 autocast, "
                "Stage B float16 weights, Stage A and CLIP float32 (setting precision = \"fp32\": all float32)")

    def _extra_info(self) -> dict[str, Any]:
        return {"precision": self.settings["precision"], "weights": "official"}


class TinyUltraPixel(_UltraPixelBase):
    name = "tiny-ultrapixel"
    family = "tiny"
    display_name = "UltraPixel (tiny, random weights)"
    description = "The UltraPixel pipeline code on toy-width stages with deterministic random weights (CPU, no downloads)"
    default_settings: ClassVar[Mapping[str, Any]] = {**_COMMON_SETTINGS, "model_seed": 0}
    setting_rules = {**_COMMON_RULES, "model_seed": at_least(0)}
    _threads = 1  # toy-sized ops are dominated by thread hand-offs; one thread is ~10x faster on a busy CPU

    def plan(self, res: Resolution) -> SizePlan:
        return _plan(res, 2048, 64, "tiny UltraPixel")

    def _resolve_dtype(self, given: Mapping[str, Any], flag: str | None) -> tuple[str, str]:
        # The random toy stages are built and run in float32 whatever --dtype says: the record must not
        # claim otherwise.
        return "float32", "default"

    def load(self) -> None:
        from ultrabench.ultrapixel.build import build_random
        from ultrabench.ultrapixel.configs import tiny_config
        from ultrabench.ultrapixel.pipeline import UltraPixelPipeline

        models = build_random(tiny_config(), seed=int(self.settings["model_seed"]), tiny_image_gain=0.005)
        self._pipe = UltraPixelPipeline(
            models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
            device=self.device,
            autocast_dtype=None,
            settings=self._sampler_settings(),
            offload=bool(self.settings["offload"]),
            compile=bool(self.settings["compile"]),
        )

    def _extra_info(self) -> dict[str, Any]:
        return {"weights": "random (tiny)", "model_seed": int(self.settings["model_seed"])}
