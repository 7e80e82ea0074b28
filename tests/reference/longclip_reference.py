"""Run the official Long-CLIP model code on our Long-CLIP stand-in and record its CLIP scores.

    PYTHONPATH=. python tests/reference/longclip_reference.py /path/to/Long-CLIP-checkout [--write]

The official path, as `demo.py` runs it: `longclip.load(checkpoint, device='cpu')` (its
`build_model(state_dict, load_from_clip=False)`: float16 conversion, strict load, `.float()` on the
CPU), its `_transform(224)` on PIL images, `longclip.tokenize(prompts, truncate=True)`, then
`encode_image` / `encode_text`, and the CLIP score 100 * max(cos, 0) on top. It also records the
state-dict layout of the official CLIP class at LongCLIP-L's size (built on the meta device): what
longclip-L.pt holds. The package imports
`pkg_resources` only for a torch version check; it is given `packaging` when setuptools no longer
ships it. Nothing from the checkout is copied into ultrabench. With --write the scores go to
tests/golden/extractors/longclip.json for the golden test.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases  # noqa: E402


def import_official(checkout: Path):
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import packaging.version

        shim = types.ModuleType("pkg_resources")
        shim.packaging = packaging
        sys.modules["pkg_resources"] = shim
    sys.path.insert(0, str(checkout.resolve()))
    return importlib.import_module("model.longclip")


def reference_scores(checkout: Path, standin: Path) -> dict:
    import torch

    longclip = import_official(checkout)
    model, preprocess = longclip.load(str(standin), device="cpu")
    images = torch.stack([preprocess(im) for im in cases.images()])
    tokens = longclip.tokenize(cases.PROMPTS, truncate=True)
    with torch.no_grad():
        fi = torch.nn.functional.normalize(model.encode_image(images).float(), dim=-1)
        ft = torch.nn.functional.normalize(model.encode_text(tokens).float(), dim=-1)
    scores = 100 * torch.clamp((fi * ft).sum(-1), min=0)
    model_code = sys.modules["model.model_longclip"]
    with torch.device("meta"):  # LongCLIP-L: ViT-L/14 at 224, text width 768, 12 layers, 248 positions
        full = model_code.CLIP(768, 224, 24, 1024, 14, 248, 49408, 768, 12, 12, load_from_clip=False)
    return {"scores": scores.tolist(), "cos": (fi * ft).sum(-1).tolist(), "tokens": tokens.tolist(),
            "full_layout": {k: list(v.shape) for k, v in full.state_dict().items()}}


def main(argv=None) -> int:
    import numpy as np
    import torch

    from ultrabench.metrics.extractors.longclip import LongClipScorer, standin_file
    from ultrabench.scoring.decode import resize_short_side

    a = cases.harness_args(argv)
    with tempfile.TemporaryDirectory() as d:
        ref = reference_scores(a.checkout, standin_file(Path(d)))
        ours = LongClipScorer.standin(Path(d))
        ie = ours.image_features([resize_short_side(im) for im in cases.images()])
        te = ours.text_features(cases.PROMPTS)
    cos = (ie * te).sum(1)
    rel = np.abs(cos - np.array(ref["cos"])) / np.abs(ref["cos"])
    print(f"reference cos {ref['cos']}\nours      cos {cos.tolist()}\nmax rel diff {rel.max():.2e}")
    print("tokens equal:", ours.tokenizer(cases.PROMPTS).tolist() == ref["tokens"])
    if a.write:
        cases.record("longclip", a.checkout, "beichenzbc/Long-CLIP",
                     "tests/reference/longclip_reference.py: the official Long-CLIP model code on the stand-in",
                     torch=torch.__version__, cos=ref["cos"], scores=ref["scores"], full_layout=ref["full_layout"])
    return 0 if rel.max() < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
