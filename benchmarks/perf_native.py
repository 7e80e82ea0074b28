"""What the native-resolution metrics add to a one-pass score of 4096x4096 PNGs, on this machine.

    .venv/bin/python benchmarks/perf_native.py --n 2 --out reports/perf

Two passes over the same synthetic PNGs (perf_scoring.py's images), each with a fresh feature cache:
  base    FID + FID-patch + IS + IS-patch + CLIP (the paper's metrics)
  native  the same plus clip-patch (4 native 224 crops through the same CLIP), seam (numpy, in the
          decode workers), repetition (DINOv2 ViT-L/14 at 448x448, 32x32 patch tokens) and, with
          --iqa, MUSIQ on 512x512 native tiles (64 per 4096^2 image) through pyiqa
and each native metric's network cost per image on prepared inputs; with --iqa also MANIQA and
CLIP-IQA (361 tiles of 224 per 4096^2 image each), per tile on a batch of --iqa-batch tiles times
the tile count, too slow on a CPU for a whole pass. Extractors are the real
architectures with random weights (timing does not depend on the values): FID Inception-v3,
open_clip ViT-L-14, DINOv2 ViT-L/14, pyiqa's MUSIQ, MANIQA (ViT-B/8) and CLIP-IQA (RN50).
PickScore-patch costs what clip-patch costs with PickScore's ViT-H-14 tower and is not timed here.
Writes <out>/perf_native_n<N>_s<size>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_scoring import machine, make_images  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--iqa", action="store_true", help="also MUSIQ, MANIQA and CLIP-IQA on native tiles (pyiqa)")
    ap.add_argument("--iqa-batch", type=int, default=4, help="tiles per timed IQA forward")
    ap.add_argument("--out", default="reports/perf")
    a = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import open_clip
    import torch

    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.metrics.extractors.dinov2 import VITL14, DinoV2Extractor, build_random_dinov2
    from ultrabench.metrics.extractors.inception import InceptionExtractor, random_inception_file
    from ultrabench.metrics.plugins.repetition import Repetition
    from ultrabench.metrics.registry import get_metric
    from ultrabench.scoring import engine as E
    from ultrabench.metrics.seams import seam_features

    tmp = Path(a.data or tempfile.mkdtemp(prefix="ubperf-native-"))
    files = make_images(tmp / f"png{a.size}", a.n, a.size)
    inc = InceptionExtractor(random_inception_file(tmp / "standins"), random_weights=True)
    clip = ClipScorer(open_clip.create_model("ViT-L-14", pretrained=None), open_clip.get_tokenizer("ViT-L-14"),
                      "cpu", ("ViT-L-14", "random"), random_weights=True)
    dino = DinoV2Extractor(build_random_dinov2(VITL14, seed=0), "cpu", "random", True)
    given = {"inception": inc, "clip": clip, "repetition": Repetition._wrap(dino)}
    native = ["clip-patch", "seam", "repetition"]
    iqa = {}
    if a.iqa:
        from ultrabench.metrics.plugins.iqa import MODELS, PyIQA

        # the scoring path's own stand-ins (pyiqa's architectures, random weights)
        iqa = {m: PyIQA({"iqa_model": m}).standin(tmp / "standins", "cpu") for m in MODELS}
        given["iqa"] = iqa["musiq"]
        native.append("musiq")
    base = ["fid", "fid-patch", "is", "is-patch", "clip"]
    res = {"n_images": a.n, "size": a.size, "workers": a.workers, "machine": machine(), "base": base, "native": native}

    def one_pass(metrics):
        opts = {"patch_crops": 3, "crop_seed": 0}
        ex = E.open_extractors(metrics, opts, given=given, stand_ins=True)
        needs = list({id(n): n for n in (ex.need_for(get_metric(m), opts) for m in metrics)}.values())
        cache = E.FeatureCache(tmp / f"cache-{time.time_ns()}")
        tasks = [E.ImageTask(p, key=p.stem) for p in files]
        t = time.perf_counter()
        E.run_pass(tasks, needs, cache, batch_size=16, workers=a.workers, progress=False)
        return time.perf_counter() - t

    res["base_s"] = one_pass(base)
    res["base_plus_native_s"] = one_pass(base + native)

    # per image, on prepared inputs
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(4)]
    clip.image_embeddings(crops[:1])
    t = time.perf_counter()
    clip.image_embeddings(crops)
    res["clip_patch_network_s_per_image"] = time.perf_counter() - t
    big = np.asarray(rng.integers(0, 256, (a.size, a.size, 3), dtype=np.uint8))
    t = time.perf_counter()
    seam_features(big)
    res["seam_s_per_image"] = time.perf_counter() - t
    v = [rng.integers(0, 256, (448, 448, 3), dtype=np.uint8)]
    t = time.perf_counter()
    dino.patch_tokens(v)
    res["repetition_network_s_per_image"] = time.perf_counter() - t
    from ultrabench.metrics.crops import tile_grid

    for m, net in iqa.items():
        ext = PyIQA({"iqa_model": m})
        side = ext.model[2]
        tiles = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(a.iqa_batch)]
        ext.forward(net, "tiles", tiles[:1])
        t = time.perf_counter()
        ext.forward(net, "tiles", tiles)
        per_tile = (time.perf_counter() - t) / a.iqa_batch
        n_tiles = len(tile_grid(a.size, a.size, side))
        res[f"{m}_network_s_per_tile"] = per_tile
        res[f"{m}_tiles_per_image"] = n_tiles
        res[f"{m}_network_s_per_image"] = per_tile * n_tiles
    res["loadavg_at_end"] = os.getloadavg()

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"perf_native_n{a.n}_s{a.size}.json"
    path.write_text(json.dumps(res, indent=2) + "\n")
    added = res["base_plus_native_s"] - res["base_s"]
    print(f"| pass | seconds ({a.n} images) | per image |\n|---|---|---|\n"
          f"| base ({', '.join(base)}) | {res['base_s']:.1f} | {res['base_s'] / a.n:.1f} |\n"
          f"| base + {', '.join(native)} | {res['base_plus_native_s']:.1f} | {res['base_plus_native_s'] / a.n:.1f} |\n"
          f"| added by the native metrics | {added:.1f} | {added / a.n:.1f} |")
    print(f"per image on prepared inputs: clip-patch {res['clip_patch_network_s_per_image']:.2f} s, seam "
          f"{res['seam_s_per_image']:.2f} s, repetition {res['repetition_network_s_per_image']:.2f} s" +
          "".join(f", {m} {res[f'{m}_network_s_per_image']:.1f} s ({res[f'{m}_tiles_per_image']} tiles x "
                  f"{res[f'{m}_network_s_per_tile']:.3f} s)" for m in iqa) + f"; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
