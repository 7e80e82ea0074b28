"""Parity harness: official UltraPixel Stage C + GDF two-pass sampler vs ours, same random weights.

    python benchmarks/parity_ultrapixel.py /path/to/UltraPixel-checkout [--steps 20]

Builds the official `StageC` at a small width (its guidance blocks are built with the same small
width by patching the constructor arguments its `_init_extra_parameter` hard-codes), copies its state
dict into ours through `convert.py` (which also proves the names line up), runs both samplers in
float32 on the CPU from `torch.manual_seed(seed)`, and reports the max difference of the HR latent at
every step, of the final LR latent and of the final Stage C latent. Only the official files that
Stage C and `gdf/` need are imported; optional heavy imports (controlnet, kornia, cv2) are stubbed.
Nothing from the checkout is copied into ultrabench.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _import_official(checkout: Path):
    """Import `modules.model_4stage_lite` and `gdf` without the package `__init__`s' heavy imports."""
    checkout = checkout.resolve()
    sys.path.insert(0, str(checkout))
    pkg = types.ModuleType("modules")
    pkg.__path__ = [str(checkout / "modules")]
    sys.modules["modules"] = pkg
    cn = types.ModuleType("modules.controlnet")
    cn.ControlNetDeliverer = object
    sys.modules["modules.controlnet"] = cn
    sys.modules.setdefault("models", types.ModuleType("models"))
    spec = importlib.util.spec_from_file_location("modules.model_4stage_lite", checkout / "modules" / "model_4stage_lite.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    import gdf  # noqa: F401  (from the checkout on sys.path)

    return mod, sys.modules["gdf"]


def run(checkout: str | Path, steps: int = 20, seed: int = 11, lr_hw=(6, 6), hr_hw=(10, 12)) -> dict:
    import torch

    from ultrabench.ultrapixel import convert
    from ultrabench.ultrapixel import sampler as ours_gdf
    from ultrabench.ultrapixel.configs import GuidanceConfig, StageCConfig
    from ultrabench.ultrapixel.random_init import randomize_
    from ultrabench.ultrapixel.stage_c import UltraPixelStageC

    off, gdf = _import_official(Path(checkout))
    width, cond, text = 32, 32, 32
    g = GuidanceConfig(ind=width, ch=16, n_head=2, n_groups=4, f_dim=16, pe_dim=128)  # official pe_dim is fixed
    orig_inr = off.TransInr

    def small_inr(**_kw):
        return orig_inr(ind=g.ind, ch=g.ch, n_head=g.n_head, head_dim=g.ch // g.n_head, n_groups=g.n_groups,
                        f_dim=g.f_dim, time_dim=64, t_conds=[])

    off.TransInr = small_inr
    torch.manual_seed(0)
    official = off.StageC(c_cond=cond, c_hidden=[width, width], nhead=[2, 2], blocks=[[1, 2], [2, 1]],
                          c_clip_text=text, c_clip_text_pooled=text, c_clip_img=768)
    official._init_extra_parameter()
    off.TransInr = orig_inr
    official.eval()
    randomize_(official, 5)

    sc = StageCConfig(conditioning_dim=cond, block_out_channels=(width, width), num_attention_heads=(2, 2),
                      down_num_layers_per_block=(1, 2), up_num_layers_per_block=(2, 1),
                      clip_text_in_channels=text, clip_text_pooled_in_channels=text)
    ours = UltraPixelStageC.from_configs(sc, g).eval()
    state = {k: v for k, v in official.state_dict().items() if not k.startswith(("norm_down_blocks", "norm_up_blocks"))}
    base = convert.convert_stage_c({k: v for k, v in state.items() if not convert.is_guidance_key(k)})
    convert.load_strict(ours, base, "Stage C (official, small)", only=lambda k: not convert.is_guidance_key(k))
    up = {k: v for k, v in state.items() if convert.is_guidance_key(k)}
    convert.load_strict(ours, up, "guidance (official, small)", only=convert.is_guidance_key)

    gen = torch.Generator().manual_seed(1)
    cond_in = {"clip_text": torch.randn(1, 77, text, generator=gen), "clip_text_pooled": torch.randn(1, 1, text, generator=gen),
               "clip_img": torch.zeros(1, 1, 768)}
    uncond_in = {"clip_text": torch.randn(1, 77, text, generator=gen), "clip_text_pooled": torch.randn(1, 1, text, generator=gen),
                 "clip_img": torch.zeros(1, 1, 768)}

    # -- official
    o_gdf = gdf.GDF_dual_fixlrt(schedule=gdf.CosineSchedule(clamp_range=[0.0001, 0.9999]), input_scaler=gdf.VPScaler(),
                                target=gdf.EpsilonTarget(), noise_cond=gdf.CosineTNoiseCond(), loss_weight=None)
    torch.manual_seed(seed)
    off_hr, off_lr = [], None
    with torch.no_grad():
        for x0, x, pred, x_lr in o_gdf.sample(official, dict(cond_in), (1, 16, *hr_hw), (1, 16, *lr_hw), dict(uncond_in),
                                              sampler=gdf.DDPMSampler(o_gdf), timesteps=steps, cfg=4, shift=1, t_start=1.0):
            off_hr.append(x.clone())
            off_lr = x_lr

    # -- ours
    noise = ours_gdf.NoiseSource(seed, "cpu")
    x_hr, x_lr = noise.initial((1, 16, *hr_hw)), noise.initial((1, 16, *lr_hw))
    grid = ours_gdf.time_grid(steps)
    inputs = {k: torch.cat([cond_in[k], uncond_in[k]]) for k in cond_in}
    captured = {}

    def lr_model(x2, t2, i):
        if i == steps - 1:
            out, feats = ours(x2, t2, capture=True, **inputs)
            captured["g"] = feats.conditional_half_for_cfg()
            return out
        return ours(x2, t2, **inputs)

    our_hr = []
    with torch.no_grad():
        our_lr = ours_gdf.sample(lr_model, x_lr, grid, noise, 4.0, 0.7)
        ours_gdf.sample(lambda x2, t2, i: ours(x2, t2, lr_guide=captured["g"], **inputs), x_hr, grid, noise, 4.0, 0.7,
                        on_step=lambda i, x, x0: our_hr.append(x.clone()))
    per_step = [float((a - b).abs().max()) for a, b in zip(off_hr, our_hr)]
    return {
        "steps": steps,
        "hr_step_max_abs_diff": per_step,
        "lr_final_max_abs_diff": float((off_lr - our_lr).abs().max()),
        "final_max_abs_diff": per_step[-1],
        "final_scale": float(off_hr[-1].abs().max()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkout")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args(argv)
    print(json.dumps(run(args.checkout, args.steps), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
