"""CMMD: the estimator math against the paper's formula written out here, the original code's
(biased) estimator, the centre-square view and the CLIP-336 extractor on a stand-in.

Optional, when available: `jax` (the resize the original calls) and CMMD_ORIGINAL_CHECKOUT (a
google-research `cmmd/` folder, whose `distance.mmd` is then run beside ours).
"""

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ultrabench.metrics import cmmd as cm

ORIGINAL = os.environ.get("CMMD_ORIGINAL_CHECKOUT")


def _paper_mmd2(x, y, sigma=10.0):
    """Eq. 3 of the CMMD paper (Gretton et al.'s unbiased estimator), term by term over pairs."""
    def k(a, b):
        return math.exp(-sum((ai - bi) ** 2 for ai, bi in zip(a, b)) / (2 * sigma ** 2))

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def _v_statistic(x, y, sigma=10.0):
    """What google-research/cmmd distance.mmd computes: means over all pairs, i = j included."""
    def mean_k(a, b):
        return np.mean([[math.exp(-float(((p - q) ** 2).sum()) / (2 * sigma ** 2)) for q in b] for p in a])

    return mean_k(x, x) + mean_k(y, y) - 2 * mean_k(x, y)


def _unit_rows(n, d, seed, shift=0.0):
    z = np.random.default_rng(seed).standard_normal((n, d)) + shift
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_unbiased_equals_the_papers_formula_and_biased_equals_the_original_codes():
    x, y = _unit_rows(7, 5, 0), _unit_rows(9, 5, 1, shift=0.4)
    assert cm.cmmd(x, y, estimator="unbiased") == pytest.approx(1000 * _paper_mmd2(x, y), rel=1e-10)
    assert cm.cmmd(x, y) == pytest.approx(1000 * _v_statistic(x, y), rel=1e-10)
    assert cm.cmmd(x, y, sigma=0.7, scale=1.0, estimator="unbiased") == pytest.approx(_paper_mmd2(x, y, 0.7), rel=1e-10)


def test_closed_forms():
    # one point each, 10 apart, sigma 10: k = exp(-1/2)
    assert cm.cmmd([[0.0]], [[10.0]]) == pytest.approx(1000 * (2 - 2 * math.exp(-0.5)), rel=1e-12)
    x, y = _unit_rows(6, 4, 2), _unit_rows(8, 4, 3)
    kxx, kyy = cm.rbf_kernel(x, x), cm.rbf_kernel(y, y)
    uxx = (kxx.sum() - 6) / 30
    uyy = (kyy.sum() - 8) / 56
    gap = cm.cmmd(x, y) - cm.cmmd(x, y, estimator="unbiased")
    assert gap == pytest.approx(1000 * ((1 - uxx) / 6 + (1 - uyy) / 8), rel=1e-9)
    assert cm.cmmd(x, x) == pytest.approx(0.0, abs=1e-9)  # biased: a set against itself is exactly 0
    assert cm.cmmd(x, x, estimator="unbiased") == pytest.approx(-1000 * 2 * (1 - uxx) / 6, rel=1e-9)


def test_block_sums_do_not_change_the_value():
    x, y = _unit_rows(37, 16, 4), _unit_rows(23, 16, 5, shift=0.2)
    for est in cm.ESTIMATORS:
        assert cm.cmmd(x, y, estimator=est, block=5) == pytest.approx(cm.cmmd(x, y, estimator=est), rel=1e-12)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="estimator"):
        cm.cmmd([[0.0]], [[1.0]], estimator="median")
    with pytest.raises(ValueError, match="at least 2"):
        cm.cmmd([[0.0]], [[1.0], [2.0]], estimator="unbiased")
    with pytest.raises(ValueError, match="one width"):
        cm.cmmd(np.zeros((3, 4)), np.zeros((3, 5)))


def test_bootstrap_resamples_equal_cmmd_of_the_resampled_set():
    x, y = _unit_rows(12, 8, 6), _unit_rows(10, 8, 7, shift=0.3)
    idx = np.random.default_rng(0).integers(0, 12, 12)
    for est in cm.ESTIMATORS:
        b = cm.CMMDBootstrap(x, y, estimator=est)
        assert b.value(np.arange(12)) == pytest.approx(cm.cmmd(x, y, estimator=est), rel=1e-10)
        assert b.value(idx) == pytest.approx(cm.cmmd(x[idx], y, estimator=est), rel=1e-10)


