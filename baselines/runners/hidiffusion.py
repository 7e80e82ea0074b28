"""Run HiDiffusion (the `hidiffusion` package of the user's checkout) on SDXL for one job file.

As the README's SDXL example does: DDIMScheduler from `<model>/scheduler`, StableDiffusionXLPipeline
from `<model>` with it (invisible watermark off: it changes pixels), `apply_hidiffusion(pipe)`, then
guidance 7.5, eta 1.0 and the README's negative prompt; torch's global RNG is seeded per item (the
README passes no generator).
"""

import sys
import warnings

import _protocol as P


def load(job):
    hd = P.import_checkout(job, "hidiffusion")
    import inspect

    from diffusers import DDIMScheduler, StableDiffusionXLPipeline

    s = job["settings"]
    kw = {}
    if "add_watermarker" in inspect.signature(StableDiffusionXLPipeline.__init__).parameters:
        kw["add_watermarker"] = False
    scheduler = DDIMScheduler.from_pretrained(job["model"], subfolder="scheduler")
    pipe = StableDiffusionXLPipeline.from_pretrained(job["model"], scheduler=scheduler,
                                                     torch_dtype=P.torch_dtype(job["dtype"]), **kw)
    pipe = pipe.to(P.device_of(job))
    pipe.set_progress_bar_config(disable=True)
    hd.apply_hidiffusion(pipe, apply_raunet=s.get("apply_raunet", True), apply_window_attn=s.get("apply_window_attn", True))
    return {"pipe": pipe}


def generate_one(st, job, item):
    s = job["settings"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = st["pipe"](item["prompt"], guidance_scale=s.get("guidance_scale", 7.5), height=job["height"],
                           width=job["width"], eta=s.get("eta", 1.0), negative_prompt=s.get("negative_prompt"),
                           num_inference_steps=s.get("num_inference_steps", 50)).images[0]
    # HiDiffusion warns when a feature map cannot be split into windows (its quality drops): keep them.
    notes = sorted({str(w.message)[:160] for w in caught if "HiDiffusion" in str(w.message)})
    return image, {"hidiffusion_warnings": notes}


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
