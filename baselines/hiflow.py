"""HiFlow (training-free, flow-aligned guidance) on FLUX.1-dev from the user's checkout of Bujiazi/HiFlow.

Run in its own environment (the repository pins diffusers 0.32.1) through `baselines/runners/hiflow.py`
with `run_hiflow.py`'s settings: FLUX.1-dev in float16, a 30-step base image at guidance 3.5, then
high-resolution stages (16 then 10 steps, guidance 4.5 then 6, NTK factor 10, filter ratio 0.2, FFT
structure guidance with alphas 1.0/0.25 and betas 0.5/0.5, latent upsampling, v_theta flow,
proportional attention and swin patchify on, text duplication off); the optional LoRA is not loaded.

The scheduler shifts dynamically, whatever the script seems to say (Bujiazi/HiFlow at da351a8).
`run_hiflow.py` line 14 sets `pipe.scheduler.use_dynamic_shifting = False`, a plain attribute of the
scheduler object that `FlowMatchEulerDiscreteScheduler.set_timesteps` never reads: it tests
`self.config.use_dynamic_shifting` (diffusers 0.42.1, `scheduling_flow_match_euler_discrete.py` line
354). FLUX.1-dev's scheduler config says `use_dynamic_shifting: true`, so every stage runs the sigmas
`linspace(1, 1/30, 30)` through `time_shift(mu)`, exp(mu) / (exp(mu) + 1/t - 1), with mu from the
*base* image's token count (`flux_pipeline_hiflow.py` lines 770-786, `calculate_shift`: 1.15 at
1024^2); each high-resolution stage recomputes that same schedule (line 873) and runs its last N
steps. The images match the authors' because ultrabench's runner copies the line; the record says
what it does (`HIFLOW_SAMPLER`, checked against the installed diffusers in
tests/test_baselines_2026_official.py).

The script shows square 1024 -> 2048 -> 4096 only; for other sizes the base is the largest
size of the request's aspect ratio within 1024^2 pixels (sides in multiples of 64, like SDXL's
buckets), and the stages double its sides while the target is more than twice as large, then end at
the request (so 4096^2 is the script's 1024 -> 2048 -> 4096 exactly).
"""

from __future__ import annotations

from typing import Any

from baselines._common import fit_area
from baselines.official import OfficialMethod
from ultrabench.methods.base import SizePlan, between, one_of
from ultrabench.resolution import Resolution

FLUX_DEV = "black-forest-labs/FLUX.1-dev"
FLUX_DEV_LICENCE = "FLUX.1 [dev] Non-Commercial License (Black Forest Labs)"
PATCH = 16
# run_hiflow.py (da351a8) lines 27-28 and 38-39: a 1024^2 base, target_heights = target_widths = [2048, 4096]
AUTHORS_SIZES = ((2048, 2048), (4096, 4096))
# What the scheduler really does (see the module docstring): not the "off" the script's line suggests.
HIFLOW_SAMPLER = ("FlowMatchEulerDiscreteScheduler, dynamic shifting on (the model's scheduler config; the "
                  "script's scheduler.use_dynamic_shifting = False is an attribute diffusers never reads): every "
                  "stage uses the base pass's schedule, linspace(1, 1/N, N) time-shifted with mu from the base "
                  "image's token count (1.15 at 1024^2), the high-resolution stages its last steps")


def hiflow_stages(res: Resolution, base: Resolution) -> list[Resolution]:
    """Sizes of the high-resolution stages after `base`, the last one being `res`."""
    stages, cur = [], base
    while max(res.height, res.width) > 2 * max(cur.height, cur.width):
        cur = Resolution(cur.height * 2, cur.width * 2)
        stages.append(cur)
    return stages + [res]


