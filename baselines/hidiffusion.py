"""HiDiffusion (RAU-Net + MSW-MSA) on SDXL from the user's checkout of megvii-research/HiDiffusion.

The `hidiffusion` package (0.1.10, no pinned requirements) installs beside current diffusers but does
not import there: it needs `diffusers.pipelines.controlnet.multicontrolnet`, which diffusers 0.42
no longer has. It imports and runs on diffusers 0.40.0 (checked on a tiny SDXL of the real topology),
so it runs like the other official-code methods: its own environment (`ultrabench env create
hidiffusion`, diffusers pinned to 0.40.0) and `baselines/runners/hidiffusion.py`, with the README's
SDXL call: DDIMScheduler from the repository, `apply_hidiffusion(pipe)`, float16, guidance 7.5, eta
1.0, its negative prompt, 50 steps (the pipeline default). Its window attention needs even feature
maps at 1/16 and 1/32 of the image and otherwise interpolates and warns that quality drops, so sizes
are generated at multiples of 64 (2160x3840 at 2176x3840) and resized.
"""

from __future__ import annotations

from typing import Any

from baselines._common import snap_to_multiple
from baselines.official import OfficialMethod
from ultrabench.methods.base import SizePlan, between
from ultrabench.resolution import Resolution

UNIT = 64
# The README's SDXL sizes (e9ec39a): line 136 (2048 x 2048) and line 147 ("Set height = 4096, width = 4096")
AUTHORS_SIZES = ((2048, 2048), (4096, 4096))


class HiDiffusion(OfficialMethod):
    name = "hidiffusion"
    display_name = "HiDiffusion (SDXL)"
    aliases = ("hi-diffusion", "HiDiffusion")
    description = "HiDiffusion on SDXL (official package from a user checkout + its own venv, diffusers 0.40.0)"
    runner = "hidiffusion.py"
    official_repo = "megvii-research/HiDiffusion"
    official_commit = "e9ec39a58805c3c44c650e2e745c0aa600824f0e"
    max_batch_size = 1
    # megvii-research/HiDiffusion README.md (e9ec39a) line 124: the SDXL example's torch_dtype=torch.float16
    default_dtype = "float16"
    setting_rules = {**OfficialMethod.common_rules, "eta": between(0.0, 1.0)}
    default_settings = {
        **OfficialMethod.common_settings,
        # The README's SDXL example, megvii-research/HiDiffusion at e9ec39a (README.md:123-136).
        "num_inference_steps": 50,  # README.md:136 passes none: StableDiffusionXLPipeline's default
        "guidance_scale": 7.5,  # README.md:136
        "eta": 1.0,  # README.md:136
        "negative_prompt": "blurry, ugly, duplicate, poorly drawn face, deformed, mosaic, artifacts, bad limbs",  # :135
        "apply_raunet": True,  # hidiffusion/hidiffusion.py:1917, apply_hidiffusion's default
        "apply_window_attn": True,  # hidiffusion/hidiffusion.py:1918
        "resize_filter": "lanczos",
    }

    def plan(self, res: Resolution) -> SizePlan:
        native = snap_to_multiple(res, UNIT)
        plan = SizePlan.resized(res, native, f"HiDiffusion's window attention needs sides in multiples of {UNIT}: "
                                             f"generated at {native.key}", self.settings["resize_filter"])
        return plan.within(AUTHORS_SIZES, "HiDiffusion", "its README runs SDXL at 2048x2048 and 4096x4096")

    def recorded_settings(self) -> dict[str, Any]:
        rec = super().recorded_settings()
        rec["sampler"] = "DDIMScheduler (repo config)"
        return rec
