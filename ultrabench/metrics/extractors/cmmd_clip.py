"""CLIP ViT-L/14-336 (OpenAI weights) image embeddings for CMMD, through open_clip.

The original google-research/cmmd code reads each file with PIL, cuts the largest centred square,
resizes it to 336x336 with PIL bicubic (`ultrabench.scoring.views.centre_square`), divides by 255, applies
`jax.image.resize(..., 'bicubic')` (antialiased by default; on a 336x336 array an exact identity),
normalises with the OpenAI CLIP mean/std and embeds with scenic's port of OpenAI's
ViT-L/14@336px, whose `encode_image` L2-normalises. Here: the same view, the same mean/std and
normalisation, open_clip's `ViT-L-14-336` with QuickGELU and the OpenAI weights (the same
weights, from the hub file open_clip publishes).

The antialiasing question (sayakpaul/cmmd-pytorch#4): ports that call
`torch.nn.functional.interpolate(..., mode='bicubic')` without antialias differ from the original
only for arrays that are not already 336x336 when they reach `embed`; on the directory path of
both the original and that port, files are cut and resized with PIL first, after which either
second resize is an identity, and this view reproduces that PIL resize pixel for pixel. For inputs of other
sizes (the 299 native crops of CMMD-patch, upscaled) the PIL resize is applied here too; where the
original's JAX resize would run instead, tests/test_cmmd.py measures how far PIL bicubic is from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ultrabench.metrics.extractors._common import OPENAI_MEAN, OPENAI_STD, path_sha256
from ultrabench.metrics.extractors.clip import ClipScorer
from ultrabench.scoring.views import centre_square

CMMD_SIZE = 336

VIEW = ("centre-square", {"size": CMMD_SIZE})
MODEL = ("ViT-L-14-336", "openai")
HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
# measured by tests/test_cmmd.py::test_pil_view_against_the_originals_jax_resize (which checks these figures)
RESIZE_NOTE = ("identical to the original's file path (PIL centre square + PIL bicubic 336, uint8); "
               "the original's jax.image.resize(bicubic, antialias) step is an identity on 336x336 "
               "(max diff 0.0). Where JAX would resize instead (1024->336 synthetic test image, 0-255 "
               "scale): PIL bicubic in float is the same filter (max diff {jax_vs_pil_float}); the uint8 "
               "PIL view differs by at most {jax_vs_pil} (mean {jax_vs_pil_mean}), from clipping JAX's "
               "overshoot to [0, 255] and rounding; torch bicubic without antialias (the common ports) "
               "differs by {jax_vs_torch} (mean {jax_vs_torch_mean})")
MEASURED = {"jax_vs_pil_float": "0.00", "jax_vs_pil": "3.75", "jax_vs_pil_mean": "0.23",
            "jax_vs_torch": "77.08", "jax_vs_torch_mean": "9.38"}  # jax 0.10.2, Pillow 13.0, torch 2.14


def build_standin_clip336(seed: int = 0):
    """A small open_clip CLIP at the real input size (336) with QuickGELU, as the OpenAI weights use."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(seed)
    return CLIP(embed_dim=48, quick_gelu=True,
                vision_cfg=CLIPVisionCfg(layers=2, width=64, head_width=32, patch_size=48, image_size=CMMD_SIZE),
                text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)).eval()


def standin_clip336_file(cache_dir: Path, seed: int = 0) -> Path:
    """Written like open_clip's hub file: a safetensors state dict of the whole CLIP."""
    p = Path(cache_dir) / f"standin-open-clip-vit-tiny-336-seed{seed}.safetensors"
    if not p.is_file():
        import os

        from safetensors.torch import save_file

        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + f".tmp{os.getpid()}")
        save_file({k: v.contiguous() for k, v in build_standin_clip336(seed).state_dict().items()}, str(tmp))
        os.replace(tmp, p)
    return p


class CmmdClipExtractor:
    """Wraps the ClipScorer that embeds 336x336 views (its centre crop is then the identity)."""

    def __init__(self, scorer: ClipScorer):
        if scorer.image_size != CMMD_SIZE:
            raise ValueError(f"CMMD embeds {CMMD_SIZE}x{CMMD_SIZE} inputs; this CLIP takes {scorer.image_size}")
        self.scorer = scorer
        self.device = scorer.device
        self.weights_sha256 = scorer.weights_sha256
        self.random_weights = scorer.random_weights
        self.id = f"cmmd-clip:{scorer.model_id[0]}/{scorer.model_id[1]}"

    @property
    def calls(self) -> int:
        return self.scorer.calls

    @classmethod
    def from_files(cls, path: str | Path, device="cpu"):
        return cls(ClipScorer.from_pretrained(MODEL[0], path, device, tag=MODEL[1]))

    @classmethod
    def standin(cls, cache_dir: Path, device="cpu"):
        from open_clip.factory import load_checkpoint

        p = standin_clip336_file(cache_dir)
        model = build_standin_clip336(seed=1)  # other initial weights: the file must replace all of them
        load_checkpoint(model, str(p), strict=True)
        return cls(ClipScorer(model, None, device, ("standin-vit-tiny-336", "random"), path_sha256(p),
                              random_weights=True, mean=OPENAI_MEAN, std=OPENAI_STD, image_size=CMMD_SIZE))

    def info(self) -> dict:
        return {"id": self.id, "weights_sha256": self.weights_sha256, "random_weights": self.random_weights,
                "input": "largest centred square (floor offsets), PIL bicubic to 336x336 (uint8), /255, OpenAI "
                         "mean/std; other view sizes (299 native crops) get the same PIL resize",
                "resize_vs_original": RESIZE_NOTE.format(**MEASURED),
                "features": "L2-normalised image embedding (768 for ViT-L/14-336), float64"}

    def image_features(self, views: list[np.ndarray]) -> np.ndarray:
        rows = []
        for v in views:
            if v.dtype != np.uint8 or v.ndim != 3 or v.shape[2] != 3:
                raise ValueError(f"CMMD views are uint8 (H, W, 3) arrays, got {v.dtype} {v.shape}")
            rows.append(v if v.shape[:2] == (CMMD_SIZE, CMMD_SIZE) else centre_square(v, CMMD_SIZE))
        return self.scorer.image_embeddings(rows)


def weight_files():
    from open_clip.pretrained import get_pretrained_cfg

    from ultrabench.weights import WeightFile

    hub = get_pretrained_cfg(*MODEL)["hf_hub"].rstrip("/")
    return [WeightFile(hub, fn, role="cmmd_clip", size_hint="1.7 GB") for fn in HF_FILES]


def load(resolver, device="cpu") -> CmmdClipExtractor:
    from ultrabench.metrics.extractors._resolve import resolve_first

    return CmmdClipExtractor.from_files(resolve_first(resolver, weight_files()), device)
