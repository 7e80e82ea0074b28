"""LAION aesthetic v2 head: strict loading of a checkpoint laid out like sac+logos+ava1-l14-linearMSE.pth,
parity with upstream's MLP (restated here from its architecture), and the CLIP embeddings it rides on."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ultrabench.metrics.extractors import aesthetic as ae


def _upstream_mlp(input_size=768):
    """improved-aesthetic-predictor's MLP: Linear/Dropout stack, no activations (the ReLUs are commented out)."""
    return nn.Sequential(nn.Linear(input_size, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                         nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))


def _upstream_normalized(a):
    l2 = np.atleast_1d(np.linalg.norm(a, 2, -1))
    l2[l2 == 0] = 1
    return a / np.expand_dims(l2, -1)


def _real_layout_checkpoint(path, seed=0, input_size=768):
    """An OrderedDict of float32 tensors named as in the published file (`layers.<i>.weight/bias`)."""
    torch.manual_seed(seed)
    mlp = _upstream_mlp(input_size)
    sd = OrderedDict((f"layers.{k}", v) for k, v in mlp.state_dict().items())
    torch.save(sd, path)
    return mlp.eval(), sd


def test_checkpoint_keys_are_consumed_strictly(tmp_path):
    from ultrabench.errors import UsageError

    p = tmp_path / ae.FILENAME
    _, sd = _real_layout_checkpoint(p)
    assert list(sd) == [f"layers.{i}.{k}" for i in (0, 2, 4, 6, 7) for k in ("weight", "bias")]
    head = ae.LaionAestheticHead.from_files(p)
    assert head.input_dim == 768 and len(head.layers) == 5 and not head.random_weights
    assert head.info()["published_file"] is False  # our synthetic file is not the GitHub one
    for bad, match in ((dict(sd, **{"layers.8.weight": torch.zeros(1, 1)}), "unexpected keys"),
                       ({k: v for k, v in sd.items() if k != "layers.6.bias"}, "missing keys"),
                       (dict(sd, **{"layers.4.weight": torch.zeros(64, 129)}), "layers.4.weight has shape"),
                       ({"state_dict": sd}, "not an aesthetic-predictor")):
        torch.save(bad, tmp_path / "bad.pth")
        with pytest.raises(UsageError, match=match) as e:
            ae.LaionAestheticHead.from_files(tmp_path / "bad.pth")
        assert "\n" not in str(e.value)
    with pytest.raises(UsageError, match="layers.0.weight has shape"):  # a 64-wide head is no ViT-L/14 head
        torch.save(_real_layout_checkpoint(tmp_path / "small.pth", input_size=64)[1], tmp_path / "small.pth")
        ae.LaionAestheticHead.from_files(tmp_path / "small.pth")


def test_scores_equal_the_upstream_mlp(tmp_path):
    p = tmp_path / ae.FILENAME
    mlp, _ = _real_layout_checkpoint(p, seed=3)
    head = ae.LaionAestheticHead.from_files(p)
    emb = np.random.default_rng(0).standard_normal((5, 768)).astype(np.float32)
    emb[4] = 0.0  # upstream leaves a zero embedding unnormalised
    with torch.no_grad():
        ref = mlp(torch.from_numpy(_upstream_normalized(emb)).float()).double().numpy()
    ours = head.image_features(emb)
    assert ours.shape == (5, 1) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(head.score(ours), ours[:, 0])
    with pytest.raises(ValueError, match="768"):
        head.image_features(emb[:, :64])


