"""Time the UltraPixel pipeline end to end and per stage, with peak memory, eager and compiled.

Full-size stages are built with random weights (timing does not depend on the values):
    python benchmarks/gpu_ultrapixel.py --out reports/gpu/
On a CPU, a plumbing check with the tiny configuration:
    python benchmarks/gpu_ultrapixel.py --tiny --out /tmp/up-bench/
Writes `ultrapixel_<gpu>.json` and `.md` under --out, naming the device, after every run, so a
run cut short by a time limit keeps what it measured; `--budget-s` stops starting new runs in time.

Modes: `<compile>[+tiled]`, compile one of `eager`, `regional` (diffusers' regional compilation of
the repeated blocks, what `compile = true` means), `full` (whole-UNet torch.compile) and
`reduce-overhead` (whole-UNet CUDA graphs); `+tiled` decodes Stage A in overlapping tiles, batched
(the memory option; untiled is what the official script does by default). Every row records the
attention kernel that ran (pinned, `attention.py`) and the Stage A plan. The mode `official` is the
official code's turn (`--official CHECKOUT`, benchmarks/official_timing.py), second by default so
that a time limit cuts the compiled and tiled variants before the ratio the targets need.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGETS = {"4096x4096": (20.0, 24.0), "2160x3840": (8.0, None)}  # seconds, peak GiB (issue #5, one H100)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="reports/gpu/")
    ap.add_argument("--tiny", action="store_true", help="tiny random stages (CPU plumbing check)")
    ap.add_argument("--res", action="append", help="HxW (repeatable); default 2160x3840 and 4096x4096")
    # the figures the targets need first, so a time limit cuts the least important rows
    ap.add_argument("--modes", default="eager,official,regional,eager+tiled,regional+tiled,reduce-overhead",
                    help="comma-separated; 'official' is the official code's turn (needs --official)")
    ap.add_argument("--budget-s", type=float, default=0.0, help="start no new run after this many seconds")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--offload", action="store_true")
    ap.add_argument("--official", metavar="CHECKOUT",
                    help="time the official code (a catcathh/UltraPixel checkout) in this run, same GPU, "
                         "where --modes says 'official'")
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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-") + ("-tiny" if args.tiny else "")
    report = {
        "device": gpu, "torch": torch.__version__, "config": "tiny" if args.tiny else "full (random weights)",
        "dtype": str(dtype), "build_s": round(build_s, 1), "offload": args.offload, "results": [], "skipped": [],
    }
    started = time.perf_counter()

    def over_budget() -> bool:
        return bool(args.budget_s) and time.perf_counter() - started > args.budget_s

    def log(row):
        report["results"].append(row)
        print(json.dumps(row), flush=True)
        write_report(out, slug, report)

    for mode in args.modes.split(","):
        if mode == "official":
            if not args.official:
                report["skipped"].append({"mode": mode, "why": "no --official checkout given"})
            else:
                from official_timing import official_rows

                for m in (models.stage_c, models.stage_b):  # ours leave the device: the official code's turn
                    m.to("cpu")
                official_rows(Path(args.official), models.text_model, models.tokenizer, device, res_list, args.runs,
                              args.warmup, log, small=args.tiny, over_budget=over_budget,
                              skipped=report["skipped"])
                for m in (models.stage_c, models.stage_b):
                    m.to(device)
            continue
        base, _, variant = mode.partition("+")
        pipe = UltraPixelPipeline(
            models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
            device=device, autocast_dtype=torch.bfloat16 if cuda else None,
            settings=SamplerSettings(stage_a_tiled=variant == "tiled"),
            offload=args.offload, compile={"eager": False, "compiled": "regional"}.get(base, base),
        )
        for res in res_list:
            h, w = (int(v) for v in res.lower().split("x"))
            for i in range(args.warmup + args.runs):
                if over_budget():
                    report["skipped"].append({"mode": mode, "res": res, "run": i})
                    continue
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
                    "attention_backend": info["attention_backend"], "compile": info["compile"],
                    "stage_a_tiled": info["stage_a_tiled"], "stage_a_tiles": info["stage_a_tiles"],
                    "stage_a_tile_batch": info["stage_a_tile_batch"],
                }
                log(row)
        del pipe
    write_report(out, slug, report)
    print(f"wrote {out / f'ultrapixel_{slug}.json'}")
    return 0


def write_report(out: Path, slug: str, report: dict) -> None:
    (out / f"ultrapixel_{slug}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# UltraPixel timing on {report['device']}", "",
             f"torch {report['torch']}, {report['config']}, {report['dtype']}, stages built in {report['build_s']} s", "",
             "| mode | res | total s | text | LR | HR | Stage B | Stage A | peak GiB | target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        if r["warmup"]:
            continue
        s, target = r["stages_s"], TARGETS.get(r["res"])
        verdict = ""
        if target and not report["config"].startswith("tiny"):
            ok = r["total_s"] <= target[0] and (target[1] is None or (r["peak_memory_gib"] or 0) <= target[1])
            verdict = ("met" if ok else "missed") + f" (<= {target[0]:g} s" + (f", <= {target[1]:g} GiB)" if target[1] else ")")
        lines.append(
            f"| {r['mode']} | {r['res']} | {r['total_s']} | {s.get('text_encode')} | {s.get('lr_pass')} | "
            f"{s.get('hr_pass')} | {s.get('stage_b')} | {s.get('stage_a')} | {r['peak_memory_gib']} | {verdict} |"
        )
    official = {r["res"]: r["total_s"] for r in report["results"] if r["mode"] == "official" and not r["warmup"]}
    if official:
        lines += ["", "Speed-up against the official code in this run (official seconds / ours; target >= 2x):", ""]
        if report["config"].startswith("tiny"):
            lines += ["(tiny: ours at the tiny configuration, the official modules at the parity harness's small "
                      "widths; a plumbing check, the ratio means nothing)", ""]
        for r in report["results"]:
            if r["mode"] != "official" and not r["warmup"] and r["res"] in official:
                x = official[r["res"]] / r["total_s"]
                verdict = "" if report["config"].startswith("tiny") else (" met" if x >= 2 else " missed")
                lines.append(f"- {r['res']} {r['mode']}: {official[r['res']]} s / {r['total_s']} s = {x:.2f}x{verdict}")
    budget = [x for x in report["skipped"] if "res" in x]
    if budget:
        lines += ["", f"Not run (time budget): {len(budget)} runs, e.g. "
                  + ", ".join(f"{x['mode']} {x['res']}" for x in budget[:4])]
    lines += [f"Not run: {x['mode']}: {x['why']}" for x in report["skipped"] if "why" in x]
    (out / f"ultrapixel_{slug}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
