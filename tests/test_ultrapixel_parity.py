"""Step-by-step parity with the official code; runs only when ULTRAPIXEL_OFFICIAL_CHECKOUT is set."""

import importlib.util
import os
from pathlib import Path

import pytest

CHECKOUT = os.environ.get("ULTRAPIXEL_OFFICIAL_CHECKOUT")


@pytest.mark.parity
@pytest.mark.skipif(not CHECKOUT, reason="set ULTRAPIXEL_OFFICIAL_CHECKOUT to an UltraPixel checkout")
def test_stage_c_two_pass_matches_official():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "parity_ultrapixel.py"
    spec = importlib.util.spec_from_file_location("parity_ultrapixel", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rep = mod.run(CHECKOUT, steps=20)
    assert rep["lr_final_max_abs_diff"] <= 1e-5 * max(1.0, rep["final_scale"])
    assert rep["final_max_abs_diff"] <= 1e-5 * max(1.0, rep["final_scale"])
