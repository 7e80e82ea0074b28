"""HiFlow: the authors' `run_hiflow.py` beside `ultrabench generate --method hiflow`, on a tiny FLUX.1-dev.

The script runs as written at the pinned commit with these lines replaced: the model path (the tiny
folder), the device ("cpu", also for its generator), the seed and prompt (the unit's), the optional
LoRA (not loaded: ultrabench does not load it), the output file, and the sizes scaled by 1/8: base
1024 -> 128, stages [2048, 4096] -> [256, 512]. Everything else is the script's: float16, 30 base steps,
[16, 10] high-resolution steps, guidance 3.5 and [4.5, 6], the NTK factors, filter ratios, alphas and
betas, FFT guidance, latent upsampling, and `pipe.scheduler.use_dynamic_shifting = False`. ultrabench
gets only the request (512x512), the tiny folder and `base_pixels` = 128^2 (the base it derives is then
the script's 1/8 as well); its defaults must reproduce the rest.
"""

from __future__ import annotations

from pathlib import Path

from baselines.hiflow import HiFlow
from baselines.standin_checkouts import HIFLOW as STAND_IN

from . import _flux as F

METHOD = "hiflow"
REPO = HiFlow.official_repo
COMMIT = HiFlow.official_commit
BASE, STAGES = 128, (256, 512)

# run_hiflow.py at the pinned commit; the line numbers are cited in baselines/hiflow.py.
REPLACE = [
    ('seed = 3407', 'seed = {seed}'),
    ('device = "cuda"', 'device = "cpu"'),
    ('model_path = "black-forest-labs/FLUX.1-dev"', 'model_path = {model!r}'),
    ('pipe.load_lora_weights("./lora_models/aidmaFLUXPro1.1-FLUX-v0.3.safetensors") # optional',
     'pass  # the optional LoRA: not loaded'),
    ('height = 1024,', f'height = {BASE},'),
    ('width = 1024,', f'width = {BASE},'),
    ('target_heights = [2048, 4096],', f'target_heights = {list(STAGES)},'),
    ('target_widths = [2048, 4096],', f'target_widths = {list(STAGES)},'),
    ('generator=torch.Generator("cuda").manual_seed(seed)', 'generator=torch.Generator("cpu").manual_seed(seed)'),
    ('images[0].save("hiflow.png")', 'images[0].save("official.png")'),
]
LINES = [('prompt = "', 'prompt = {prompt!r}')]

# Entry points our runner (baselines/runners/hiflow.py) uses: (file, name, signature to compare or None).
ENTRIES = [
    ("flux_pipeline_hiflow.py", "FluxPipeline", "FluxPipeline.__call__"),
    ("transformer_flux.py", "FluxTransformer2DModel", None),
    ("utils.py", "set_seeds", "set_seeds"),
]
RUNNER = F.ROOT / "baselines" / "runners" / "hiflow.py"


WHY = ("both sides run the checkout's own pipeline in its environment on the CPU with the same weights, seed "
       "and RNG order: any setting or call that differs changes pixels, so the images must be bit-identical")


CALL = ("flux_pipeline_hiflow.py", "FluxPipeline.__call__", "pipe")
REQUIRED = [
    # latents of H/8 in 2x2 patches: sides in multiples of 16 (PATCH); the stages are the caller's list
    ("flux_pipeline_hiflow.py", "2 ** (len(self.vae.config.block_out_channels))", "16-pixel units (PATCH = 16)"),
    ("run_hiflow.py", "pipe.scheduler.use_dynamic_shifting = False", "our runner repeats it"),
]


def interface_check(checkout: Path) -> list[str]:
    return F.interface(checkout, STAND_IN, ENTRIES, RUNNER, CALL, REQUIRED)


def compare(checkouts: Path, work: Path) -> dict:
    rep, checkout, py, model = F.start(checkouts, METHOD, REPO, COMMIT, WHY, work, "flux-dev")
    if py is None:
        return rep
    source = (checkout / "run_hiflow.py").read_text()

    def script(seed: int, prompt: str) -> str:
        return F.patched(source, [(o, n.format(seed=seed, model=str(model))) for o, n in REPLACE], "run_hiflow.py",
                         [(p, n.format(prompt=prompt)) for p, n in LINES])

    if F.run_pair(rep, checkout, py, Path(work), {"model": str(model), "base_pixels": BASE * BASE}, (STAGES[-1],) * 2,
                  "run_hiflow", script) is None:
        return rep
    # What `pipe.scheduler.use_dynamic_shifting = False` (run_hiflow.py:14) leaves the scheduler doing, at
    # the script's own 1024^2 base (4096 tokens); the pipeline reuses the base's mu at every stage.
    probe = F.scheduler_probe(py, model, "s.use_dynamic_shifting = False", 4096)
    rep["sizes"].update(base=[BASE, BASE], stages=[[s, s] for s in STAGES])
    rep.update(scheduler={**probe, "reading": F.scheduler_reading(probe)},
               script_changes=[o for o, _ in REPLACE] + [p + "..." for p, _ in LINES],
               ultrabench_settings={"model": "tiny FLUX.1-dev folder", "base_pixels": BASE * BASE})
    return rep
