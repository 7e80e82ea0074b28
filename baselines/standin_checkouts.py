"""Stand-in checkouts of the official-code methods (and of diffusers' community DemoFusion file).

Each one offers the names our runner scripts use, enforces the size rules of the real code, and
denoises with the tiny random-weight diffusers model the job points at, so the runner, the child
process, the job/response protocol and the validation all run for real on a CPU. None of this is the
official code (nothing of it is copied): it only has the same interface and the same size rules.
"""

from __future__ import annotations

from pathlib import Path

# -- ScaleCrafter: text2image_xl.py + one config (128x256); prompts with RAISE / CRASH make it raise / exit --
SCALECRAFTER = {
    "text2image_xl.py": '''
import os
freeu_calls = []

def register_free_upblock2d(model, b1=1.2, b2=1.4, s1=0.9, s2=0.2):
    freeu_calls.append(dict(b1=b1, b2=b2, s1=s1, s2=s2))

def register_free_crossattn_upblock2d(model, b1=1.2, b2=1.4, s1=0.9, s2=0.2):
    freeu_calls.append(dict(b1=b1, b2=b2, s1=s1, s2=s2))

def read_dilate_settings(path):
    out = {}
    for line in open(path):
        name, d = line.split(":")
        out[name] = float(d)
    return out

def read_module_list(path):
    return [l.strip() for l in open(path)]

def pipeline_processor(self, ndcfg_tau=0, dilate_tau=0, inflate_tau=0, sdedit_tau=0, dilate_settings=None,
                       inflate_settings=None, ndcfg_dilate_settings=None, transform=None, progressive=False):
    assert dilate_settings == {"mid_block.resnets.0.conv1": 2.0}, dilate_settings
    def forward(prompt=None, prompt_2=None, height=None, width=None, num_inference_steps=50, denoising_end=None,
                guidance_scale=5.0, negative_prompt=None, negative_prompt_2=None, num_images_per_prompt=1, eta=1.0,
                generator=None, latents=None, prompt_embeds=None, negative_prompt_embeds=None,
                pooled_prompt_embeds=None, negative_pooled_prompt_embeds=None, output_type='pil', return_dict=True,
                callback=None, callback_steps=1, cross_attention_kwargs=None, guidance_rescale=0.0,
                original_size=None, crops_coords_top_left=(0, 0), target_size=None):
        if "CRASH" in prompt[0]:
            os._exit(3)
        if "RAISE" in prompt[0]:
            raise RuntimeError("boom in the official code")
        return self(prompt, num_inference_steps=2, guidance_scale=guidance_scale, latents=latents,
                    height=height, width=width)
    return forward
''',
    "assets/dil.txt": "mid_block.resnets.0.conv1:2\n",
    "configs/sdxl_128x256.yaml": (
        "ndcfg_tau: 0\ndilate_tau: 30\ninflate_tau: 0\nsdedit_tau: 0\ndilate_settings: ./assets/dil.txt\n"
        "ndcfg_dilate_settings: ~\ndisperse_settings: ~\ndisperse_transform: ~\nprogressive: false\n"
        "num_inference_steps: 50\ninference_batch_size: 4\nnum_iters_per_prompt: 1\n"
        "latent_height: 16\nlatent_width: 32\npixel_height: 128\npixel_width: 256\n"),
    "requirements.txt": "diffusers==0.20.2\ntorch~=2.0.0\nxformers~=0.0.18\neinops\n",
}

# The job file is the runner's argument: stand-ins that need the model before the runner hands it over
# (the real code has SDXL's layer names and hub id built in) read it from there.
_JOB_MODEL = '''
import json, sys
JOB = json.load(open(sys.argv[1]))
'''

