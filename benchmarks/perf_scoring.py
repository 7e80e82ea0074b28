"""Throughput of one-pass scoring vs the libraries run separately, on synthetic HR PNGs.

    .venv/bin/python benchmarks/perf_scoring.py --n 64 --size 4096 --out reports/perf
    python3 benchmarks/perf_scoring.py --device cuda --workers 8 --out $OUT   # on a GPU (gpu_run.sh)

Metrics timed: FID + FID-patch + IS + IS-patch + CLIP (stand-in random-weight extractors of the real
architectures: the FID Inception and open_clip ViT-L-14, the default CLIP model, or --clip-arch). Compared:
  ultrabench  one decode per image, all inputs derived from it, batched forwards, 2 decode workers
  separate    clean-fid (FID features, its own decode + resize), torchmetrics FID on crops (decode),
              torchmetrics IS (decode), torchmetrics IS on crops (decode), open_clip (decode)
  decode      ultrabench's decode (libspng when installed) + RGB conversion only; Pillow's alongside
  network     the forwards alone on prepared tensors (per image: 1 + P Inception, 1 CLIP)
Every network, ours and the libraries', runs on --device; decoding stays on the CPU.
Writes <out>/perf_scoring_n<N>_s<size>_<clip>[_<device>].json with the machine (and GPU) described.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _make_image(p: Path, i: int, size: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(i)
    small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((size, size), Image.BICUBIC)
    arr = np.asarray(img).astype(np.int16) + rng.integers(-8, 9, (size, size, 3), dtype=np.int16)
    tmp = p.with_suffix(".tmp.png")
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(tmp, compress_level=1)
    tmp.replace(p)


def make_images(folder: Path, n: int, size: int) -> list[Path]:
    """n synthetic PNGs (smooth colour fields plus noise), one seed per image, made in parallel:
    64 of 4096x4096 take minutes on one core, which a GPU machine's time limit cannot spare."""
    from concurrent.futures import ProcessPoolExecutor

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"img{i:04d}.png" for i in range(n)]
    todo = [(p, i) for i, p in enumerate(paths) if not p.exists()]
    if todo:
        with ProcessPoolExecutor(min(len(todo), os.cpu_count() or 1)) as pool:
            list(pool.map(_make_image, *zip(*todo), [size] * len(todo)))
    return paths


