"""Parity of ultrabench's UltraPixel with the official code, through the path users take.

    PYTHONPATH=<official deps> python benchmarks/parity_ultrapixel.py /path/to/UltraPixel [--device cpu|cuda]

What it does, for each precision (float32, and bf16 under autocast on the chosen device):

1. Builds the official modules (`modules/model_4stage_lite.StageC` at the full 8/24 depth with its
   guidance blocks, `modules/stage_b.StageB` in the Stage B lite topology, `modules/stage_a.StageA`)
   at a small width with random weights, and a tiny CLIP text model with a LAION-style tokenizer.
2. Writes those weights as the official files (`stage_c_bf16.safetensors`, the `ultrapixel_t2i`
   pickle with its `module.64/65` keys, `stage_b_lite_bf16.safetensors`, `stage_a.safetensors`, a
   transformers text-model folder), loads them with ultrabench's `build_from_files` and runs
   `UltraPixelPipeline.generate` (default settings, per-unit noise from the seed).
3. Runs the official script's own functions on the same prompt, size and seed, as `test_t2i.py`
   does (`torch.manual_seed(seed)`, `generation_c` under autocast, Stage B conditioning outside it,
   `decode_b`), recording what they return and what their samplers yield.
4. Compares stage by stage: text embeddings, the LR latent, every HR step (x and x0), the Stage C
   output, the Stage B output, the image; plus single Stage C forwards on identical inputs.
5. `stable-cascade-direct` (guidance off): the same files without the UltraPixel one, loaded and run
   as that method loads and runs them (`baselines.cascade_direct.build_pipeline`: `build_from_files`,
   `UltraPixelPipeline.generate` with `guided_steps = 0`), against Stable Cascade's own path in the
   checkout: `modules/stage_c.StageC` (the Stage C `train/train_c.py` builds) with the same weights,
   sampled by the base `gdf.GDF.sample` at the HR latent size, then the same `decode_b`.
6. Checks the `official` noise mode: runs the official setup code at full size (`setup_models` of
   both cores, weights not read) and compares the CPU generator it leaves with ultrabench's replay.

The official script has no working float32 path (its Stage C is cast to bf16 and `decode_b` casts
Stage B to fp16 whatever `--dtype` says), so the float32 comparison runs the official modules with
their (bf16-valued) weights in float32 and `decode_b`'s `.half()` made a no-op; that checks the
algorithm. The bf16 comparison runs them exactly as released under autocast; that checks the
precision policy.

Writes reports/parity/ultrapixel_<device>.json and .md (max abs and relative differences, the
values' scale, the targets of issues #11 and #22 marked met or missed). The official checkout needs its own
imports munch, einops and pabloppp's torchtools on the path; the ones only its training code uses
(wandb, opencv, kornia, webdataset, warmup_scheduler, onnx) are stubbed when absent
(`official_timing.stub_training_imports`). Nothing from the checkout
is copied into ultrabench. One way to set it up, outside the repository (the figures in
reports/parity/ were made so):

    # the tree at e85d3bc less figures/ (its example images are not needed and may be absent)
    git -C MIRROR ls-tree --name-only e85d3bc | grep -vx figures | xargs git -C MIRROR archive e85d3bc | tar -x -C UltraPixel
    pip install --target site munch einops   # and a source copy of pabloppp/pytorch-tools
    PYTHONPATH=$PWD/site:$PWD/pytorch-tools:<repo> python benchmarks/parity_ultrapixel.py UltraPixel --official-commit e85d3bc
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Small widths, full depths (the "small width, full depth").
STAGE_C_WIDTH, STAGE_C_HEADS, TEXT_WIDTH = 64, 2, 32
GUIDE = dict(ind=STAGE_C_WIDTH, ch=32, n_head=2, n_groups=64, f_dim=32)  # pe_dim is fixed at 128 upstream
STAGE_B_WIDTHS, STAGE_B_HEADS = (16, 32, 64, 64), (0, 2, 4, 4)
STAGE_A_WIDTH, STAGE_A_CODES = 32, 64
PROMPT = "A photo-realistic image of a west highland white terrier in the garden, high quality, detail rich, 8K"
# 392 x 456: HR latent 10 x 11, LR latent 22 x 26, Stage B latent 98 x 114 (odd at its second level,
# so Stage B's decoder interpolates, the path where diffusers and the official code differ in dtype)
HEIGHT, WIDTH, SEED = 392, 456, 11

TARGETS = {
    "fp32_rel": 1e-5,  # every stage, float32 (issue #11)
    "bf16_guided_forward_rel": 0.02,  # one guided Stage C forward under bf16 autocast (issue #11)
    "max_abs": 0.0,  # every stage of both paths, float32 and bf16 autocast: bit-identical (issue #22)
}


# -- the official code ----------------------------------------------------------------------------------

def import_official(checkout: Path):
    checkout = checkout.resolve()
    if not (checkout / "inference" / "utils.py").is_file():
        raise SystemExit(f"{checkout} is not an UltraPixel checkout (no inference/utils.py)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from official_timing import stub_training_imports

    stub_training_imports()  # training-only imports (wandb, cv2, kornia, webdataset, ...) the inference never calls
    for mod in ("munch", "einops", "torchtools"):
        if importlib.util.find_spec(mod) is None:
            raise SystemExit(f"the official code imports {mod!r}, which is not installed; put its packages on PYTHONPATH")
    sys.path.insert(0, str(checkout))
    os.chdir(checkout)  # the official modules `import models` (the weights folder) relative to the repo root
    off = types.SimpleNamespace()
    off.utils = importlib.import_module("inference.utils")
    off.train = importlib.import_module("train")
    off.train_t2i = importlib.import_module("train.train_t2i")
    off.train_b = importlib.import_module("train.train_b")
    off.stage_c = importlib.import_module("modules.model_4stage_lite")
    off.stage_c_plain = importlib.import_module("modules.stage_c")  # Stable Cascade's own Stage C
    off.stage_b = importlib.import_module("modules.stage_b")
    off.stage_a = importlib.import_module("modules.stage_a")
    off.gdf = importlib.import_module("gdf")
    off.checkout = checkout
    return off


def build_official(off):
    """The official modules at small width, random weights (the official init zeroes the outputs)."""
    import torch

    from ultrabench.ultrapixel.random_init import randomize_

    inr = off.stage_c.TransInr
    off.stage_c.TransInr = lambda **kw: inr(ind=GUIDE["ind"], ch=GUIDE["ch"], n_head=GUIDE["n_head"],
                                            head_dim=GUIDE["ch"] // GUIDE["n_head"], n_groups=GUIDE["n_groups"],
                                            f_dim=GUIDE["f_dim"], time_dim=kw["time_dim"], t_conds=[])
    try:
        stage_c = off.stage_c.StageC(c_cond=STAGE_C_WIDTH, c_hidden=[STAGE_C_WIDTH] * 2, nhead=[STAGE_C_HEADS] * 2,
                                     c_clip_text=TEXT_WIDTH, c_clip_text_pooled=TEXT_WIDTH, c_clip_img=768)
        stage_c._init_extra_parameter()
    finally:
        off.stage_c.TransInr = inr
    stage_b = off.stage_b.StageB(c_cond=TEXT_WIDTH, c_hidden=list(STAGE_B_WIDTHS),
                                 nhead=[-1] + list(STAGE_B_HEADS[1:]), blocks=[[2, 4, 14, 4], [4, 14, 4, 2]],
                                 block_repeat=[[1, 1, 1, 1], [2, 2, 2, 2]], c_clip=TEXT_WIDTH)
    stage_a = off.stage_a.StageA(c_hidden=STAGE_A_WIDTH, codebook_size=STAGE_A_CODES)
    for i, m in enumerate((stage_c, stage_b, stage_a)):
        randomize_(m, 100 + i)
        m.eval().requires_grad_(False)
    # as the script leaves them: Stage C (guidance included) and Stage B in bf16, Stage A in float32
    return stage_c.to(torch.bfloat16), stage_b.to(torch.bfloat16), stage_a


def build_official_plain(off, stage_c):
    """Stable Cascade's Stage C (`modules/stage_c.StageC`, no guidance blocks) holding `stage_c`'s own
    weights, loaded strictly: the Stage C of the official path with guidance off."""
    import torch

    with torch.device("meta"):
        plain = off.stage_c_plain.StageC(c_cond=STAGE_C_WIDTH, c_hidden=[STAGE_C_WIDTH] * 2,
                                         nhead=[STAGE_C_HEADS] * 2, c_clip_text=TEXT_WIDTH,
                                         c_clip_text_pooled=TEXT_WIDTH, c_clip_img=768)
    own = set(plain.state_dict())
    plain.load_state_dict({k: v for k, v in stage_c.state_dict().items() if k in own}, strict=True, assign=True)
    return plain.eval().requires_grad_(False)


def write_official_files(off, stage_c, stage_b, stage_a, folder: Path):
    """The official file layout, from the official modules' weights."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    from ultrabench.tiny.tokenizer import write_clip_tokenizer_files

    folder.mkdir(parents=True, exist_ok=True)
    extra = ("agg_net", "norm_down_blocks", "norm_up_blocks")
    sd = {k: v.contiguous() for k, v in stage_c.state_dict().items() if not k.startswith(extra)}
    save_file(sd, str(folder / "stage_c_bf16.safetensors"))
    # the released checkpoint: train_norm = [Null_Model] * (one per GlobalResponseNorm) + [agg_net, agg_net_up]
    n_grn = sum(type(m).__name__ == "GlobalResponseNorm" for m in stage_c.modules())
    train_norm = torch.nn.ModuleList([off.train_t2i.Null_Model() for _ in range(n_grn)] + [stage_c.agg_net, stage_c.agg_net_up])
    torch.save({"module." + k: v for k, v in train_norm.state_dict().items()}, folder / "ultrapixel_t2i.safetensors")
    save_file({k: v.contiguous() for k, v in stage_b.state_dict().items()}, str(folder / "stage_b_lite_bf16.safetensors"))
    save_file({k: v.contiguous() for k, v in stage_a.state_dict().items()}, str(folder / "stage_a.safetensors"))
    torch.manual_seed(7)
    text = CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=49408, hidden_size=TEXT_WIDTH, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        projection_dim=TEXT_WIDTH, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=0))
    text.save_pretrained(str(folder / "text"))
    write_clip_tokenizer_files(folder / "text", pad_token="!")  # LAION's CLIP-G tokenizer pads with "!"
    return n_grn


