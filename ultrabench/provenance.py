"""What produced a result: package versions, git commit, Python/torch/CUDA, GPU, host."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "ultrabench", "torch", "torchvision", "diffusers", "transformers", "accelerate", "numpy", "pillow",
    "open_clip_torch", "clean-fid", "torchmetrics", "torch-fidelity", "spandrel", "safetensors", "scipy",
)


def package_versions(names=PACKAGES) -> dict[str, str | None]:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def git_commit(path: Path | None = None) -> str | None:
    root = path or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (sha + ("-dirty" if dirty else "")) if sha else None


def torch_info(device: str | None = None) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
    }
    if torch.cuda.is_available():
        idx = torch.device(device).index if device and str(device).startswith("cuda:") else 0
        props = torch.cuda.get_device_properties(idx or 0)
        info.update(gpu=props.name, gpu_memory_bytes=int(props.total_memory), gpu_count=torch.cuda.device_count())
    else:
        info.update(gpu=None)
    return info


def collect(device: str | None = None) -> dict[str, Any]:
    return {
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu_count": __import__("os").cpu_count(),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "torch": torch_info(device),
    }
