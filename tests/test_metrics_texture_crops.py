import numpy as np
import pytest

from ultrabench.metrics.crops import CropError, crop_positions, image_key, take_crops
from ultrabench.metrics.texture import compression_ratio, glcm_score, glcm_scores, rgb_to_gray_cv2


def _skimage_score(p):
    from skimage.feature import graycomatrix
    from skimage.measure import shannon_entropy

    g = graycomatrix(p, [1, 2, 3, 4], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=64, normed=True)
    return shannon_entropy(g)


def test_glcm_oracles():
    const = np.zeros((64, 64), np.uint8)
    checker = (np.indices((64, 64)).sum(0) % 2 * 63).astype(np.uint8)
    noise = np.random.default_rng(0).integers(0, 64, (64, 64)).astype(np.uint8)
    assert glcm_scores(const)[0] == pytest.approx(0.0032818650, abs=1e-10)
    assert glcm_scores(checker)[0] == pytest.approx(0.0068926454, abs=1e-10)
    assert glcm_scores(noise)[0] == pytest.approx(3.534562, abs=1e-6)


def test_glcm_vectorised_equals_skimage_per_patch():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 64, (130, 200)).astype(np.uint8)
    img[:64] //= 8
    img[64:, :64] = np.tile(np.arange(64, dtype=np.uint8), (66, 1))
    ours = glcm_scores(img)
    ref = [_skimage_score(img[i * 64:(i + 1) * 64, j * 64:(j + 1) * 64]) for i in range(2) for j in range(3)]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_gray_conversion_and_compression_ratio():
    rgb = np.random.default_rng(2).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    from PIL import Image

    pil = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)
    assert np.abs(rgb_to_gray_cv2(rgb).astype(int) - pil).max() <= 1
    flat = np.zeros((128, 128, 3), np.uint8)
    assert compression_ratio(flat) > 50 > compression_ratio(rgb)
    assert compression_ratio(flat, "jpeg-q95") > 10
    assert np.isfinite(glcm_score(np.zeros((64, 64, 3), np.uint8)))


def test_crop_positions_deterministic_inside_and_keyed():
    a = crop_positions(2048, 4096, image_key("p001", 7), n=10, seed=0)
    assert a == crop_positions(2048, 4096, image_key("p001", 7), n=10, seed=0)
    assert a != crop_positions(2048, 4096, image_key("p002", 7), n=10, seed=0)
    assert a != crop_positions(2048, 4096, image_key("p001", 7), n=10, seed=1)
    assert len(a) == 10
    for t, l, h, w in a:
        assert (h, w) == (299, 299) and 0 <= t <= 2048 - 299 and 0 <= l <= 4096 - 299
    assert crop_positions(299, 299, "k", n=2) == [[0, 0, 299, 299]] * 2
    img = np.arange(300 * 310 * 3, dtype=np.uint32).reshape(300, 310, 3).astype(np.uint8)
    boxes = crop_positions(300, 310, "k", n=3)
    c = take_crops(img, boxes)
    assert c.shape == (3, 299, 299, 3)
    t, l, _, _ = boxes[1]
    np.testing.assert_array_equal(c[1], img[t:t + 299, l:l + 299])


def test_small_image_is_a_clear_error():
    with pytest.raises(CropError, match="smaller than the 299x299"):
        crop_positions(256, 1024, "tiny", n=3)


def test_crops_are_never_placed_by_content_where_an_image_key_exists():
    from ultrabench.scoring import views

    rng = np.random.default_rng(3)
    a, b = (rng.integers(0, 256, (400, 500, 3), dtype=np.uint8) for _ in range(2))
    view = views.View.of("crops-native", size=128, n=4, seed=0)
    key = image_key("p007", 3)
    # two methods' different images of one prompt and seed: the same positions, whatever the pixels
    _, boxes_a = views.compute(view, a, None, views.ViewContext("sha-of-a", key))
    _, boxes_b = views.compute(view, b, None, views.ViewContext("sha-of-b", key))
    assert boxes_a == boxes_b == crop_positions(400, 500, key, n=4, size=128)
    # reference images (no prompt id or seed) are placed by their sha256, asked for by name
    _, boxes = views.compute(view, a, None, views.ViewContext("sha-of-a", views.CONTENT_KEY))
    assert boxes == crop_positions(400, 500, "sha-of-a", n=4, size=128)
    # an empty key is a bug upstream, never a silent fall-back to the content
    with pytest.raises(ValueError, match="crops need the image's key"):
        views.compute(view, a, None, views.ViewContext("sha-of-a", ""))
    with pytest.raises(ValueError, match="crops need the image's key"):
        views.compute(views.View.of("crops-paired", size=128, n=2, square=512), a, None, views.ViewContext("s", ""))


def test_noise_estimate_recovers_added_noise_and_ignores_smooth_content():
    from ultrabench.metrics.texture import NOISE_FLAG, noise_sigma

    yy, xx = np.mgrid[0:512, 0:512]
    smooth = (128 + 60 * np.sin(xx / 40.0) * np.cos(yy / 55.0))[..., None].repeat(3, 2)
    assert noise_sigma(smooth.round().astype(np.uint8)) < 0.5
    for sigma in (2.0, 3.0, 6.0):
        noisy = smooth + np.random.default_rng(int(sigma)).normal(0, sigma, (512, 512))[..., None]
        assert noise_sigma(noisy.clip(0, 255).round().astype(np.uint8)) == pytest.approx(sigma, rel=0.12)
    assert NOISE_FLAG == 2.0


def test_noise_sigma_and_its_flag_through_the_api(tmp_path):
    import json
    import os

    import pandas as pd
    from PIL import Image

    from ultrabench.api import score
    from ultrabench.resolution import parse_resolution
    from ultrabench.runstore import RunStore, Unit

    os.environ["ULTRABENCH_CACHE"] = str(tmp_path / "ubcache")
    run = tmp_path / "run"
    yy, xx = np.mgrid[0:256, 0:256]
    smooth = (128 + 60 * np.sin(xx / 20.0) * np.cos(yy / 25.0))[..., None].repeat(3, 2)
    rng = np.random.default_rng(0)
    for i in range(2):
        for method, sigma in (("clean", 0.0), ("noisy", 4.0)):
            img = (smooth + rng.normal(0, sigma, (256, 256))[..., None]).clip(0, 255).round().astype(np.uint8)
            RunStore(run).write_unit(Unit(method, parse_resolution("256x256"), f"p{i}", "x", i),
                                     {"status": "ok", "seconds": 1.0, "stages": {}}, image=Image.fromarray(img))
    s = score(run, metrics=["noise-sigma", "glcm"], workers=0, bootstrap=0, progress=False, device="cpu",
              reference_method="clean")
    assert s["protocols"]["noise-sigma"]["version"] == "noise-sigma@immerkaer-median-v1"
    v = {(x["metric"], x["method"]): x["value"] for x in s["sets"]}
    assert v[("noise-sigma", "clean")] < 0.5 and v[("noise-sigma", "noisy")] == pytest.approx(4.0, rel=0.15)
    assert v[("glcm", "noisy")] > v[("glcm", "clean")]  # what the flag is for
    rows = pd.read_parquet(run / "scores" / "per_image.parquet")
    flags = {r["method"]: json.loads(r["details"])["noise-sigma"]["noise_dominated"] for _, r in rows.iterrows()}
    assert flags == {"clean": False, "noisy": True}
