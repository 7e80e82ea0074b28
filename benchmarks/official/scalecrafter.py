"""ScaleCrafter: `text2image_xl.py` of the authors against `ultrabench generate --method scalecrafter`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from baselines.official import SCALECRAFTER_CONFIGS
from benchmarks.official import _common as C

METHOD = "scalecrafter"
REPO = "YingqingHe/ScaleCrafter"
COMMIT = "9dc11851f7700df0037db7a1e7e42dab060e05dc"
# 2x the tiny model's 128-pixel native size with the 2048x2048 config (2x SDXL's 1024): dilation 2 on
# the layers its settings file names, FreeU, DDIM eta 1, 50 steps.
SIZE = (256, 256)
CONFIG = "configs/sdxl_2048x2048.yaml"
# What baselines/runners/scalecrafter.py calls in text2image_xl.py (functions, then names it imports).
ENTRY_POINTS = ["pipeline_processor", "pipeline_processor.forward", "read_dilate_settings", "read_module_list"]
IMPORTED = ["register_free_upblock2d", "register_free_crossattn_upblock2d", "apply_sync_tiled_decode",
            "apply_tiled_processors"]
RUNNER_CONFIG_KEYS = {"dilate_settings", "ndcfg_dilate_settings", "disperse_settings", "disperse_transform",
                      "ndcfg_tau", "dilate_tau", "inflate_tau", "progressive", "num_inference_steps",
                      "pixel_height", "pixel_width"}


def compare(checkouts: Path, work: Path) -> dict:
    res, checkout = C.start(METHOD, REPO, COMMIT, checkouts)
    if checkout is None:
        return res
    h, w = SIZE
    config = C.sized_config(checkout, CONFIG, h, w, Path(work) / METHOD / f"sdxl_{h}x{w}.yaml")
    return C.compare_text2image_xl(res, checkout, Path(work), h, w, config)


def interface_check(checkout: Path) -> list[str]:
    checkout = Path(checkout)
    with tempfile.TemporaryDirectory() as tmp:
        fake = C.standin(METHOD, Path(tmp))
        problems = C.text2image_xl_interface(checkout, fake, ENTRY_POINTS, IMPORTED)
        # Size rule: the configs we map sizes to are the checkout's.
        problems += C.check_configs(checkout, fake, SCALECRAFTER_CONFIGS, "SCALECRAFTER_CONFIGS", RUNNER_CONFIG_KEYS, CONFIG)
    return problems
