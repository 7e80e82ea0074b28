"""Job/response harness shared by the runner scripts (stdlib only; Python 3.8+).

`main(load, generate_one)`: read the job, `state = load(job)`, then for each item seed every RNG,
call `generate_one(state, job, item) -> (PIL image, info dict)`, save a PNG, time it, and finally
write response.json. An exception in one item is recorded on that item and the others go on.
"""

import json
import os
import random
import sys
import time
import traceback

PROTOCOL = 1


def seed_all(seed):
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2 ** 32))
    except ImportError:
        pass
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def torch_dtype(name):
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def device_of(job):
    import torch

    dev = job.get("device") or "cpu"
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("job asks for %s but torch.cuda is not available in this environment" % dev)
    return dev


def _sync(dev):
    import torch

    if str(dev).startswith("cuda"):
        torch.cuda.synchronize()


def load_yaml(path):
    """The checkout's config as a dict (omegaconf when present, as the official scripts use)."""
    try:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(OmegaConf.load(path))
    except ImportError:
        import yaml

        with open(path) as f:
            return yaml.safe_load(f)


def import_checkout(job, module):
    repo = job["repo"]
    # First on the path even when PYTHONPATH already holds it: the runners' folder comes before
    # PYTHONPATH, and a runner named like the checkout's package (ultraflux, hidiffusion) would win.
    if repo in sys.path:
        sys.path.remove(repo)
    sys.path.insert(0, repo)
    os.chdir(repo)  # the configs name their settings files relative to the checkout
    import importlib

    return importlib.import_module(module)


def versions():
    # Only what is already imported: a failed load must not pay for importing torch just to report.
    out = {"python": sys.version.split()[0]}
    for name in ("torch", "diffusers", "transformers", "accelerate"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    return out


def main(load, generate_one, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        job = json.load(f)
    out_dir = job["output_dir"]
    os.makedirs(out_dir, exist_ok=True)
    response = {"protocol": PROTOCOL, "method": job.get("method"), "items": [], "versions": versions(),
                "device": job.get("device")}
    resp_path = os.path.join(out_dir, "response.json")
    t0 = time.perf_counter()
    try:
        state = load(job)
    except Exception as e:
        response["error"] = "load failed: %s: %s" % (type(e).__name__, e)
        response["traceback"] = traceback.format_exc()[-4000:]
        _write(resp_path, response)
        return 1
    response["load_seconds"] = time.perf_counter() - t0
    response["versions"] = versions()
    dev = job.get("device") or "cpu"
    for item in job["items"]:
        rec = {"id": item["id"]}
        try:
            import torch

            if str(dev).startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            seed_all(int(item["seed"]))
            _sync(dev)
            t = time.perf_counter()
            image, info = generate_one(state, job, item)
            _sync(dev)
            seconds = time.perf_counter() - t
            name = "%s.png" % item["id"]
            image.save(os.path.join(out_dir, name), format="PNG")
            rec.update(file=name, height=image.height, width=image.width, stages={"generate": seconds},
                       info=info or {})
            if str(dev).startswith("cuda"):
                rec["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated())
        except Exception as e:
            rec["error"] = "%s: %s" % (type(e).__name__, e)
            rec["traceback"] = traceback.format_exc()[-4000:]
        response["items"].append(rec)
        _write(resp_path, response)  # partial progress survives a hard crash of a later item
    _write(resp_path, response)
    return 0


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def sdxl_components(job, dtype, scheduler_cls_name="DDIMScheduler"):
    """The SDXL pipeline the official scripts build (separate components, DDIM from the repo config)."""
    import diffusers
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    path = job["model"]
    kw = {"torch_dtype": dtype}
    pipe_kw = {}
    try:
        import inspect

        if "add_watermarker" in inspect.signature(StableDiffusionXLPipeline.__init__).parameters:
            pipe_kw["add_watermarker"] = False
    except (TypeError, ValueError):
        pass
    pipe = StableDiffusionXLPipeline(
        vae=AutoencoderKL.from_pretrained(path, subfolder="vae", **kw),
        text_encoder=CLIPTextModel.from_pretrained(path, subfolder="text_encoder", **kw),
        text_encoder_2=CLIPTextModelWithProjection.from_pretrained(path, subfolder="text_encoder_2", **kw),
        tokenizer=CLIPTokenizer.from_pretrained(path, subfolder="tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(path, subfolder="tokenizer_2"),
        unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", **kw),
        scheduler=getattr(diffusers, scheduler_cls_name).from_pretrained(path, subfolder="scheduler"),
        **pipe_kw
    )
    # Watermarking changes pixels; older diffusers builds it whenever invisible-watermark is installed.
    if getattr(pipe, "watermark", None) is not None:
        pipe.watermark = None
    pipe.set_progress_bar_config(disable=True)
    return pipe


def open_text2image_xl(job):
    """What ScaleCrafter's and FouriScale's `text2image_xl.py` main() set up first: the checkout's module,
    the job's settings, the size's YAML config, device, dtype and the SDXL pipeline (still on the CPU)."""
    mod = import_checkout(job, "text2image_xl")
    settings = job["settings"]
    dtype = torch_dtype(job["dtype"])
    return mod, settings, load_yaml(settings["config"]), device_of(job), dtype, sdxl_components(job, dtype)


def flux_fork(job, pipeline_module, transformer_module="transformer_flux"):
    """The loading HiFlow's and I-Max's scripts share: the checkout's transformer from `<model>/transformer`,
    the checkout's FluxPipeline from `<model>` without one, the transformer set afterwards."""
    import importlib

    pipeline_mod = import_checkout(job, pipeline_module)
    transformer_mod = importlib.import_module(transformer_module)
    dtype = torch_dtype(job["dtype"])
    transformer = transformer_mod.FluxTransformer2DModel.from_pretrained(job["model"], subfolder="transformer",
                                                                          torch_dtype=dtype)
    pipe = pipeline_mod.FluxPipeline.from_pretrained(job["model"], transformer=None, torch_dtype=dtype)
    pipe.transformer = transformer
    return pipe


def enable_vae_tiling(pipe):
    """`pipe.enable_vae_tiling()` as the official scripts call it; newer diffusers moved it to the VAE."""
    if hasattr(pipe, "enable_vae_tiling"):
        pipe.enable_vae_tiling()
    else:
        pipe.vae.enable_tiling()


def apply_freeu_and_tiled_decode(pipe, mod, settings):
    """The FreeU and synchronised tiled-VAE set-up that ScaleCrafter's and FouriScale's scripts share,
    through the helpers of the user's checkout (`mod`)."""
    if settings.get("freeu", True):
        mod.register_free_upblock2d(pipe, b1=1.1, b2=1.2, s1=0.6, s2=0.4)
        mod.register_free_crossattn_upblock2d(pipe, b1=1.1, b2=1.2, s1=0.6, s2=0.4)
    if settings.get("sync_tiled_decode"):
        enable_vae_tiling(pipe)
        mod.apply_sync_tiled_decode(pipe.vae)
        mod.apply_tiled_processors(pipe.vae.decoder)