# -- FouriScale: text2image_xl.py with its attention processor, bucket table and forward ------------------
FOURISCALE = {
    "text2image_xl.py": _JOB_MODEL + '''
import math

from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import AttnProcessor2_0

# The real file lists SDXL's attention layers; this stand-in lists those of the job's (tiny) UNet.
list_layers = list(UNet2DConditionModel.from_config(
    UNet2DConditionModel.load_config(JOB["model"], subfolder="unet")).attn_processors)

class TrainingFreeAttnProcessor(AttnProcessor2_0):
    def __init__(self, name=None):
        super().__init__()
        self.name = name

def register_free_upblock2d(model, b1=1.2, b2=1.4, s1=0.9, s2=0.2):
    pass

def register_free_crossattn_upblock2d(model, b1=1.2, b2=1.4, s1=0.9, s2=0.2):
    pass

def read_layer_settings(path):
    return [l.rstrip("\\n") for l in open(path)]

def read_base_settings(path):
    # One "aspect_ratio:height,width" bucket a line, as in the real assets/base_settings/*.txt.
    out = {}
    for line in open(path):
        ratio, sizes = line.split(":")
        out[ratio] = [float(v) for v in sizes.split(",")]
    return out

def find_smallest_padding_pair(height, width, base_settings):
    # The real rule: a bucket that one integer scale lifts over both sides, with the least padding.
    best, best_pad, best_ratio = None, float("inf"), None
    for ratio, (bh, bw) in base_settings.items():
        k = math.ceil(height / bh)
        if k != math.ceil(width / bw):
            continue
        pad = (bh * k - height) + (bw * k - width)
        if pad < best_pad and bh * k >= height and bw * k >= width:
            best, best_pad, best_ratio = (bh, bw), pad, ratio
    return best, best_ratio

def pipeline_processor(self, dilation=1.0, start_step=0, stop_step=50, layer_settings=None, base_size=None,
                       progressive=False):
    def forward(prompt=None, prompt_2=None, height=None, width=None, num_inference_steps=50, denoising_end=None,
                guidance_scale=5.0, negative_prompt=None, negative_prompt_2=None, num_images_per_prompt=1, eta=1.0,
                generator=None, latents=None, prompt_embeds=None, negative_prompt_embeds=None,
                pooled_prompt_embeds=None, negative_pooled_prompt_embeds=None, output_type='pil', return_dict=True,
                callback=None, callback_steps=1, cross_attention_kwargs=None, guidance_rescale=0.0,
                original_size=None, crops_coords_top_left=(0, 0), target_size=None, amp_guidance=False):
        if height % 8 or width % 8:
            raise ValueError("sides must be multiples of 8")
        return self(prompt, num_inference_steps=2, guidance_scale=guidance_scale, latents=latents, height=height,
                    width=width)
    return forward
''',
    "assets/layer_settings/sdxl.txt": "up_blocks.0.resnets.0.conv1\n",
    # The real SDXL bucket table (assets/base_settings/sdxl.txt, 1024-pixel scale) at 1/8 scale, for
    # the tiny model's 128-pixel native size; same format and the same rule read it.
    "assets/base_settings/sdxl.txt": "".join(f"{r}:{h // 8},{w // 8}\n" for r, h, w in (
        ("0.25", 512, 2048), ("0.5", 704, 1408), ("0.78", 896, 1152), ("1.0", 1024, 1024),
        ("1.29", 1152, 896), ("2.0", 1408, 704), ("4.0", 2048, 512))),
    "configs/sdxl_128x256.yaml": ("start_step: 20\nstop_step: 35\nlayer_settings: ./assets/layer_settings/sdxl.txt\n"
                                  "base_settings: ./assets/base_settings/sdxl.txt\nprogressive: True\n"
                                  "num_inference_steps: 50\ninference_batch_size: 1\nnum_iters_per_prompt: 1\n"
                                  "latent_height: 16\nlatent_width: 32\npixel_height: 128\npixel_width: 256\n"),
    "requirements.txt": "diffusers==0.20.2\ntorch~=2.0.0\n",
}

