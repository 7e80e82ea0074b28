"""In-process adapters on tiny random-weight pipelines saved to disk (CPU, no downloads)."""

import os
import random

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ultrabench.methods.base import Support  # noqa: E402
from ultrabench.resolution import Resolution  # noqa: E402

TINY_BINS = {"0.5": (64, 128), "1.0": (96, 96), "2.0": (128, 64)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch

    from baselines.testing import bsrgan_state_dict, build_tiny_pixart, build_tiny_sdxl

    root = tmp_path_factory.mktemp("tiny")
    torch.save(bsrgan_state_dict(), root / "BSRGAN.pth")
    return {"sdxl": build_tiny_sdxl(root / "sdxl"), "pixart": build_tiny_pixart(root / "pixart"),
            "bsrgan": root / "BSRGAN.pth"}


def test_pixart_binning_and_resize(tiny, monkeypatch):
    import baselines.pixart_sigma as ps

    monkeypatch.setattr(ps, "aspect_bins", lambda name: TINY_BINS)
    m = ps.PixArtSigma({"base_model": str(tiny["pixart"]), "transformer": str(tiny["pixart"]),
                        "num_inference_steps": 2, "clean_caption": False})
    res = Resolution(64, 112)
    plan = m.plan(res)
    assert plan.support is Support.RESIZED and plan.native == Resolution(64, 128)
    assert plan.resize_filter == "bilinear+center-crop"
    m.load()
    a, b = m.generate(["a cat", "a dog"], [1, 2], res)
    assert a.image.size == (112, 64) and a.native_size == Resolution(64, 128)
    assert set(a.stages) == {"denoise", "decode", "resize"}
    assert a.info["binned_size"] == [64, 128]
    again = m.generate(["a cat"], [1], res)[0]
    assert again.image.tobytes() == a.image.tobytes()  # per-unit seeding, independent of the batch
    assert a.image.tobytes() != b.image.tobytes()
    rec = m.recorded_settings()
    assert rec["sampler"] == "DPMSolverMultistepScheduler" and rec["guidance_scale"] == 4.5
    assert rec["num_inference_steps"] == 2 and rec["watermark"] is False
    # At a bucket size nothing is resized.
    assert m.generate(["a cat"], [1], Resolution(96, 96))[0].native_size == Resolution(96, 96)


def test_base_sr_bsrgan_and_lanczos(tiny, monkeypatch):
    import baselines.base_sr as bs

    monkeypatch.setattr(bs, "aspect_bins", lambda name: TINY_BINS)
    res = Resolution(200, 400)
    m = bs.BaseSR({"base_model": str(tiny["sdxl"]), "sr_model": str(tiny["bsrgan"]), "num_inference_steps": 2,
                   "sr_tile": 32})
    plan = m.plan(res)
    assert plan.native == Resolution(256, 512) and plan.resize_filter == "lanczos"
    m.load()
    g = m.generate(["a cat"], [3], res)[0]
    assert g.image.size == (400, 200) and g.native_size == Resolution(256, 512)
    assert g.info["base_size"] == [64, 128] and g.info["sr"]["arch"] == "ESRGAN" and g.info["sr"]["scale"] == 4
    assert set(g.stages) == {"base", "sr", "resize"}
    rec = m.recorded_settings()
    assert rec["sampler"] == "EulerDiscreteScheduler" and rec["guidance_scale"] == 5.0 and rec["watermark"] is False
    assert m._pipe.watermark is None  # invisible watermark off

    lz = bs.BaseSR({"base_model": str(tiny["sdxl"]), "upscaler": "lanczos", "num_inference_steps": 2})
    assert lz.plan(res).native == Resolution(64, 128)
    lz.load()
    g2 = lz.generate(["a cat"], [3], res)[0]
    assert g2.image.size == (400, 200) and g2.native_size == Resolution(64, 128) and "sr" not in g2.stages


def test_spandrel_layouts_and_tiling():
    import torch

    from baselines.sr import load_sr_state_dict, upscale_image, upscale_tensor
    from baselines.testing import bsrgan_state_dict, realesrgan_state_dict

    bsr = load_sr_state_dict(bsrgan_state_dict())
    real = load_sr_state_dict(realesrgan_state_dict())
    x2 = load_sr_state_dict(bsrgan_state_dict(scale=2))
    assert (bsr.architecture.name, bsr.scale, real.scale, x2.scale) == ("ESRGAN", 4, 4, 2)
    x = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    # Same weights under both key layouts give the same network.
    assert torch.allclose(upscale_tensor(bsr, x), upscale_tensor(real, x), atol=1e-6)
    full = upscale_tensor(bsr, x)
    tiled = upscale_tensor(bsr, x, tile=16, pad=8)
    assert full.shape == tiled.shape == (1, 3, 160, 224)
    assert (full - tiled).abs().max().item() < 1e-4
    from PIL import Image

    assert upscale_image(bsr, Image.new("RGB", (20, 10)), tile=8, pad=4).size == (80, 40)


def test_demofusion_adapter_on_tiny_sdxl(tiny, tmp_path):
    from baselines.demofusion import DemoFusion

    from baselines.standin_checkouts import write_demofusion_file

    f = write_demofusion_file(tmp_path / "pipeline_demofusion_sdxl.py")
    # float32: the stand-in pipeline file is not written for CPU half precision (the authors' float16)
    m = DemoFusion({"model": str(tiny["sdxl"]), "pipeline_file": str(f), "base_size": 128,
                    "num_inference_steps": 2, "dtype": "float32"})
    res = Resolution(272, 480)  # like 2160x3840: the long side is 3.75 base sizes
    plan = m.plan(res)
    assert plan.support is Support.RESIZED and plan.native == Resolution(216, 384)
    m.load()
    assert m.recorded_settings()["sampler"] == "EulerDiscreteScheduler"
    g = m.generate(["a castle"], [11], res)[0]
    assert g.image.size == (480, 272) and g.native_size == Resolution(216, 384)
    # the pipeline is asked for the size it really makes (216x384), then the image is resized
    assert g.info["phase_outputs"] == ["72x128", "144x256", "216x384"] == g.info["phases"]
    # Python's random and torch's global RNG are reseeded per unit: disturbing them changes nothing.
    random.seed(999)
    np.random.seed(5)
    import torch

    torch.manual_seed(123)
    assert m.generate(["a castle"], [11], res)[0].image.tobytes() == g.image.tobytes()
    assert m.generate(["a castle"], [12], res)[0].image.tobytes() != g.image.tobytes()


def test_demofusion_refuses_wrong_base_and_missing_file(tiny, tmp_path):
    from baselines.demofusion import DemoFusion
    from ultrabench.errors import UsageError

    with pytest.raises(UsageError, match="pipeline_file"):
        DemoFusion({"model": str(tiny["sdxl"]), "pipeline_file": str(tmp_path / "nope.py"), "base_size": 128}).load()


def test_base_sr_on_a_tiny_stable_cascade(tmp_path):
    from baselines.base_sr import BaseSR, cascade_base_size
    from baselines.testing import build_tiny_stable_cascade

    prior, decoder = build_tiny_stable_cascade(tmp_path / "sc")
    m = BaseSR({"base": "stable-cascade", "base_model": str(prior), "decoder_model": str(decoder),
                "upscaler": "lanczos"})
    res = Resolution(540, 960)
    base = cascade_base_size(res)
    assert base == Resolution(768, 1408) and m.plan(res).native == base
    m.load()
    g = m.generate(["a harbour at dusk"], [5], res)[0]
    assert g.image.size == (960, 540) and g.info["base_size"] == [768, 1408]
    assert m.generate(["a harbour at dusk"], [5], res)[0].image.tobytes() == g.image.tobytes()
    # every side the helper picks decodes: diffusers' Stage B needs an even latent side
    import math

    for h, w in ((2160, 3840), (1024, 1792), (4096, 2048), (2048, 2048)):
        b = cascade_base_size(Resolution(h, w))
        assert all(int(math.ceil(s / 42.67) * 10.67) % 2 == 0 for s in (b.height, b.width))


def test_diffusers_adapters_load_in_the_requested_dtype(tiny):
    """`dtype=` is what from_pretrained honours now; a release that ignored it would load fp32 and
    double every memory and latency figure without a word."""
    import torch

    import baselines.pixart_sigma as ps

    m = ps.PixArtSigma({"base_model": str(tiny["pixart"]), "transformer": str(tiny["pixart"]), "clean_caption": False},
                       dtype="bfloat16")
    m.load()
    assert {p.dtype for p in m._pipe.transformer.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in m._pipe.vae.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in m._pipe.text_encoder.parameters()} == {torch.bfloat16}
