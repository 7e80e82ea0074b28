"""HPSv2.1 extractor: the official scoring path's numbers on the stand-in, its view, strict loading."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ultrabench.errors import MissingWeightsError, UsageError
from ultrabench.metrics.extractors import hpsv2
from ultrabench.scoring.views import longest_side_pad

REF = Path(__file__).parent / "reference"
sys.path.insert(0, str(REF))
import cases  # noqa: E402
from test_extractors_hub import hub  # noqa: E402,F401  (an empty hub cache)

CHECKOUT = os.environ.get("HPSV2_OFFICIAL_CHECKOUT")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return hpsv2.HPSv2Extractor.standin(tmp_path_factory.mktemp("hps"))


def _reference_transform(img, size=224):
    """HPSv2's ResizeMaxSize(224, fill=0) after ToTensor, restated with torchvision's functional API."""
    import torchvision.transforms.functional as F
    from torchvision.transforms import InterpolationMode

    t = F.to_tensor(img)
    h, w = t.shape[1:]
    scale = size / float(max(h, w))
    nh, nw = round(h * scale), round(w * scale)
    t = F.resize(t, [nh, nw], InterpolationMode.BICUBIC, antialias=True)
    ph, pw = size - nh, size - nw
    return F.pad(t, [pw // 2, ph // 2, pw - pw // 2, ph - ph // 2], fill=0)


def test_view_is_the_reference_resize_and_black_padding():
    for img in cases.images():
        ours = longest_side_pad(img) / 255.0
        ref = _reference_transform(img).permute(1, 2, 0).numpy()
        assert ours.shape == ref.shape == (224, 224, 3)
        assert np.abs(ours - ref).max() < 5e-5
    wide = longest_side_pad(cases.images()[3])  # 150x700 -> 48x224, bars of 88 rows above and below
    assert np.all(wide[:88] == 0) and np.all(wide[-88:] == 0) and wide[88:136].std() > 0


def test_view_module_imports_neither_torch_nor_transformers():
    import subprocess

    code = ("import sys, ultrabench.scoring.views as v; "
            "print(sorted(m for m in ('torch', 'transformers', 'open_clip') if m in sys.modules))")
    root = str(Path(__file__).resolve().parents[1])  # this checkout's ultrabench, not an installed one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[]"


def test_standin_scores_equal_the_official_scoring_path(standin):
    """Recorded once with tests/reference/hpsv2_reference.py from tgxs002/HPSv2 on this stand-in."""
    golden = cases.read_golden("hpsv2")
    views = [longest_side_pad(im) for im in cases.images()]
    ours = standin.score(standin.image_features(views), standin.text_features(cases.PROMPTS))
    np.testing.assert_allclose(ours, golden["scores"], rtol=1e-4)


@pytest.mark.parity
@pytest.mark.skipif(not CHECKOUT, reason="set HPSV2_OFFICIAL_CHECKOUT to a tgxs002/HPSv2 checkout")
def test_live_parity_with_the_official_checkout():
    assert cases.run_harness("hpsv2", CHECKOUT) == 0


def test_score_is_100_cos_and_not_clamped():
    a = np.array([[1.0, 0.0], [0.6, 0.8]])
    b = np.array([[-1.0, 0.0], [0.6, 0.8]])
    np.testing.assert_allclose(hpsv2.HPSv2Extractor.score(a, b), [-100.0, 100.0])


def test_features_are_unit_rows_and_texts_cached(standin):
    views = [longest_side_pad(im) for im in cases.images()[:2]]
    f = standin.image_features(views)
    before = set(standin._text_cache)
    t = standin.text_features(["x", "y", "x"])
    assert f.dtype == np.float64 and f.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(t[0], t[2])
    assert set(standin._text_cache) - before == {"x", "y"}


def test_truncation_at_77_tokens(standin):
    assert not standin.truncated(" ".join(["cat"] * 75))  # 75 + start + end = 77
    assert standin.truncated(" ".join(["cat"] * 76))
    assert standin.truncated(cases.PROMPTS[3]) and not standin.truncated(cases.PROMPTS[1])


def test_info_names_the_protocol(standin):
    info = standin.info()
    assert info["id"] == "hpsv2.1:standin-vit-tiny" and info["random_weights"] is True
    assert len(info["weights_sha256"]) == 64 and "not clamped" in info["score"]
    assert hpsv2.VIEW == ("longest-side-pad", {"size": 224})


@pytest.mark.parametrize("damage, message", [
    (lambda ck: ck["state_dict"], "expected a dict with a 'state_dict' entry"),
    (lambda ck: {"state_dict": {f"module.{k}": v for k, v in ck["state_dict"].items()}}, "missing"),
    (lambda ck: {"state_dict": {k: v for k, v in ck["state_dict"].items() if k != "visual.proj"}},
     "1 missing (visual.proj)"),
    (lambda ck: {"state_dict": {**ck["state_dict"], "score_predictor.weight": torch.zeros(1)}},
     "1 unexpected (score_predictor.weight)"),
    (lambda ck: {"state_dict": {**ck["state_dict"], "text_projection": torch.zeros(64, 32)}},
     "text_projection: (64, 32), expected (64, 64)"),
])
def test_checkpoint_is_loaded_strictly(tmp_path, damage, message):
    good = torch.load(hpsv2.standin_file(tmp_path), weights_only=True)
    assert set(good) == {"state_dict"}
    bad = tmp_path / "bad.pt"
    torch.save(damage(good), bad)
    with pytest.raises(UsageError, match="bad.pt is not") as e:
        hpsv2.HPSv2Extractor.from_files(bad, arch=hpsv2.STANDIN_ARCH)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_every_tensor_of_the_file_is_loaded(tmp_path):
    p = hpsv2.standin_file(tmp_path)
    sd = torch.load(p, weights_only=True)["state_dict"]
    ex = hpsv2.HPSv2Extractor.from_files(p, arch=hpsv2.STANDIN_ARCH)
    got = ex.model.state_dict()
    assert set(got) == set(sd)
    assert all(torch.equal(got[k], sd[k]) for k in sd)


def test_real_architecture_holds_the_official_layout():
    """The checkout's ViT-H-14 CLIP layout (recorded by the harness): the tensors the real file holds."""
    with torch.device("meta"):
        ours = hpsv2.build_clip(hpsv2.ARCH)
    layout = {k: list(v.shape) for k, v in ours.state_dict().items()}
    assert layout == cases.read_golden("hpsv2")["full_layout"] and len(layout) == 686


def test_missing_weights_name_the_hub_file(hub):
    from ultrabench.weights import WeightResolver

    (wf,) = hpsv2.weight_files()
    assert (wf.repo_id, wf.filename, wf.role) == ("xswu/HPSv2", "HPS_v2.1_compressed.pt", "hpsv2.1")
    with pytest.raises(MissingWeightsError, match="HPS_v2.1_compressed.pt of hub repo xswu/HPSv2"):
        hpsv2.load(WeightResolver())