def small_config():
    from ultrabench.ultrapixel.configs import (
        GuidanceConfig,
        StageAConfig,
        StageBConfig,
        StageCConfig,
        TextConfig,
        UltraPixelConfig,
    )

    return UltraPixelConfig(
        stage_c=StageCConfig(conditioning_dim=STAGE_C_WIDTH, block_out_channels=(STAGE_C_WIDTH,) * 2,
                             num_attention_heads=(STAGE_C_HEADS,) * 2, clip_text_in_channels=TEXT_WIDTH,
                             clip_text_pooled_in_channels=TEXT_WIDTH),
        guidance=GuidanceConfig(**GUIDE, pe_dim=128),
        stage_b=StageBConfig(conditioning_dim=TEXT_WIDTH, block_out_channels=STAGE_B_WIDTHS,
                             num_attention_heads=STAGE_B_HEADS, clip_text_pooled_in_channels=TEXT_WIDTH),
        stage_a=StageAConfig(embed_dim=STAGE_A_WIDTH, num_vq_embeddings=STAGE_A_CODES),
        text=TextConfig(hidden_size=TEXT_WIDTH),
    )


class _Recorder:
    """Passes a sampler's yields through and keeps CPU copies of them."""

    def __init__(self, gdf_obj):
        self.items: list = []
        self._orig = gdf_obj.sample
        gdf_obj.sample = self

    def __call__(self, *a, **k):
        for item in self._orig(*a, **k):
            self.items.append(tuple(t.detach().float().cpu().clone() for t in item))
            yield item


