"""I-Max (projected flow) on FLUX.1-dev from the user's checkout of PRIS-CV/I-Max.

Run in its own environment through `baselines/runners/imax.py` with the README's 4K call: FLUX.1-dev
in bfloat16, dynamic shifting off, 30 + 30 steps, guidance 3.5 (native-resolution pass) and 7
(extrapolation), NTK factor 10, time shifts 3 and 6, proportional attention, text duplication and swin
patchify on, the "cosine_decay" guidance schedule. The pipeline makes its own native-resolution
guidance at the request divided by round(sqrt(H*W) / 1024) and returns it, resized to the request,
beside the image; the runner records the native pass's own size.
Sides must be multiples of 16 (FLUX latents in 2x2 patches); its pipeline floors anything else.
"""

from __future__ import annotations

import math
from typing import Any

from baselines.hiflow import FLUX_DEV, FLUX_DEV_LICENCE, PATCH
from baselines.official import OfficialMethod
from ultrabench.methods.base import SizePlan, at_least, between
from ultrabench.resolution import Resolution


# README.md (3b38c11) line 32 (4096 x 4096) and gradio_demo.py line 71 (2048x2048, 3072x3072, 4096x4096)
AUTHORS_SIZES = ((2048, 2048), (3072, 3072), (4096, 4096))


def imax_divisor(res: Resolution, native: int = 1024) -> int:
    """The pipeline's own rule: the native pass runs at the request divided by round(sqrt(H*W) / 1024)."""
    return int(math.sqrt(res.height * res.width) / native + 0.5)


def imax_guidance_size(res: Resolution, native: int = 1024) -> Resolution:
    """The native-resolution pass's size (its latents floor to 16 px)."""
    div = imax_divisor(res, native)
    return Resolution(res.height // div // PATCH * PATCH, res.width // div // PATCH * PATCH)


class IMax(OfficialMethod):
    name = "imax"
    display_name = "I-Max (FLUX.1-dev)"
    aliases = ("i-max", "I-Max")
    description = "I-Max on FLUX.1-dev (official code, user checkout + its own venv): native pass, then projected-flow extrapolation"
    runner = "imax.py"
    official_repo = "PRIS-CV/I-Max"
    official_commit = "3b38c1153086f404fbfdde2b2a200c3b67c4ed83"  # 2024-10-16, checked by benchmarks/official/imax.py
    max_batch_size = 1
    licence = FLUX_DEV_LICENCE
    model_role = "flux_dev"
    default_dtype = "bfloat16"  # PRIS-CV/I-Max README.md (3b38c11) lines 20-21: torch_dtype=torch.bfloat16
    # two stages, each with its own steps and guidance: the common single-stage rules do not apply
    setting_rules = {"timeout_s": OfficialMethod.common_rules["timeout_s"], "dtype": OfficialMethod.common_rules["dtype"],
                     "num_inference_steps1": at_least(1),
                     "num_inference_steps2": at_least(1), "guidance_scale1": at_least(0.0),
                     "guidance_scale2": at_least(0.0), "ntk_factor": at_least(1.0), "time_shift_1": at_least(1e-9),
                     "time_shift_2": at_least(1e-9), "max_sequence_length": between(1, 512)}
    # The authors' defaults: the QuickStart call in README.md at official_commit (line numbers there),
    # and the pipeline's own defaults where the README passes nothing; checked image for image against
    # that QuickStart by benchmarks/official/imax.py.
    default_settings = {
        **OfficialMethod.common_settings,
        "model": FLUX_DEV,  # README.md:19
        "num_inference_steps1": 30,  # README.md:30
        "num_inference_steps2": 30,  # README.md:30
        "guidance_scale1": 3.5,  # README.md:31
        "guidance_scale2": 7.0,  # README.md:31
        "ntk_factor": 10.0,  # README.md:33
        # README.md:35. The pipeline sets them as scheduler.config.shift (pipeline_flux_imax.py:638, 741),
        # which diffusers 0.30.3 reads in set_timesteps; 0.32 and later read the shift fixed at
        # construction instead, so there the two shifts would silently be FLUX.1-dev's 3.0.
        "time_shift_1": 3.0,
        "time_shift_2": 6.0,
        "proportional_attention": True,  # README.md:36
        "text_duplication": True,  # README.md:37
        "swin_pachify": True,  # README.md:38
        "guidance_schedule": "cosine_decay",  # README.md:39
        "max_sequence_length": 512,  # not passed: the pipeline's default (pipeline_flux_imax.py:558)
        # The pipeline's hard-coded native side (pipeline_flux_imax.py:573); only the plan and stand-ins read it.
        "native_resolution": 1024,
    }

    def plan(self, res: Resolution) -> SizePlan:
        if res.height % PATCH or res.width % PATCH:
            return SizePlan.unsupported(res, f"sides must be multiples of {PATCH} (FLUX latents in 2x2 patches)")
        if imax_divisor(res, int(self.settings["native_resolution"])) < 1:
            return SizePlan.unsupported(res, "below half the native area the pipeline's divisor is 0")
        return SizePlan.native_at(res).within(AUTHORS_SIZES, "I-Max", "its README and demo run squares of 2048, "
                                              "3072 and 4096")

    def job_settings(self, res: Resolution) -> dict[str, Any]:
        s = super().job_settings(res)
        g = imax_guidance_size(res, int(self.settings["native_resolution"]))
        s["guidance_size"] = [g.height, g.width]  # for the record; the pipeline computes it itself
        return s

    def recorded_settings(self) -> dict[str, Any]:
        rec = super().recorded_settings()
        rec["sampler"] = "FlowMatchEulerDiscreteScheduler (dynamic shifting off, time shifts 3 / 6)"
        return rec
