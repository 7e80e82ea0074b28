"""HiDiffusion: the README's SDXL example against `ultrabench generate --method hidiffusion`."""

from __future__ import annotations

import textwrap
from pathlib import Path

from benchmarks.official import _common as C

METHOD = "hidiffusion"
REPO = "megvii-research/HiDiffusion"
COMMIT = "e9ec39a58805c3c44c650e2e745c0aa600824f0e"
SIZE = (256, 256)  # 2x the tiny model's native 128, as the README's 2048x2048 is 2x SDXL's 1024
NEGATIVE = "blurry, ugly, duplicate, poorly drawn face, deformed, mosaic, artifacts, bad limbs"

# The README's SDXL example (README.md, "Stable Diffusion XL"), with the model path, size and a
# seed given. Two departures, both needed here: float32 (float16 convolutions do not run on a CPU),
# no variant="fp16" (the tiny model has one set of weights); and torch.manual_seed(seed) before the
# call, since the README leaves the global RNG unseeded and DDIM with eta=1.0 draws from it.
README_EXAMPLE = '''
import sys
import torch
from diffusers import StableDiffusionXLPipeline, DDIMScheduler
from hidiffusion import apply_hidiffusion

pretrain_model, height, width, seed, prompt, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
scheduler = DDIMScheduler.from_pretrained(pretrain_model, subfolder="scheduler")
pipe = StableDiffusionXLPipeline.from_pretrained(pretrain_model, scheduler = scheduler, torch_dtype=torch.float32).to("cpu")
apply_hidiffusion(pipe)
negative_prompt = "%s"
torch.manual_seed(seed)
image = pipe(prompt, guidance_scale=7.5, height=height, width=width, eta=1.0, negative_prompt=negative_prompt).images[0]
image.save(out)
''' % NEGATIVE


def compare(checkouts: Path, work: Path) -> dict:
    res, checkout = C.start(METHOD, REPO, COMMIT, checkouts)
    if checkout is None:
        return res
    h, w = SIZE
    script = Path(work) / METHOD / "readme_sdxl_example.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(textwrap.dedent(README_EXAMPLE).lstrip())
    image = Path(work) / METHOD / "official.png"
    image.unlink(missing_ok=True)

    def official(model, seed):
        return C.Official([script, model.folder, h, w, seed, C.PROMPT, image], lambda: image,
                          "README.md SDXL example (DDIMScheduler, StableDiffusionXLPipeline, apply_hidiffusion(pipe), "
                          "guidance 7.5, eta 1.0, the README's negative prompt)",
                          env={"PYTHONPATH": str(checkout)})  # the package from the checkout, as the runner imports it

    return C.compare_sdxl(res, checkout, Path(work), h, w, settings={}, official=official)


def interface_check(checkout: Path) -> list[str]:
    """The stand-in's `hidiffusion.apply_hidiffusion` against the package of the real checkout."""
    import tempfile

    real = Path(checkout) / "hidiffusion"
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        fake = C.standin(METHOD, Path(tmp))
        problems += C.compare_signatures(real / "hidiffusion.py", fake / "hidiffusion" / "__init__.py",
                                         ["apply_hidiffusion"])
        if not C.has_name(real / "__init__.py", "apply_hidiffusion"):
            problems.append("hidiffusion/__init__.py: does not export apply_hidiffusion")
        # The size rule the stand-in mimics: window attention warns on odd feature maps.
        text = (real / "hidiffusion.py").read_text(errors="replace")
        if "cannot be directly partitioned into windows" not in text:
            problems.append("hidiffusion.py: the window-partition warning the runner records is gone")
    return problems
