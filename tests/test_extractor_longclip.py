"""Long-CLIP-L extractor: the official model code's numbers on the stand-in, positional merge, strict loading."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ultrabench.errors import MissingWeightsError, UsageError
from ultrabench.metrics.extractors import longclip
from ultrabench.scoring.decode import resize_short_side

REF = Path(__file__).parent / "reference"
sys.path.insert(0, str(REF))
import cases  # noqa: E402
from test_extractors_hub import _snapshot, hub  # noqa: E402,F401  (a local hub cache)

CHECKOUT = os.environ.get("LONGCLIP_OFFICIAL_CHECKOUT")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return longclip.LongClipScorer.standin(tmp_path_factory.mktemp("longclip"))


def test_standin_scores_equal_the_official_model_code(standin):
    """Recorded once with tests/reference/longclip_reference.py from beichenzbc/Long-CLIP on this stand-in."""
    golden = cases.read_golden("longclip")
    ie = standin.image_features([resize_short_side(im) for im in cases.images()])
    te = standin.text_features(cases.PROMPTS)
    np.testing.assert_allclose((ie * te).sum(1), golden["cos"], rtol=1e-4)
    np.testing.assert_allclose(standin.score(ie, te), golden["scores"], rtol=1e-4, atol=1e-6)


@pytest.mark.parity
@pytest.mark.skipif(not CHECKOUT, reason="set LONGCLIP_OFFICIAL_CHECKOUT to a beichenzbc/Long-CLIP checkout")
def test_live_parity_with_the_official_checkout():
    assert cases.run_harness("longclip", CHECKOUT) == 0


def test_one_table_equals_the_masked_sum_of_two(tmp_path):
    sd = torch.load(longclip.standin_file(tmp_path), weights_only=True)
    pos, res = sd["positional_embedding"], sd["positional_embedding_res"]
    mask1 = torch.zeros(248, 1)
    mask1[:20] = 1
    masked = pos * mask1 + res * (1 - mask1)  # Long-CLIP's encode_text
    merged = longclip.merge_positional(sd, "f")["positional_embedding"]
    assert torch.equal(merged, masked) and not torch.equal(merged, pos)
    model = longclip.build_from_file(longclip.standin_file(tmp_path))
    assert torch.equal(model.positional_embedding.detach(), masked)
    assert model.context_length == 248


def test_every_tensor_of_the_file_is_consumed(tmp_path):
    sd = torch.load(longclip.standin_file(tmp_path), weights_only=True)
    got = longclip.build_from_file(longclip.standin_file(tmp_path)).state_dict()
    assert set(got) == set(sd) - {"positional_embedding_res"}
    rounded = []
    for k, v in got.items():
        if k == "positional_embedding":
            continue
        if not torch.equal(v, sd[k]):  # linear weights come back float16-rounded, as the reference loads them
            assert torch.equal(v, sd[k].half().float()), k
            rounded.append(k)
    assert "transformer.resblocks.0.attn.in_proj_weight" in rounded and "ln_final.weight" not in rounded


def test_real_file_layout_builds_longclip_l():
    """longclip-L.pt's layout (the official CLIP class at LongCLIP-L's size, recorded by the harness)."""
    layout = cases.read_golden("longclip")["full_layout"]
    assert {"positional_embedding", "positional_embedding_res"} <= set(layout)
    with torch.device("meta"):
        model = longclip.build_from_state_dict({k: torch.empty(s) for k, s in layout.items()}, "longclip-L.pt")
    assert model.context_length == 248 and model.positional_embedding.shape == (248, 768)
    assert model.visual.image_size == (224, 224) and model.visual.conv1.weight.shape == (1024, 3, 14, 14)
    assert model.transformer.resblocks[0].attn.num_heads == 12 and len(model.transformer.resblocks) == 12
    assert model.visual.transformer.resblocks[0].attn.num_heads == 16 and model.text_projection.shape == (768, 768)


@pytest.mark.parametrize("damage, message", [
    (lambda sd: {k: v for k, v in sd.items() if k != "positional_embedding_res"}, "lacks positional_embedding_res"),
    (lambda sd: {**sd, "positional_embedding": sd["positional_embedding"][:77],
                 "positional_embedding_res": sd["positional_embedding_res"][:77]}, "expected 248 rows each"),
    (lambda sd: {f"module.{k}": v for k, v in sd.items()}, "expected an OpenAI-layout ViT state dict"),
    (lambda sd: {**sd, "extra.weight": torch.zeros(2)}, "extra.weight"),
    (lambda sd: {k: v for k, v in sd.items() if k != "ln_final.bias"}, "ln_final.bias"),
])
def test_checkpoint_is_loaded_strictly(tmp_path, damage, message):
    bad = tmp_path / "bad.pt"
    torch.save(damage(torch.load(longclip.standin_file(tmp_path), weights_only=True)), bad)
    with pytest.raises(UsageError, match="bad.pt is not a Long-CLIP checkpoint") as e:
        longclip.LongClipScorer.from_files(bad)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_truncation_at_248_tokens_and_words_past_77_count(standin):
    assert not standin.truncated(" ".join(["cat"] * 246)) and standin.truncated(" ".join(["cat"] * 247))
    assert not standin.truncated(cases.PROMPTS[3])
    head = " ".join(["cat"] * 90)
    a, b = standin.text_features([head + " on a red sofa", head + " under a blue sky"])
    assert np.abs(a - b).max() > 1e-4  # tokens 92+ change the embedding: no 77-token cut


def test_score_is_the_clip_score(standin):
    e = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(standin.score(e, np.array([[-1.0, 0.0], [0.6, 0.8]])), [0.0, 80.0])
    info = standin.info()
    assert info["id"] == "longclip:standin-vit-tiny" and info["context_length"] == 248
    assert info["score"] == "100 * max(cos, 0)" and info["random_weights"] is True
    assert longclip.VIEW == ("short-side", {"size": 224})


def test_loads_from_the_hub_cache_and_names_a_missing_file(hub, standin):
    import shutil

    from ultrabench.weights import WeightResolver

    (wf,) = longclip.weight_files()
    assert (wf.repo_id, wf.filename, wf.role) == ("BeichenZhang/LongCLIP-L", "longclip-L.pt", "longclip")
    with pytest.raises(MissingWeightsError, match="longclip-L.pt of hub repo BeichenZhang/LongCLIP-L"):
        longclip.load(WeightResolver())
    snap = _snapshot(hub, wf.repo_id)
    shutil.copy(longclip.standin_file(hub.parent), snap / wf.filename)  # same seed, same bytes as `standin`
    real = longclip.load(WeightResolver())
    assert real.id == "longclip:LongCLIP-L" and real.weights_sha256 == standin.weights_sha256
    views = [resize_short_side(im) for im in cases.images()[:2]]
    np.testing.assert_array_equal(real.image_features(views), standin.image_features(views))
