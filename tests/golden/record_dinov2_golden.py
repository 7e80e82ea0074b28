"""Record tests/golden/dinov2_torch_fidelity.json from torch-fidelity's DINOv2 feature extractor.

    PYTHONPATH=. python tests/golden/record_dinov2_golden.py /path/to/dinov2-checkout [its commit]

torch-fidelity builds its model with `torch.hub.load("facebookresearch/dinov2", "dinov2_vitl14")`.
Here that call is answered by the checkout's own `DinoVisionTransformer`, built with the arguments
of the hub's `_make_dinov2_model` at the reduced size of ultrabench's stand-in, and loaded strictly
with `golden_state_dict()` from tests/test_extractor_dinov2.py. Everything after that (dtype, resize,
normalisation, forward) is torch-fidelity's `FeatureExtractorDinoV2.forward`, unchanged. The
checkout is only read, never copied into this repository.
"""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch


def hub_model(checkout: str, state_dict: dict, embed_dim=64, depth=2, heads=2):
    os.environ["XFORMERS_DISABLED"] = "1"
    if checkout not in sys.path:
        sys.path.insert(0, checkout)
    from dinov2.layers import MemEffAttention
    from dinov2.models import vision_transformer as vits

    m = vits.DinoVisionTransformer(img_size=518, patch_size=14, embed_dim=embed_dim, depth=depth, num_heads=heads,
                                   mlp_ratio=4, block_fn=partial(vits.Block, attn_class=MemEffAttention),
                                   init_values=1.0, ffn_layer="mlp", block_chunks=0, num_register_tokens=0,
                                   interpolate_antialias=False, interpolate_offset=0.1)
    m.load_state_dict(state_dict, strict=True)
    return m.eval()


def torch_fidelity_features(checkout: str, state_dict: dict, images: np.ndarray) -> np.ndarray:
    """images: (N, H, W, 3) uint8 -> torch-fidelity's 'dinov2' features (N, D) as float64."""
    import torch_fidelity.feature_extractor_dinov2 as fx

    model = hub_model(checkout, state_dict)
    real_load = torch.hub.load
    torch.hub.load = lambda *a, **k: model
    try:
        ext = fx.FeatureExtractorDinoV2("dinov2-vit-l-14", ["dinov2"])
    finally:
        torch.hub.load = real_load
    with torch.no_grad():
        (feats,) = ext(torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2))
    return feats.double().numpy()


def main(checkout: str, commit: str = "") -> None:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent))
    import test_extractor_dinov2 as t
    import torch_fidelity

    seed = 1234
    feats = torch_fidelity_features(checkout, t.golden_state_dict(seed), t.golden_images())
    head = commit or os.popen(f"git -C {checkout} rev-parse HEAD 2>/dev/null").read().strip() or "unknown"
    out = {"source": "torch_fidelity.feature_extractor_dinov2.FeatureExtractorDinoV2.forward",
           "torch_fidelity": torch_fidelity.__version__, "dinov2_commit": head, "torch": torch.__version__,
           "seed": seed, "features": feats.round(8).tolist()}
    (here / "dinov2_torch_fidelity.json").write_text(json.dumps(out) + "\n")
    print(f"wrote {feats.shape} features")


if __name__ == "__main__":
    main(*sys.argv[1:3])