@pytest.mark.parity
@pytest.mark.skipif(not ORIGINAL, reason="set CMMD_ORIGINAL_CHECKOUT to google-research's cmmd/ folder")
def test_matches_the_original_distance_mmd():
    pytest.importorskip("jax")
    import jax

    jax.config.update("jax_enable_x64", True)
    spec = importlib.util.spec_from_file_location("cmmd_distance", Path(ORIGINAL) / "distance.py")
    dist = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dist)
    x, y = _unit_rows(40, 32, 8), _unit_rows(30, 32, 9, shift=0.1)
    assert cm.cmmd(x, y) == pytest.approx(float(dist.mmd(x, y)), rel=1e-9)


# --------------------------------------------------------------------------------------------
# the view and the extractor
def test_centre_square_is_the_originals_crop_and_resize():
    from ultrabench.scoring.views import centre_square

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (301, 520, 3), dtype=np.uint8)  # odd margins: floor offsets matter
    left = (520 - 301) // 2
    ref = np.asarray(Image.fromarray(a[:, left:left + 301]).resize((336, 336), Image.BICUBIC))
    np.testing.assert_array_equal(centre_square(a), ref)
    tall = rng.integers(0, 256, (700, 400, 3), dtype=np.uint8)
    top = (700 - 400) // 2
    np.testing.assert_array_equal(centre_square(Image.fromarray(tall)),
                                  np.asarray(Image.fromarray(tall[top:top + 400]).resize((336, 336), Image.BICUBIC)))
    sq = rng.integers(0, 256, (336, 336, 3), dtype=np.uint8)
    np.testing.assert_array_equal(centre_square(sq), sq)


def _reference_embedding(model, img336: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.array(img336)).permute(2, 0, 1).float()[None] / 255.0
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    with torch.no_grad():
        e = model.encode_image((x - mean) / std)
    return (e / e.norm(dim=-1, keepdim=True)).double().numpy()[0]


def test_standin_embeds_views_and_crops_as_the_original_pipeline_does(tmp_path):
    from ultrabench.metrics.extractors import cmmd_clip as cc
    from ultrabench.scoring.views import centre_square

    ex = cc.CmmdClipExtractor.standin(tmp_path)
    assert ex.random_weights and ex.id == "cmmd-clip:standin-vit-tiny-336/random"
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (299, 299, 3), dtype=np.uint8)
    got = ex.image_features([centre_square(photo), crop])
    assert got.shape == (2, 48) and got.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-6)
    model = ex.scorer.model
    for row, raw in zip(got, (photo, crop)):
        ref_in = np.asarray(Image.fromarray(raw[:, 80:560] if raw.shape[1] == 640 else raw)
                            .resize((336, 336), Image.BICUBIC))
        np.testing.assert_allclose(row, _reference_embedding(model, ref_in), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        ex.image_features([crop.astype(np.float32)])
    info = ex.info()
    assert "centred square" in info["input"] and "jax.image.resize" in info["resize_vs_original"]
    assert "n/a" not in info["resize_vs_original"]


def test_standin_file_replaces_every_weight(tmp_path):
    from safetensors.torch import load_file

    from ultrabench.metrics.extractors import cmmd_clip as cc

    ex = cc.CmmdClipExtractor.standin(tmp_path)
    disk = load_file(str(cc.standin_clip336_file(tmp_path)))
    live = ex.scorer.model.state_dict()
    assert set(disk) == set(live) and all(torch.equal(disk[k], live[k]) for k in disk)
    assert ex.weights_sha256 == cc.CmmdClipExtractor.standin(tmp_path).weights_sha256


TINY_336 = {"embed_dim": 32,
            "vision_cfg": {"image_size": 336, "layers": 1, "width": 64, "head_width": 32, "patch_size": 48},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def test_load_resolves_the_open_clip_hub_file_from_the_hf_cache(tmp_path, monkeypatch):
    import open_clip
    from open_clip import factory, pretrained
    from open_clip.transformer import QuickGELU
    from safetensors.torch import save_file

    from ultrabench.errors import MissingWeightsError
    from ultrabench.metrics.extractors import cmmd_clip as cc
    from ultrabench.weights import WeightResolver

    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub))
    monkeypatch.setitem(factory._MODEL_CONFIGS, "ub-tiny-336", TINY_336)
    monkeypatch.setitem(pretrained._PRETRAINED, "ub-tiny-336",
                        {"openai": pretrained._pcfg(hf_hub="ub-test/tiny-clip-336/", quick_gelu=True)})
    monkeypatch.setattr(cc, "MODEL", ("ub-tiny-336", "openai"))
    with pytest.raises(MissingWeightsError) as e:
        cc.load(WeightResolver())
    assert "\n" not in str(e.value) and "ub-test/tiny-clip-336" in str(e.value)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub / "models--ub-test--tiny-clip-336"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    torch.manual_seed(0)
    ref = open_clip.create_model("ub-tiny-336", force_quick_gelu=True).eval()
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()},
              repo / "snapshots" / commit / "open_clip_model.safetensors")
    ex = cc.load(WeightResolver())
    assert ex.id == "cmmd-clip:ub-tiny-336/openai" and not ex.random_weights
    assert any(isinstance(m, QuickGELU) for m in ex.scorer.model.modules())
    img = np.random.default_rng(2).integers(0, 256, (336, 336, 3), dtype=np.uint8)
    np.testing.assert_allclose(ex.image_features([img])[0], _reference_embedding(ref, img), rtol=1e-5, atol=1e-6)


