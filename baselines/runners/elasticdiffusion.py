"""Run ElasticDiffusion (`elastic_diffusion.py` of the user's checkout) for one job file.

Constructs the class and calls `generate_image` as the script's __main__ does (elastic_diffusion.py:
1168-1189 at 45a6793): `ElasticDiffusion(device, 'XL1.0', verbose, log_freq, view_batch_size, low_vram)`,
`seed_everything(seed)`, then `generate_image(...)` with the job's settings. The class picks SDXL by
`sd_version='XL1.0'` (which also switches on its SDXL code paths), so the SDXL weights are read from
the Hugging Face cache of this environment, not from a folder. Its precision is not a parameter:
float32, or float16 with `low_vram=True` (which also offloads to the CPU between stages).
"""

import sys

import _protocol as P


def load(job):
    import torch

    mod = P.import_checkout(job, "elastic_diffusion")
    s = job["settings"]
    if job["dtype"] not in ("float32", "float16"):
        raise ValueError("ElasticDiffusion runs float32, or float16 through low_vram=True; not %s" % job["dtype"])
    dev = torch.device(P.device_of(job))
    sd = mod.ElasticDiffusion(dev, "XL1.0", verbose=False, log_freq=5, view_batch_size=s.get("view_batch_size", 16),
                              low_vram=job["dtype"] == "float16")
    return {"sd": sd}


def generate_one(st, job, item):
    s = job["settings"]
    sd = st["sd"]
    sd.seed_everything(int(item["seed"]))
    used = {k: s[k] for k in ("num_inference_steps", "guidance_scale", "negative_prompt", "resampling_steps", "new_p",
                              "cosine_scale", "rrg_scale", "rrg_stop_t", "repaint_sampling", "tiled_decoder",
                              "view_batch_size")}
    imgs, _log = sd.generate_image(
        prompts=[item["prompt"]], negative_prompts=used["negative_prompt"], height=job["height"], width=job["width"],
        num_inference_steps=used["num_inference_steps"], grid=False, guidance_scale=used["guidance_scale"],
        resampling_steps=used["resampling_steps"], new_p=used["new_p"], cosine_scale=used["cosine_scale"],
        rrg_init_weight=used["rrg_scale"], rrg_stop_t=used["rrg_stop_t"], repaint_sampling=used["repaint_sampling"],
        tiled_decoder=used["tiled_decoder"],
    )
    used["settings_source"] = s.get("settings_source")
    used["low_vram"] = job["dtype"] == "float16"
    return imgs[0], used


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