def test_clip_scorer_embeddings_are_what_the_predictor_expects(tmp_path):
    """ClipScorer's shared forward against upstream's own pipeline: clip.load's preprocess (torchvision
    Resize(224, bicubic), CenterCrop(224), ToTensor, Normalize) on the PIL image, encode_image,
    numpy L2 normalisation, the MLP."""
    import torchvision.transforms as T

    from ultrabench.metrics.extractors.clip import ClipScorer
    from ultrabench.scoring.decode import resize_short_side

    clip = ClipScorer.standin(tmp_path)
    head = ae.LaionAestheticHead.standin(tmp_path)
    head.check_embedder(clip)
    mlp = _upstream_mlp(64).eval()
    mlp.load_state_dict({k[len("layers."):]: v for k, v in
                         torch.load(ae.standin_aesthetic_file(tmp_path), weights_only=True).items()})
    pre = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                     T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
    rng = np.random.default_rng(5)
    imgs = [rng.integers(0, 256, (301, 457, 3), dtype=np.uint8), rng.integers(0, 256, (640, 333, 3), dtype=np.uint8)]
    ours = head.score(head.image_features(clip.image_embeddings([resize_short_side(a) for a in imgs])))
    with torch.no_grad():
        feats = clip.model.encode_image(torch.stack([pre(Image.fromarray(a)) for a in imgs])).numpy()
        ref = mlp(torch.from_numpy(_upstream_normalized(feats))).numpy()[:, 0]
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    assert np.ptp(ours) > 1e-3  # the stand-in tells images apart


def test_a_clip_the_head_was_not_trained_on_is_refused(tmp_path):
    from types import SimpleNamespace

    from ultrabench.errors import UsageError
    from ultrabench.metrics.extractors.clip import ClipScorer

    p = tmp_path / ae.FILENAME
    _real_layout_checkpoint(p)
    real = ae.LaionAestheticHead.from_files(p)
    with pytest.raises(UsageError, match="768-wide"):
        real.check_embedder(ClipScorer.standin(tmp_path))
    other = SimpleNamespace(model=SimpleNamespace(visual=SimpleNamespace(output_dim=768)),
                            model_id=("ViT-L-14", "laion2b_s32b_b82k"), id="open_clip:ViT-L-14/laion2b_s32b_b82k")
    with pytest.raises(UsageError, match="trained on CLIP ViT-L-14/openai"):
        real.check_embedder(other)
    real.check_embedder(SimpleNamespace(model=other.model, model_id=("ViT-L-14", "openai"), id="open_clip:ViT-L-14/openai"))


def test_standin_is_stable_and_scores_near_the_real_range(tmp_path):
    a = ae.LaionAestheticHead.standin(tmp_path)
    b = ae.LaionAestheticHead.standin(tmp_path)
    assert a.random_weights and a.weights_sha256 == b.weights_sha256 and a.id == "laion-aesthetic-v2:standin"
    e = np.random.default_rng(1).standard_normal((256, 64))
    s = a.score(a.image_features(e))
    assert 4 < s.mean() < 6 and 0.1 < s.std() < 2


# --------------------------------------------------------------------------------------------
def _env(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub))
    return hub


def test_weight_files_name_the_github_file_and_hub_mirrors(tmp_path, monkeypatch):
    from ultrabench.errors import MissingWeightsError
    from ultrabench.weights import WeightResolver

    _env(tmp_path, monkeypatch)
    files = ae.weight_files()
    assert files[0].url == ae.GITHUB_URL and {f.filename for f in files} == {ae.FILENAME}
    assert [f.repo_id for f in files[1:]] == list(ae.HF_MIRRORS)
    with pytest.raises(MissingWeightsError) as e:
        ae.load(WeightResolver())
    msg = str(e.value)
    assert "\n" not in msg and ae.GITHUB_URL in msg and "camenduru/improved-aesthetic-predictor" in msg


def test_load_finds_the_github_file_in_the_weights_dir_and_a_mirror_in_the_hf_cache(tmp_path, monkeypatch):
    from ultrabench.weights import WeightResolver

    hub = _env(tmp_path, monkeypatch)
    wd = tmp_path / "weights"
    wd.mkdir()
    _real_layout_checkpoint(wd / ae.FILENAME, seed=1)
    assert ae.load(WeightResolver(weights_dir=wd)).weights_sha256 == ae.path_sha256(wd / ae.FILENAME)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub / "models--camenduru--improved-aesthetic-predictor"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    _real_layout_checkpoint(repo / "snapshots" / commit / ae.FILENAME, seed=2)
    head = ae.load(WeightResolver())
    assert head.weights_sha256 == ae.path_sha256(repo / "snapshots" / commit / ae.FILENAME)
