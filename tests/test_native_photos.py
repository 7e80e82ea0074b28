"""The native-resolution metrics on real photographs (scikit-image's bundled ones, no download), at
small sizes: seams, copies, noise. `benchmarks/validate_metrics.py` runs the same at 4096 and writes
reports/validation/."""

import numpy as np
import pytest

from ultrabench.metrics import photos as P
from ultrabench.metrics import repetition as rep
from ultrabench.metrics import seams
from ultrabench.metrics import texture as T

N = 1024
SCENES = ("astronaut", "coffee", "camera")


@pytest.fixture(scope="module")
def noisy():
    return {n: P.photo(n, N, sigma=3) for n in SCENES}


def test_every_bundled_photo_loads_without_a_download():
    for name in P.PHOTOS:
        a = P.photo_source(name)
        assert a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint8 and min(a.shape[:2]) >= 150


def test_seams_of_every_kind_found_on_photos_and_clean_photos_score_zero(noisy):
    for name, img in noisy.items():
        assert seams.seam_features(img)[0] == 0, name
        for kind, strength in (("step", 8), ("chroma", 12), ("gain", 6), ("blur", 2)):
            f = seams.seam_features(P.seam(img, kind, strength, 256))
            assert f[0] > 0 and list(f[2:5]) == [0, 256, 0], (name, kind, f)
        # the value is the step: about 8 grey levels for an 8-level step, at any contrast
        v = seams.seam_features(P.seam(img, "step", 8, 256))[0]
        half = ((img.astype(np.float64) - 128) * 0.5 + 128).round().astype(np.uint8)
        assert 5 < v < 11 and seams.seam_features(P.seam(half, "step", 8, 256))[0] == pytest.approx(v, rel=0.3)


def test_seams_known_tiling_one_line_and_periodic_photo_content():
    img = P.photo("coffee", 1536, sigma=3)
    one = P.seam(img, "step", 6, 1024)  # one seam per axis
    assert seams.seam_features(one)[0] == 0 and seams.seam_features(one, tiling="1024/1024")[0] > 3
    brick = P.photo("brick", 256)
    assert seams.seam_features(np.tile(brick, (4, 4, 1)))[0] == 0  # tiled texture: periodic content
    assert seams.seam_features(P.mirror_tiled(P.photo("brick", N), 256))[0] == 0
    for q in (50, 90):
        assert seams.seam_features(P.jpeg(P.photo("astronaut", N, sigma=3), q))[0] == 0


def test_repetition_sees_copies_and_grids_on_photos_with_stand_in_tokens():
    def score(img):
        return rep.repetition_features(P.hog_tokens(img), N, N)[0]

    clean = {n: score(P.photo(n, N)) for n in P.PHOTOS}
    for n in SCENES:
        img = P.photo(n, N)
        box = (5 * 32, 5 * 32, 192, 192)  # on the token grid: HOG, unlike DINOv2, is not shift-invariant
        s = [score(P.paste_copies(img, k, box)) for k in (0, 1, 3)]
        assert s[0] < s[1] < s[2], (n, s)
        # a grid of one region at a 4-token period (512 pixels of 4096): v1 scored 0 here
        assert score(P.tiled_grid(img, 128)) > max(clean.values()), n


def test_noise_is_flagged_where_it_raises_glcm_and_compression():
    for n in ("astronaut", "rocket", "brick"):
        img = P.photo(n, 512)
        noisy = P.add_noise(img, 3)
        # what the issue found: noise "improves" both detail scores ...
        assert T.glcm_score(noisy) > T.glcm_score(img) and T.compression_ratio(noisy) < T.compression_ratio(img)
        # ... and the estimate beside them says so, even under a down-up-scaled copy
        assert T.noise_sigma(img) < T.NOISE_FLAG < T.noise_sigma(noisy)
        assert T.noise_sigma(P.add_noise(P.down_up(img, 4), 3)) == pytest.approx(3.0, rel=0.15)
