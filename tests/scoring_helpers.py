"""Small run folders and image folders for the scoring tests, written directly (no generation)."""

from pathlib import Path

import numpy as np
from PIL import Image

from ultrabench.resolution import parse_resolution
from ultrabench.runstore import RunStore, Unit


def make_run(root: Path, n=3, size=(320, 320), method="m", seed=0) -> Path:
    rng = np.random.default_rng(seed)
    res = parse_resolution(f"{size[0]}x{size[1]}")
    for i in range(n):
        RunStore(root).write_unit(Unit(method, res, f"p{i}", f"prompt {i}", i),
                                  {"status": "ok", "seconds": 1.0, "stages": {}},
                                  image=Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)))
    return root


def make_images(folder: Path, n=3, size=(320, 320), seed=1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"r{i}.png")
    return folder
