import math

import pytest

torch = pytest.importorskip("torch")

from ultrabench.ultrapixel import sampler as gdf  # noqa: E402

S = 0.008
MIN_VAR = math.cos(S / (1 + S) * math.pi / 2) ** 2


def hand_logsnr(t):
    var = math.cos((S + t) / (1 + S) * math.pi / 2) ** 2 / MIN_VAR
    var = min(max(var, 1e-4), 0.9999)
    return math.log(var / (1 - var))


def test_time_grid_values():
    g = gdf.time_grid(20)
    assert torch.allclose(g.r, torch.linspace(1, 0, 21))
    assert g.r[19].item() == pytest.approx(0.05)
    for i in (0, 5, 10, 19, 20):
        assert g.logsnr[i].item() == pytest.approx(hand_logsnr(g.r[i].item()), rel=1e-4, abs=1e-4)
    assert g.logsnr[0].item() == pytest.approx(math.log(1e-4 / 0.9999), rel=1e-5)
    assert g.logsnr[20].item() == pytest.approx(math.log(0.9999 / 1e-4), abs=1e-3)  # float32 1 - 0.9999
    # unclamped steps see their own t back; the clamped ends do not
    assert g.noise_cond[10].item() == pytest.approx(0.5, abs=1e-4)
    t1 = math.acos(math.sqrt(1e-4 * MIN_VAR)) / (math.pi / 2) * (1 + S) - S
    assert g.noise_cond[0].item() == pytest.approx(t1, abs=1e-5)
    assert gdf.lr_capture_step(20) == 19 and gdf.guide_time(20) == pytest.approx(0.05)


def test_cfg_rescale_hand_computed():
    cond = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    uncond = torch.zeros(1, 4)
    # lerp -> [4, 8, 12, 16]; std ratio 1/4 -> [1, 2, 3, 4]; 0.7 * that + 0.3 * [4, 8, 12, 16]
    out = gdf.cfg_rescale(cond, uncond, 4.0, 0.7)
    assert torch.allclose(out, torch.tensor([[1.9, 3.8, 5.7, 7.6]]), atol=1e-5)
    assert torch.allclose(gdf.cfg_rescale(cond, uncond, 4.0, 0.0), torch.tensor([[4.0, 8.0, 12.0, 16.0]]))
    cond2 = torch.tensor([[1.0, -1.0]])
    uncond2 = torch.tensor([[0.5, 0.5]])
    g = 0.5 + 1.1 * (cond2 - 0.5)  # lerp with weight 1.1
    want = 0.7 * g * cond2.std() / g.std() + 0.3 * g
    assert torch.allclose(gdf.cfg_rescale(cond2, uncond2, 1.1, 0.7), want, atol=1e-6)


def test_ddpm_step_formula():
    lg, lg_p = torch.tensor(0.3), torch.tensor(1.2)
    x, eps, noise = torch.tensor([0.7]), torch.tensor([0.2]), torch.tensor([-1.3])
    a, b = math.sqrt(1 / (1 + math.exp(-0.3))), math.sqrt(1 - 1 / (1 + math.exp(-0.3)))
    ap, bp = math.sqrt(1 / (1 + math.exp(-1.2))), math.sqrt(1 - 1 / (1 + math.exp(-1.2)))
    x0 = (0.7 - 0.2 * b) / a
    sigma = math.sqrt(bp**2 / b**2) * math.sqrt(1 - a**2 / ap**2)
    want = ap * x0 + math.sqrt(bp**2 - sigma**2) * 0.2 + sigma * -1.3
    got, got_x0 = gdf.ddpm_step(x, eps, lg, lg_p, noise)
    assert got.item() == pytest.approx(want, rel=1e-5)
    assert got_x0.item() == pytest.approx(x0, rel=1e-5)
    ddim, _ = gdf.ddpm_step(x, eps, lg, lg_p, noise, eta=0.0)
    assert ddim.item() == pytest.approx(ap * x0 + bp * 0.2, rel=1e-5)


def test_ddpm_step_promotes_a_bf16_prediction_as_the_official_batch_shaped_scalers_do():
    g = torch.Generator().manual_seed(0)
    x, noise = torch.randn(1, 4, 6, 7, generator=g) * 3, torch.randn(1, 4, 6, 7, generator=g)
    eps = torch.randn(1, 4, 6, 7, generator=g).bfloat16()  # what Stage C returns under bf16 autocast
    lg, lg_p = gdf.time_grid(20).logsnr[3:5]
    got, got_x0 = gdf.ddpm_step(x, eps, lg, lg_p, noise)
    # the official DDIM step, restated: scalers of shape (batch, 1, 1, 1), in float32
    a, b = (t.view(1, 1, 1, 1) for t in gdf.vp_scalers(lg.expand(1)))
    ap, bp = (t.view(1, 1, 1, 1) for t in gdf.vp_scalers(lg_p.expand(1)))
    x0 = (x - eps * b) / a
    sigma = (bp**2 / b**2).sqrt() * (1 - a**2 / ap**2).sqrt()
    want = ap * x0 + (bp**2 - sigma**2).sqrt() * eps + sigma * noise
    assert got.dtype == got_x0.dtype == torch.float32
    assert torch.equal(got_x0, x0) and torch.equal(got, want)
    # 0-dim scalers keep the product in bf16, the rounding this avoids
    assert not torch.equal((x - eps * b.reshape(())) / a.reshape(()), x0)


def test_noise_order_matches_global_rng_on_cpu():
    src = gdf.NoiseSource(123, "cpu")
    hr, lr = src.initial((1, 16, 3, 4)), src.initial((1, 16, 2, 2))
    step = src.step(torch.zeros(1, 16, 2, 2))
    torch.manual_seed(123)
    assert torch.equal(hr, torch.randn(1, 16, 3, 4))
    assert torch.equal(lr, torch.randn(1, 16, 2, 2))
    assert torch.equal(step, torch.randn_like(torch.zeros(1, 16, 2, 2)))
