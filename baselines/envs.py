"""`ultrabench env create METHOD --repo PATH`: a venv for an official checkout, with the pins it asks for.

The pins come from the checkout itself (requirements.txt, or the pip part of environment.yaml), then
a few documented adjustments so they still install today:
- xformers is dropped (optional acceleration; its old pins rarely build on current systems);
- packages only the demos/training need (gradio, streamlit, lightning, editable git installs) are dropped;
- `huggingface_hub<0.26` is added for diffusers < 0.26 (which imports `cached_download`, removed in 0.26);
- `numpy<2` is added when torch < 2.3 is pinned (those wheels are built against numpy 1);
- omegaconf/pyyaml, scipy and pillow are ensured (configs, dispersed convs, PNG output);
- a checkout without a requirements file (UltraFlux, I-Max) gets the recipe below, and HiDiffusion's
  unbounded `diffusers>=0.25.0` is pinned to 0.40.0 (0.42 no longer has a module it imports).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ultrabench.errors import UltrabenchError, UsageError

VENV_NAME = ".ultrabench-venv"
SUPPORTED = ("scalecrafter", "fouriscale", "elasticdiffusion", "ultraflux", "hiflow", "imax", "hidiffusion")
# Checkouts that ship no requirements file: what their imports need (with why, for the notes).
RECIPES: dict[str, tuple[list[str], str]] = {
    # ultraflux/*.py import diffusers' attention_dispatch and AttentionModuleMixin (0.35+), and sqlalchemy.
    "ultraflux": (["torch", "diffusers>=0.35", "transformers", "accelerate", "sentencepiece", "protobuf",
                   "safetensors", "sqlalchemy"], "no requirements file; recipe from the imports of ultraflux/"),
    # The copy of FluxPipeline follows the 0.30 API (vae_scale_factor = 2 ** len(block_out_channels));
    # 0.30.3 was the current release at the checkout's last commit (2024-10-16). Not verified by a run.
    "imax": (["torch<2.6", "diffusers==0.30.3", "transformers<4.47", "accelerate", "sentencepiece", "protobuf",
              "PyWavelets"], "no requirements file; diffusers of the checkout's date (2024-10-16)"),
}
# Pins replaced after reading the checkout's own list: name -> (requirement, why).
PIN_OVERRIDES: dict[str, dict[str, tuple[str, str]]] = {
    "hidiffusion": {"diffusers": ("diffusers==0.40.0", "hidiffusion 0.1.10 imports diffusers.pipelines.controlnet."
                                  "multicontrolnet, gone in 0.42; 0.40.0 imports and runs it")},
}
# Only the text-to-image path is run; these are for demos, apps or training.
DROP = {"xformers", "gradio", "streamlit", "pytorch-lightning", "pudb", "albumentations", "opencv-python",
        "imageio", "imageio-ffmpeg", "kornia", "clean-fid", "matplotlib"}
# ElasticDiffusion's conda file pins pytorch=1.11 / python 3.8 through conda; under pip we keep torch 2.x
# below 2.2, the newest line that diffusers 0.21.4 was released against.
CONDA_TORCH = {"elasticdiffusion": ["torch<2.2", "torchvision<0.17"]}
EXTRA = ["omegaconf", "pyyaml", "scipy", "pillow", "tqdm"]


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _name(req: str) -> str:
    return re.split(r"[<>=~!;\[ ]", req.strip(), maxsplit=1)[0].strip().lower()


def read_pins(repo: Path, method: str) -> list[str]:
    """The pip requirements the checkout declares (unmodified)."""
    req = repo / "requirements.txt"
    env = repo / "environment.yaml"
    if req.is_file():
        lines = req.read_text().splitlines()
        return [l.split("#")[0].strip() for l in lines if l.split("#")[0].strip()]
    if env.is_file():
        pins, in_pip = [], False
        for line in env.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("- pip:"):
                in_pip = True
                continue
            if in_pip:
                if stripped.startswith("- "):
                    pins.append(stripped[2:].strip())
                elif stripped and not line.startswith((" ", "\t")):
                    in_pip = False
        return pins
    raise UsageError(f"{repo}: neither requirements.txt nor environment.yaml; is this the {method} checkout?")


def adjusted_pins(repo: Path, method: str) -> tuple[list[str], list[str]]:
    """(requirements to install, notes on every change made to the checkout's own list)."""
    notes: list[str] = []
    if method in RECIPES and not (repo / "requirements.txt").is_file() and not (repo / "environment.yaml").is_file():
        pins, why = RECIPES[method]
        notes.append(f"recipe: {why}")
    else:
        pins = read_pins(repo, method)
    out, seen = [], set()
    overrides = PIN_OVERRIDES.get(method, {})
    for p in pins:
        name = _name(p)
        if p.startswith(("-e", "git+", "http")) or name in DROP:
            notes.append(f"dropped {p}")
            continue
        if name in overrides and p != overrides[name][0]:
            notes.append(f"replaced {p} by {overrides[name][0]} ({overrides[name][1]})")
            p = overrides[name][0]
        if name in seen:  # FouriScale lists accelerate twice (==0.16.0 and ~=0.16.0)
            notes.append(f"dropped duplicate {p}")
            continue
        seen.add(name)
        out.append(p)
    if "torch" not in seen and method in CONDA_TORCH:
        out += CONDA_TORCH[method]
        notes.append(f"added {' '.join(CONDA_TORCH[method])} (torch is pinned through conda upstream)")
        seen.update({"torch", "torchvision"})
    diff = next((p for p in out if _name(p) == "diffusers"), "")
    m = re.search(r"(\d+)\.(\d+)", diff)
    if m and (int(m.group(1)), int(m.group(2))) < (0, 26) and "huggingface_hub" not in seen:
        out.append("huggingface_hub<0.26")
        notes.append("added huggingface_hub<0.26 (old diffusers imports cached_download)")
    torch_pin = next((p for p in out if _name(p) == "torch"), "")
    m = re.search(r"(\d+)\.(\d+)", torch_pin)
    if m and (int(m.group(1)), int(m.group(2))) < (2, 3) and "numpy" not in seen:
        out.append("numpy<2")
        notes.append("added numpy<2 (torch < 2.3 wheels need numpy 1)")
    for e in EXTRA:
        if e not in seen:
            out.append(e)
            notes.append(f"added {e}")
    return out, notes


def create_env(method: str, repo: str | Path, *, python: str | None = None, dry_run: bool = False,
               venv: str | Path | None = None):
    """Build `<repo>/.ultrabench-venv` with the checkout's pins; return its folder.

    With `dry_run=True` nothing is written or run: the planned commands are returned (a list of argv
    lists; the requirements appear as `pip install` arguments).
    """
    if method not in SUPPORTED:
        raise UsageError(f"no environment recipe for {method!r}; one of {', '.join(SUPPORTED)}")
    repo = Path(repo).expanduser().resolve()
    if not repo.is_dir():
        raise UsageError(f"--repo {repo} is not a folder")
    target = Path(venv).expanduser() if venv else repo / VENV_NAME
    py = python or sys.executable
    reqs, notes = adjusted_pins(repo, method)
    vpy = str(venv_python(target))
    cmds = [
        [py, "-m", "venv", str(target)],
        [vpy, "-m", "pip", "install", "--upgrade", "pip"],
        [vpy, "-m", "pip", "install", *reqs],
    ]
    if dry_run:
        return cmds
    if python is None and sys.version_info >= (3, 12) and any(_name(r) == "torch" and "2.0" in r for r in reqs):
        raise UsageError("the pinned torch 2.0 has no wheels for this Python; pass --python /path/to/python3.11")
    for cmd in cmds:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise UltrabenchError(f"env create {method}: `{' '.join(cmd[:6])} ...` failed: {tail}")
    (target / "ultrabench-requirements.txt").write_text("\n".join(reqs) + "\n# " + "\n# ".join(notes) + "\n")
    return target
