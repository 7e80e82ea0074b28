"""UltraFlux (CVPR 2026; the UltraPixel authors' successor) from the user's checkout of W2GenAI-Lab/UltraFlux.

Its own `ultraflux/` pipeline, transformer and VAE (forks of diffusers' Flux classes) run in its own
environment through `baselines/runners/ultraflux.py`, the way `inf_ultraflux.py` runs them: the VAE
and pipeline from `Owen777/UltraFlux-v1`, the recommended v1.1 transformer from
`Owen777/UltraFlux-v1-1-Transformer`, bfloat16, the scheduler's dynamic shifting switched off (and a
`time_shift` config attribute set to 4, as the script does, though no code reads it), 50 steps,
guidance 4, 512 T5 tokens and a seeded CPU generator. Its pipeline works in 32-pixel units (VAE x16, 2x2 patches) and floors anything
else, so other sizes are generated at the nearest multiple of 32 and resized.
"""

from __future__ import annotations

from typing import Any

from baselines._common import snap_to_multiple
from baselines.official import OfficialMethod
from ultrabench.methods.base import SizePlan, at_least, between
from ultrabench.resolution import Resolution

ULTRAFLUX = "Owen777/UltraFlux-v1"
ULTRAFLUX_V11 = "Owen777/UltraFlux-v1-1-Transformer"
UNIT = 32  # the fork's vae_scale_factor


class UltraFlux(OfficialMethod):
    name = "ultraflux"
    display_name = "UltraFlux v1.1"
    aliases = ("ultra-flux", "UltraFlux")
    description = "UltraFlux v1.1 (official code, user checkout + its own venv): native 4K FLUX derivative, any aspect ratio"
    runner = "ultraflux.py"
    official_repo = "W2GenAI-Lab/UltraFlux"
    official_commit = "8dec21b7535fe97bf32b80e17a1ad464f566d540"  # 2026-04-01, checked by benchmarks/official/ultraflux.py
    max_batch_size = 4
    # Not stated in the sources read (the repository's code is Apache-2.0); the weights are fine-tuned
    # from FLUX.1-dev, whose licence binds derivatives: check the Owen777/UltraFlux-v1 card.
    licence = "FLUX.1 [dev] Non-Commercial License (derivative of FLUX.1-dev; check the Owen777/UltraFlux-v1 card)"
    model_role = "ultraflux"
    # W2GenAI-Lab/UltraFlux inf_ultraflux.py (8dec21b) lines 11-14: torch_dtype=torch.bfloat16. Its sizes: the
    # README claims native 4K "across a wide range of aspect ratios", so every size counts as the authors'.
    default_dtype = "bfloat16"
    extra_weights = {"transformer": "ultraflux_transformer"}
    setting_rules = {**OfficialMethod.common_rules, "max_sequence_length": between(1, 512), "time_shift": at_least(1e-9)}
    # The authors' defaults, from inf_ultraflux.py at official_commit (line numbers there); checked
    # image for image against that script by benchmarks/official/ultraflux.py.
    default_settings = {
        **OfficialMethod.common_settings,
        "model": ULTRAFLUX,  # :11, :14: text encoders, tokenizers, scheduler and the post-trained VAE
        "transformer": ULTRAFLUX_V11,  # :13, "Recommended!!"; None = the v1 transformer of `model` (:12)
        "num_inference_steps": 50,  # :65
        "guidance_scale": 4.0,  # :64
        "max_sequence_length": 512,  # :66
        # :16-17, both set on the scheduler's config. The first is read (diffusers' set_timesteps reads
        # config.use_dynamic_shifting); `time_shift` is read by nothing, so the schedule's shift is the
        # scheduler config's own `shift` (the runner records it as scheduler_shift).
        "use_dynamic_shifting": False,
        "time_shift": 4,
        "resize_filter": "lanczos",
    }

    def plan(self, res: Resolution) -> SizePlan:
        native = snap_to_multiple(res, UNIT)
        return SizePlan.resized(res, native, f"UltraFlux works in {UNIT}-pixel units: generated at {native.key}",
                                self.settings["resize_filter"])

    def recorded_settings(self) -> dict[str, Any]:
        rec = super().recorded_settings()
        rec.update(sampler="FlowMatchEulerDiscreteScheduler (repo config)",
                   transformer=self.settings["transformer"] or f"{ULTRAFLUX} (v1)")
        return rec