class _ForwardLog:
    """Keeps the inputs and outputs of every call of a module (forward hook with kwargs)."""

    def __init__(self, module):
        self.calls: list = []
        self.handle = module.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs, output):
        self.calls.append((args, dict(kwargs), output))


def run_official(off, models, precision: str, device, plain_stage_c=None):
    """`test_t2i.py`'s generation of one image, from its own functions. With `plain_stage_c`: Stable
    Cascade's path instead (guidance off): that Stage C sampled by the base `GDF.sample` at the HR
    latent size, as `train_c.py`'s sampling does, then the same Stage B and Stage A."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else None
    u = off.utils
    core, core_b, m_c, m_b, extras, extras_b = models
    ac = (lambda: torch.autocast(device_type=device.type, dtype=dtype)) if dtype else contextlib.nullcontext
    h_lr, w_lr = u.get_target_lr_size(HEIGHT / WIDTH, std_size=32)
    c_shape, b_shape = u.calculate_latent_sizes(HEIGHT, WIDTH, batch_size=1)
    c_shape_lr, _ = u.calculate_latent_sizes(h_lr, w_lr, batch_size=1)
    batch = {"captions": [PROMPT]}
    rec_c, rec_b = _Recorder(extras.gdf), _Recorder(extras_b.gdf)
    conds: list = []
    get_c = core.get_conditions
    core.get_conditions = lambda *a, **k: conds.append(get_c(*a, **k)) or conds[-1]
    generator = m_c.generator if plain_stage_c is None else plain_stage_c
    log = _ForwardLog(generator)
    try:
        torch.manual_seed(SEED)
        with torch.no_grad():
            with ac():
                if plain_stage_c is None:
                    sampled_c = u.generation_c(batch, m_c, extras, core, c_shape, c_shape_lr, device)
                else:
                    cond = core.get_conditions(batch, m_c, extras, is_eval=True, is_unconditional=False, eval_image_embeds=False)
                    uncond = core.get_conditions(batch, m_c, extras, is_eval=True, is_unconditional=True, eval_image_embeds=False)
                    for sampled_c, x, _ in off.gdf.GDF.sample(extras.gdf, plain_stage_c, cond, c_shape, uncond,
                                                              device=device, **extras.sampling_configs):
                        rec_c.items.append((sampled_c.float().cpu().clone(), x.float().cpu().clone()))
            cond_b = core_b.get_conditions(batch, m_b, extras_b, is_eval=True, is_unconditional=False)
            uncond_b = core_b.get_conditions(batch, m_b, extras_b, is_eval=True, is_unconditional=True)
            cond_b["effnet"], uncond_b["effnet"] = sampled_c, torch.zeros_like(sampled_c)
            with ac():
                image = u.decode_b(cond_b, uncond_b, m_b, b_shape, extras_b, device, stage_a_tiled=False)
    finally:
        core.get_conditions = get_c
        log.handle.remove()
        extras.gdf.sample, extras_b.gdf.sample = rec_c._orig, rec_b._orig
    steps = extras.sampling_configs["timesteps"]
    if plain_stage_c is None:
        calls = {"lr0": log.calls[0], "hr0": log.calls[steps], "hr_last": log.calls[2 * steps - 1]}
    else:
        calls = {"hr0": log.calls[0], "hr_last": log.calls[steps - 1]}
    # the official module run again on the inputs it logged: how repeatable its own forward is
    rerun = {}
    with torch.no_grad(), ac():
        for key, (args, kw, output) in calls.items():
            again = generator(*args, **kw)
            rerun[key] = diff(again[0] if isinstance(again, tuple) else again, output[0] if isinstance(output, tuple) else output)
    out = {
        "text_c": conds, "text_b": (cond_b, uncond_b),
        "hr": [it[1] for it in rec_c.items], "hr_x0": [it[0] for it in rec_c.items],
        "stage_c": sampled_c.float().cpu(), "stage_b": rec_b.items[-1][0],
        "stage_a_decode": image.float().cpu(), "image": image.clamp(0, 1).float().cpu(),  # show_images clamps
        "calls": calls, "official_rerun": rerun,
    }
    if plain_stage_c is None:
        out["lr_latent"] = rec_c.items[-1][3]
    return out


def official_models(off, stage_c, stage_b, stage_a, text_dir: Path, precision: str, device):
    import torch
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    if precision == "fp32":
        stage_c, stage_b = stage_c.float(), stage_b.float()
        stage_b.half = lambda: stage_b  # decode_b's cast: the script has no float32 path for Stage B
    else:
        stage_c, stage_b = stage_c.to(torch.bfloat16), stage_b.to(torch.bfloat16)
        if "half" in vars(stage_b):
            del stage_b.half
    for m in (stage_c, stage_b, stage_a):
        m.to(device)
    tokenizer = AutoTokenizer.from_pretrained(str(text_dir))
    text = CLIPTextModelWithProjection.from_pretrained(str(text_dir)).requires_grad_(False).to(torch.float32).to(device)
    return official_setup(off, stage_c, stage_b, stage_a, text, tokenizer, device)


def official_setup(off, stage_c, stage_b, stage_a, text, tokenizer, device):
    """The script's two cores, sampling configs and model bundles around modules already built."""
    import torch
    import yaml

    with open(off.checkout / "configs/training/t2i.yaml") as f:
        cfg_c = yaml.safe_load(f)
    with open(off.checkout / "configs/inference/stage_b_1b.yaml") as f:
        cfg_b = yaml.safe_load(f)
    core = off.train.WurstCore_t2i(config_dict=cfg_c, device=device, training=False)
    core_b = off.train.WurstCoreB(config_dict=cfg_b, device=device, training=False)
    core.device = core_b.device = device  # setup_ddp sets cuda:0
    extras, extras_b = core.setup_extras_pre(), core_b.setup_extras_pre()
    extras.sampling_configs.update(cfg=4, shift=1, timesteps=20, t_start=1.0, sampler=off.gdf.DDPMSampler(extras.gdf))
    extras_b.sampling_configs.update(cfg=1.1, shift=1, timesteps=10, t_start=1.0)
    m_c = off.train_t2i.WurstCore.Models(effnet=None, previewer=None, train_norm=None, generator=stage_c,
                                         generator_ema=None, tokenizer=tokenizer, text_model=text, image_model=None)
    m_b = off.train_b.WurstCore.Models(effnet=None, stage_a=stage_a, generator=stage_b, generator_ema=None,
                                       tokenizer=tokenizer, text_model=text)
    if torch.device(device).type == "cpu":
        stage_b.cuda = lambda *a, **k: stage_b  # decode_b moves Stage B to the GPU; on a CPU there is none
        stage_b.cpu = lambda *a, **k: stage_b
    return core, core_b, m_c, m_b, extras, extras_b


