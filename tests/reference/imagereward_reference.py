"""Run the official ImageReward scorer on our ImageReward stand-in and record what it gives.

The official code needs the old pins (transformers 4.27, timm 0.6.13, fairscale 0.4.13) that
ultrabench's own environment cannot hold, so this runs in three steps:

    PYTHONPATH=. python tests/reference/imagereward_reference.py prepare DIR            # ultrabench's venv
    REFPY tests/reference/imagereward_reference.py run /path/to/ImageReward-checkout DIR  # the old-pins venv
    PYTHONPATH=. python tests/reference/imagereward_reference.py compare DIR [--write]   # ultrabench's venv

or all three at once with `... imagereward_reference.py CHECKOUT` when IMAGEREWARD_REFERENCE_PYTHON
names the old-pins interpreter (the live parity test does this). A venv that works: python3.11 -m
venv; a .pth file pointing at ultrabench's site-packages (for torch, numpy, PIL); then
`pip install --no-deps timm==0.6.13 transformers==4.27.4 tokenizers==0.13.3 huggingface_hub==0.16.4
wheel` and `pip install --no-deps --no-build-isolation fairscale==0.4.13`.

`run` builds the official `ImageReward(med_config=...)` (`ImageReward/ImageReward.py`, BLIP from
`models/BLIP/`) with three substitutions that keep its code path: `create_vit` returns the same
`VisionTransformer` class at the stand-in's width and depth; the 'bert-base-uncased' tokenizer is
read from the stand-in's vocab.txt (BLIP's [DEC]/[ENC] tokens are then added by its own
`init_tokenizer`); the head is the official `MLP` class at the stand-in's text width (the reference
hard-codes 768). It loads ImageReward.pt as `ImageReward.load` does (strict=False, keys reported) and
scores each (prompt, PIL image) pair with `model.score`. It also records the official model's
state-dict layout at the stand-in's size and at full size (about 2 GB of memory) with the
repository's med_config.json: what ImageReward.pt holds. Package `__init__`s (ReFL training,
diffusers, OpenAI clip) are skipped. Nothing from the checkout is copied into ultrabench.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases  # noqa: E402

STANDIN_SUBDIR = "standin-imagereward-tiny-seed0"


def _import_official(checkout: Path):
    root = checkout.resolve()
    sys.path.insert(0, str(root))
    sys.modules.setdefault("clip", types.ModuleType("clip"))  # only the CLIP/Aesthetic baselines use it
    for name, sub in (("ImageReward", "ImageReward"), ("ImageReward.models", "ImageReward/models")):
        m = types.ModuleType(name)
        m.__path__ = [str(root / sub)]
        sys.modules[name] = m
    ir = importlib.import_module("ImageReward.ImageReward")
    return ir, importlib.import_module("ImageReward.models.BLIP.blip_pretrain"), \
        importlib.import_module("ImageReward.models.BLIP.blip"), importlib.import_module("ImageReward.models.BLIP.vit")


def run(checkout: Path, work: Path) -> Path:
    """(old-pins venv) The official scorer on the stand-in; writes work/reference.json."""
    import torch
    from transformers import BertTokenizer

    ir, bp, blip, vit = _import_official(checkout)
    d = work / STANDIN_SUBDIR
    med = json.loads((d / "med_config.json").read_text())
    vision = json.loads((work / "standin_vision.json").read_text())
    blip.BertTokenizer = types.SimpleNamespace(from_pretrained=lambda name: BertTokenizer.from_pretrained(str(d)))
    real_create_vit = bp.create_vit

    def small_vit(kind, image_size, *args):
        assert kind == "large" and image_size == 224
        return vit.VisionTransformer(img_size=image_size, patch_size=vision["patch_size"],
                                     embed_dim=vision["hidden_size"], depth=vision["num_hidden_layers"],
                                     num_heads=vision["num_attention_heads"], use_grad_checkpointing=False,
                                     ckpt_layer=0, drop_path_rate=0.1), vision["hidden_size"]

    bp.create_vit = small_vit
    model = ir.ImageReward(med_config=str(d / "med_config.json"), device="cpu")
    model.mlp = ir.MLP(med["hidden_size"])
    msg = model.load_state_dict(torch.load(d / "ImageReward.pt", map_location="cpu"), strict=False)
    model.eval()
    out = {"missing_keys": msg.missing_keys, "unexpected_keys": msg.unexpected_keys,
           "standin_layout": {k: list(v.shape) for k, v in model.state_dict().items()}}
    with torch.no_grad():
        out["rewards"] = [model.score(p, im) for p, im in zip(cases.PROMPTS, cases.images())]
        toks = [model.blip.visual_encoder(model.preprocess(im).unsqueeze(0))[0] for im in cases.images()]
    out["vision_tokens_head"] = [t[:3, :8].tolist() for t in toks]
    out["vision_tokens_mean"] = [t.mean(0).tolist() for t in toks]
    out["token_ids"] = [model.blip.tokenizer(p, padding="max_length", truncation=True, max_length=35)["input_ids"]
                        for p in cases.PROMPTS]
    bp.create_vit = real_create_vit
    # on the CPU: the official ViT's drop-path schedule calls .item(), which the meta device refuses
    full = ir.ImageReward(med_config=str(checkout / "train" / "src" / "config" / "med_config.json"), device="cpu")
    out["full_layout"] = {k: list(v.shape) for k, v in full.state_dict().items()}
    out["full_med_config"] = json.loads((checkout / "train" / "src" / "config" / "med_config.json").read_text())
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    import timm
    import transformers

    out["reference"] = (f"THUDM/ImageReward @ {commit.stdout.strip() or 'unknown'} with transformers "
                        f"{transformers.__version__}, timm {timm.__version__}, torch {torch.__version__}")
    p = work / "reference.json"
    p.write_text(json.dumps(out))
    return p


def prepare(work: Path) -> None:
    from ultrabench.metrics.extractors import imagereward as ir

    ir.standin_files(work)
    (work / "standin_vision.json").write_text(json.dumps(ir.STANDIN_VISION))


def compare(work: Path, write: bool = False) -> int:
    import numpy as np

    from ultrabench.metrics.extractors import imagereward as ir
    from ultrabench.scoring.decode import resize_short_side

    ref = json.loads((work / "reference.json").read_text())
    ours = ir.ImageRewardScorer.standin(work)
    feats = ours.image_features([resize_short_side(im) for im in cases.images()])
    txt = ours.text_features(cases.PROMPTS)
    rewards = ours.score(feats, txt)
    rel = np.abs(rewards - ref["rewards"]) / np.abs(ref["rewards"])
    tok = np.abs(feats[:, :3, :8] - np.array(ref["vision_tokens_head"])).max()
    print(f"reference rewards {ref['rewards']}\nours              {rewards.tolist()}\nmax rel diff {rel.max():.2e}; "
          f"vision tokens max abs diff {tok:.2e}; reference load: {len(ref['missing_keys'])} missing, "
          f"{len(ref['unexpected_keys'])} unexpected keys; token ids equal: {txt[:, 0].tolist() == ref['token_ids']}")
    ok = rel.max() < 1e-4 and tok < 1e-4 and not ref["missing_keys"] and not ref["unexpected_keys"] \
        and txt[:, 0].tolist() == ref["token_ids"]
    if write:
        print("wrote", cases.write_golden("imagereward", {
            "produced_by": "tests/reference/imagereward_reference.py: the official ImageReward scorer on the stand-in",
            "reference": ref["reference"], **{k: ref[k] for k in (
                "rewards", "token_ids", "vision_tokens_head", "vision_tokens_mean", "standin_layout",
                "full_layout", "full_med_config")}}))
    return 0 if ok else 1


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["prepare"]:
        return prepare(Path(argv[1])) or 0
    if argv[:1] == ["run"]:
        print("wrote", run(Path(argv[1]), Path(argv[2])))
        return 0
    if argv[:1] == ["compare"]:
        return compare(Path(argv[1]), "--write" in argv)
    refpy = os.environ.get("IMAGEREWARD_REFERENCE_PYTHON")
    if not refpy:
        raise SystemExit("set IMAGEREWARD_REFERENCE_PYTHON to a python with ImageReward's old pins (see the docstring)")
    with tempfile.TemporaryDirectory() as d:
        prepare(Path(d))
        subprocess.run([refpy, __file__, "run", str(Path(argv[0]).resolve()), d], check=True)
        return compare(Path(d), "--write" in argv)


if __name__ == "__main__":
    raise SystemExit(main())
