"""Inputs and helpers shared by the reference harnesses and the golden tests: numpy and PIL only.

The harnesses run the official scorers (HPSv2, ImageReward, Long-CLIP), sometimes in a separate
venv with old pins, on these images and prompts and on our stand-in weights; the golden tests run
ours on the same and compare with what the harness recorded.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "extractors"

# (height, width): landscape, portrait, square, very wide; none already at the models' 224
SIZES = [(320, 480), (512, 288), (256, 256), (150, 700)]
TINTS = [(200, 60, 60), (40, 40, 40), (90, 160, 220), (230, 230, 120)]

PROMPTS = [
    "a photo of a cat",
    "A majestic castle on a hill at sunset, highly detailed, 8k, trending on artstation",
    "Café au lait — “quoted” ünïcode, 東京 at night!!",
    # 80+ words: past CLIP's 77 tokens and ImageReward's 35, inside Long-CLIP's 248
    " ".join(["An intricate watercolor painting of a quiet harbour town at dawn, fishing boats with red sails,"
              " gulls over the water, cobblestone streets, lanterns still glowing, mist over the hills,"] * 3),
]


def images() -> list[Image.Image]:
    """Smooth colour fields with noise, so resampling filters matter but nothing is degenerate; each has
    its own tint, so that even a random-weight image tower tells them apart."""
    rng = np.random.default_rng(1234)
    out = []
    for (h, w), tint in zip(SIZES, TINTS):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([tint[c] + 50 * np.sin(xx / 23.0 + c) * np.cos(yy / 31.0 - c) for c in range(3)], -1)
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        out.append(Image.fromarray(img))
    return out


def write_golden(name: str, payload: dict) -> Path:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    p = GOLDEN_DIR / f"{name}.json"
    text = json.dumps(payload, indent=1, ensure_ascii=False)
    # lists of numbers (shapes, token ids, values) on one line each
    text = re.sub(r"\[[-+\d.eE,\s]*\]", lambda m: re.sub(r"\[\s+|\s+\]|\s+", _joint, m.group(0)), text)
    p.write_text(text + "\n", encoding="utf-8")
    return p


def _joint(m) -> str:
    return m.group(0).strip() or " "


def read_golden(name: str) -> dict:
    return json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))


def harness_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkout", type=Path, help="a checkout of the official repository")
    ap.add_argument("--write", action="store_true", help="record the reference's numbers as the golden file")
    return ap.parse_args(argv)


def record(name: str, checkout: Path, repo: str, produced_by: str, **values) -> None:
    """Write the golden file `name`, naming the reference commit it came from."""
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown (not a git checkout)"
    print("wrote", write_golden(name, {"produced_by": produced_by, "reference": f"{repo} @ {commit}", **values}))


def run_harness(name: str, checkout: str) -> int:
    """Run tests/reference/<name>_reference.py against `checkout` (the live parity tests)."""
    path = Path(__file__).resolve().parent / f"{name}_reference.py"
    spec = importlib.util.spec_from_file_location(f"{name}_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main([checkout])
