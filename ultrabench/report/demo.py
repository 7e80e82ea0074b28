"""A small synthetic run folder with a hand-written `summary.json`, for tests and for trying the report.

The numbers are fixed (golden files depend on them) and mean nothing. Images are synthetic patterns
written at 1/4 of the nominal resolution so that building the folder takes well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROMPTS = [
    {"id": "p001", "prompt": "A lighthouse on a cliff at dawn, ultra detailed"},
    {"id": "p002", "prompt": "Macro photograph of a dragonfly wing"},
]
SCALE = 4


def _ci(v: float, h: float) -> list[float]:
    return [round(v - h, 4), round(v + h, 4)]


def demo_summary(run_dir: str, random_weights: bool = False) -> dict[str, Any]:
    sets = []
    values = {
        ("ultrapixel", "1024x1792"): {"fid-patch": 61.2, "fid": 64.1, "is-patch": 17.5, "is": 26.0, "clip": 35.1, "kid": 0.0123},
        ("ultrapixel", "2048x2048"): {"fid-patch": 45.3, "fid": 62.9, "is-patch": 14.1, "is": 30.9, "clip": 35.2, "kid": 0.0101},
        ("pixart-sigma", "2048x2048"): {"fid-patch": 55.0, "fid": 62.9, "is-patch": 14.9, "is": 27.0, "clip": 31.3, "kid": 0.0119},
        ("demofusion", "2048x2048"): {"fid-patch": 53.8, "fid": 64.4, "is-patch": 13.2, "is": 28.4, "clip": 33.0},
    }
    for (method, res), metrics in values.items():
        for metric, v in metrics.items():
            h = 0.0004 if metric.startswith("kid") else round(v * 0.02, 2)
            sets.append({"method": method, "resolution": res, "metric": metric, "value": v, "n": 2,
                         "ci95": _ci(v, h), "ci_method": "bootstrap over images, 1000 resamples",
                         "protocol": f"{metric}@demo"})
    return {
        "schema": 1,
        "created": "2024-10-01T12:00:00+00:00",
        "run_dir": run_dir,
        "random_weights": random_weights,
        "protocols": {"fid": {"version": "fid@clean-v1", "resize": "PIL bicubic"}},
        "extractors": {"inception": {"id": "inception-v3-compat", "weights_sha256": "0" * 64, "random_weights": random_weights}},
        "reference": {"source": "demo", "n_images": 2, "n_patches": 6},
        "sets": sets,
        "winrates": [
            {"reference_method": "ultrapixel", "method": "pixart-sigma", "resolution": "2048x2048", "win_rate": 0.85,
             "mean_pref": 0.71, "ci95": [0.80, 0.90], "p_value": 1e-9, "n_pairs": 2, "ties": 0, "tau": 0.0},
            {"reference_method": "ultrapixel", "method": "demofusion", "resolution": "2048x2048", "win_rate": 0.62,
             "mean_pref": 0.58, "ci95": [0.55, 0.69], "p_value": 1e-3, "n_pairs": 2, "ties": 0, "tau": 0.0},
        ],
        "latency": [
            {"method": "ultrapixel", "resolution": "1024x1792", "n": 2, "mean_s": 8.2, "median_s": 8.1, "min_s": 7.9,
             "stages": {"stage_c": 2.0, "stage_b": 5.5, "decode": 0.7}, "peak_memory_bytes": 15 * 2**30, "memory_kind": "cuda_max_allocated"},
            {"method": "ultrapixel", "resolution": "2048x2048", "n": 2, "mean_s": 15.4, "median_s": 15.3, "min_s": 15.0,
             "stages": {"stage_c": 2.1, "stage_b": 12.0, "decode": 1.3}, "peak_memory_bytes": 22 * 2**30, "memory_kind": "cuda_max_allocated"},
            {"method": "pixart-sigma", "resolution": "2048x2048", "n": 2, "mean_s": 57.9, "median_s": 57.5, "min_s": 56.8,
             "stages": {"denoise": 55.0, "decode": 2.9}, "peak_memory_bytes": 30 * 2**30, "memory_kind": "cuda_max_allocated"},
            {"method": "demofusion", "resolution": "2048x2048", "n": 2, "mean_s": 97.3, "median_s": 97.0, "min_s": 96.1,
             "stages": {"denoise": 95.0, "decode": 2.3}, "peak_memory_bytes": 18 * 2**30, "memory_kind": "cuda_max_allocated"},
        ],
        "status": [
            {"method": "demofusion", "resolution": "1024x1792", "ok": 0, "oom": 0, "error": 0, "unsupported": 2, "unreadable": 0},
            {"method": "demofusion", "resolution": "2048x2048", "ok": 2, "oom": 0, "error": 0, "unsupported": 0, "unreadable": 0},
            {"method": "pixart-sigma", "resolution": "1024x1792", "ok": 0, "oom": 2, "error": 0, "unsupported": 0, "unreadable": 0},
            {"method": "pixart-sigma", "resolution": "2048x2048", "ok": 2, "oom": 0, "error": 0, "unsupported": 0, "unreadable": 0},
            {"method": "ultrapixel", "resolution": "1024x1792", "ok": 2, "oom": 0, "error": 0, "unsupported": 0, "unreadable": 0},
            {"method": "ultrapixel", "resolution": "2048x2048", "ok": 2, "oom": 0, "error": 0, "unsupported": 0, "unreadable": 0},
        ],
        "warnings": ["reference set has 2 images; FID on so few images is meaningless"],
    }


def _pattern(method_i: int, prompt_i: int, h: int, w: int):
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = (x / w * 255)
    g = (y / h * 255)
    b = ((np.sin(x / (6 + 3 * method_i)) * np.cos(y / (5 + 2 * prompt_i)) + 1) * 127.5)
    img = np.stack([r, g, b], -1).astype(np.uint8)
    img[(x.astype(int) // 32 + y.astype(int) // 32) % 2 == 0] //= 2  # a checkerboard makes zoom visible
    return Image.fromarray(img)


def make_demo_run(run_dir: str | Path, *, scored: bool = True, random_weights: bool = False) -> Path:
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore, Unit, atomic_write_json

    root = Path(run_dir)
    store = RunStore(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    atomic_write_json(root / "run.json", {
        "ultrabench": "0.1.0", "git_commit": "deadbeef", "torch": "2.4.0", "cuda": "12.1",
        "gpu": "NVIDIA H100 80GB HBM3", "created": "2024-10-01T11:00:00+00:00",
        "config": {"methods": ["ultrapixel", "pixart-sigma", "demofusion"], "resolutions": ["1024x1792", "2048x2048"], "seeds": [0]},
    })
    summary = demo_summary(str(root), random_weights)
    status = {(s["method"], s["resolution"]): s for s in summary["status"]}
    lat = {(s["method"], s["resolution"]): s for s in summary["latency"]}
    methods = ["ultrapixel", "pixart-sigma", "demofusion"]
    for mi, method in enumerate(methods):
        for res_key in ("1024x1792", "2048x2048"):
            res = parse_resolution(res_key)
            st = status[(method, res_key)]
            for pi, p in enumerate(PROMPTS):
                unit = Unit(method, res, p["id"], p["prompt"], seed=0)
                if st["ok"]:
                    e = lat[(method, res_key)]
                    img = _pattern(mi, pi, res.height // SCALE, res.width // SCALE)
                    # as the generation loop writes them: wall seconds per image beside the stages
                    store.write_unit(unit, {"status": "ok", "stages": e["stages"], "batch_size": 1,
                                            "seconds": sum(e["stages"].values()),
                                            "peak_memory_bytes": e["peak_memory_bytes"],
                                            "memory_kind": e["memory_kind"]}, image=img)
                else:
                    kind = "unsupported" if st["unsupported"] else "oom"
                    store.write_unit(unit, {"status": kind, "reason": f"demo: {kind}"})
    if scored:
        atomic_write_json(root / "scores" / "summary.json", summary)
    return root
