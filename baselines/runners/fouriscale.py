"""Run FouriScale's SDXL code (`text2image_xl.py` of the user's checkout) for one job file.

Mirrors the official main(): SDXL components + DDIM, its attention processors on `list_layers`,
FreeU, VAE tiling, the padding-then-crop base size and dilation from its bucket table, and its
`pipeline_processor` forward with original/target size = the base size.
"""

import math
import sys

import _protocol as P


def load(job):
    mod, s, cfg, dev, dtype, pipe = P.open_text2image_xl(job)
    pipe.unet.set_attn_processor({name: mod.TrainingFreeAttnProcessor(name) for name in mod.list_layers})
    pipe = pipe.to(dev)
    P.apply_freeu_and_tiled_decode(pipe, mod, s)
    layers = mod.read_layer_settings(cfg["layer_settings"]) if cfg.get("layer_settings") else []
    bases = mod.read_base_settings(cfg["base_settings"]) if cfg.get("base_settings") else {}
    pipe.unet.eval()
    return {"mod": mod, "pipe": pipe, "cfg": cfg, "layers": layers, "bases": bases, "dev": dev, "dtype": dtype}


def generate_one(st, job, item):
    import torch

    cfg, s, pipe, mod = st["cfg"], job["settings"], st["pipe"], st["mod"]
    h, w = job["height"], job["width"]
    latents = torch.randn((1, 4, h // 8, w // 8), device=st["dev"], dtype=st["dtype"])
    base_size, ratio = mod.find_smallest_padding_pair(h, w, st["bases"])
    if base_size is None:
        raise ValueError("FouriScale's bucket table has no base size for %dx%d" % (h, w))
    dilation = max(math.ceil(h / base_size[0]), math.ceil(w / base_size[1]))
    if s.get("vae_tiling", True):
        P.enable_vae_tiling(pipe)
    forward = mod.pipeline_processor(pipe, dilation=dilation, start_step=cfg["start_step"], stop_step=cfg["stop_step"],
                                     layer_settings=st["layers"], base_size=base_size,
                                     progressive=cfg.get("progressive", True))
    image = forward([item["prompt"]], num_inference_steps=s.get("num_inference_steps", cfg.get("num_inference_steps", 50)),
                    guidance_scale=s.get("guidance_scale", 5.0), eta=s.get("eta", 1.0), generator=None,
                    latents=latents, height=h, width=w, original_size=base_size, target_size=base_size,
                    amp_guidance=s.get("amp_guidance", False)).images[0]
    return image, {"config": s["config"], "config_source": s.get("config_source"),
                   "base_size": [int(base_size[0]), int(base_size[1])], "dilation": int(dilation)}


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
