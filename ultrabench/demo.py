"""`ultrabench demo`: the whole workflow on tiny random-weight stand-ins, offline, on a CPU.

The methods, the metric extractors and the "real" reference images are all built here from fixed
seeds, so the demo proves the plumbing (generate -> score -> report, resume, records, tables) and
nothing else: its numbers mean nothing, and every output says so.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

from ultrabench.config import spec_from_dict

BANNER = (
    "DEMO: tiny models and metric extractors with RANDOM WEIGHTS and a synthetic reference set. "
    "The pipeline is real; the numbers mean nothing."
)

# The embedded default benchmark: three tiny methods, two small resolutions, a few prompts.
DEMO_SPEC: dict[str, Any] = {
    "name": "demo",
    "description": "Embedded demo: tiny random-weight methods, stand-in extractors (numbers mean nothing)",
    "out": "runs/demo",
    "prompts": "builtin",
    "num_prompts": 4,
    "seed": 0,
    "resolutions": ["320x320", "320x576"],
    "metrics": ["fid-patch", "fid", "is-patch", "is", "clip", "kid", "kid-patch", "pickscore", "glcm", "compression-ratio"],
    "patch_crops": 3,
    "reference_method": "tiny-ultrapixel",
    "methods": [
        {"name": "tiny-ultrapixel"},
        {"name": "tiny-sd"},
        {"name": "tiny-sd-sr"},
    ],
}

REFERENCE_IMAGES = 12
# Bootstrap resamples of the demo's intervals (a benchmark's default is 1000): on 4 images per set an
# interval means nothing either way, and 1000 resamples of its 36 set statistics were ~9 CPU seconds,
# a sixth of the demo. Recorded in every interval's `ci_method`.
DEMO_BOOTSTRAP = 200


def synthetic_reference(folder: Path, n: int = REFERENCE_IMAGES, size: tuple[int, int] = (384, 640)) -> Path:
    """Procedural "real" images (smooth fields plus texture), deterministic, larger than a 299 crop."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        path = folder / f"ref{i:03d}.png"
        if path.exists():
            continue
        rng = np.random.default_rng(1000 + i)
        channels = []
        for _ in range(3):
            fx, fy, phase = rng.uniform(0.002, 0.05, 2).tolist() + [rng.uniform(0, 6.28)]
            base = 127 + 90 * np.sin(xx * fx + yy * fy + phase)
            channels.append(base + rng.normal(0, 12, (h, w)))
        img = np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(path)
    return folder


def demo_spec(out: str | Path = "runs/demo"):
    return spec_from_dict({**DEMO_SPEC, "out": str(out)}, where="embedded demo spec")


MARKER = ".ultrabench-demo"  # written into every demo folder; --fresh deletes only folders that have it


def _claim_folder(out: Path, fresh: bool) -> None:
    """Refuse a folder the demo did not make; with `fresh`, delete a previous demo folder."""
    from ultrabench.errors import UsageError

    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"demo: {out} is a file, not a demo folder; choose another --out")
    if not (out / MARKER).is_file() and any(out.iterdir()):
        what = "not deleted" if fresh else "left alone"
        raise UsageError(f"demo: {out} was not made by `ultrabench demo` (no {MARKER} file in it), so it is {what}; "
                         "choose another --out")
    if fresh:
        shutil.rmtree(out)


def run_demo(out: str | Path = "runs/demo", *, device: str = "cpu", fresh: bool = False, progress: bool = True,
             console=None, echo: Callable[[str], None] = print) -> dict:
    from ultrabench.generate import generate

    out = Path(out)
    _claim_folder(out, fresh)
    spec = demo_spec(out)  # checked before the folder is touched
    echo(BANNER)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by `ultrabench demo`; `ultrabench demo --fresh` may delete this folder\n")
    ref = synthetic_reference(out / "reference-synthetic")
    spec = spec.replace(reference=str(ref))
    for r in spec.resolutions:
        echo(f"resolution {r.describe()}")
    step = time.perf_counter()
    summary = generate(spec, device=device, progress=progress, console=console)
    echo(f"generate: {summary.generated} images made, {summary.skipped} already there ({time.perf_counter() - step:.1f} s)")
    result: dict[str, Any] = {"generate": summary, "spec": spec}
    try:
        from ultrabench.scoring import score_run
    except ImportError:  # scoring not installed in this build: latency only
        score_run = None
    if score_run is not None:
        step = time.perf_counter()
        result["scores"] = score_run(out, device=device, stand_ins=True, progress=progress, bootstrap=DEMO_BOOTSTRAP,
                                     **spec.score_options())
        echo(f"score: done ({time.perf_counter() - step:.1f} s)")
    from ultrabench.report import build_report, iter_files

    step = time.perf_counter()
    result["report"] = build_report(out, reference_method=spec.reference_method, console=console)
    for name, path in iter_files(result["report"].get("files", {})):
        echo(f"{name}: {path}")
    echo(f"report: done ({time.perf_counter() - step:.1f} s)")
    echo(f"demo finished in {time.perf_counter() - t0:.1f} s; run folder {out}")
    echo(BANNER)
    return result
