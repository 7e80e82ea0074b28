"""The 2025-2026 metrics through `score_run` and the CLI, on stand-in weights of the real
architectures: each value equals the extractor applied directly (outside the engine) followed by the
metric's formula, the aesthetic head reuses the CLIP score's forward, win rates exist for every
preference model, and a metric whose weights are missing is reported, not fatal."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cli_helpers import invoke
from scoring_helpers import make_images, make_run

from ultrabench.scoring.views import View, centre_square, compute, ViewContext

NEW = ["fd-dinov2", "fd-dinov2-patch", "cmmd", "cmmd-patch", "hpsv2.1", "imagereward", "aesthetic", "longclip",
       "clip"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    from ultrabench.scoring import score_run

    root = tmp_path_factory.mktemp("m2026")
    mp = pytest.MonkeyPatch()
    mp.setenv("ULTRABENCH_CACHE", str(root / "ubcache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    run = make_run(root / "run", n=3, method="ultrapixel", seed=0)
    make_run(root / "run", n=3, method="other", seed=1)
    ref = make_images(root / "ref", n=4, seed=5)
    s = score_run(run, metrics=NEW, reference=ref, stand_ins=True, workers=0, bootstrap=20, progress=False)
    yield root, run, ref, s
    mp.undo()


def _images(folder, method=None):
    paths = sorted((folder / method).rglob("*.png")) if method else sorted(folder.glob("*.png"))
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def _value(s, metric, method):
    return next(e["value"] for e in s["sets"] if e["metric"] == metric and e["method"] == method)


def test_set_metrics_equal_the_extractors_applied_directly(scored):
    from ultrabench.metrics.cmmd import cmmd
    from ultrabench.metrics.extractors.cmmd_clip import CmmdClipExtractor
    from ultrabench.metrics.extractors.dinov2 import DinoV2Extractor
    from ultrabench.metrics.frechet import fid_from_features
    from ultrabench.weights import cache_root

    root, run, ref, s = scored
    cache = cache_root() / "stand-ins"
    dino, clip336 = DinoV2Extractor.standin(cache), CmmdClipExtractor.standin(cache)
    square = View.of("square", size=224, filter="bicubic")
    gen, refs = _images(run, "other"), _images(ref)
    ctx = ViewContext("x", "")
    g = dino.image_features([compute(square, a, Image.fromarray(a), ctx) for a in gen])
    r = dino.image_features([compute(square, a, Image.fromarray(a), ctx) for a in refs])
    assert _value(s, "fd-dinov2", "other") == pytest.approx(fid_from_features(g, r), rel=1e-6)
    g = clip336.image_features([centre_square(a) for a in gen])
    r = clip336.image_features([centre_square(a) for a in refs])
    # the paper's unbiased estimator (the released code's biased one is larger for small sets)
    assert _value(s, "cmmd", "other") == pytest.approx(cmmd(g, r, estimator="unbiased"), rel=1e-4, abs=1e-7)
    assert cmmd(g, r, estimator="biased") > _value(s, "cmmd", "other")
    for m in ("fd-dinov2-patch", "cmmd-patch"):
        assert np.isfinite(_value(s, m, "other")) and s["protocols"][m]["version"]
    assert "unbiased" in s["protocols"]["cmmd"]["version"]


def test_per_image_scores_equal_the_scorers_and_aesthetic_reads_the_clip_embeddings(scored):
    from ultrabench.metrics.extractors.aesthetic import LaionAestheticHead
    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.metrics.extractors.hpsv2 import HPSv2Extractor
    from ultrabench.metrics.extractors.imagereward import ImageRewardScorer
    from ultrabench.scoring.views import longest_side_pad
    from ultrabench.weights import cache_root

    root, run, ref, s = scored
    df = pd.read_parquet(run / "scores" / "per_image.parquet")
    df = df[df.method == "other"].sort_values("image")
    imgs, prompts = _images(run, "other"), list(df.prompt_id.map(lambda p: f"prompt {p[1:]}"))
    cache = cache_root() / "stand-ins"
    short = View.of("short-side", size=224)
    ctx = ViewContext("x", "")
    views = [compute(short, a, Image.fromarray(a), ctx) for a in imgs]

    clip = ClipScorer.standin(cache)
    emb = clip.image_embeddings(views)
    head = LaionAestheticHead.standin(cache)
    np.testing.assert_allclose(df.aesthetic, head.image_features(emb)[:, 0], rtol=1e-6)
    ir = ImageRewardScorer.standin(cache)
    np.testing.assert_allclose(df.imagereward, ir.rewards(views, prompts), rtol=1e-5, atol=1e-6)
    hps = HPSv2Extractor.standin(cache)
    want = hps.score(hps.image_features([longest_side_pad(Image.fromarray(a)) for a in imgs]),
                     hps.text_features(prompts))
    np.testing.assert_allclose(df.hpsv2_1, want, rtol=1e-5, atol=1e-6)
    assert df.longclip.notna().all()
    # the aesthetic head is a derived extractor: no network of its own sees pixels
    assert "laion-aesthetic" in s["extractors"] and s["protocols"]["aesthetic"]["version"] == "aesthetic@laion-v2-v1"


def test_every_preference_model_has_win_rates_and_a_column(scored):
    root, run, ref, s = scored
    prefs = {w["metric"] for w in s["winrates"] if w["method"] == "other"}
    assert prefs == {"hpsv2.1", "imagereward"}  # pickscore was not asked for here
    for w in s["winrates"]:
        assert w["n_pairs"] == 3 and 0.0 <= w["win_rate"] <= 1.0 and w["ci95"] is not None
    r = invoke("-q", "report", run, "-f", "json,figures", "--out", root / "rep",
               "--extra", "cmmd,fd-dinov2,aesthetic,longclip,winrate:hpsv2.1,imagereward-winrate")
    assert r.exit_code == 0, r.output
    t = json.loads((root / "rep" / "table1.json").read_text())
    other = next(x for x in t["rows"] if x["method"] == "other")
    for col in ("cmmd", "fd-dinov2", "aesthetic", "longclip", "winrate:hpsv2.1", "winrate:imagereward"):
        assert other["cells"][col]["value"] is not None, col
    assert (root / "rep" / "figures" / "winrate-hpsv2.1.svg").is_file()
    assert (root / "rep" / "figures" / "winrate-imagereward.svg").is_file()


def test_prompt_conditioned_features_are_cached_per_prompt(tmp_path, monkeypatch):
    """ImageReward's forward sees the prompt: the same image under another prompt is another entry."""
    from ultrabench.scoring import score_run

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    run = make_run(tmp_path / "run", n=2, size=(64, 64))
    a = score_run(run, metrics=["imagereward"], stand_ins=True, workers=0, bootstrap=0, progress=False)
    for p in (run / "m" / "64x64").glob("*.json"):  # the same images, other prompts
        rec = json.loads(p.read_text())
        rec["prompt"] = "a completely different prompt " + rec["prompt"]
        p.write_text(json.dumps(rec))
    b = score_run(run, metrics=["imagereward"], stand_ins=True, workers=0, bootstrap=0, progress=False)
    va = next(e for e in a["sets"] if e["metric"] == "imagereward")["value"]
    vb = next(e for e in b["sets"] if e["metric"] == "imagereward")["value"]
    assert va != pytest.approx(vb, abs=1e-9)


