"""Run ScaleCrafter's SDXL code (`text2image_xl.py` of the user's checkout) for one job file.

Mirrors the steps of the official script's main(): SDXL components + DDIM, FreeU, VAE tiling, the
size's config (dilation settings, taus, progressive), `torch.randn` latents after seeding, and the
script's own `pipeline_processor` forward.
"""

import sys

import _protocol as P


def load(job):
    import torch

    mod, s, cfg, dev, dtype, pipe = P.open_text2image_xl(job)
    pipe = pipe.to(dev)
    P.apply_freeu_and_tiled_decode(pipe, mod, s)
    dilate = mod.read_dilate_settings(cfg["dilate_settings"]) if cfg.get("dilate_settings") else {}
    ndcfg = mod.read_dilate_settings(cfg["ndcfg_dilate_settings"]) if cfg.get("ndcfg_dilate_settings") else {}
    inflate = mod.read_module_list(cfg["disperse_settings"]) if cfg.get("disperse_settings") else []
    transform = None
    if cfg.get("disperse_transform"):
        import scipy.io

        transform = torch.tensor(scipy.io.loadmat(cfg["disperse_transform"])["R"], device=dev)
    pipe.unet.eval()
    return {"mod": mod, "pipe": pipe, "cfg": cfg, "dilate": dilate, "ndcfg": ndcfg, "inflate": inflate,
            "transform": transform, "dev": dev, "dtype": dtype}


def generate_one(st, job, item):
    import torch

    cfg, s, pipe = st["cfg"], job["settings"], st["pipe"]
    h, w = job["height"], job["width"]
    latents = torch.randn((1, 4, h // 8, w // 8), device=st["dev"], dtype=st["dtype"])
    if s.get("vae_tiling", True):
        P.enable_vae_tiling(pipe)
    forward = st["mod"].pipeline_processor(
        pipe, ndcfg_tau=cfg.get("ndcfg_tau", 0), dilate_tau=cfg.get("dilate_tau", 0),
        inflate_tau=cfg.get("inflate_tau", 0), dilate_settings=st["dilate"], inflate_settings=st["inflate"],
        ndcfg_dilate_settings=st["ndcfg"], transform=st["transform"], progressive=cfg.get("progressive", False),
    )
    image = forward([item["prompt"]], num_inference_steps=s.get("num_inference_steps", cfg.get("num_inference_steps", 50)),
                    guidance_scale=s.get("guidance_scale", 5.0), eta=s.get("eta", 1.0), generator=None,
                    latents=latents, height=h, width=w).images[0]
    return image, {"config": s["config"], "config_source": s.get("config_source"),
                   "progressive": cfg.get("progressive"), "dilate_tau": cfg.get("dilate_tau"),
                   "ndcfg_tau": cfg.get("ndcfg_tau")}


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
