"""I-Max: the README's QuickStart beside `ultrabench generate --method imax`, on a tiny FLUX.1-dev.

The QuickStart block of README.md runs as written at the pinned commit with these lines replaced: the
model path (the tiny folder), `pipe.to("cpu")`, the seed and prompt (the unit's), the output name (PNG:
the README writes JPEG) and the size (4096x4096 -> SIZE). Everything else is the README's: bfloat16,
30 + 30 steps, guidance 3.5 / 7, NTK factor 10, time shifts 3 / 6, proportional attention, text
duplication and swin patchify, the cosine_decay schedule, `scheduler.config.use_dynamic_shifting = False`.
The pipeline's native side is hard-coded (1024), so the size must reach sqrt(H*W) >= 1536 for the
native pass to run at half the request (its divisor round(sqrt(H*W) / 1024) = 2), as at 4K it runs at
a quarter. ultrabench gets only the request and the tiny folder; its defaults must reproduce the rest.
"""

from __future__ import annotations

from pathlib import Path

from baselines.imax import IMax, imax_divisor, imax_guidance_size
from baselines.standin_checkouts import IMAX as STAND_IN
from ultrabench.resolution import Resolution

from . import _flux as F

METHOD = "imax"
REPO = IMax.official_repo
COMMIT = IMax.official_commit
SIZE = Resolution(1280, 1856)  # divisor 2: native pass at 640x928 (not square, so height and width cannot swap)

REPLACE = [
    ('bfl_repo="black-forest-labs/FLUX.1-dev"', 'bfl_repo={model!r}'),
    ('pipe.to("cuda")', 'pipe.to("cpu")'),
    ('save_name = "test.jpeg"', 'save_name = "official.png"'),
    ('torch.random.manual_seed(int(25))', 'torch.random.manual_seed(int({seed}))'),
    ('height=4096, width=4096,', f'height={SIZE.height}, width={SIZE.width},'),
]
LINES = [('prompt = "', 'prompt = {prompt!r}')]
ENTRIES = [
    ("pipeline_flux_imax.py", "FluxPipeline", "FluxPipeline.__call__"),
    ("transformer_flux.py", "FluxTransformer2DModel", None),
]
RUNNER = F.ROOT / "baselines" / "runners" / "imax.py"
CALL = ("pipeline_flux_imax.py", "FluxPipeline.__call__", "st['pipe']")
_P = "pipeline_flux_imax.py"
# The size rules baselines/imax.py implements and the lines our runner repeats, as the checkout writes them.
REQUIRED = [
    (_P, "native_resolution = 1024", "the native side: IMax native_resolution"),
    (_P, "scale_factor = math.sqrt((height * width) / native_resolution ** 2)", "the divisor's scale: imax_divisor"),
    (_P, "height // int(scale_factor + 0.5),", "the native pass at the request // round(scale): imax_guidance_size"),
    (_P, "2 ** (len(self.vae.config.block_out_channels))", "16-pixel units: PATCH = 16"),
    (_P, "self.scheduler.config.shift = time_shift_1", "time_shift_1 set on the scheduler's config"),
    # what it returns with return_dict=False: the image, then the native pass's image resized to the request
    (_P, "image_guidance = torch.nn.functional.interpolate(image_guidance, size=(height, width)",
     "the guidance returned at the request's size"),
    ("README.md", "pipe.scheduler.config.use_dynamic_shifting = False", "our runner repeats it"),
]


WHY = ("both sides run the checkout's own pipeline in its environment on the CPU with the same weights, seed "
       "and global-RNG order (the README passes no generator): the images must be bit-identical")


def interface_check(checkout: Path) -> list[str]:
    out = F.interface(checkout, STAND_IN, ENTRIES, RUNNER, CALL, REQUIRED)
    if "guide.resize((width, height)" not in STAND_IN[_P]:
        out.append(f"stand-in {_P}: returns the guidance at its own size; the real code resizes it to the request")
    return out


def compare(checkouts: Path, work: Path) -> dict:
    rep, checkout, py, model = F.start(checkouts, METHOD, REPO, COMMIT, WHY, work, "flux-dev")
    if py is None:
        return rep
    readme = (checkout / "README.md").read_text()

    def script(seed: int, prompt: str) -> str:
        block = F.readme_block(readme, "from pipeline_flux_imax import FluxPipeline")
        return F.patched(block, [(o, n.format(seed=seed, model=str(model))) for o, n in REPLACE],
                         "README.md QuickStart", [(p, n.format(prompt=prompt)) for p, n in LINES])

    record = F.run_pair(rep, checkout, py, Path(work), {"model": str(model)}, (SIZE.height, SIZE.width), "quickstart", script)
    if record is None:
        return rep
    g = imax_guidance_size(SIZE)
    # The README's config line, then the pipeline's own for the extrapolation pass (pipeline_flux_imax.py:741).
    probe = F.scheduler_probe(py, model, "s.config.use_dynamic_shifting = False; s.config.shift = 6.0",
                              (SIZE.height // 16) * (SIZE.width // 16))
    native = ((record.get("info") or {}).get("official") or {}).get("native_pass")
    rep["sizes"].update(native_pass=[g.height, g.width], divisor=imax_divisor(SIZE))
    rep.update(scheduler={**probe, "reading": F.scheduler_reading(probe)}, native_pass_recorded=native,
               native_pass_rule_holds=native == [g.height, g.width],
               script_changes=[o for o, _ in REPLACE] + [p + "..." for p, _ in LINES],
               ultrabench_settings={"model": "tiny FLUX.1-dev folder"})
    return rep
