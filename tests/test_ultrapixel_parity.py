"""Parity with the official UltraPixel code, stage by stage, through build_from_files and
UltraPixelPipeline.generate (benchmarks/parity_ultrapixel.py). Runs only when ULTRAPIXEL_OFFICIAL_CHECKOUT
names a checkout of catcathh/UltraPixel whose inference imports (munch, einops, pabloppp's torchtools)
are on the path (its training-only ones are stubbed); about 6 minutes on one busy CPU core. The same
checkout is timed beside ours by `benchmarks/gpu_ultrapixel.py --official` (plumbing checked here
on the CPU at small widths)."""

import importlib.util
import os
from pathlib import Path

import pytest

CHECKOUT = os.environ.get("ULTRAPIXEL_OFFICIAL_CHECKOUT")


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.skipif(not CHECKOUT, reason="set ULTRAPIXEL_OFFICIAL_CHECKOUT to an UltraPixel checkout")
def test_ultrapixel_matches_the_official_code(tmp_path):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "parity_ultrapixel.py"
    spec = importlib.util.spec_from_file_location("parity_ultrapixel", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.run(CHECKOUT, device=os.environ.get("ULTRAPIXEL_PARITY_DEVICE", "cpu"), out=tmp_path)
    missed = [name for name, v in res["verdicts"].items() if not v["met"]]
    assert not missed, f"missed: {missed}; see {tmp_path}"
    assert len(res["verdicts"]) == 4  # fp32 stages, bf16 forward, bf16 Stage C output, official noise


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.skipif(not CHECKOUT, reason="set ULTRAPIXEL_OFFICIAL_CHECKOUT to an UltraPixel checkout")
def test_the_gpu_benchmark_times_the_official_code_beside_ours(tmp_path):
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu_ultrapixel.py"), "--tiny", "--out", str(tmp_path),
                        "--runs", "1", "--warmup", "0", "--modes", "eager,official", "--res", "128x128",
                        "--official", CHECKOUT],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    (report,) = [json.loads(p.read_text()) for p in tmp_path.glob("ultrapixel_*.json")]
    modes = [row["mode"] for row in report["results"]]
    assert modes == ["eager", "official"]
    official = report["results"][1]
    assert official["image"] == [1, 3, 128, 128] and official["total_s"] > 0
    assert "Speed-up against the official code" in next(tmp_path.glob("ultrapixel_*.md")).read_text()