def machine() -> dict:
    import torch

    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    out = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
           "torch": torch.__version__, "platform": platform.platform(), "loadavg_at_start": load}
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--crops", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default="reports/perf")
    ap.add_argument("--device", default="cpu", help="where every network runs (cpu, cuda)")
    ap.add_argument("--clip-arch", default="ViT-L-14",
                    help="open_clip architecture built with random weights (the default metric model's shape); "
                         "'tiny' for the test stand-in")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from PIL import Image

    from ultrabench.metrics.crops import crop_positions, take_crops
    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.metrics.extractors.inception import InceptionExtractor, random_inception_file
    from ultrabench.scoring import engine as E
    from ultrabench.scoring.decode import to_rgb

    tmp = Path(a.data or tempfile.mkdtemp(prefix="ubperf-"))
    files = make_images(tmp / f"png{a.size}", a.n, a.size)
    sdir = tmp / "standins"
    dev = torch.device(a.device)
    inc = InceptionExtractor(random_inception_file(sdir), random_weights=True, device=dev)
    if a.clip_arch == "tiny":
        clip = ClipScorer.standin(sdir, device=dev)
    else:
        import open_clip

        # Timing does not depend on the values: the real architecture with random weights, no download.
        clip = ClipScorer(open_clip.create_model(a.clip_arch, pretrained=None), open_clip.get_tokenizer(a.clip_arch),
                          dev, (a.clip_arch, "random"), random_weights=True)
    res = {"n_images": a.n, "size": a.size, "crops": a.crops, "workers": a.workers, "clip_arch": a.clip_arch,
           "device": a.device, "machine": machine()}

    # decode only: ultrabench's decoder (libspng when installed, else Pillow), then Pillow's for reference
    from ultrabench.scoring import decode as D

    res["png_decoder"] = "libspng (pyspng %s)" % D.pyspng.__version__ if D.pyspng else "Pillow"
    t = time.perf_counter()
    for p in files:
        D.decode_rgb(p.read_bytes())
    res["decode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for p in files:
        with Image.open(p) as im:
            im.load()
            to_rgb(im)
    res["decode_pillow_s"] = time.perf_counter() - t

    # network only
    x = np.random.default_rng(0).uniform(0, 255, (8, 299, 299, 3)).astype(np.float32)
    c = [np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)] * 8
    inc(x[:2])
    clip.image_embeddings(c[:2])  # warm-up (cuDNN's first-call autotuning on a GPU)
    t = time.perf_counter()
    inc(x)  # returns numpy: the device is synchronised
    per_inc = (time.perf_counter() - t) / 8
    t = time.perf_counter()
    clip.image_embeddings(c)
    per_clip = (time.perf_counter() - t) / 8
    res["network_s"] = a.n * ((1 + a.crops) * per_inc + per_clip)

    # ultrabench one pass (fresh cache)
    cache = E.FeatureCache(tmp / f"cache-{time.time_ns()}")
    from ultrabench.metrics.registry import get_metric

    opts = {"patch_crops": a.crops, "crop_seed": 0}
    metrics = ["fid", "fid-patch", "is", "is-patch", "clip"]
    ex = E.open_extractors(metrics, opts, given={"inception": inc, "clip": clip})
    needs = list({id(n): n for n in (ex.need_for(get_metric(m), opts) for m in metrics)}.values())
    tasks = [E.ImageTask(p, key=p.stem) for p in files]
    t = time.perf_counter()
    E.run_pass(tasks, needs, cache, batch_size=16, workers=a.workers, progress=False, device=a.device)
    res["ultrabench_s"] = time.perf_counter() - t

    # the libraries, each with its own decode
    from cleanfid.fid import get_files_features
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.inception import InceptionScore
    import open_clip

    class PoolOut(torch.nn.Module):
        def __init__(self, m, which):
            super().__init__()
            self.m, self.which = m, which
            self.num_features = 2048 if which == 0 else 1008

        def forward(self, x):
            return self.m(x.float())[self.which]

    def tick() -> float:
        """A timestamp after the device has finished what was queued: the libraries' GPU work is
        asynchronous, and each one's seconds must be its own."""
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    t0 = tick()
    get_files_features([str(p) for p in files], model=lambda b: inc.module(b.float())[0], num_workers=0, batch_size=16,
                       device=dev, mode="clean", verbose=False)
    t1 = tick()
    fidp = FrechetInceptionDistance(feature=PoolOut(inc.module, 0), normalize=False).to(dev)
    isc = InceptionScore(feature=PoolOut(inc.module, 1)).to(dev)
    iscp = InceptionScore(feature=PoolOut(inc.module, 1)).to(dev)
    for p in files:  # FID-patch
        rgb = np.asarray(Image.open(p).convert("RGB"))
        cr = take_crops(rgb, crop_positions(*rgb.shape[:2], p.stem, a.crops))
        fidp.update(torch.from_numpy(cr).permute(0, 3, 1, 2).contiguous().to(dev), real=False)
    t2 = tick()
    for p in files:  # IS (torchmetrics resizes inside its own extractor; here the clean resize, for equal work)
        rgb = np.asarray(Image.open(p).convert("RGB"))
        from ultrabench.scoring.decode import resize_clean

        isc.update(torch.from_numpy(resize_clean(rgb)).permute(2, 0, 1)[None].round().to(dev, torch.uint8))
    t3 = tick()
    for p in files:  # IS-patch
        rgb = np.asarray(Image.open(p).convert("RGB"))
        cr = take_crops(rgb, crop_positions(*rgb.shape[:2], p.stem, a.crops))
        iscp.update(torch.from_numpy(cr).permute(0, 3, 1, 2).contiguous().to(dev))
    t4 = tick()
    pre = open_clip.image_transform(224, is_train=False)
    with torch.inference_mode():
        for p in files:  # CLIP
            clip.model.encode_image(pre(Image.open(p))[None].to(dev))
    t5 = tick()
    res["separate"] = {"cleanfid_fid_s": t1 - t0, "torchmetrics_fid_patch_s": t2 - t1, "torchmetrics_is_s": t3 - t2,
                       "torchmetrics_is_patch_s": t4 - t3, "open_clip_s": t5 - t4}
    res["separate_s"] = t5 - t0
    res["images_per_s"] = {k: a.n / res[k] for k in ("decode_s", "network_s", "ultrabench_s", "separate_s")}
    res["speedup_vs_separate"] = res["separate_s"] / res["ultrabench_s"]
    res["ratio_to_decode_plus_network"] = res["ultrabench_s"] / (res["decode_s"] + res["network_s"])
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"perf_scoring_n{a.n}_s{a.size}_{a.clip_arch}" + ("" if a.device == "cpu" else f"_{a.device}")
    (out / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