# -- ElasticDiffusion: elastic_diffusion.py's class (the signatures of the checkout's HEAD) ----------------
ELASTICDIFFUSION = {
    "elastic_diffusion.py": _JOB_MODEL + """
import torch
from diffusers import StableDiffusionXLPipeline
from tqdm import tqdm


class CosineScheduler:
    def __init__(self, steps, cosine_scale, factor=0.01):
        self.steps, self.cosine_scale, self.factor = steps, cosine_scale, factor


class ElasticDiffusion:
    def __init__(self, device, sd_version='2.0', verbose=False, log_freq=5, view_batch_size=1, low_vram=False):
        # Like the real class: precision follows low_vram (float16, else float32); 'XL1.0' selects SDXL,
        # which the real one reads by hub id from the cache and this stand-in from the job's model.
        assert sd_version == "XL1.0", sd_version
        self.device = device
        self.torch_dtype = torch.float16 if low_vram else torch.float32
        self.view_batch_size = view_batch_size
        self.pipe = StableDiffusionXLPipeline.from_pretrained(JOB["model"], torch_dtype=self.torch_dtype).to(device)
        self.pipe.set_progress_bar_config(disable=True)
        self.base = self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor

    def seed_everything(self, seed, seed_np=True):
        torch.manual_seed(seed)

    def generate_image(self, prompts, negative_prompts='', height=768, width=768, num_inference_steps=50,
                       guidance_scale=10.0, resampling_steps=20, new_p=0.3, rrg_stop_t=0.2, rrg_init_weight=1000,
                       rrg_scherduler_cls=CosineScheduler, cosine_scale=3.0, repaint_sampling=True, progress=tqdm,
                       tiled_decoder=False, grid=False):
        if max(height, width) > 2 * self.base:
            raise ValueError("ElasticDiffusion supports up to 2x the training resolution")
        if isinstance(negative_prompts, str):
            negative_prompts = [negative_prompts] * len(prompts)
        out = self.pipe(prompts, negative_prompt=negative_prompts, height=height, width=width,
                        num_inference_steps=2, guidance_scale=guidance_scale)
        return out.images, {}
""",
    "environment.yaml": "name: elasticdiffusion\ndependencies:\n  - pip:\n    - diffusers==0.21.4\n",
}

# -- UltraFlux: ultraflux/{pipeline_flux,transformer_flux,autoencoder_kl}.py -----------------------------
# No ultraflux/__init__.py, like the real checkout: a namespace package, which a plain module named
# `ultraflux` anywhere on the path shadows (the runner script is one).
ULTRAFLUX = {
    "ultraflux/pipeline_flux.py": '''
import diffusers

class FluxPipeline(diffusers.FluxPipeline):
    """Like the fork: it works in 32-pixel units (vae_scale_factor 32) and floors other sizes."""

    def __call__(self, prompt=None, height=None, width=None, partitioned=True, **kw):
        assert self.scheduler.config.use_dynamic_shifting is False and self.scheduler.config.time_shift == 4
        return super().__call__(prompt=prompt, height=height // 32 * 32, width=width // 32 * 32, **kw)
''',
    "ultraflux/transformer_flux.py": "from diffusers import FluxTransformer2DModel  # noqa: F401\n",
    "ultraflux/autoencoder_kl.py": "from diffusers import AutoencoderKL  # noqa: F401\n",
    "inf_ultraflux.py": "# stand-in: the runner imports ultraflux/ directly\n",
}

