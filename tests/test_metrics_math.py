"""Oracles for the metric math (research note section 7) and agreement with the libraries' functions."""

import numpy as np
import pytest
import torch

from ultrabench.metrics.bootstrap import bootstrap_ci, mean_ci
from ultrabench.metrics.frechet import FrechetToReference, fid_from_features, frechet_distance, sqrtm_psd
from ultrabench.metrics.inception_score import inception_score
from ultrabench.metrics.kid import kernel_inception_distance, mmd2
from ultrabench.metrics.winrate import win_rate


def test_frechet_1d_closed_form():
    assert frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(10.0, abs=1e-12)


@pytest.mark.parametrize("d", [2, 64, 256])
def test_frechet_isotropic_closed_form(d):
    v = frechet_distance(np.zeros(d), np.eye(d), np.ones(d), 4 * np.eye(d))
    assert v == pytest.approx(2 * d, rel=1e-12)
    assert frechet_distance(np.ones(d), 4 * np.eye(d), np.ones(d), 4 * np.eye(d)) == pytest.approx(0.0, abs=1e-9)


def _spd_case():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 64))
    b = rng.standard_normal((64, 64))
    s1 = a @ a.T / 64 + 0.1 * np.eye(64)
    s2 = b @ b.T / 64 + 0.1 * np.eye(64)
    return rng.standard_normal(64), s1, rng.standard_normal(64), s2


def test_frechet_random_spd_matches_oracle_and_libraries():
    from cleanfid.fid import frechet_distance as cf_fd
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    from torchmetrics.image.fid import _compute_fid

    m1, s1, m2, s2 = _spd_case()
    ours = frechet_distance(m1, s1, m2, s2)
    assert ours == pytest.approx(179.6547181581, abs=1e-8)
    assert cf_fd(m1, s1, m2, s2) == pytest.approx(ours, rel=1e-10)
    assert fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, False)[
        "frechet_inception_distance"] == pytest.approx(ours, rel=1e-10)
    tm = _compute_fid(*(torch.from_numpy(x) for x in (m1, s1, m2, s2)))
    assert float(tm) == pytest.approx(ours, rel=1e-10)


def test_sqrtm_is_real_and_squares_back():
    _, s1, _, _ = _spd_case()
    r = sqrtm_psd(s1)
    assert np.isrealobj(r)
    np.testing.assert_allclose(r @ r, s1, atol=1e-10)
    # rank-deficient input: tiny negative eigenvalues are clipped, never complex
    x = np.random.default_rng(1).standard_normal((5, 32))
    c = np.cov(x, rowvar=False)
    assert np.isrealobj(sqrtm_psd(c)) and np.isfinite(sqrtm_psd(c)).all()


@pytest.mark.parametrize("n,nr,d", [(40, 30, 64), (300, 200, 16), (20, 300, 32)])
def test_reference_form_equals_direct_form(n, nr, d):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, d)) + 0.2
    r = 1.3 * rng.standard_normal((nr, d))
    assert FrechetToReference(r).distance(x) == pytest.approx(fid_from_features(x, r), rel=1e-7)


def test_kid_hand_example_and_libraries():
    from cleanfid.fid import kernel_distance
    from torchmetrics.image.kid import poly_mmd

    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert mmd2(x, y) == pytest.approx(-2.375, abs=1e-12)
    assert mmd2(y, x) == pytest.approx(-2.375, abs=1e-12)
    assert kernel_inception_distance(x, y, subsets=3)[0] == pytest.approx(-2.375, abs=1e-12)
    assert kernel_distance(x, y, num_subsets=3) == pytest.approx(-2.375, abs=1e-12)
    assert float(poly_mmd(torch.from_numpy(x), torch.from_numpy(y))) == pytest.approx(-2.375, abs=1e-12)


