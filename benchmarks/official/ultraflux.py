"""UltraFlux: the authors' `inf_ultraflux.py` beside `ultrabench generate --method ultraflux`, on a tiny
UltraFlux-v1 (FLUX.1-dev layout, the checkout's own x16 VAE) and a tiny v1.1 transformer.

The script runs as written at the pinned commit with these lines replaced: the two hub ids (the tiny
folders), `pipe.to("cpu")`, the prompt list (the unit's one prompt), the size (4096x4096 -> SIZE), the
generator's seed (the unit's) and the output (PNG: the script writes JPEG). Everything else is the
script's: bfloat16, the v1.1 transformer, `scheduler.config.use_dynamic_shifting = False` and
`time_shift = 4`, 50 steps, guidance 4, 512 T5 tokens, a CPU generator. ultrabench gets only the request,
the two folders and the checkout; its defaults must reproduce the rest.
"""

from __future__ import annotations

from pathlib import Path

from baselines.standin_checkouts import ULTRAFLUX as STAND_IN
from baselines.ultraflux import UNIT, UltraFlux
from ultrabench.resolution import Resolution

from . import _flux as F

METHOD = "ultraflux"
REPO = UltraFlux.official_repo
COMMIT = UltraFlux.official_commit
SIZE = Resolution(256, 384)  # multiples of 32: the pipeline's unit

REPLACE = [
    ('from_pretrained("Owen777/UltraFlux-v1",subfolder="vae"', 'from_pretrained({v1!r},subfolder="vae"'),
    ('from_pretrained("Owen777/UltraFlux-v1-1-Transformer",', 'from_pretrained({v11!r},'),
    ('FluxPipeline.from_pretrained("Owen777/UltraFlux-v1",', 'FluxPipeline.from_pretrained({v1!r},'),
    ('pipe = pipe.to("cuda")', 'pipe = pipe.to("cpu")'),
    ('for idx, prompt in enumerate(prompts, start=1):', 'for idx, prompt in enumerate([{prompt!r}], start=1):'),
    ('height=4096,', f'height={SIZE.height},'),
    ('width=4096,', f'width={SIZE.width},'),
    ('generator=torch.Generator("cpu").manual_seed(0)', 'generator=torch.Generator("cpu").manual_seed({seed})'),
    ('image.save(f"results/ultra_flux_{idx:02d}.jpeg")', 'image.save("official.png")'),
]
ENTRIES = [
    ("ultraflux/pipeline_flux.py", "FluxPipeline", "FluxPipeline.__call__"),
    ("ultraflux/transformer_flux.py", "FluxTransformer2DModel", None),
    ("ultraflux/autoencoder_kl.py", "AutoencoderKL", None),
]
RUNNER = F.ROOT / "baselines" / "runners" / "ultraflux.py"


WHY = ("both sides run the checkout's own pipeline in its environment on the CPU with the same weights, seed "
       "and generator: the images must be bit-identical")


CALL = ("ultraflux/pipeline_flux.py", "FluxPipeline.__call__", "pipe")
REQUIRED = [
    ("ultraflux/pipeline_flux.py", f"self.vae_scale_factor = {UNIT}", f"{UNIT}-pixel units: baselines.ultraflux.UNIT"),
    ("inf_ultraflux.py", "pipe.scheduler.config.use_dynamic_shifting = False", "our runner repeats it"),
    ("inf_ultraflux.py", "pipe.scheduler.config.time_shift = 4", "our runner repeats it"),
]


def interface_check(checkout: Path) -> list[str]:
    out = F.interface(checkout, STAND_IN, ENTRIES, RUNNER, CALL, REQUIRED)
    if f"// {UNIT} * {UNIT}" not in STAND_IN["ultraflux/pipeline_flux.py"]:
        out.append(f"stand-in ultraflux/pipeline_flux.py: does not floor to {UNIT}-pixel units")
    return out


def compare(checkouts: Path, work: Path) -> dict:
    rep, checkout, py, weights = F.start(checkouts, METHOD, REPO, COMMIT, WHY, work, "ultraflux")
    if py is None:
        return rep
    v1, v11 = weights / "UltraFlux-v1", weights / "UltraFlux-v1-1-Transformer"
    source = (checkout / "inf_ultraflux.py").read_text()

    def script(seed: int, prompt: str) -> str:
        return F.patched(source, [(o, n.format(v1=str(v1), v11=str(v11), prompt=prompt, seed=seed)) for o, n in REPLACE],
                         "inf_ultraflux.py")

    record = F.run_pair(rep, checkout, py, Path(work), {"model": str(v1), "transformer": str(v11)},
                        (SIZE.height, SIZE.width), "inf_ultraflux", script)
    if record is None:
        return rep
    # inf_ultraflux.py:16-17 on the scheduler's config: the first is read, `time_shift` by nothing.
    probe = F.scheduler_probe(py, v1, "s.config.use_dynamic_shifting = False; s.config.time_shift = 4",
                              (SIZE.height // 32) * (SIZE.width // 32))
    rep.update(scheduler={**probe, "reading": F.scheduler_reading(probe)},
               scheduler_shift_recorded=((record.get("info") or {}).get("official") or {}).get("scheduler_shift"),
               script_changes=[o for o, _ in REPLACE],
               ultrabench_settings={"model": "tiny UltraFlux-v1 folder", "transformer": "tiny v1.1 folder"})
    return rep