# -- HiFlow: flux_pipeline_hiflow.py, transformer_flux.py, utils.py ----------------------------------------
HIFLOW = {
    "flux_pipeline_hiflow.py": '''
import os
import time

import diffusers

class FluxPipeline(diffusers.FluxPipeline):
    """Base image at (height, width), then one stage per target size; every stage saved under ./results/."""

    def __call__(self, prompt=None, height=None, width=None, guidance_scale=3.5, num_inference_steps=28,
                 max_sequence_length=512, ntk_factor=None, proportional_attention=True, text_duplication=True,
                 swin_pachify=True, target_heights=None, target_widths=None, num_inference_steps_highres=None,
                 filter_ratio=None, guidance_scale_highres=None, structure_guidance=None, upsampling_choice=None,
                 alphas=None, betas=None, flow_choice=None, generator=None):
        assert getattr(self.scheduler, "use_dynamic_shifting", None) is False
        stages = list(zip(target_heights, target_widths))
        for name, values in (("ntk_factor", ntk_factor), ("num_inference_steps_highres", num_inference_steps_highres),
                             ("filter_ratio", filter_ratio), ("guidance_scale_highres", guidance_scale_highres),
                             ("alphas", alphas), ("betas", betas)):
            if len(values) != len(stages):
                raise ValueError("%s has %d entries for %d stages" % (name, len(values), len(stages)))
        for h, w in [(height, width)] + stages:
            if h % 16 or w % 16:
                raise ValueError("sizes must be multiples of 16, got %dx%d" % (h, w))
        folder = "./results/%s/" % time.strftime("%Y%m%d-%H%M%S")
        os.makedirs(folder, exist_ok=True)
        out = super().__call__(prompt=prompt, height=height, width=width, guidance_scale=guidance_scale,
                               num_inference_steps=2, max_sequence_length=max_sequence_length, generator=generator)
        out.images[0].save(folder + "base.png")
        for (h, w), g in zip(stages, guidance_scale_highres):
            out = super().__call__(prompt=prompt, height=h, width=w, guidance_scale=g, num_inference_steps=1,
                                   max_sequence_length=max_sequence_length, generator=generator)
            out.images[0].save(folder + "%dx%d.png" % (h, w))
        return out
''',
    "transformer_flux.py": "from diffusers import FluxTransformer2DModel  # noqa: F401\n",
    "utils.py": "import torch\n\ndef set_seeds(seed):\n    torch.manual_seed(seed)\n",
    "requirements.txt": "diffusers==0.32.1\ntransformers==4.48.0\ntorch==2.3.0\nopencv-python\nsentencepiece\n",
}

# -- I-Max: pipeline_flux_imax.py, transformer_flux.py -------------------------------------------------------
IMAX = {
    "pipeline_flux_imax.py": _JOB_MODEL + '''
import math

import diffusers
from PIL import Image

class FluxPipeline(diffusers.FluxPipeline):
    """A native-resolution pass at the request divided by round(sqrt(H*W) / native), then the full size;
    returns (image, guidance resized to the request) with return_dict=False. `native` is 1024 in the real
    pipeline; the stand-in's tiny model takes the job's `native_resolution` setting."""
    native = JOB["settings"].get("native_resolution", 1024)

    def __call__(self, prompt=None, height=None, width=None, return_dict=True, num_inference_steps1=30,
                 num_inference_steps2=20, guidance_scale1=3.5, guidance_scale2=7.0, ntk_factor=10.0, time_shift_1=3.0,
                 time_shift_2=6.0, proportional_attention=True, text_duplication=True, swin_pachify=True,
                 guidance_schedule="cosine_shift", max_sequence_length=512):
        assert self.scheduler.config.use_dynamic_shifting is False
        div = int(math.sqrt(height * width) / self.native + 0.5)
        if div < 1:
            raise ZeroDivisionError("request below the native resolution")
        # Like the real one: the native pass is asked for at height // div (its latents floor to 16), and
        # the guidance it returns is that image resized (bicubic) to the request.
        guide = super().__call__(prompt=prompt, height=height // div, width=width // div,
                                 guidance_scale=guidance_scale1, num_inference_steps=2,
                                 max_sequence_length=max_sequence_length).images[0]
        image = super().__call__(prompt=prompt, height=height, width=width, guidance_scale=guidance_scale2,
                                 num_inference_steps=1, max_sequence_length=max_sequence_length).images[0]
        return [image, guide.resize((width, height), Image.BICUBIC)]
''',
    "transformer_flux.py": "from diffusers import FluxTransformer2DModel  # noqa: F401\n",
}

