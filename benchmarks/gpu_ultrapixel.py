"""Time the UltraPixel pipeline end to end and per stage, with peak memory, eager and compiled.

Full-size stages are built with random weights (timing does not depend on the values):
    python benchmarks/gpu_ultrapixel.py --out reports/gpu/
On a CPU, a plumbing check with the tiny configuration:
    python benchmarks/gpu_ultrapixel.py --tiny --out /tmp/up-bench/
Writes `ultrapixel_<gpu>.json` and `.md` under --out, naming the device.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="reports/gpu/")
    ap.add_argument("--tiny", action="store_true", help="tiny random stages (CPU plumbing check)")
    ap.add_argument("--res", action="append", help="HxW (repeatable); default 2160x3840 and 4096x4096")
    ap.add_argument("--modes", default="eager,compiled")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--stage-a-tiled", action="store_true")
    ap.add_argument("--offload", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from ultrabench.timing import StageTimer
    from ultrabench.ultrapixel.build import build_random
    from ultrabench.ultrapixel.configs import full_config, tiny_config
    from ultrabench.ultrapixel.pipeline import SamplerSettings, UltraPixelPipeline

    cuda = torch.cuda.is_available() and not args.tiny
    device = "cuda" if cuda else "cpu"
    if not cuda:
        torch.set_num_threads(1)
    res_list = args.res or (["320x320", "320x576"] if args.tiny else ["2160x3840", "4096x4096"])
    cfg = tiny_config() if args.tiny else full_config()
    dtype = torch.bfloat16 if cuda else torch.float32
    t0 = time.perf_counter()
    models = build_random(cfg, seed=0, device=device, dtype=dtype, tiny_image_gain=0.005 if args.tiny else None)
    build_s = time.perf_counter() - t0
    gpu = torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.processor() or platform.machine()})"
    settings = SamplerSettings(stage_a_tiled=args.stage_a_tiled)
    results = []
    for mode in args.modes.split(","):
        pipe = UltraPixelPipeline(
            models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
            device=device, autocast_dtype=torch.bfloat16 if cuda else None, settings=settings,
            offload=args.offload, compile=(mode == "compiled"),
        )
        for res in res_list:
            h, w = (int(v) for v in res.lower().split("x"))
            for i in range(args.warmup + args.runs):
                if cuda:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                timer = StageTimer(device)
                t = time.perf_counter()
                img, info = pipe.generate("a photo of a lighthouse at dusk, rich detail", 1234, h, w, timer=timer)
                if cuda:
                    torch.cuda.synchronize()
                total = time.perf_counter() - t
                peak = torch.cuda.max_memory_allocated() if cuda else None
                row = {
                    "mode": mode, "res": res, "run": i, "warmup": i < args.warmup, "total_s": round(total, 3),
                    "stages_s": {k: round(v, 3) for k, v in timer.seconds.items()},
                    "peak_memory_gib": round(peak / 2**30, 2) if peak is not None else None,
                    "image": list(img.shape),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-") + ("-tiny" if args.tiny else "")
    report = {
        "device": gpu, "torch": torch.__version__, "config": "tiny" if args.tiny else "full (random weights)",
        "dtype": str(dtype), "build_s": round(build_s, 1), "stage_a_tiled": args.stage_a_tiled,
        "offload": args.offload, "results": results,
    }
    (out / f"ultrapixel_{slug}.json").write_text(json.dumps(report, indent=2))
    lines = [f"# UltraPixel timing on {gpu}", "", f"torch {torch.__version__}, {report['config']}, {dtype}", "",
             "| mode | res | total s | text | LR | HR | Stage B | Stage A | peak GiB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r["warmup"]:
            continue
        s = r["stages_s"]
        lines.append(
            f"| {r['mode']} | {r['res']} | {r['total_s']} | {s.get('text_encode')} | {s.get('lr_pass')} | "
            f"{s.get('hr_pass')} | {s.get('stage_b')} | {s.get('stage_a')} | {r['peak_memory_gib']} |"
        )
    (out / f"ultrapixel_{slug}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / f'ultrapixel_{slug}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
