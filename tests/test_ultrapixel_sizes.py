import math

import pytest

from ultrabench.resolution import PAPER_RESOLUTIONS
from ultrabench.ultrapixel.sizes import (
    decoder_guide_scale,
    lr_latent_size,
    lr_pixel_size,
    scale_norm_value,
    sinusoidal_embedding_values,
    stage_b_latent_size,
    stage_c_latent_size,
)

# (H, W) -> (Stage C HR latent, LR latent, Stage B latent, decoder guide scale, s)
PAPER = {
    (1024, 1792): ((24, 42), (18, 32), (256, 448), 0.3, 1.043),
    (2048, 2048): ((48, 48), (24, 24), (512, 512), 0.3, 1.104),
    (2160, 3840): ((51, 90), (18, 32), (540, 960), 0.3, 1.152),
    (4096, 2048): ((96, 48), (34, 17), (1024, 512), 0.3, 1.152),
    (4096, 4096): ((96, 96), (24, 24), (1024, 1024), 0.7, 1.198),
}


@pytest.mark.parametrize("hw", sorted(PAPER))
def test_paper_resolutions(hw):
    hr, lr, b, scale, s = PAPER[hw]
    assert stage_c_latent_size(*hw) == hr
    assert lr_latent_size(*hw) == lr
    assert stage_b_latent_size(*hw) == b
    assert decoder_guide_scale(*hr) == scale
    assert scale_norm_value(*hr) == pytest.approx(s, abs=1e-3)


def test_all_paper_resolutions_covered():
    assert {(r.height, r.width) for r in PAPER_RESOLUTIONS} == set(PAPER)


def test_base_sizes():
    assert stage_c_latent_size(1024, 1024) == (24, 24)
    assert lr_pixel_size(2160, 3840) == (768, 1344)  # int(32 * 0.75) * 32, int(32 / 0.75) * 32
    assert lr_pixel_size(1024, 1024) == (1024, 1024)
    assert stage_c_latent_size(6144, 3072) == (144, 72)


def test_guide_scale_thresholds():
    assert decoder_guide_scale(96, 96) == 0.7
    assert decoder_guide_scale(95, 96) == 0.5
    assert decoder_guide_scale(72, 72) == 0.5
    assert decoder_guide_scale(71, 72) == 0.3
    assert decoder_guide_scale(144, 72) == 0.7  # 6144x3072


def test_scale_value_and_embedding():
    assert scale_norm_value(24, 24) == pytest.approx(1.0)
    assert scale_norm_value(96, 96) == pytest.approx(math.sqrt(1 + math.log(16, 576)))
    emb = sinusoidal_embedding_values(1.0, 64)
    assert len(emb) == 64
    # first frequency is 1: sin(10000), cos(10000); last is 1e-4: sin(1), cos(1)
    assert emb[0] == pytest.approx(math.sin(10000.0))
    assert emb[31] == pytest.approx(math.sin(1.0), abs=1e-9)
    assert emb[32] == pytest.approx(math.cos(10000.0))
    assert emb[63] == pytest.approx(math.cos(1.0), abs=1e-9)


def test_torch_scale_embedding_matches_hand_values():
    torch = pytest.importorskip("torch")
    from ultrabench.ultrapixel.guidance import ScaleAwareNorm

    norm = ScaleAwareNorm(8, 64)
    s = scale_norm_value(96, 96)
    got = norm.scale_embedding(1, 96, 96, torch.device("cpu"))[0]
    want = torch.tensor(sinusoidal_embedding_values(s, 64))
    assert torch.allclose(got, want, atol=2e-3)  # float32 of s * 10000 * freq