# -- ultrabench ------------------------------------------------------------------------------------------

def run_ours(files: Path, precision: str, device):
    import torch

    from ultrabench.ultrapixel.build import WeightPaths, build_from_files
    from ultrabench.ultrapixel.pipeline import UltraPixelPipeline

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    paths = WeightPaths(files / "stage_c_bf16.safetensors", files / "stage_b_lite_bf16.safetensors",
                        files / "stage_a.safetensors", files / "ultrapixel_t2i.safetensors", files / "text", files / "text")
    models = build_from_files(paths, small_config(), dtype=dtype)
    pipe = UltraPixelPipeline(models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
                              device=device, autocast_dtype=torch.bfloat16 if precision == "bf16" else None)
    trace: dict = {}
    img, info = pipe.generate(PROMPT, SEED, HEIGHT, WIDTH, trace=trace)
    return pipe, trace


def run_ours_direct(files: Path, precision: str, device):
    """`stable-cascade-direct` as it loads and generates: its own pipeline builder on the files less
    the UltraPixel one, its default settings, `UltraPixelPipeline.generate`."""
    from baselines.cascade_direct import StableCascadeDirect, build_pipeline
    from ultrabench.ultrapixel.build import WeightPaths

    method = StableCascadeDirect({"precision": precision})
    paths = WeightPaths(files / "stage_c_bf16.safetensors", files / "stage_b_lite_bf16.safetensors",
                        files / "stage_a.safetensors", None, files / "text", files / "text")
    pipe = build_pipeline(paths, small_config(), method.settings["precision"], device, method._sampler_settings())
    trace: dict = {}
    pipe.generate(PROMPT, SEED, HEIGHT, WIDTH, trace=trace)
    return pipe, trace


