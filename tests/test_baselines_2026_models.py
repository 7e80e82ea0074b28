"""The diffusers-native 2025-2026 adapters end to end on tiny random-weight pipelines of the same class,
loaded through the real path (`--weights-dir` laid out like the hub repos, `from_pretrained`), with the
settings each adapter passes checked (CPU, no downloads)."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ultrabench.methods.base import Support  # noqa: E402
from ultrabench.resolution import Resolution  # noqa: E402
from ultrabench.weights import WeightResolver  # noqa: E402


def _spy(pipe):
    """Record the keyword arguments of every pipeline call (the call itself runs unchanged)."""
    calls = []
    cls = type(pipe)
    original = cls.__call__

    class Spied(cls):
        def __call__(self, *a, **kw):
            calls.append(kw)
            return original(self, *a, **kw)

    pipe.__class__ = Spied
    return calls


@pytest.mark.slow
def test_sana_loads_the_hub_layout_bins_tiles_and_passes_the_card_settings(stand_in_folder):
    from baselines.sana import Sana2K, Sana4K

    weights = WeightResolver(stand_in_folder / "weights")
    m = Sana4K({"bins": "512", "dtype": "float32", "num_inference_steps": 2, "vae_tile": 256, "vae_tile_stride": 224},
               weights=weights)
    res = Resolution(128, 256)
    plan = m.plan(res)
    # the 512 table's bucket for an aspect of 0.5, as diffusers' classify_height_width_bin picks it
    assert plan.support is Support.RESIZED and plan.native == Resolution(352, 704)
    assert plan.resize_filter == "bilinear+center-crop"
    assert [wf.label for wf in m.weight_files()] == ["Efficient-Large-Model/Sana_1600M_4Kpx_BF16_diffusers"]
    m.load()
    vae = m._pipe.vae
    assert vae.use_tiling and (vae.tile_sample_min_height, vae.tile_sample_stride_width) == (256, 224)
    calls = _spy(m._pipe)
    a = m.generate(["a cat"], [3], res)[0]
    kw = calls[0]
    assert (kw["height"], kw["width"], kw["guidance_scale"], kw["num_inference_steps"]) == (128, 256, 5.0, 2)
    assert kw["use_resolution_binning"] is True and kw["max_sequence_length"] == 300
    assert "complex_human_instruction" not in kw  # the pipeline's default instruction
    assert a.image.size == (256, 128) and a.native_size == Resolution(352, 704)
    assert a.info["latent_size"] == [11, 22]  # what the pipeline really denoised (DC-AE x32)
    assert m.generate(["a cat"], [3], res)[0].image.tobytes() == a.image.tobytes()
    rec = m.recorded_settings()
    assert rec["sampler"] == "FlowMatchEulerDiscreteScheduler" and rec["sample_size"] == 16
    # the card's defaults: 20 steps, CFG 5, bf16, 1024/896 tiles for 4K only
    d4, d2 = Sana4K.default_settings, Sana2K.default_settings
    assert (d4["num_inference_steps"], d4["guidance_scale"], Sana4K.default_dtype, d4["variant"]) == (20, 5.0, "bfloat16",
                                                                                                  "bf16")
    assert d4["dtype"] is None and Sana4K().dtype == "bfloat16"  # unset in a spec: the card's precision
    assert (d4["vae_tiling"], d4["vae_tile"], d4["vae_tile_stride"], d2["vae_tiling"]) == (True, 1024, 896, False)


def test_sana_refuses_a_bucket_table_its_transformer_does_not_use(stand_in_folder):
    from baselines.sana import Sana2K
    from ultrabench.errors import UsageError

    m = Sana2K({"dtype": "float32"}, weights=WeightResolver(stand_in_folder / "weights"))  # bins 2048, sample_size 16
    with pytest.raises(UsageError, match="sample_size 16 bins with the 512 table, setting bins is 2048"):
        m.load()


def test_flux_dev_2k_native_and_resized_with_the_card_settings(stand_in_folder):
    from baselines.flux import FluxDev2K

    m = FluxDev2K({"dtype": "float32", "num_inference_steps": 2, "max_pixels": 128 * 128},
                  weights=WeightResolver(stand_in_folder / "weights"))
    assert m.plan(Resolution(64, 128)).support is Support.NATIVE
    plan = m.plan(Resolution(128, 256))  # above max_pixels: the largest 16-multiple size of the same aspect
    assert plan.support is Support.RESIZED and plan.native == Resolution(80, 176)
    m.load()
    calls = _spy(m._pipe)
    g = m.generate(["a lighthouse"], [7], Resolution(128, 256))[0]
    kw = calls[0]
    assert (kw["height"], kw["width"], kw["guidance_scale"], kw["max_sequence_length"]) == (80, 176, 3.5, 512)
    assert kw["generator"].initial_seed() == 7
    assert g.image.size == (256, 128) and g.native_size == Resolution(80, 176) and g.info["resize_filter"] == "lanczos"
    assert m.recorded_settings()["use_dynamic_shifting"] is True  # FLUX.1-dev's scheduler config
    assert FluxDev2K.default_settings["num_inference_steps"] == 50


@pytest.mark.slow
def test_stable_cascade_direct_runs_stage_c_without_guidance(stand_in_folder):
    import torch

    from baselines.cascade_direct import StableCascadeDirect
    from ultrabench.ultrapixel.pipeline import UltraPixelPipeline, to_pil
    from ultrabench.ultrapixel.stage_b import UltraPixelStageB
    from ultrabench.ultrapixel.stage_c import UltraPixelStageC

    m = StableCascadeDirect({"layout": "diffusers", "precision": "fp32", "steps": 2, "decoder_steps": 2},
                            weights=WeightResolver(stand_in_folder / "weights"))
    assert [wf.label for wf in m.weight_files()] == [
        "stabilityai/stable-cascade-prior", "stabilityai/stable-cascade", "stabilityai/stable-cascade",
        "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"]  # UltraPixel's text stack, the official one
    m.load()
    pipe = m._pipe
    # UltraPixel's pipeline and stages, unguided: Stage C without the guidance blocks, no UltraPixel file
    assert type(pipe) is UltraPixelPipeline and pipe.settings.guided_steps == 0
    assert type(pipe.stage_c) is UltraPixelStageC and not hasattr(pipe.stage_c, "agg_net")
    assert type(pipe.stage_b) is UltraPixelStageB
    calls = []
    hook = pipe.stage_c.register_forward_pre_hook(
        lambda mod, args, kw: calls.append((tuple(args[0].shape), kw.get("lr_guide"))), with_kwargs=True)
    res = Resolution(256, 384)
    g = m.generate(["a fox in the snow"], [4], res)[0]
    hook.remove()
    assert calls == [((2, 16, 6, 9), None)] * 2  # one pass at the HR latent size, 2 steps, never guided
    assert g.image.size == (384, 256) and g.native_size == res
    assert g.info["stage_c_latent"] == [6, 9] and g.info["lr_guidance"] is False
    assert g.info["sampler"]["guided_steps"] == 0 and "lr_latent" not in g.info
    assert set(g.stages) == {"text_encode", "stage_c", "stage_b", "stage_a"} and g.stages["stage_c"] > 0
    # the image is the pipeline's own generate, which hands on x0 and draws the HR noise first
    trace: dict = {}
    img, _ = pipe.generate("a fox in the snow", 4, 256, 384, trace=trace)
    assert to_pil(img).tobytes() == g.image.tobytes() and trace["lr"] == [] and "lr_latent" not in trace
    assert torch.equal(trace["stage_c_latent"], trace["hr_x0"][-1])
    # Stable Cascade's own draws: the HR initial latent first, then the HR steps' noise (no LR noise between)
    assert torch.allclose(trace["hr"][0], _first_hr_step(trace, seed=4), atol=1e-5)
    assert m.generate(["a fox in the snow"], [4], res)[0].image.tobytes() == g.image.tobytes()
    assert m.generate(["a fox in the snow"], [5], res)[0].image.tobytes() != g.image.tobytes()
    # the official single files by default, the same ones UltraPixel reads
    assert [wf.label for wf in StableCascadeDirect().weight_files()][:3] == [
        "stabilityai/stable-cascade/stage_c_bf16.safetensors", "stabilityai/stable-cascade/stage_b_lite_bf16.safetensors",
        "stabilityai/stable-cascade/stage_a.safetensors"]


def _first_hr_step(trace, seed):
    """The first HR step from the seed's first draw, its noise the seed's next draw (one CPU stream),
    the model's prediction recovered from the x0 the trace recorded for that step."""
    import torch

    from ultrabench.ultrapixel import sampler as gdf

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, 6, 9, generator=gen)
    logsnr = gdf.time_grid(2).logsnr
    a, b = gdf.vp_scalers(logsnr[0])
    eps = (x - a * trace["hr_x0"][0]) / b
    return gdf.ddpm_step(x, eps, logsnr[0], logsnr[1], torch.randn(1, 16, 6, 9, generator=gen))[0]


