"""Run the official HPSv2 scoring path on our HPS v2.1 stand-in and record what it gives.

    PYTHONPATH=. python tests/reference/hpsv2_reference.py /path/to/HPSv2-checkout [--write]

The official path, as `hpsv2/img_score.py` and `hpsv2/evaluation.py` run it: the checkout's own
open_clip copy, `create_model_and_transforms(..., precision='amp', light_augmentation=True,
output_dict=True)` (here with the stand-in's reduced config registered under a new name, the same
CLIP class and code path as ViT-H-14), `model.load_state_dict(checkpoint['state_dict'])`,
`get_tokenizer('ViT-H-14')`, `preprocess_val(PIL image)`, and 100 * diag(image_features @
text_features.T) (the benchmark scale). It also records the state-dict layout of the checkout's
ViT-H-14 CLIP (built on the meta device): what HPS_v2.1_compressed.pt's "state_dict" holds.
`hpsv2/__init__.py` is skipped: it imports download helpers (clint, requests) that scoring does not use. Nothing from the checkout is copied into ultrabench.
With --write the scores go to tests/golden/extractors/hpsv2.json for the golden test.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases  # noqa: E402

STANDIN_NAME = "ultrabench-standin-tiny"


def import_official(checkout: Path):
    checkout = checkout.resolve()
    sys.path.insert(0, str(checkout))
    for name, sub in (("hpsv2", "hpsv2"), ("hpsv2.src", "hpsv2/src")):
        m = types.ModuleType(name)
        m.__path__ = [str(checkout / sub)]
        sys.modules[name] = m
    return importlib.import_module("hpsv2.src.open_clip"), importlib.import_module("hpsv2.src.open_clip.factory")


def reference_scores(checkout: Path, standin: Path, arch: dict) -> dict:
    import torch

    oc, factory = import_official(checkout)
    factory._MODEL_CONFIGS[STANDIN_NAME] = arch
    model, _, preprocess_val = oc.create_model_and_transforms(
        STANDIN_NAME, None, precision="amp", device="cpu", jit=False, force_quick_gelu=False,
        force_custom_text=False, force_patch_dropout=False, force_image_size=None, pretrained_image=False,
        image_mean=None, image_std=None, light_augmentation=True, aug_cfg={}, output_dict=True,
        with_score_predictor=False, with_region_predictor=False)
    checkpoint = torch.load(standin, map_location="cpu")
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    tokenizer = oc.get_tokenizer("ViT-H-14")
    images = torch.stack([preprocess_val(im) for im in cases.images()])
    text = tokenizer(cases.PROMPTS)
    with torch.no_grad():
        out = model(images, text)
        scores = torch.diagonal(out["image_features"] @ out["text_features"].T * 100)
    with torch.device("meta"):
        full = factory.create_model("ViT-H-14", None, precision="fp32", device="meta", output_dict=True)
    return {"scores": scores.tolist(), "pixels": images.numpy(), "tokens": text.tolist(),
            "full_layout": {k: list(v.shape) for k, v in full.state_dict().items()}}


def main(argv=None) -> int:
    import numpy as np
    import torch
    import torchvision

    from ultrabench.metrics.extractors import hpsv2
    from ultrabench.scoring.views import longest_side_pad

    a = cases.harness_args(argv)
    with tempfile.TemporaryDirectory() as d:
        standin = hpsv2.standin_file(Path(d))
        ref = reference_scores(a.checkout, standin, hpsv2.STANDIN_ARCH)
        ours = hpsv2.HPSv2Extractor.standin(Path(d))
        views = [longest_side_pad(im) for im in cases.images()]
        mine = ours.score(ours.image_features(views), ours.text_features(cases.PROMPTS))
        pix = ours.preprocess(views).numpy()
    rel = np.abs(mine - np.array(ref["scores"])) / np.abs(ref["scores"])
    print(f"reference {ref['scores']}\nours      {mine.tolist()}\nmax rel diff {rel.max():.2e}; "
          f"max pixel diff after normalisation {np.abs(pix - ref['pixels']).max():.2e}")
    tok = ours.tokenizer(cases.PROMPTS).tolist()
    print("tokens equal:", tok == ref["tokens"])
    if a.write:
        cases.record("hpsv2", a.checkout, "tgxs002/HPSv2",
                     "tests/reference/hpsv2_reference.py: the official HPSv2 scoring path on the stand-in",
                     torch=torch.__version__, torchvision=torchvision.__version__, scores=ref["scores"],
                     full_layout=ref["full_layout"])
    return 0 if rel.max() < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