def test_kid_equals_torch_fidelity_with_same_seed():
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng(3)
    a = rng.standard_normal((60, 16)).astype(np.float32)
    b = (rng.standard_normal((50, 16)) + 0.5).astype(np.float32)
    ours = kernel_inception_distance(a, b, subsets=20, subset_size=40, seed=2020)
    tf = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=20, kid_subset_size=40,
                                rng_seed=2020, verbose=False, kid_kernel="poly", kid_kernel_poly_degree=3,
                                kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    assert ours[0] == pytest.approx(tf["kernel_inception_distance_mean"], rel=1e-6)
    assert ours[1] == pytest.approx(tf["kernel_inception_distance_std"], rel=1e-5)


def test_inception_score_oracles():
    logits = np.full((100, 10), -50.0)
    logits[np.arange(100), np.arange(100) % 10] = 0.0
    assert inception_score(logits, splits=1)[0] == pytest.approx(10.0, rel=1e-9)
    assert inception_score(np.tile(np.random.default_rng(0).standard_normal(7), (20, 1)), splits=1)[0] == \
        pytest.approx(1.0, abs=1e-12)
    extreme = np.full((10, 10), -1e4)
    extreme[np.arange(10), np.arange(10)] = 0.0
    v = inception_score(extreme, splits=1)[0]
    assert np.isfinite(v) and v == pytest.approx(10.0, rel=1e-9)
    assert inception_score(logits, splits=50)[2] == 50 and inception_score(logits[:3], splits=10)[2] == 3


def test_inception_score_equals_torch_fidelity_and_torchmetrics():
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torchmetrics.image.inception import InceptionScore

    logits = np.random.default_rng(5).standard_normal((40, 1008)) * 3
    t = torch.from_numpy(logits)
    tf = isc_features_to_metric(t, splits=10, shuffle=True, rng_seed=2020)
    ours = inception_score(logits, splits=10, shuffle=True, seed=2020)
    assert ours[0] == pytest.approx(tf["inception_score_mean"], rel=1e-9)
    assert ours[1] == pytest.approx(tf["inception_score_std"], rel=1e-6)

    class Identity(torch.nn.Module):
        def forward(self, x):
            return x

    tm = InceptionScore(feature=Identity(), splits=1)
    tm.update(t)
    assert float(tm.compute()[0]) == pytest.approx(inception_score(logits, splits=1)[0], rel=1e-6)


def test_winrate_constructed_tables():
    a = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    b = np.array([4.0, 4.0, 4.0, 1.0, 0.0])
    w = win_rate(a, b, tau=0.0, resamples=200)
    assert (w["wins"], w["losses"], w["ties"], w["n_pairs"]) == (3, 1, 1, 5)
    assert w["win_rate"] == pytest.approx(3.5 / 5)
    pref = 1 / (1 + np.exp(b - a))
    assert w["mean_pref"] == pytest.approx(pref.mean())
    from scipy.stats import binomtest

    assert w["p_value"] == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    lo, hi = w["ci95"]
    assert 0 <= lo <= w["win_rate"] <= hi <= 1
    # a tolerance turns near-ties into ties
    w2 = win_rate([1.0, 2.0, 3.0], [1.05, 2.0, 2.0], tau=0.1, resamples=0)
    assert (w2["ties"], w2["win_rate"], w2["ci95"]) == (2, pytest.approx(2 / 3), None)
    # all ties: 0.5 and p = 1
    w3 = win_rate([1.0, 1.0], [1.0, 1.0])
    assert w3["win_rate"] == 0.5 and w3["p_value"] == 1.0
    # PickScore's pair probability for 21.5 vs 20.5
    assert win_rate([21.5], [20.5], resamples=0)["mean_pref"] == pytest.approx(0.7310585786)
    with pytest.raises(ValueError):
        win_rate([1.0, 2.0], [1.0])


def test_bootstrap_is_seeded_and_brackets_mean():
    v = np.random.default_rng(0).standard_normal(200) + 3
    a = mean_ci(v, 300, seed=1)
    assert a == mean_ci(v, 300, seed=1)
    assert a[0] < v.mean() < a[1]
    assert bootstrap_ci(1, lambda i: 0.0) is None
