"""The official UltraPixel inference, timed beside ours (used by `gpu_ultrapixel.py --official CHECKOUT`).

Builds the official modules (`modules/model_4stage_lite.StageC` with its guidance blocks,
`modules/stage_b.StageB` in the Stage B lite topology, `modules/stage_a.StageA`) at full size with
random weights, as the script leaves them (Stage C and B in bf16, Stage A in float32), and times
one image the way `inference/test_t2i.py` makes it: `generation_c` under bf16 autocast, Stage B's
conditioning outside it, `decode_b` (which moves Stage B to the GPU and back, as released). The
weights are drawn apart from ours: timing does not depend on their values.

The checkout is read and run, never copied. Its training-only imports (cv2, kornia, webdataset,
wandb, onnx, warmup_scheduler) are stubbed when absent: the inference path never calls them. munch,
einops, pyyaml and pabloppp's torchtools (Stage A's vector quantiser; a checkout of
pabloppp/pytorch-tools on PYTHONPATH) must be importable.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import time
import types
from pathlib import Path

TRAINING_ONLY = ("cv2", "kornia", "webdataset", "webdataset.handlers", "wandb", "onnx", "onnx2torch", "warmup_scheduler")


class _Anything(types.ModuleType):
    """A stand-in module: any attribute is a class that does nothing (the official code only imports
    these names at module level)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None})


def stub_training_imports() -> list[str]:
    """Stand-ins for the TRAINING_ONLY packages that are not installed (their submodules with them)."""
    stubbed: list[str] = []
    for name in TRAINING_ONLY:
        root = name.split(".")[0]
        if name != root:
            if root not in stubbed:
                continue  # the real package is installed: its own submodule is used
        elif name in sys.modules or importlib.util.find_spec(root) is not None:
            continue
        mod = _Anything(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
        mod.__path__ = []  # a package, so `from x.y import z` finds x.y
        sys.modules[name] = mod
        if name != root:
            setattr(sys.modules[root], name.split(".", 1)[1], mod)
        stubbed.append(name)
    return stubbed


def build_official(parity, off, text_model, tokenizer, device, small: bool = False):
    """The official models, random weights, ready for `run_official_once`: at full size, or with
    `small` at the parity harness's small widths (a CPU plumbing check; text width 32)."""
    import torch

    from ultrabench.ultrapixel.configs import StageBConfig
    from ultrabench.ultrapixel.random_init import randomize_

    if small:
        stage_c, stage_b, stage_a = parity.build_official(off)
    else:
        b = StageBConfig()
        with torch.device(device):
            stage_c = off.stage_c.StageC()
            stage_c._init_extra_parameter()
            stage_b = off.stage_b.StageB(
                c_hidden=list(b.block_out_channels), nhead=[-1] + list(b.num_attention_heads[1:]),
                blocks=[list(b.down_num_layers_per_block), list(b.up_num_layers_per_block)],
                block_repeat=[list(b.down_blocks_repeat_mappers), list(b.up_blocks_repeat_mappers)])
            stage_a = off.stage_a.StageA()
        for i, m in enumerate((stage_c, stage_b, stage_a)):
            randomize_(m, 200 + i)
            m.eval().requires_grad_(False)
    # as the script leaves them: Stage C (guidance included) and Stage B in bf16, Stage A in float32
    stage_c, stage_b, stage_a = stage_c.to(device, torch.bfloat16), stage_b.to(device, torch.bfloat16), stage_a.to(device)
    return parity.official_setup(off, stage_c, stage_b, stage_a, text_model, tokenizer, device)


def run_official_once(off, models, prompt: str, seed: int, height: int, width: int, device) -> dict:
    """One image as test_t2i.py makes it; seconds per stage (synchronised) and the image's shape."""
    import torch

    u = off.utils
    core, core_b, m_c, m_b, extras, extras_b = models
    cuda = torch.device(device).type == "cuda"

    def now():
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    h_lr, w_lr = u.get_target_lr_size(height / width, std_size=32)
    c_shape, b_shape = u.calculate_latent_sizes(height, width, batch_size=1)
    c_shape_lr, _ = u.calculate_latent_sizes(h_lr, w_lr, batch_size=1)
    batch = {"captions": [prompt]}
    torch.manual_seed(seed)
    t0 = now()
    with torch.no_grad():
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            sampled_c = u.generation_c(batch, m_c, extras, core, c_shape, c_shape_lr, device)
        t1 = now()
        cond_b = core_b.get_conditions(batch, m_b, extras_b, is_eval=True, is_unconditional=False)
        uncond_b = core_b.get_conditions(batch, m_b, extras_b, is_eval=True, is_unconditional=True)
        cond_b["effnet"], uncond_b["effnet"] = sampled_c, torch.zeros_like(sampled_c)
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            image = u.decode_b(cond_b, uncond_b, m_b, b_shape, extras_b, device, stage_a_tiled=False)
        t2 = now()
    return {"stages_s": {"stage_c (text + LR + HR)": round(t1 - t0, 3), "stage_b + stage_a": round(t2 - t1, 3)},
            "total_s": round(t2 - t0, 3), "image": list(image.shape)}


def official_rows(checkout: Path, text_model, tokenizer, device, res_list, runs: int, warmup: int, log,
                  small: bool = False, over_budget=lambda: False, skipped=None) -> list[dict]:
    """Timed official runs at each resolution; rows shaped like gpu_ultrapixel's. A run that
    `over_budget()` forbids is not started and goes to `skipped`."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import parity_ultrapixel as parity

    stubbed = stub_training_imports()
    off = parity.import_official(Path(checkout))
    models = build_official(parity, off, text_model, tokenizer, device, small)
    rows = []
    for res in res_list:
        h, w = (int(v) for v in res.lower().split("x"))
        for i in range(warmup + runs):
            if over_budget():
                if skipped is not None:
                    skipped.append({"mode": "official", "res": res, "run": i})
                continue
            if torch.device(device).type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            row = run_official_once(off, models, "a photo of a lighthouse at dusk, rich detail", 1234, h, w, device)
            peak = torch.cuda.max_memory_allocated() if torch.device(device).type == "cuda" else None
            row.update(mode="official", res=res, run=i, warmup=i < warmup, stubbed_imports=stubbed,
                       peak_memory_gib=round(peak / 2**30, 2) if peak is not None else None)
            rows.append(row)
            log(row)
    del models
    return rows
