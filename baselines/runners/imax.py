"""Run I-Max (`pipeline_flux_imax.py` + `transformer_flux.py` of the user's checkout) for one job file.

As the README's QuickStart does: the checkout's transformer from `<model>/transformer`, its
FluxPipeline from `<model>` with that transformer set afterwards, `use_dynamic_shifting = False` on the
scheduler's config, torch's global RNG seeded per item (the README passes no generator), and the
pipeline's `return_dict=False` pair (image, guidance). The guidance it returns is the native pass's
image resized to the request (pipeline_flux_imax.py:715), so the native pass's own size is read where the
pipeline asks for its latents: the first `prepare_latents` call (height, width), floored to 16 as that
function floors them (pipeline_flux_imax.py:501-502).
"""

import sys

import _protocol as P

CALL_KEYS = ("num_inference_steps1", "num_inference_steps2", "guidance_scale1", "guidance_scale2", "ntk_factor",
             "time_shift_1", "time_shift_2", "proportional_attention", "text_duplication", "swin_pachify",
             "guidance_schedule", "max_sequence_length")


def load(job):
    pipe = P.flux_fork(job, "pipeline_flux_imax")
    pipe.scheduler.config.use_dynamic_shifting = False
    pipe.to(P.device_of(job))
    pipe.set_progress_bar_config(disable=True)
    sizes = []
    prepare = pipe.prepare_latents

    def prepare_latents(*a, **kw):  # records the size asked for; changes nothing
        sizes.append([kw.get("height", a[2] if len(a) > 2 else None), kw.get("width", a[3] if len(a) > 3 else None)])
        return prepare(*a, **kw)

    pipe.prepare_latents = prepare_latents
    return {"pipe": pipe, "sizes": sizes}


def generate_one(st, job, item):
    s = job["settings"]
    del st["sizes"][:]
    images = st["pipe"](prompt=item["prompt"], height=job["height"], width=job["width"], return_dict=False,
                        **{k: s[k] for k in CALL_KEYS if k in s})
    image, guidance = images[0], images[1]
    h, w = st["sizes"][0] if st["sizes"] else (None, None)
    native = [int(h) // 16 * 16, int(w) // 16 * 16] if h is not None and w is not None else None
    return image, {"native_pass": native, "guidance_returned": [guidance.height, guidance.width]}


if __name__ == "__main__":
    sys.exit(P.main(load, generate_one))