def test_stage_c_without_guidance_blocks_is_ultrapixels_stage_c_unguided():
    """The ablation's Stage C (UltraPixel's, built without the guidance blocks) computes exactly what
    UltraPixel's Stage C computes when no LR guide is passed, in float32 and under bf16 autocast, with
    the same weights: the only difference left is the guidance. It refuses a guide."""
    import torch

    from ultrabench.ultrapixel import convert
    from ultrabench.ultrapixel.build import build_random
    from ultrabench.ultrapixel.configs import tiny_config
    from ultrabench.ultrapixel.stage_c import LRGuide, UltraPixelStageC

    cfg = tiny_config()
    up = build_random(cfg, seed=1).stage_c
    plain = UltraPixelStageC(guidance_blocks=False, **cfg.stage_c.unet_kwargs()).eval()
    plain.load_state_dict({k: v for k, v in up.state_dict().items() if not convert.is_guidance_key(k)})
    assert not any(convert.is_guidance_key(k) for k in plain.state_dict())
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, 6, 9, generator=g)
    t = torch.tensor([0.7, 0.7])
    cond = {"clip_text_pooled": torch.randn(2, 1, 32, generator=g), "clip_text": torch.randn(2, 77, 32, generator=g),
            "clip_img": torch.zeros(2, 1, 768)}
    with torch.no_grad():
        assert torch.equal(plain(x, t, **cond), up(x, t, **cond))
        plain.bfloat16(), up.bfloat16()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.equal(plain(x, t, **cond), up(x, t, **cond))
    with pytest.raises(ValueError, match="without UltraPixel's guidance blocks"):
        plain(x, t, lr_guide=LRGuide([x], [x]), **cond)
