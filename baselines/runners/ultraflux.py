"""Run UltraFlux (`ultraflux/` of the user's checkout) for one job file, as `inf_ultraflux.py` does.

VAE from `<model>/vae` and the transformer (the v1.1 repository, or `<model>/transformer`) through the
checkout's own classes, the checkout's FluxPipeline from `<model>` with both passed in, the two
scheduler-config attributes the script sets, then one call per item with a seeded CPU generator.
"""

import importlib
import os
import sys

import _protocol as P

# The checkout's `ultraflux/` has no __init__.py: a namespace package, which any plain module named
# `ultraflux` on the path beats, wherever it stands. This script is one, and its folder is sys.path[0].
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def load(job):
    pipeline_mod = P.import_checkout(job, "ultraflux.pipeline_flux")
    transformer_mod = importlib.import_module("ultraflux.transformer_flux")
    vae_mod = importlib.import_module("ultraflux.autoencoder_kl")
    s = job["settings"]
    dtype = P.torch_dtype(job["dtype"])
    vae = vae_mod.AutoencoderKL.from_pretrained(job["model"], subfolder="vae", torch_dtype=dtype)
    tpath = (job.get("weights") or {}).get("transformer")
    if tpath:
        transformer = transformer_mod.FluxTransformer2DModel.from_pretrained(tpath, torch_dtype=dtype)
    else:
        transformer = transformer_mod.FluxTransformer2DModel.from_pretrained(job["model"], subfolder="transformer",
                                                                              torch_dtype=dtype)
    pipe = pipeline_mod.FluxPipeline.from_pretrained(job["model"], vae=vae, torch_dtype=dtype, transformer=transformer)
    # The script assigns these on the scheduler's config object; do exactly the same.
    pipe.scheduler.config.use_dynamic_shifting = s.get("use_dynamic_shifting", False)
    pipe.scheduler.config.time_shift = s.get("time_shift", 4)
    pipe = pipe.to(P.device_of(job))
    pipe.set_progress_bar_config(disable=True)
    return {"pipe": pipe, "transformer": "v1.1 repository" if tpath else "model/transformer"}


def generate_one(st, job, item):
    import torch

    s, pipe = job["settings"], st["pipe"]
    image = pipe(item["prompt"], height=job["height"], width=job["width"],
                 guidance_scale=s.get("guidance_scale", 4.0), num_inference_steps=s.get("num_inference_steps", 50),
                 max_sequence_length=s.get("max_sequence_length", 512),
                 generator=torch.Generator("cpu").manual_seed(int(item["seed"]))).images[0]
    return image, {"transformer": st["transformer"], "scheduler_shift": float(getattr(pipe.scheduler, "shift", 0.0)),
                   "use_dynamic_shifting": bool(pipe.scheduler.config.use_dynamic_shifting)}


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
