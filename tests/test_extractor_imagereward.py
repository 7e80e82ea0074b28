"""ImageReward extractor: the official scorer's numbers and layouts on the stand-in, strict key mapping."""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ultrabench.errors import MissingWeightsError, UsageError
from ultrabench.metrics.extractors import imagereward as ir
from ultrabench.scoring.decode import resize_short_side

REF = Path(__file__).parent / "reference"
sys.path.insert(0, str(REF))
import cases  # noqa: E402
from test_extractors_hub import _snapshot, hub  # noqa: E402,F401  (a local hub cache)

CHECKOUT = os.environ.get("IMAGEREWARD_OFFICIAL_CHECKOUT")
GOLDEN = cases.read_golden("imagereward")  # recorded by tests/reference/imagereward_reference.py


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return ir.ImageRewardScorer.standin(tmp_path_factory.mktemp("imagereward"))


def test_standin_rewards_equal_the_official_scorer(standin):
    feats = standin.image_features([resize_short_side(im) for im in cases.images()])
    txt = standin.text_features(cases.PROMPTS)
    np.testing.assert_allclose(standin.score(feats, txt), GOLDEN["rewards"], rtol=1e-4)
    np.testing.assert_allclose(feats[:, :3, :8], GOLDEN["vision_tokens_head"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(feats.mean(1), GOLDEN["vision_tokens_mean"], rtol=1e-4, atol=1e-5)
    assert txt[:, 0].tolist() == GOLDEN["token_ids"]  # the official tokenizer's ids, padded/cut to 35


@pytest.mark.parity
@pytest.mark.skipif(not (CHECKOUT and os.environ.get("IMAGEREWARD_REFERENCE_PYTHON")),
                    reason="set IMAGEREWARD_OFFICIAL_CHECKOUT and IMAGEREWARD_REFERENCE_PYTHON (old-pins venv)")
def test_live_parity_with_the_official_checkout():
    assert cases.run_harness("imagereward", CHECKOUT) == 0


def test_standin_file_is_laid_out_like_the_official_model(tmp_path):
    sd = torch.load(ir.standin_files(tmp_path)["checkpoint"], weights_only=True)
    assert {k: list(v.shape) for k, v in sd.items()} == GOLDEN["standin_layout"]


def test_full_size_checkpoint_maps_strictly():
    """ImageReward.pt's layout, recorded from the official model at full size, onto ViT-L + BERT-base."""
    layout = GOLDEN["full_layout"]
    source = {k: torch.empty(s, device="meta") for k, s in layout.items()}
    source[ir.POSITION_IDS] = torch.arange(512).expand(1, -1)
    with torch.device("meta"):
        model = ir.ImageRewardModel(ir.VISION_LARGE, GOLDEN["full_med_config"])
    converted = ir.convert_checkpoint(source, model)
    target = model.state_dict()
    assert set(converted) == set(target) and len(target) == len(layout) - 5  # all but the 5 checked-and-dropped
    assert all(converted[k].shape == target[k].shape for k in target)
    dropped = set(layout) - set(ir.checkpoint_key_map(ir.reference_names(model)))
    assert dropped == {ir.POSITION_IDS, "blip.vision_proj.weight", "blip.vision_proj.bias",
                       "blip.text_proj.weight", "blip.text_proj.bias"}
    assert converted["vision.encoder.layers.23.self_attn.qkv.weight"].shape == (3072, 1024)
    assert converted["head.0.weight"].shape == (1024, 768) and converted["head.4.weight"].shape == (1, 16)


@pytest.mark.parametrize("damage, message", [
    (lambda sd: {**sd, "blip.itm_head.weight": torch.zeros(2, 64)}, "1 unexpected (blip.itm_head.weight)"),
    (lambda sd: {k: v for k, v in sd.items() if k != "mlp.layers.7.bias"}, "1 missing (mlp.layers.7.bias)"),
    (lambda sd: {k: v for k, v in sd.items() if not k.startswith("blip.text_proj.")}, "lacks blip.text_proj.*"),
    (lambda sd: {f"module.{k}": v for k, v in sd.items()}, "unexpected"),
    (lambda sd: {**sd, "blip.visual_encoder.pos_embed": torch.zeros(1, 50, 64)},
     "blip.visual_encoder.pos_embed: (1, 50, 64), expected (1, 197, 64)"),
    (lambda sd: {**sd, ir.POSITION_IDS: torch.arange(64).flip(0)[None]}, "position_ids is not 0..n-1"),
])
def test_checkpoint_is_loaded_strictly(tmp_path, damage, message):
    f = ir.standin_files(tmp_path)
    bad = tmp_path / "bad.pt"
    torch.save(damage(torch.load(f["checkpoint"], weights_only=True)), bad)
    with pytest.raises(UsageError, match="bad.pt is not an ImageReward checkpoint") as e:
        ir.ImageRewardScorer.from_files(bad, f["med_config"], f["vocab"], vision=ir.STANDIN_VISION)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_position_ids_may_be_absent(tmp_path):
    f = ir.standin_files(tmp_path)
    sd = torch.load(f["checkpoint"], weights_only=True)
    del sd[ir.POSITION_IDS]
    torch.save(sd, tmp_path / "no_ids.pt")
    ir.ImageRewardScorer.from_files(tmp_path / "no_ids.pt", f["med_config"], f["vocab"], vision=ir.STANDIN_VISION)


def test_med_config_without_cross_attention_is_refused(tmp_path):
    f = ir.standin_files(tmp_path)
    med = json.loads(f["med_config"].read_text())
    (tmp_path / "med.json").write_text(json.dumps({**med, "add_cross_attention": False}))
    with pytest.raises(UsageError, match="no BLIP text encoder with cross-attention"):
        ir.ImageRewardScorer.from_files(f["checkpoint"], tmp_path / "med.json", f["vocab"], vision=ir.STANDIN_VISION)
    with pytest.raises(UsageError, match="cannot read the ImageReward text-encoder config"):
        ir.ImageRewardScorer.from_files(f["checkpoint"], tmp_path / "nope.json", f["vocab"], vision=ir.STANDIN_VISION)


def test_features_scores_and_batching(standin):
    views = [resize_short_side(im) for im in cases.images()]
    feats = standin.image_features(views)
    assert feats.shape == (4, 197, 64) and feats.dtype == np.float32
    txt = standin.text_features(cases.PROMPTS)
    assert txt.shape == (4, 2, 35) and txt.dtype == np.int64 and set(np.unique(txt[:, 1])) == {0, 1}
    whole = standin.score(feats, txt)
    np.testing.assert_allclose(standin.score(feats, txt, batch_size=1), whole, rtol=1e-5)
    np.testing.assert_array_equal(standin.rewards(views, cases.PROMPTS), whole)
    # the reward depends on both inputs: another image, or another prompt, moves it
    assert np.ptp(standin.score(feats, standin.text_features([cases.PROMPTS[0]] * 4))) > 0.1
    assert np.ptp(standin.score(feats[[0, 0, 0, 0]], txt)) > 0.1


def test_truncation_at_35_tokens(standin):
    assert not standin.truncated(" ".join(["cat"] * 33))  # [CLS] + 33 + [SEP] = 35
    assert standin.truncated(" ".join(["cat"] * 34))
    assert [standin.truncated(p) for p in cases.PROMPTS] == [False, False, False, True]


def test_info(standin):
    info = standin.info()
    assert info["id"] == "imagereward:standin-tiny" and info["random_weights"] is True
    assert "0.16717362830052426" in info["score"] and "35 tokens" in info["text"]
    assert ir.VIEW == ("short-side", {"size": 224})


def test_weight_files_and_the_tokenizer_alternative(hub, tmp_path):
    from ultrabench.weights import WeightResolver

    files = ir.weight_files()
    assert [(w.repo_id, w.filename, w.role) for w in files] == [
        ("THUDM/ImageReward", "ImageReward.pt", "imagereward"),
        ("THUDM/ImageReward", "med_config.json", "imagereward_med_config"),
        ("google-bert/bert-base-uncased", "vocab.txt", "imagereward_tokenizer"),
        ("bert-base-uncased", "vocab.txt", "imagereward_tokenizer")]
    with pytest.raises(MissingWeightsError, match="ImageReward.pt of hub repo THUDM/ImageReward"):
        ir.load(WeightResolver())
    with pytest.raises(MissingWeightsError, match="vocab.txt of hub repo google-bert/bert-base-uncased"):
        ir.resolve_first(WeightResolver(), files[2:])
    legacy = _snapshot(hub, "bert-base-uncased") / "vocab.txt"
    shutil.copy(ir.standin_files(tmp_path)["vocab"], legacy)
    assert ir.resolve_first(WeightResolver(), files[2:]).resolve() == legacy.resolve()