def forward_ours(pipe, call):
    """Our Stage C on the inputs of one official call (same x, t, conditioning and LR features)."""
    import torch

    from ultrabench.ultrapixel.stage_c import LRGuide

    args, kw, _ = call
    guide = kw.get("lr_guide")
    lr_guide = LRGuide(list(guide[0]), list(guide[1])) if guide is not None else None
    with torch.no_grad(), pipe._autocast():
        return pipe.stage_c(args[0], args[1], clip_text_pooled=kw["clip_text_pooled"], clip_text=kw["clip_text"],
                            clip_img=kw["clip_img"], lr_guide=lr_guide)


# -- comparison ------------------------------------------------------------------------------------------

def diff(ours, ref) -> dict:
    a, b = ours.detach().float().cpu(), ref.detach().float().cpu()
    if a.shape != b.shape:
        raise SystemExit(f"shape mismatch: ours {tuple(a.shape)} vs official {tuple(b.shape)}")
    d = (a - b).abs().max().item()
    scale = b.abs().max().item()
    return {"max_abs": d, "rel": d / scale if scale else d, "scale": scale, "shape": list(b.shape)}


def compare(ours_pipe, ours: dict, off: dict) -> dict:
    out: dict = {}
    (c_cond, c_uncond), (b_cond, b_uncond) = ours["text"]["stage_c"], ours["text"]["stage_b"]
    for name, mine, theirs in (("clip_text", c_cond, off["text_c"][0]), ("clip_text_uncond", c_uncond, off["text_c"][1])):
        out[f"text_stage_c.{name}"] = diff(mine["clip_text"], theirs["clip_text"])
        out[f"text_stage_c.{name}_pooled"] = diff(mine["clip_text_pooled"], theirs["clip_text_pooled"])
    out["text_stage_b.pooled"] = diff(b_cond["clip_text_pooled"], off["text_b"][0]["clip"])
    out["text_stage_b.pooled_uncond"] = diff(b_uncond["clip_text_pooled"], off["text_b"][1]["clip"])
    if "lr_latent" in off:
        out["lr_latent"] = diff(ours["lr_latent"], off["lr_latent"])
    for i, (x, x0) in enumerate(zip(off["hr"], off["hr_x0"])):
        out[f"hr_step_{i:02d}.x"] = diff(ours["hr"][i], x)
        out[f"hr_step_{i:02d}.x0"] = diff(ours["hr_x0"][i], x0)
    out["stage_c_output"] = diff(ours["stage_c_latent"], off["stage_c"])
    out["stage_b_output"] = diff(ours["stage_b_latent"], off["stage_b"])
    out["stage_a_decode"] = diff(ours["stage_a_decode"], off["stage_a_decode"])
    # Random weights decode to values far outside [0, 1]; the clamp can only shrink a difference, so the
    # image's relative difference is taken against the decode's scale.
    out["image"] = diff(ours["image"], off["image"])
    out["image"]["rel"] = out["image"]["max_abs"] / out["stage_a_decode"]["scale"]
    out["image"]["scale"] = out["stage_a_decode"]["scale"]
    for key, call in off["calls"].items():
        ref = call[2][0] if isinstance(call[2], tuple) else call[2]
        out[f"forward.{key}"] = diff(forward_ours(ours_pipe, call), ref)
    return out


# -- the official noise mode ---------------------------------------------------------------------------