class HiFlow(OfficialMethod):
    name = "hiflow"
    display_name = "HiFlow (FLUX.1-dev)"
    aliases = ("HiFlow",)
    description = "HiFlow on FLUX.1-dev (official code, user checkout + its own venv): 1 MP base, flow-aligned upscaling stages"
    runner = "hiflow.py"
    official_repo = "Bujiazi/HiFlow"
    official_commit = "da351a8ef036384a42485744ba47bc9c1d882b94"  # 2025-05-16, checked by benchmarks/official/hiflow.py
    max_batch_size = 1
    licence = FLUX_DEV_LICENCE
    model_role = "flux_dev"
    default_dtype = "float16"  # run_hiflow.py (da351a8) lines 11-12: torch_dtype=torch.float16
    setting_rules = {**OfficialMethod.common_rules, "max_sequence_length": between(1, 512),
                     "structure_guidance": one_of("fft", "dwt"), "upsampling_choice": one_of("latent", "pixel")}
    # The authors' defaults, from run_hiflow.py at official_commit (line numbers there); checked
    # image for image against that script by benchmarks/official/hiflow.py.
    default_settings = {
        **OfficialMethod.common_settings,
        "model": FLUX_DEV,  # :9
        "num_inference_steps": 30,  # :30, base image
        "guidance_scale": 3.5,  # :29
        "max_sequence_length": 512,  # :31
        # one entry per high-resolution stage (the script's two-stage 4K values)
        "num_inference_steps_highres": [16, 10],  # :40
        "guidance_scale_highres": [4.5, 6.0],  # :42
        "ntk_factor": [10.0, 10.0],  # :33
        "filter_ratio": [0.2, 0.2],  # :41
        "alphas": [1.0, 0.25],  # :44
        "betas": [0.5, 0.5],  # :45
        "structure_guidance": "fft",  # :43
        "upsampling_choice": "latent",  # :46
        "flow_choice": "v_theta",  # :47
        "proportional_attention": True,  # :34
        "text_duplication": False,  # :35 (the pipeline's own default is True)
        "swin_pachify": True,  # :36
        "base_pixels": 1024 * 1024,  # the base image's area (:27-28, 1024^2)
    }
    _PER_STAGE = ("num_inference_steps_highres", "guidance_scale_highres", "ntk_factor", "filter_ratio", "alphas",
                  "betas")

    def base_size(self, res: Resolution) -> Resolution:
        return fit_area(res, int(self.settings["base_pixels"]), 64)

    def stages(self, res: Resolution) -> list[Resolution]:
        return hiflow_stages(res, self.base_size(res))

    def plan(self, res: Resolution) -> SizePlan:
        if res.height % PATCH or res.width % PATCH:
            return SizePlan.unsupported(res, f"sides must be multiples of {PATCH} (FLUX latents in 2x2 patches)")
        base = self.base_size(res)
        if res.height * res.width <= base.height * base.width:
            return SizePlan.unsupported(res, f"HiFlow upscales from its {base.key} base; at or below it there is no "
                                             "high-resolution stage")
        n = len(self.stages(res))
        short = [k for k in self._PER_STAGE if len(self.settings[k]) < n]
        if short:
            return SizePlan.unsupported(res, f"{n} high-resolution stages needed; settings {', '.join(short)} list fewer")
        stages = " -> ".join(r.key for r in [base, *self.stages(res)])
        return SizePlan.native_at(res).within(AUTHORS_SIZES, "HiFlow", "run_hiflow.py runs square 1024 -> 2048 -> "
                                              "4096 only", f"ultrabench's stages {stages}")

    def job_settings(self, res: Resolution) -> dict[str, Any]:
        s = super().job_settings(res)
        stages = self.stages(res)
        base = self.base_size(res)
        s.update(base=[base.height, base.width], target_heights=[r.height for r in stages],
                 target_widths=[r.width for r in stages])
        for k in self._PER_STAGE:
            s[k] = list(self.settings[k])[: len(stages)]
        return s

    def recorded_settings(self) -> dict[str, Any]:
        rec = super().recorded_settings()
        rec["sampler"] = HIFLOW_SAMPLER
        return rec
