"""Helpers shared by the in-process adapters. Importing this module must not import torch."""

from __future__ import annotations

import ast
import functools
import importlib.util
import random
from pathlib import Path
from typing import Any, Mapping, Sequence

from ultrabench.errors import UsageError
from ultrabench.resolution import Resolution

# SDXL's default pipeline VAE scale and the side of its 1 MP training resolution.
SDXL_BASE = 1024

RESAMPLE_FILTERS = ("lanczos", "bicubic", "bilinear", "nearest")


@functools.lru_cache(maxsize=None)
def diffusers_table(module: str, name: str) -> dict[str, tuple[int, int]]:
    """A literal `{ratio: [h, w]}` table read from the installed diffusers source, without importing it.

    Importing diffusers pulls in torch (seconds), and `plan()` must stay instant; reading the literal
    keeps the installed diffusers the single source of truth for its aspect-ratio buckets.
    """
    spec = importlib.util.find_spec("diffusers")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("diffusers is not installed; it is needed for this method's size table")
    path = Path(list(spec.submodule_search_locations)[0]) / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            table = ast.literal_eval(node.value)
            return {str(k): (int(v[0]), int(v[1])) for k, v in table.items()}
    raise UsageError(f"{name} not found in {path}; this diffusers version is not supported")


def aspect_bins(name: str) -> dict[str, tuple[int, int]]:
    """diffusers' aspect-ratio buckets: '512', '1024' (~1 MP, also SDXL's training buckets), '2048' (~4 MP,
    PixArt-Sigma 2K and Sana 2K) or '4096' (~16 MP, Sana 4K)."""
    if name == "1024":
        return diffusers_table("pipelines.pixart_alpha.pipeline_pixart_alpha", "ASPECT_RATIO_1024_BIN")
    if name == "2048":
        return diffusers_table("pipelines.pixart_alpha.pipeline_pixart_sigma", "ASPECT_RATIO_2048_BIN")
    if name == "512":
        return diffusers_table("pipelines.pixart_alpha.pipeline_pixart_alpha", "ASPECT_RATIO_512_BIN")
    if name == "4096":  # Sana's 4K buckets
        return diffusers_table("pipelines.sana.pipeline_sana", "ASPECT_RATIO_4096_BIN")
    raise UsageError(f"unknown aspect-ratio bin table {name!r} (4096, 2048, 1024, 512)")


def nearest_bin(res: Resolution, bins: Mapping[str, Sequence[int]]) -> Resolution:
    """diffusers' `classify_height_width_bin` rule: the bucket whose h/w ratio key is closest."""
    ar = res.height / res.width
    key = min(bins, key=lambda r: abs(float(r) - ar))
    h, w = bins[key]
    return Resolution(int(h), int(w))


def torch_dtype(name: str):
    import torch

    table = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if name not in table:
        raise UsageError(f"unknown dtype {name!r}; use float32, float16 or bfloat16")
    return table[name]


def seed_unit(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's `random` for one unit."""
    from ultrabench.seeding import seed_everything

    seed_everything(int(seed))
    random.seed(int(seed))
    import torch

    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(int(seed))


def resize_exact(image, res: Resolution, filt: str = "lanczos"):
    """Resize a PIL image to exactly `res` (no crop: a whole-frame resample)."""
    from PIL import Image

    if (image.height, image.width) == (res.height, res.width):
        return image
    if filt not in RESAMPLE_FILTERS:
        raise UsageError(f"unknown resize filter {filt!r}; one of {', '.join(RESAMPLE_FILTERS)}")
    flag = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC,
            "bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST}[filt]
    return image.resize((res.width, res.height), flag)


def model_location(method, value: str, role: str, allow_patterns: tuple[str, ...] = ()):
    """(WeightFile or None, local path or None) for a `model`-like setting: a folder or a hub id."""
    from ultrabench.weights import WeightFile

    p = Path(str(value)).expanduser()
    if p.is_dir():
        return None, p
    return WeightFile(str(value), None, role, allow_patterns=allow_patterns), None


def resolve_model(method, value: str, role: str) -> Path:
    wf, local = model_location(method, value, role)
    return local if local is not None else Path(method.weights.resolve(wf))


def check_choice(method_name: str, key: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise UsageError(
            f"method {method_name!r}: setting {key}={value!r} is not one of {', '.join(map(str, choices))}"
        )


def library_versions() -> dict[str, str]:
    """Versions that change pixels, recorded per unit."""
    out: dict[str, str] = {}
    for mod in ("torch", "diffusers", "transformers", "spandrel"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except ImportError:
            pass
    return out


def peak_cuda_bytes(device: str) -> int | None:
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated(device))
    return None


def plan_or_refuse(method, res: Resolution):
    """`method.plan(res)`, or a UsageError when it cannot make `res` (generate() is never asked to, but say why)."""
    plan = method.plan(res)
    if plan.native is None:
        raise UsageError(f"{method.name} cannot generate {res.key}: {plan.reason}")
    return plan


def snap_to_multiple(res: Resolution, multiple: int) -> Resolution:
    """Each side rounded to the nearest multiple of `multiple` (at least one multiple)."""
    def snap(side: int) -> int:
        return max(multiple, int(round(side / multiple)) * multiple)

    return Resolution(snap(res.height), snap(res.width))


def fit_area(res: Resolution, max_pixels: int, multiple: int) -> Resolution:
    """The request itself when it fits in `max_pixels` and both sides are multiples of `multiple`; else
    the largest size of (about) the same aspect ratio that does, sides floored to `multiple`."""
    if res.height * res.width <= max_pixels and not res.height % multiple and not res.width % multiple:
        return res
    scale = min(1.0, (max_pixels / (res.height * res.width)) ** 0.5)
    h = max(multiple, int(res.height * scale) // multiple * multiple)
    w = max(multiple, int(res.width * scale) // multiple * multiple)
    return Resolution(h, w)