def check_official_noise(off, seed: int = 123) -> dict:
    """The official setup's CPU draws (models built at full size on the meta device, no weights read,
    CLIP `from_pretrained` left out) against ultrabench's count; CLIP's draws measured separately."""
    import torch
    import transformers
    import yaml

    from ultrabench.ultrapixel import official_noise as on
    from ultrabench.ultrapixel.configs import OFFICIAL_CLIP_LOAD_DRAWS

    tt, tb = off.train_t2i, off.train_b
    saved = (tt.load_or_fail, tb.load_or_fail, torch.nn.Module.load_state_dict, tt.check_nan_inmodel,
             tt.AutoTokenizer, tt.CLIPTextModelWithProjection, tt.CLIPVisionModelWithProjection)

    class _NoClip:
        @staticmethod
        def from_pretrained(*a, **k):
            return torch.nn.Module()

    # reading checkpoints and checking them for NaN draw nothing; CLIP is measured below
    tt.load_or_fail = tb.load_or_fail = lambda path, wandb_run_id=None: {} if str(path).endswith(".safetensors") else saved[0](path, wandb_run_id)
    torch.nn.Module.load_state_dict = lambda self, *a, **k: None
    tt.check_nan_inmodel = lambda *a, **k: False
    tt.AutoTokenizer = tt.CLIPTextModelWithProjection = tt.CLIPVisionModelWithProjection = _NoClip
    try:
        with open(off.checkout / "configs/training/t2i.yaml") as f:
            cfg_c = yaml.safe_load(f)
        with open(off.checkout / "configs/inference/stage_b_1b.yaml") as f:
            cfg_b = yaml.safe_load(f)
        t0 = time.perf_counter()
        torch.manual_seed(seed)  # test_t2i.py's order from here on
        core = off.train.WurstCore_t2i(config_dict=cfg_c, device="meta", training=False)
        core_b = off.train.WurstCoreB(config_dict=cfg_b, device="meta", training=False)
        core.device = core_b.device = torch.device("meta")  # the moves to the device draw nothing
        extras = core.setup_extras_pre()
        core.setup_models(extras)
        extras_b = core_b.setup_extras_pre()
        core_b.setup_models(extras_b, skip_clip=True)
        official_state = torch.get_rng_state()
        setup_s = time.perf_counter() - t0
    finally:
        (tt.load_or_fail, tb.load_or_fail, torch.nn.Module.load_state_dict, tt.check_nan_inmodel,
         tt.AutoTokenizer, tt.CLIPTextModelWithProjection, tt.CLIPVisionModelWithProjection) = saved
    line = "5" if int(transformers.__version__.split(".")[0]) >= 5 else "4.44"
    ours = torch.Generator().manual_seed(seed)
    on.skip_words(ours, on.setup_draws(line) - OFFICIAL_CLIP_LOAD_DRAWS[line])
    # image 0's initial latents: HR then LR, from where the setup (CLIP included) leaves the stream
    hr, lr = (1, 16, 96, 96), (1, 16, 24, 24)
    torch.set_rng_state(official_state)
    on.skip_words(torch.default_generator, OFFICIAL_CLIP_LOAD_DRAWS[line])
    off_hr, off_lr = off.gdf.DDPMSampler(None).init_x(hr), off.gdf.DDPMSampler(None).init_x(lr)
    src = on.official_noise_source(seed, 0, "cpu", {"hr": hr, "lr": lr, "b": (1, 4, 1024, 1024)}, 20, 10, line)
    return {
        "seed": seed,
        "setup_s": round(setup_s, 1),
        "official_setup_state_equals_replay": bool(torch.equal(official_state, ours.get_state())),
        "setup_draws_without_clip": on.setup_draws(line) - OFFICIAL_CLIP_LOAD_DRAWS[line],
        "clip_draws": measure_clip_draws(),
        "image0_initial_latents_equal": bool(torch.equal(src.initial(hr), off_hr) and torch.equal(src.initial(lr), off_lr)),
    }


def measure_clip_draws() -> dict:
    """What CLIP text + vision `from_pretrained` draw with the installed transformers, on random
    folders of two sizes, against ultrabench's rule for that release line."""
    import torch
    import transformers
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPVisionConfig, CLIPVisionModelWithProjection

    line = "5" if int(transformers.__version__.split(".")[0]) >= 5 else "4.44"
    rows = []
    for ht, pt, hv, pv in ((48, 32, 64, 16), (80, 64, 96, 48)):
        with tempfile.TemporaryDirectory() as d:
            CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=99, hidden_size=ht, intermediate_size=32, num_hidden_layers=1,
                                                       num_attention_heads=2, projection_dim=pt)).save_pretrained(d + "/t")
            CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=hv, intermediate_size=32, num_hidden_layers=1,
                                                           num_attention_heads=2, projection_dim=pv, image_size=32,
                                                           patch_size=16)).save_pretrained(d + "/v")
            g = torch.default_generator
            g.manual_seed(3)
            CLIPTextModelWithProjection.from_pretrained(d + "/t")
            CLIPVisionModelWithProjection.from_pretrained(d + "/v")
            after = g.get_state()
            rule = pt * ht + hv + pv * hv if line == "4.44" else 0
            ref = torch.Generator().manual_seed(3)
            from ultrabench.ultrapixel.official_noise import skip_words

            skip_words(ref, rule)
            rows.append({"text": [ht, pt], "vision": [hv, pv], "rule_words": rule, "equal": bool(torch.equal(after, ref.get_state()))})
    return {"transformers": transformers.__version__, "line": line, "folders": rows}


# -- report ------------------------------------------------------------------------------------------

