"""Stand-in extractors: the Inception port loads the torch-fidelity weights layout and gives the same
features; FID/KID/IS on those features equal the libraries' functions; CLIP preprocessing equals
open_clip's; the resize equals clean-fid's."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    from ultrabench.metrics.extractors.inception import random_inception_file

    return random_inception_file(tmp_path_factory.mktemp("standins"))


def _images(n, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:299, 0:299]
    out = []
    for i in range(n):
        base = (np.sin(xx / (5 + 3 * i)) + np.cos(yy / (7 + i))) * 60 + 128
        img = base[..., None] + rng.normal(0, 20 + 5 * i, (299, 299, 3))
        out.append(img.clip(0, 255).astype(np.uint8))
    return np.stack(out)


def test_random_file_is_stable_and_keys_match(inception_file, tmp_path):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from ultrabench.hashing import sha256_file as file_sha256
    from ultrabench.metrics.extractors.inception import FIDInceptionV3, random_inception_file

    assert file_sha256(random_inception_file(tmp_path)) == file_sha256(inception_file)
    sd = torch.load(inception_file, weights_only=True)
    assert set(sd) == set(FIDInceptionV3().state_dict())
    # torch-fidelity's own module accepts the file strictly
    FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(inception_file))


def test_features_and_set_metrics_equal_libraries(inception_file):
    from cleanfid.fid import frechet_distance as cf_fd
    from cleanfid.fid import kernel_distance
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torchmetrics.image.fid import _compute_fid

    from ultrabench.metrics.extractors.inception import InceptionExtractor
    from ultrabench.metrics.frechet import FrechetToReference, fid_from_features
    from ultrabench.metrics.inception_score import inception_score
    from ultrabench.metrics.kid import kernel_inception_distance

    real, fake = _images(5, 0), _images(5, 1)[:, ::-1].copy()
    ours = InceptionExtractor(inception_file, random_weights=True)
    pr, lr = ours(real)
    pf, lf = ours(fake)
    tf = FeatureExtractorInceptionV3("x", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(inception_file))
    with torch.no_grad():
        t_pool, t_logits = tf(torch.from_numpy(real).permute(0, 3, 1, 2).contiguous())
    np.testing.assert_allclose(pr, t_pool.double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lr, t_logits.double().numpy(), rtol=1e-5, atol=1e-5)

    # d x d library paths (scipy sqrtm, eigvals) take minutes at d=2048 on 2 cores: compare the FID
    # functions on the first 128 feature dimensions; KID and the feature equality above use all 2048
    pr128, pf128 = pr[:, :128], pf[:, :128]
    fid = fid_from_features(pf128, pr128)
    assert fid > 0
    sr = fid_features_to_statistics(torch.from_numpy(pr128))
    sf = fid_features_to_statistics(torch.from_numpy(pf128))
    assert fid_statistics_to_metric(sf, sr, False)["frechet_inception_distance"] == pytest.approx(fid, rel=1e-4)
    assert cf_fd(sf["mu"], sf["sigma"], sr["mu"], sr["sigma"]) == pytest.approx(fid, rel=1e-4)
    tm = _compute_fid(*(torch.from_numpy(x) for x in (sf["mu"], sf["sigma"], sr["mu"], sr["sigma"])))
    assert float(tm) == pytest.approx(fid, rel=1e-4)
    assert FrechetToReference(pr128).distance(pf128) == pytest.approx(fid, rel=1e-4)

    kid = kernel_inception_distance(pf, pr, subsets=10, subset_size=5)[0]
    assert kernel_distance(pf, pr, num_subsets=10, max_subset_size=5) == pytest.approx(kid, rel=1e-4)
    k_tf = kid_features_to_metric(torch.from_numpy(pf), torch.from_numpy(pr), kid_subsets=10, kid_subset_size=5,
                                  rng_seed=2020, verbose=False, kid_kernel="poly", kid_kernel_poly_degree=3,
                                  kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    assert k_tf["kernel_inception_distance_mean"] == pytest.approx(kid, rel=1e-4)

    lg = np.concatenate([lr, lf])
    assert isc_features_to_metric(torch.from_numpy(lg), splits=2, shuffle=True, rng_seed=2020)[
        "inception_score_mean"] == pytest.approx(inception_score(lg, splits=2, seed=2020)[0], rel=1e-4)


def test_clean_resize_equals_cleanfid():
    from cleanfid.resize import make_resizer

    from ultrabench.scoring.decode import resize_clean

    img = np.random.default_rng(0).integers(0, 256, (517, 803, 3), dtype=np.uint8)
    ref = make_resizer("PIL", False, "bicubic", (299, 299))(img)
    np.testing.assert_array_equal(resize_clean(img), ref)
    small = img[:299, :299]
    np.testing.assert_array_equal(resize_clean(small), small.astype(np.float32))


def test_clip_standin_matches_open_clip_preprocess(tmp_path):
    import open_clip
    from PIL import Image

    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.scoring.decode import resize_short_side

    scorer = ClipScorer.standin(tmp_path)
    assert scorer.random_weights
    pre = open_clip.image_transform(224, is_train=False)
    img = np.random.default_rng(1).integers(0, 256, (320, 577, 3), dtype=np.uint8)
    ref = pre(Image.fromarray(img)).unsqueeze(0)
    ours = scorer.preprocess([resize_short_side(img)])
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
    e = scorer.image_embeddings([resize_short_side(img)])
    t = scorer.text_embeddings(["a red bicycle"])
    with torch.no_grad():
        ie = torch.nn.functional.normalize(scorer.model.encode_image(ref), dim=-1)
        te = torch.nn.functional.normalize(scorer.model.encode_text(scorer.tokenizer(["a red bicycle"])), dim=-1)
    expected = 100 * max(float((ie * te).sum()), 0.0)
    assert scorer.score(e, t)[0] == pytest.approx(expected, abs=1e-4)
    assert scorer.truncated("word " * 100) and not scorer.truncated("short prompt")


def test_pickscore_standin_score_definition(tmp_path):
    from ultrabench.metrics.extractors.pickscore import PickScorer

    ps = PickScorer.standin(tmp_path)
    img = np.random.default_rng(2).integers(0, 256, (224, 300, 3), dtype=np.uint8)
    e = ps.image_embeddings([img])
    t = ps.text_embeddings(["a cat"])
    x = ps.preprocess([img])
    with torch.no_grad():
        out = ps.model(pixel_values=x, **ps.tokenizer(["a cat"]))
    # CLIPModel's logits_per_image is exactly logit_scale.exp() * cos
    assert ps.score(e, t)[0] == pytest.approx(float(out.logits_per_image[0, 0]), rel=1e-4, abs=1e-4)
