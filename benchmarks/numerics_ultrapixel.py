"""How much each named UltraPixel setting that may change numbers moves the image, against the default.

    python benchmarks/numerics_ultrapixel.py --out reports/perf/            # tiny stages, CPU
    python benchmarks/numerics_ultrapixel.py --device cuda --out reports/gpu/

Random weights at the tiny configuration (full-range images, not the demo's attenuated ones), under
bf16 autocast as users run it. For scale, the same image in float32 against bf16 is measured too:
a setting whose change is far below that gap is noise next to the precision the official code runs
in. TF32 only exists on CUDA, so on a CPU it is recorded as not measurable.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {
    "channels_last": {"channels_last": True},
    "stage_b_dtype=bf16": {"stage_b_dtype": "bf16"},
    "attention=math": {"attention": "math"},
    "tf32": {"tf32": True},
    "stage_a_tiled (tile 32, overlap 8)": {"stage_a_tiled": True, "stage_a_tile": 32, "stage_a_overlap": 8},
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="reports/perf/")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--res", default="256x256")
    args = ap.parse_args(argv)

    import torch

    from ultrabench.ultrapixel.build import build_random
    from ultrabench.ultrapixel.configs import SamplerSettings, tiny_config
    from ultrabench.ultrapixel.pipeline import UltraPixelPipeline

    torch.set_num_threads(1)
    h, w = (int(v) for v in args.res.split("x"))
    models = build_random(tiny_config(), seed=0)
    # a pipeline under autocast casts Stage B in place to its stage_b_dtype: each run starts from these
    stage_b_weights = {k: v.clone() for k, v in models.stage_b.state_dict().items()}

    def image(autocast=torch.bfloat16, **settings):
        models.stage_b.float().load_state_dict(stage_b_weights)
        pipe = UltraPixelPipeline(models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
                                  device=args.device, autocast_dtype=autocast, settings=SamplerSettings(**settings))
        img, _ = pipe.generate("a lighthouse on a cliff at dusk", 5, h, w)
        return (img.clamp(0, 1) * 255).round().cpu()

    def moved(a, b) -> dict:
        d = (a - b).abs()
        mse = float((d ** 2).mean())
        return {"max_abs_grey_levels": float(d.max()), "mean_abs_grey_levels": round(float(d.mean()), 4),
                "psnr_db": None if mse == 0 else round(10 * torch.log10(torch.tensor(255.0 ** 2 / mse)).item(), 2)}

    base = image()
    rows = {"float32 vs bf16 (scale)": moved(image(autocast=None), base)}
    for name, settings in VARIANTS.items():
        if name == "tf32" and args.device == "cpu":
            rows[name] = "not measurable on a CPU (TF32 is a CUDA matmul/convolution mode)"
            continue
        rows[name] = moved(image(**settings), base)
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"cpu ({cpu_name()}, 1 thread)"
    report = {"device": device, "torch": torch.__version__, "config": "tiny, random weights", "res": args.res,
              "note": "random weights: chaotic images whose saturated pixels flip, so max differences are 255; "
                      "compare the means and PSNRs with the float32-vs-bf16 row",
              "autocast": "bf16", "against": "the default settings, same seed and prompt", "results": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"numerics_ultrapixel_{'cuda' if args.device.startswith('cuda') else 'cpu'}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