def verdicts(res: dict) -> dict:
    fp32, bf16 = res.get("fp32"), res.get("bf16")
    v = {}
    if fp32:
        worst = max(fp32.items(), key=lambda kv: kv[1]["rel"])
        v["fp32: every stage within 1e-5 relative"] = {"value": worst[1]["rel"], "where": worst[0],
                                                        "met": worst[1]["rel"] <= TARGETS["fp32_rel"]}
    if bf16:
        g = max(bf16["forward.hr0"]["rel"], bf16["forward.hr_last"]["rel"])
        v["bf16: one guided Stage C forward within 2% relative max"] = {"value": g, "met": g <= TARGETS["bf16_guided_forward_rel"]}
        if "official_bf16_vs_fp32" in res:
            ours_d, ref_d = bf16["stage_c_output"]["max_abs"], res["official_bf16_vs_fp32"]["stage_c_output"]["max_abs"]
            v["bf16: Stage C output no further from official bf16 than official bf16 from official fp32"] = {
                "value": ours_d, "bound": ref_d, "met": ours_d <= ref_d}
    for path, label in (("", "UltraPixel"), ("direct_", "stable-cascade-direct (guidance off)")):
        runs = {p: res[path + p] for p in ("fp32", "bf16") if path + p in res}
        if runs:
            where, worst = max(((f"{p}: {k}", d) for p, r in runs.items() for k, d in r.items()),
                               key=lambda kd: kd[1]["max_abs"])
            v[f"{label}, {' and '.join(runs)}: every stage bit-identical to the official code"] = {
                "value": worst["max_abs"], "met": worst["max_abs"] <= TARGETS["max_abs"],
                **({"where": where} if worst["max_abs"] else {})}
    if "noise" in res:
        n = res["noise"]
        v["official noise: setup replay and image 0 latents equal the official script's"] = {
            "met": n["official_setup_state_equals_replay"] and n["image0_initial_latents_equal"]
                   and all(r["equal"] for r in n["clip_draws"]["folders"])}
    return v