def test_a_metric_whose_weights_are_missing_is_not_computed_and_the_others_are(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run", n=3)
    for k, v in {"ULTRABENCH_CACHE": "c", "HF_HOME": "hf", "TORCH_HOME": "th"}.items():
        monkeypatch.setenv(k, str(tmp_path / v))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = invoke("-q", "--weights-dir", tmp_path / "wd", "score", run, "--metric", "is,glcm", "--workers", 0)
    assert r.exit_code == 0, r.output
    assert "not computed is: missing file weights-inception-2015-12-05-6726825d.pth" in r.output
    s = json.loads((run / "scores" / "summary.json").read_text())
    assert {e["metric"] for e in s["sets"]} == {"glcm"}
    assert s["skipped"]["is"].startswith("weights missing: missing file weights-inception")
    r = invoke("-q", "report", run, "-f", "json", "--out", tmp_path / "rep")
    t = json.loads((tmp_path / "rep" / "table1.json").read_text())
    cell = t["rows"][0]["cells"]["is"]
    note = next(f["text"] for f in t["footnotes"] if f["mark"] == cell["footnote"])
    assert note.startswith("IS not computed: weights missing: missing file weights-inception")


def test_aesthetic_and_clip_score_share_one_image_forward(tmp_path, monkeypatch):
    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.scoring import score_run
    from ultrabench.weights import cache_root

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "ubcache"))
    run = make_run(tmp_path / "run", n=3, size=(64, 64))
    clip = ClipScorer.standin(cache_root() / "stand-ins")
    s = score_run(run, metrics=["clip", "aesthetic"], stand_ins=True, extractors={"clip": clip}, workers=0,
                  bootstrap=0, progress=False)
    assert clip.calls == 3  # three images, one CLIP forward each, for both metrics
    assert {e["metric"] for e in s["sets"]} == {"clip", "aesthetic"}
