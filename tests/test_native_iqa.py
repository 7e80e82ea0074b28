"""No-reference quality on native tiles (MUSIQ, MANIQA, CLIP-IQA through the optional pyiqa extra):
the tile grid, the listing with its non-commercial licence, and the one-line error without pyiqa."""

import importlib.util
import os

import numpy as np
import pytest

from cli_helpers import invoke
from scoring_helpers import make_run
from ultrabench.metrics.crops import tile_grid

HAVE_PYIQA = importlib.util.find_spec("pyiqa") is not None


@pytest.mark.parametrize("h,w,size", [(4096, 4096, 224), (320, 400, 224), (224, 224, 224), (1000, 3000, 512)])
def test_the_tile_grid_covers_every_pixel_with_the_fewest_tiles(h, w, size):
    boxes = tile_grid(h, w, size)
    assert len(boxes) == -(-h // size) * -(-w // size)
    cover = np.zeros((h, w), bool)
    for t, left, bh, bw in boxes:
        assert (bh, bw) == (size, size) and 0 <= t <= h - size and 0 <= left <= w - size
        cover[t:t + bh, left:left + bw] = True
    assert cover.all() and boxes == tile_grid(h, w, size)  # deterministic
    assert boxes[0][:2] == [0, 0] and boxes[-1][:2] == [h - size, w - size]


def test_the_iqa_metrics_are_listed_as_non_commercial():
    r = invoke("metrics")
    assert r.exit_code == 0, r.output
    for name in ("musiq", "maniqa", "clipiqa"):
        assert name in r.output
    assert r.output.count("weights licence: non-commercial (pyiqa: PolyForm Noncommercial 1.0.0") >= 3


def test_without_pyiqa_scoring_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyiqa", None)  # `import pyiqa` raises ImportError, as without the extra
    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = make_run(tmp_path / "run", n=2)
    r = invoke("score", run, "--metric", "musiq", "--stand-ins", "--workers", 0)
    assert r.exit_code != 0 and "pyiqa is not installed: `pip install 'ultrabench[iqa]'`" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (run / "scores" / "summary.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_PYIQA, reason="pyiqa is not installed (optional extra ultrabench[iqa]); parity with "
                                           "pyiqa's own MUSIQ on the same random weights needs it")
def test_musiq_per_image_is_pyiqas_mean_over_the_tiles(tmp_path):
    import json

    import pandas as pd
    import torch
    from PIL import Image

    import pyiqa
    from ultrabench.api import score

    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = make_run(tmp_path / "run", n=1, size=(512, 600))
    score(run, metrics=["musiq"], stand_ins=True, workers=0, bootstrap=0, progress=False, device="cpu",
          reference_method="m")
    row = pd.read_parquet(run / "scores" / "per_image.parquet").iloc[0]
    torch.manual_seed(0)
    ref = pyiqa.create_metric("musiq", device="cpu", pretrained=False)
    rgb = np.asarray(Image.open(run / row["image"]).convert("RGB"))
    boxes = json.loads(row["crops"])["tiles-native(size=512)"]
    x = torch.from_numpy(np.stack([rgb[t:t + h, left:left + w] for t, left, h, w in boxes])).permute(0, 3, 1, 2) / 255
    assert row["musiq"] == pytest.approx(float(ref(x.float()).mean()), rel=1e-4)


@pytest.mark.skipif(not HAVE_PYIQA, reason="pyiqa is not installed (optional extra ultrabench[iqa])")
def test_a_model_pyiqa_cannot_build_offline_is_one_line(tmp_path, monkeypatch):
    import pyiqa

    def refuse(name, **kw):
        raise OSError("We cannot find the requested files in the local cache.\nCheck your connection.")

    monkeypatch.setattr(pyiqa, "create_metric", refuse)
    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = make_run(tmp_path / "run", n=2)
    r = invoke("score", run, "--metric", "maniqa", "--stand-ins", "--workers", 0)
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1
    assert "pyiqa could not build maniqa: OSError: We cannot find the requested files in the local cache." in r.output