def write_report(res: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"ultrapixel_{res['device_type']}"
    jp, mp = out / f"{stem}.json", out / f"{stem}.md"
    jp.write_text(json.dumps(res, indent=1))
    lines = [f"# UltraPixel parity with the official code ({res['device']})", "",
             f"Machine: {res.get('cpu', 'not recorded')}.", "",
             f"Official checkout {res['official_commit']}, torch {res['torch']}, transformers {res['transformers']}, "
             f"diffusers {res['diffusers']}; {res['height']}x{res['width']} (H x W), seed {res['seed']}, "
             f"small width / full depth; {res['seconds']} s. Written by `benchmarks/parity_ultrapixel.py`.", "",
             "Every difference is a max abs over the stage's tensor; 0 is bit-identical.", "",
             "## Targets (issues #11 and #22)", "", "| target | value | met |", "|---|---|---|"]
    for name, v in res["verdicts"].items():
        val = v.get("value")
        shown = "" if val is None else f"{val:.3g}" + (f" (bound {v['bound']:.3g})" if "bound" in v else "") + (f" at {v['where']}" if "where" in v else "")
        lines.append(f"| {name} | {shown} | {'met' if v['met'] else 'MISSED'} |")
    titles = {"fp32": "float32: ours vs official", "bf16": "bf16 autocast: ours vs official",
              "official_bf16_vs_fp32": "official bf16 vs official float32 (how far bf16 itself moves things)",
              "direct_fp32": "stable-cascade-direct, float32: ours vs the official Stable Cascade path (guidance off)",
              "direct_bf16": "stable-cascade-direct, bf16 autocast: ours vs the official Stable Cascade path (guidance off)"}
    for prec, title in titles.items():
        if prec not in res:
            continue
        lines += ["", f"## {title}", "", "| stage | max abs | relative | scale (max abs of official) |", "|---|---|---|---|"]
        for k, d in res[prec].items():
            if k.startswith("hr_step_") and k[8:10] not in ("00", "09", "19"):
                continue  # every step is in the JSON
            lines.append(f"| {k} | {d['max_abs']:.3g} | {d['rel']:.3g} | {d['scale']:.3g} |")
    reruns = {p: res[f"official_rerun_{p}"] for p in ("fp32", "bf16", "direct_fp32", "direct_bf16")
              if f"official_rerun_{p}" in res}
    if reruns:
        lines += ["", "## The official forward run again on its own logged inputs (its repeatability)", "",
                  "| precision | call | max abs | relative |", "|---|---|---|---|"]
        lines += [f"| {p} | {k} | {d['max_abs']:.3g} | {d['rel']:.3g} |" for p, r in reruns.items() for k, d in r.items()]
    if "noise" in res:
        n = res["noise"]
        lines += ["", "## Official noise mode", "",
                  f"- official setup (seed {n['seed']}, full size, {n['setup_s']} s): CPU generator state equals ultrabench's "
                  f"replay of {n['setup_draws_without_clip']:,} words: {n['official_setup_state_equals_replay']}",
                  f"- CLIP `from_pretrained` draws with transformers {n['clip_draws']['transformers']} (line "
                  f"{n['clip_draws']['line']}): rule holds on random folders: {all(r['equal'] for r in n['clip_draws']['folders'])}",
                  f"- image 0 HR and LR initial latents equal the official sampler's `init_x`: {n['image0_initial_latents_equal']}"]
    mp.write_text("\n".join(lines) + "\n")
    return jp, mp


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _say(what: str, t0: float) -> None:
    print(f"[parity {time.perf_counter() - t0:7.0f} s] {what}", file=sys.stderr, flush=True)


def run(checkout: str | Path, device: str = "cpu", precisions=("fp32", "bf16"), noise: bool = True,
        out: str | Path | None = None, official_commit: str | None = None, threads: int | None = 1,
        direct: bool = True) -> dict:
    """`direct`: also `stable-cascade-direct` against the official Stable Cascade path (guidance off)."""
    import diffusers
    import torch
    import transformers

    checkout = Path(checkout).resolve()
    cwd = os.getcwd()
    t0 = time.perf_counter()
    dev = torch.device(device)
    if dev.type == "cpu" and threads:
        # these tiny modules are all per-op overhead; on a shared CPU, intra-op threads only wait for
        # each other (one thread measured 20x faster than two on the 2-core development machine)
        torch.set_num_threads(threads)
    off = import_official(checkout)
    try:
        commit = official_commit or ((checkout / ".git").exists() and os.popen(f"git -C {checkout} rev-parse --short HEAD").read().strip())
        res: dict = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "device_type": dev.type,
                     "cpu": f"{cpu_model()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)",
                     "torch": torch.__version__, "transformers": transformers.__version__, "diffusers": diffusers.__version__,
                     "official_commit": commit or "unknown (archive)", "height": HEIGHT, "width": WIDTH, "seed": SEED,
                     "targets": TARGETS}
        with tempfile.TemporaryDirectory(prefix="ub-parity-") as tmp:
            files = Path(tmp)
            torch.manual_seed(0)
            sc, sb, sa = build_official(off)
            write_official_files(off, sc, sb, sa, files)
            off_runs = {}
            for prec in precisions:
                models = official_models(off, sc, sb, sa, files / "text", prec, dev)
                _say(f"{prec}: the official functions", t0)
                off_runs[prec] = run_official(off, models, prec, dev)
                _say(f"{prec}: ultrabench", t0)
                pipe, trace = run_ours(files, prec, dev)
                res[prec] = compare(pipe, trace, off_runs[prec])
                res[f"official_rerun_{prec}"] = off_runs[prec]["official_rerun"]
                del pipe, trace
                if direct:
                    _say(f"{prec}: the official Stable Cascade path (guidance off)", t0)
                    ref = run_official(off, models, prec, dev, plain_stage_c=build_official_plain(off, models[2].generator))
                    _say(f"{prec}: stable-cascade-direct", t0)
                    pipe, trace = run_ours_direct(files, prec, dev)
                    res[f"direct_{prec}"] = compare(pipe, trace, ref)
                    res[f"official_rerun_direct_{prec}"] = ref["official_rerun"]
                    del pipe, trace, ref
            if "fp32" in off_runs and "bf16" in off_runs:
                a, b = off_runs["bf16"], off_runs["fp32"]
                res["official_bf16_vs_fp32"] = {k: diff(a[k], b[k]) for k in ("lr_latent", "stage_c", "stage_b", "stage_a_decode")}
                res["official_bf16_vs_fp32"]["stage_c_output"] = res["official_bf16_vs_fp32"].pop("stage_c")
        if noise:
            _say("official noise mode: the official setup at full size", t0)
            res["noise"] = check_official_noise(off)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        res["verdicts"] = verdicts(res)
        if out is not None:
            write_report(res, Path(out))
        return res
    finally:
        os.chdir(cwd)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkout", help="a checkout of catcathh/UltraPixel")
    ap.add_argument("--device", default="cpu", help="cpu (CPU bf16 autocast) or cuda (CUDA bf16 autocast)")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--no-noise", action="store_true", help="skip the official noise mode check (full-size setup, ~1.5 GB)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "parity"))
    ap.add_argument("--official-commit", help="the checkout's commit, for the report (an archive has no .git)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    ap.add_argument("--no-direct", action="store_true", help="skip stable-cascade-direct against the official "
                                                             "Stable Cascade path (guidance off)")
    args = ap.parse_args(argv)
    res = run(args.checkout, args.device, tuple(args.precisions.split(",")), not args.no_noise, args.out,
              args.official_commit, args.threads, direct=not args.no_direct)
    for name, v in res["verdicts"].items():
        print(("met     " if v["met"] else "MISSED  ") + name + (f": {v['value']:.3g}" if v.get("value") is not None else ""))
    return 0 if all(v["met"] for v in res["verdicts"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