# -- HiDiffusion: the hidiffusion package ------------------------------------------------------------------------
HIDIFFUSION = {
    "hidiffusion/__init__.py": '''
import warnings

applied = []

def apply_hidiffusion(model, apply_raunet=True, apply_window_attn=True):
    """Stand-in: checks what the real one checks (a diffusers SDXL pipeline; window attention warns
    when a feature map at 1/16 or 1/32 of the image has an odd side) and leaves the weights alone."""
    assert hasattr(model, "unet") and hasattr(model, "text_encoder_2"), "HiDiffusion supports SDXL pipelines"
    unet = model.unet

    def hook(module, args):
        h, w = args[0].shape[-2:]  # latent size: image / 8
        for f in (2, 4):
            if apply_window_attn and ((h // f) % 2 or (w // f) % 2):
                warnings.warn("HiDiffusion Warning: The feature size is %s and cannot be directly partitioned "
                              "into windows." % ((h // f, w // f),))

    applied.append(unet.register_forward_pre_hook(hook))
    return model
''',
    "requirements.txt": "torch>=1.13.1\ndiffusers>=0.25.0\ntransformers\naccelerate\nxformers\n",
}

# -- DemoFusion: a community pipeline file with the real one's phase sizes and RNG use --------------------------
DEMOFUSION_FILE = '''
"""A stand-in for diffusers' community DemoFusion file, written for tests: it follows the same phase
sizes and RNG usage (generator for phase 1, torch's global RNG and Python's random later) but is
not DemoFusion."""
import random

import torch
import torch.nn.functional as F
from diffusers import StableDiffusionXLPipeline


class DemoFusionSDXLPipeline(StableDiffusionXLPipeline):
    @torch.no_grad()
    def __call__(self, prompt, negative_prompt=None, height=None, width=None, num_inference_steps=50,
                 guidance_scale=5.0, generator=None, view_batch_size=16, multi_decoder=True, stride=64,
                 cosine_scale_1=3.0, cosine_scale_2=1.0, cosine_scale_3=1.0, sigma=0.8, show_image=False):
        base = self.unet.config.sample_size * self.vae_scale_factor
        # The community file refuses a long side that is not a whole multiple of SDXL's 1024
        # (its check is hard-coded); here the same rule for the tiny model's base.
        if max(height, width) % base:
            raise ValueError("the larger one of `height` and `width` has to be divisible by %d" % base)
        n = int(max(height / base, width / base))
        aspect = min(height, width) / max(height, width)
        lat = super().__call__(prompt, negative_prompt=negative_prompt, height=height // n // 8 * 8, width=width // n // 8 * 8,
                               num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                               generator=generator, output_type="latent").images
        outs = [lat]
        for k in range(2, n + 1):
            h = w = base * k
            if height > width:
                w = int(w * aspect)
            else:
                h = int(h * aspect)
            lat = F.interpolate(lat, size=(h // 8, w // 8), mode="bicubic") + 0.1 * torch.randn(1, 4, h // 8, w // 8)
            lat = torch.roll(lat, random.randint(0, 3), dims=3)
            outs.append(lat)
        images = []
        for l in outs:
            img = self.vae.decode(l / self.vae.config.scaling_factor, return_dict=False)[0]
            images.append(self.image_processor.postprocess(img, output_type="pil")[0])
        return images
'''

CHECKOUTS = {"scalecrafter": SCALECRAFTER, "fouriscale": FOURISCALE, "elasticdiffusion": ELASTICDIFFUSION,
             "ultraflux": ULTRAFLUX, "hiflow": HIFLOW, "imax": IMAX, "hidiffusion": HIDIFFUSION}


def write_checkout(method: str, folder: str | Path) -> Path:
    """Write the stand-in checkout of `method` into `folder` (created) and return it."""
    root = Path(folder)
    for rel, text in CHECKOUTS[method].items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text.lstrip("\n"))
    return root


def write_demofusion_file(path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(DEMOFUSION_FILE.lstrip("\n"))
    return p
