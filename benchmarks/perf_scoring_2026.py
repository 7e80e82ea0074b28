"""One pass with every registered metric vs decode plus the sum of the forwards, on synthetic HR PNGs.

    .venv/bin/python benchmarks/perf_scoring_2026.py --n 8 --size 4096 --out reports/perf

Every extractor is its real architecture with random weights (timing does not depend on the
values; nothing is downloaded): FID Inception-v3, CLIP ViT-L/14 (CLIP score, and the LAION aesthetic
head on its embeddings), DINOv2 ViT-L/14, CLIP ViT-L/14-336 (CMMD), open_clip ViT-H/14 (HPSv2.1),
Long-CLIP-L (ViT-L/14, 248 tokens), BLIP ViT-L + BERT-base (ImageReward) and transformers CLIP-H/14
(PickScore). Per image the one pass decodes once and runs: Inception 1 + P, DINOv2 1 + P, CMMD's
CLIP 1 + P (P native crops), and one forward of each of the others (ImageReward with its prompt).

Timed side by side in one process: ultrabench's decode alone; each network alone on prepared
inputs (batch 4, after a warm-up batch), summed with the per-image counts above; the one pass
(`run_pass`, fresh cache, 2 decode workers). Target (issue #12): pass <= 1.2 x (decode + forwards).
Writes <out>/perf_scoring_2026_n<N>_s<SIZE>.json with the machine description.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf_scoring import machine, make_images  # noqa: E402

B = 4  # the batch of the timed forwards and of the one pass
METRICS = ["fid", "fid-patch", "is", "is-patch", "kid", "clip", "aesthetic", "fd-dinov2", "fd-dinov2-patch", "cmmd",
           "cmmd-patch", "hpsv2.1", "longclip", "imagereward", "pickscore"]


def real_architectures(sdir: Path) -> dict:
    """Extractor name -> a model object of the real architecture with random weights."""
    import open_clip
    import torch
    from open_clip.tokenizer import SimpleTokenizer

    from ultrabench.metrics.extractors import imagereward as ir
    from ultrabench.metrics.extractors.aesthetic import LaionAestheticHead
    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.metrics.extractors.cmmd_clip import CmmdClipExtractor
    from ultrabench.metrics.extractors.dinov2 import DinoV2Extractor, DinoViT, VITL14
    from ultrabench.metrics.extractors.hpsv2 import ARCH, HPSv2Extractor, build_clip
    from ultrabench.metrics.extractors.inception import InceptionExtractor, random_inception_file
    from ultrabench.metrics.extractors.longclip import CONTEXT, LongClipScorer
    from ultrabench.metrics.extractors.pickscore import PickScorer, _HFTokenizer
    from ultrabench.tiny.tokenizer import build_clip_tokenizer

    torch.manual_seed(0)
    l14 = open_clip.create_model("ViT-L-14", pretrained=None)
    long = open_clip.model.CLIP(embed_dim=768, quick_gelu=True,
                                vision_cfg=open_clip.model.CLIPVisionCfg(layers=24, width=1024, patch_size=14,
                                                                        image_size=224, head_width=64),
                                text_cfg=open_clip.model.CLIPTextCfg(context_length=CONTEXT, vocab_size=49408,
                                                                    width=768, heads=12, layers=12))
    med = {**ir.STANDIN_MED, "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
           "num_hidden_layers": 12, "max_position_embeddings": 512, "encoder_width": 1024, "vocab_size": 30524}
    vocab = ir.standin_files(sdir)["vocab"]
    from transformers import CLIPConfig, CLIPModel

    pick = CLIPModel(CLIPConfig(
        text_config={"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24},
        vision_config={"hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 16,
                       "num_hidden_layers": 32, "patch_size": 14, "image_size": 224},
        projection_dim=1024))
    return {
        "inception": InceptionExtractor(random_inception_file(sdir), random_weights=True),
        "clip": ClipScorer(l14, open_clip.get_tokenizer("ViT-L-14"), "cpu", ("ViT-L-14", "random"), random_weights=True),
        "laion-aesthetic": LaionAestheticHead.standin(sdir, input_dim=768),
        "dinov2": DinoV2Extractor(DinoViT(VITL14), random_weights=True),
        "cmmd-clip": CmmdClipExtractor(ClipScorer(open_clip.create_model("ViT-L-14-336", pretrained=None), None, "cpu",
                                                  ("ViT-L-14-336", "random"), random_weights=True, image_size=336)),
        "hpsv2": HPSv2Extractor(build_clip(ARCH), SimpleTokenizer(context_length=77), "cpu", ("ViT-H-14", "random"),
                                random_weights=True, image_size=224),
        "longclip": LongClipScorer(long, SimpleTokenizer(context_length=CONTEXT), "cpu", ("LongCLIP-L", "random"),
                                   random_weights=True),
        "imagereward": ir.ImageRewardScorer(ir.ImageRewardModel(ir.VISION_LARGE, med), ir.bert_tokenizer(vocab), "cpu",
                                            "random-large", random_weights=True, image_size=224),
        "pickscore": PickScorer(pick, _HFTokenizer(build_clip_tokenizer()), "cpu", "random-clip-h", random_weights=True),
    }


def per_image_forward_seconds(models: dict, crops: int) -> dict:
    """Seconds per image of each network alone on prepared inputs (a batch of B after a warm-up batch)."""
    rng = np.random.default_rng(0)
    u8 = lambda s: [rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for _ in range(B)]  # noqa: E731
    prompt = ["a photo of a red fox in the snow, highly detailed"] * B
    runs = {
        "inception": (lambda: models["inception"](rng.uniform(0, 255, (B, 299, 299, 3)).astype(np.float32)), 1 + crops),
        "clip": (lambda: models["clip"].image_embeddings(u8(224)), 1),
        "dinov2": (lambda: models["dinov2"].image_features(u8(224)), 1 + crops),
        "cmmd-clip": (lambda: models["cmmd-clip"].image_features(u8(336)), 1 + crops),
        "hpsv2": (lambda: models["hpsv2"].image_embeddings([x.astype(np.float32) for x in u8(224)]), 1),
        "longclip": (lambda: models["longclip"].image_embeddings(u8(224)), 1),
        "imagereward": (lambda: models["imagereward"].rewards(u8(224), prompt), 1),
        "pickscore": (lambda: models["pickscore"].image_embeddings(u8(224)), 1),
    }
    out = {}
    for name, (fn, count) in runs.items():
        fn()
        t = time.perf_counter()
        fn()
        out[name] = {"per_forward_s": (time.perf_counter() - t) / B, "forwards_per_image": count}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--crops", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default="reports/perf")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ultrabench.metrics.registry import get_metric
    from ultrabench.scoring import decode as D
    from ultrabench.scoring import engine as E

    tmp = Path(a.data or tempfile.mkdtemp(prefix="ubperf-"))
    files = make_images(tmp / f"png{a.size}", a.n, a.size)
    models = real_architectures(tmp / "standins")
    res = {"n_images": a.n, "size": a.size, "crops": a.crops, "workers": a.workers, "metrics": METRICS,
           "machine": machine()}

    t = time.perf_counter()
    for p in files:
        D.decode_rgb(p.read_bytes())
    res["decode_s"] = time.perf_counter() - t
    res["forwards"] = per_image_forward_seconds(models, a.crops)
    res["network_s"] = a.n * sum(f["per_forward_s"] * f["forwards_per_image"] for f in res["forwards"].values())

    opts = {"patch_crops": a.crops, "crop_seed": 0}
    ex = E.open_extractors(METRICS, opts, given=models)
    needs = list({id(n): n for n in (ex.need_for(get_metric(m), opts) for m in METRICS)}.values())
    needs = list({id(n): n for n in needs + [n.source for n in needs if n.source is not None]}.values())
    tasks = [E.ImageTask(p, key=p.stem, prompt="a photo of a red fox in the snow, highly detailed") for p in files]
    cache = E.FeatureCache(tmp / f"cache-{time.time_ns()}")
    t = time.perf_counter()
    E.run_pass(tasks, needs, cache, batch_size=B, workers=a.workers, progress=False)
    res["ultrabench_s"] = time.perf_counter() - t
    res["ratio_to_decode_plus_network"] = res["ultrabench_s"] / (res["decode_s"] + res["network_s"])
    res["target"] = "ratio <= 1.2"
    res["met"] = res["ratio_to_decode_plus_network"] <= 1.2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"perf_scoring_2026_n{a.n}_s{a.size}.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
