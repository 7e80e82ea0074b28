"""Parity with the official UltraPixel code, stage by stage, through build_from_files and
UltraPixelPipeline.generate (benchmarks/parity_ultrapixel.py). Runs only when ULTRAPIXEL_OFFICIAL_CHECKOUT
names a checkout of catcathh/UltraPixel whose imports (kornia, opencv, webdataset, munch,
warmup_scheduler, pabloppp's torchtools) are on the path; about 6 minutes on one busy CPU core."""

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