def test_real_weight_files_are_the_open_clip_hub_files():
    from ultrabench.metrics.extractors import cmmd_clip as cc

    files = cc.weight_files()
    assert [f.label for f in files] == ["timm/vit_large_patch14_clip_336.openai/open_clip_model.safetensors",
                                        "timm/vit_large_patch14_clip_336.openai/open_clip_pytorch_model.bin"]


# --------------------------------------------------------------------------------------------
def _test_image(size=1024, seed=0) -> np.ndarray:
    """Smooth colour, a fine chirp (aliases when shrunk without a filter), edges and a little noise."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    chirp = 0.5 + 0.5 * np.sin(2 * np.pi * (40 * xx + 200 * xx ** 2))
    edges = ((xx * 12).astype(int) + (yy * 12).astype(int)) % 2
    noise = np.random.default_rng(seed).standard_normal((size, size))
    r = 255 * (0.6 * xx + 0.4 * chirp)
    g = 255 * (0.5 * yy + 0.5 * edges)
    b = 127 + 60 * np.sin(2 * np.pi * 7 * (xx + yy)) + 8 * noise
    return np.clip(np.stack([r, g, b], -1), 0, 255).round().astype(np.uint8)


def resize_differences(size=1024) -> dict:
    """Grey-level differences (0-255 scale) of resizes to 336 against jax.image.resize(bicubic), which
    the original applies to the [0, 1] array it is given (antialias=True is jax's default)."""
    import jax

    img = _test_image(size)
    f = img.astype(np.float32) / 255.0
    ref = 255.0 * np.asarray(jax.image.resize(f[None], (1, 336, 336, 3), "bicubic"))[0]
    pil = np.asarray(Image.fromarray(img).resize((336, 336), Image.BICUBIC)).astype(np.float64)
    t = torch.from_numpy(f).permute(2, 0, 1)[None]
    no_aa = 255.0 * torch.nn.functional.interpolate(t, (336, 336), mode="bicubic").permute(0, 2, 3, 1)[0].numpy()
    pil_f = np.stack([np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F")
                                 .resize((336, 336), Image.BICUBIC)) for c in range(3)], -1)
    same = 255.0 * np.asarray(jax.image.resize(f[None, :336, :336], (1, 336, 336, 3), "bicubic"))[0]
    return {"identity_336": float(np.abs(same - 255.0 * f[:336, :336]).max()),
            "jax_vs_pil_float": float(np.abs(ref - pil_f).max()),
            "jax_vs_pil": float(np.abs(ref - pil).max()), "jax_vs_pil_mean": float(np.abs(ref - pil).mean()),
            "jax_vs_torch": float(np.abs(ref - no_aa).max()), "jax_vs_torch_mean": float(np.abs(ref - no_aa).mean())}


@pytest.mark.parity
def test_pil_view_against_the_originals_jax_resize():
    pytest.importorskip("jax")
    from ultrabench.metrics.extractors import cmmd_clip as cc

    d = resize_differences()
    assert d["identity_336"] == 0.0
    # what the extractor's info() states was measured here
    for k in cc.MEASURED:
        assert f"{d[k]:.2f}" == cc.MEASURED[k], (k, d[k])
    assert d["jax_vs_pil_mean"] < d["jax_vs_torch_mean"]
