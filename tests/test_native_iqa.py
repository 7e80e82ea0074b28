"""No-reference quality on native tiles (MUSIQ, MANIQA, CLIP-IQA through the optional pyiqa extra):
the tile grid, the listing with its non-commercial licence, the one-line errors (without pyiqa, a
model pyiqa cannot build, a missing weight file), and, where pyiqa is installed, each score equal to
pyiqa's own model on the same random weights and the real loading path from local files."""

import importlib.util
import json
import os
import sys
import types

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


def _fake_pyiqa(monkeypatch, error):
    """A pyiqa whose create_metric fails as the real one does offline or without pkg_resources."""
    def create_metric(name, **kw):
        raise error

    monkeypatch.setitem(sys.modules, "pyiqa", types.SimpleNamespace(create_metric=create_metric))


def test_a_model_pyiqa_cannot_build_offline_is_one_line(tmp_path, monkeypatch):
    _fake_pyiqa(monkeypatch, OSError("We cannot find the requested files in the local cache.\nCheck your connection."))
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    run = make_run(tmp_path / "run", n=2)
    r = invoke("score", run, "--metric", "maniqa", "--stand-ins", "--workers", 0)
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1
    assert "pyiqa could not build maniqa: OSError: We cannot find the requested files in the local cache." in r.output
    assert not (run / "scores" / "summary.json").exists()


