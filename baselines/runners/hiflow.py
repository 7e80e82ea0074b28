"""Run HiFlow (`flux_pipeline_hiflow.py` + `transformer_flux.py` of the user's checkout) for one job file.

As `run_hiflow.py` does: the checkout's transformer from `<model>/transformer`, its FluxPipeline from
`<model>` with that transformer set afterwards, `scheduler.use_dynamic_shifting = False`, the
checkout's `set_seeds` and a seeded generator on the device per item, and the base size and stages
the adapter computed. The pipeline saves every stage under ./results/<time>/ of the working folder,
so the runner works in a scratch folder of the job (discarded with it).
"""

import importlib
import os
import sys

import _protocol as P


def load(job):
    pipe = P.flux_fork(job, "flux_pipeline_hiflow")
    utils = importlib.import_module("utils")
    pipe.scheduler.use_dynamic_shifting = False
    dev = P.device_of(job)
    pipe.to(dev)
    pipe.set_progress_bar_config(disable=True)
    scratch = os.path.join(job["output_dir"], "..", "scratch")
    os.makedirs(scratch, exist_ok=True)
    os.chdir(scratch)
    return {"pipe": pipe, "utils": utils, "dev": dev}


def generate_one(st, job, item):
    import torch

    s, pipe = job["settings"], st["pipe"]
    seed = int(item["seed"])
    st["utils"].set_seeds(seed)
    base_h, base_w = s["base"]
    out = pipe(prompt=item["prompt"], height=base_h, width=base_w, guidance_scale=s.get("guidance_scale", 3.5),
               num_inference_steps=s.get("num_inference_steps", 30), max_sequence_length=s.get("max_sequence_length", 512),
               ntk_factor=s["ntk_factor"], proportional_attention=s.get("proportional_attention", True),
               text_duplication=s.get("text_duplication", False), swin_pachify=s.get("swin_pachify", True),
               target_heights=s["target_heights"], target_widths=s["target_widths"],
               num_inference_steps_highres=s["num_inference_steps_highres"], filter_ratio=s["filter_ratio"],
               guidance_scale_highres=s["guidance_scale_highres"], structure_guidance=s.get("structure_guidance", "fft"),
               alphas=s["alphas"], betas=s["betas"], upsampling_choice=s.get("upsampling_choice", "latent"),
               flow_choice=s.get("flow_choice", "v_theta"), generator=torch.Generator(st["dev"]).manual_seed(seed))
    image = out[0][0]
    return image, {"base": [base_h, base_w], "stages": [[h, w] for h, w in zip(s["target_heights"], s["target_widths"])]}


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
