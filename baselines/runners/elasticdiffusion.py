"""Run ElasticDiffusion (`elastic_diffusion.py` of the user's checkout) for one job file.

Uses the class and `generate_image` exactly as the script's __main__ does. The class picks SDXL by
`sd_version='XL1.0'` (which also switches on its SDXL code paths), so the SDXL weights are read
from the Hugging Face cache of this environment, not from a folder.
"""

import sys

import _protocol as P


def load(job):
    import torch

    mod = P.import_checkout(job, "elastic_diffusion")
    s = job["settings"]
    dev = torch.device(P.device_of(job))
    sd = mod.ElasticDiffusion(dev, "XL1.0", verbose=False, view_batch_size=s.get("view_batch_size", 16),
                              torch_dtype=P.torch_dtype(job["dtype"]))
    return {"sd": sd}


def generate_one(st, job, item):
    s = job["settings"]
    sd = st["sd"]
    sd.seed_everything(int(item["seed"]))
    imgs, _log = sd.generate_image(
        prompts=[item["prompt"]], negative_prompts=s.get("negative_prompt", ""), height=job["height"],
        width=job["width"], num_inference_steps=s.get("num_inference_steps", 50), grid=False,
        guidance_scale=s.get("guidance_scale", 10.0), resampling_steps=s.get("resampling_steps", 7),
        new_p=s.get("new_p", 0.3), cosine_scale=s.get("cosine_scale", 10.0),
        rrg_init_weight=s.get("rrg_scale", 1000.0), rrg_stop_t=s.get("rrg_stop_t", 0.2),
        repaint_sampling=s.get("repaint_sampling", True),
    )
    return imgs[0], {}


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