def test_clipiqa_without_pkg_resources_names_the_setuptools_pin(tmp_path, monkeypatch):
    _fake_pyiqa(monkeypatch, ModuleNotFoundError("No module named 'pkg_resources'"))
    weights = tmp_path / "weights"
    (weights / "openai" / "CLIP").mkdir(parents=True)
    (weights / "openai" / "CLIP" / "RN50.pt").write_bytes(b"not read: pyiqa fails first")
    monkeypatch.setenv("ULTRABENCH_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    r = invoke("score", make_run(tmp_path / "run", n=1), "--metric", "clipiqa", "--workers", 0)
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output
    assert "pyiqa could not build clipiqa: openai-clip (pyiqa's CLIP-IQA) needs pkg_resources" in r.output
    assert "pip install 'setuptools<81'" in r.output


def test_a_missing_clip_rn50_is_one_line_naming_where_it_is_looked_for(tmp_path, monkeypatch):
    for var, sub in (("HOME", "home"), ("TORCH_HOME", "torch"), ("ULTRABENCH_CACHE", "ubcache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("ULTRABENCH_WEIGHTS_DIR", raising=False)
    run = make_run(tmp_path / "run", n=1)
    r = invoke("score", run, "--metric", "clipiqa", "--workers", 0)
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output
    assert "missing file RN50.pt (https://openaipublic.azureedge.net/clip/models/" in r.output
    assert str(tmp_path / "ubcache" / "weights" / "openai" / "CLIP" / "RN50.pt") in r.output
    assert not (run / "scores" / "summary.json").exists()


def test_clip_rn50_is_also_found_where_pyiqa_and_openai_clip_keep_it(tmp_path, monkeypatch):
    from ultrabench.metrics.plugins.iqa import PyIQA
    from ultrabench.weights import WeightResolver

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    (wf,) = PyIQA({"iqa_model": "clipiqa"}).weight_files()
    assert WeightResolver().status(wf).path is None
    for where in (tmp_path / "home" / ".cache" / "clip" / "RN50.pt", tmp_path / "torch" / "hub" / "clip" / "RN50.pt"):
        where.parent.mkdir(parents=True)
        where.write_bytes(b"x")
        assert WeightResolver().status(wf).path == where  # pyiqa's copy is looked at before openai-clip's


def _score_one(run, metric, **kw):
    import pandas as pd

    from ultrabench.api import score

    score(run, metrics=[metric], workers=0, bootstrap=0, progress=False, device="cpu", reference_method="m", **kw)
    return pd.read_parquet(run / "scores" / "per_image.parquet")


def _tiles(run, row, size):
    import torch
    from PIL import Image

    rgb = np.asarray(Image.open(run / row["image"]).convert("RGB"))
    boxes = json.loads(row["crops"])[f"tiles-native(size={size})"]
    x = np.stack([rgb[t:t + h, left:left + w] for t, left, h, w in boxes])
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255


needs_pyiqa = pytest.mark.skipif(not HAVE_PYIQA, reason="pyiqa is not installed (optional extra ultrabench[iqa]); "
                                                        "parity with pyiqa's own models needs it")


@pytest.mark.slow
@needs_pyiqa
def test_musiq_per_image_is_pyiqas_mean_over_the_tiles(tmp_path, monkeypatch):
    import torch

    import pyiqa

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    run = make_run(tmp_path / "run", n=1, size=(512, 600))
    row = _score_one(run, "musiq", stand_ins=True).iloc[0]
    torch.manual_seed(0)
    ref = pyiqa.create_metric("musiq", device="cpu", pretrained=False)
    assert row["musiq"] == pytest.approx(float(ref(_tiles(run, row, 512)).mean()), rel=1e-4)


@pytest.mark.slow
@needs_pyiqa
def test_maniqa_per_image_is_pyiqas_default_twenty_crop_score(tmp_path, monkeypatch):
    """Our one crop per 224 tile against pyiqa's own create_metric("maniqa") with its 20 crops."""
    import torch

    import pyiqa
    import timm

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    run = make_run(tmp_path / "run", n=1, size=(224, 224))
    row = _score_one(run, "maniqa", stand_ins=True).iloc[0]
    create = timm.create_model
    # the test's pyiqa gets the same random ViT (no ImageNet weights here); its 20 crops are its own
    monkeypatch.setattr(timm, "create_model", lambda name, pretrained=False, **kw: create(name, pretrained=False, **kw))
    torch.manual_seed(0)
    ref = pyiqa.create_metric("maniqa", device="cpu", pretrained=False)
    assert ref.net.test_sample == 20
    with torch.inference_mode():
        want = float(ref(_tiles(run, row, 224)).mean())
    assert row["maniqa"] == pytest.approx(want, rel=1e-5, abs=1e-7)


@needs_pyiqa
def test_clipiqa_per_image_is_pyiqas_mean_over_the_tiles(tmp_path, monkeypatch):
    import torch

    import pyiqa
    from ultrabench.metrics.plugins.iqa import clip_rn50_standin

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    run = make_run(tmp_path / "run", n=2, size=(300, 400))
    rows = _score_one(run, "clipiqa", stand_ins=True)
    ref = pyiqa.create_metric("clipiqa", device="cpu", backbone=str(clip_rn50_standin(tmp_path / "ref")))
    for _, row in rows.iterrows():
        x = _tiles(run, row, 224)
        assert len(x) == 4  # 2 x 2 tiles of 224 cover 300 x 400
        with torch.inference_mode():
            assert row["clipiqa"] == pytest.approx(float(ref(x).mean()), rel=1e-5)
    assert rows["clipiqa"].between(0, 1).all() and rows["clipiqa"].nunique() == 2


@pytest.mark.slow
@needs_pyiqa
def test_the_real_path_reads_local_files_only_and_scores_as_the_same_weights_do(tmp_path, monkeypatch):
    """MANIQA from a checkpoint in the weights folder (timm is not asked for ImageNet weights) and
    CLIP-IQA from RN50.pt where pyiqa keeps it: the scores of those files equal the stand-in's whose
    weights they hold, and the summary names the files' hashes, not random weights."""
    import hashlib
    import shutil

    import torch

    from ultrabench.metrics.plugins.iqa import PyIQA, clip_rn50_standin

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tmp_path / "weights"
    monkeypatch.setenv("ULTRABENCH_WEIGHTS_DIR", str(weights))
    run = make_run(tmp_path / "run", n=1, size=(224, 224))
    random = {m: _score_one(run, m, stand_ins=True).iloc[0][m] for m in ("maniqa", "clipiqa")}

    ckpt = weights / "chaofengc" / "IQA-PyTorch-Weights" / "ckpt_koniq10k.pt"
    ckpt.parent.mkdir(parents=True)
    torch.save(PyIQA({"iqa_model": "maniqa"}).standin(tmp_path, "cpu").model.net.state_dict(), ckpt)
    rn50 = tmp_path / "torch" / "hub" / "clip" / "RN50.pt"
    rn50.parent.mkdir(parents=True)
    shutil.copy(clip_rn50_standin(tmp_path / "ubcache" / "stand-ins"), rn50)

    for metric, path in (("maniqa", ckpt), ("clipiqa", rn50)):
        assert _score_one(run, metric).iloc[0][metric] == pytest.approx(random[metric], rel=1e-6)
        summary = json.loads((run / "scores" / "summary.json").read_text())
        assert summary["protocols"][metric]["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


@needs_pyiqa
def test_a_checkpoint_pyiqa_cannot_load_is_one_line(tmp_path, monkeypatch):
    import torch

    weights = tmp_path / "weights"
    ckpt = weights / "chaofengc" / "IQA-PyTorch-Weights" / "musiq_koniq_ckpt-e95806b9.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save({"not": torch.zeros(1)}, ckpt)  # a file of the right name holding another model's keys
    monkeypatch.setenv("ULTRABENCH_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    run = make_run(tmp_path / "run", n=1)
    r = invoke("score", run, "--metric", "musiq", "--workers", 0)
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output
    assert f"{ckpt} is not a musiq checkpoint pyiqa can load: RuntimeError" in r.output
    assert not (run / "scores" / "summary.json").exists()
