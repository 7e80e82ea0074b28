"""UltraPixel's fast path, checked on the CPU at the tiny configuration: whole-graph forwards (no
graph breaks), regional compilation, the pinned and recorded attention kernel, no host
synchronisation in the sampling loops, batched Stage A tiles and the "auto" tiling rule, and the
named settings that change numbers being off."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cli_helpers import invoke  # noqa: E402
from ultrabench.ultrapixel import decode  # noqa: E402
from ultrabench.ultrapixel import sampler as gdf  # noqa: E402
from ultrabench.ultrapixel.build import build_random  # noqa: E402
from ultrabench.ultrapixel.compile import compile_stage, uncompile  # noqa: E402
from ultrabench.ultrapixel.configs import SamplerSettings, StageAConfig, tiny_config  # noqa: E402
from ultrabench.ultrapixel.pipeline import UltraPixelPipeline  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def models():
    return build_random(tiny_config(), seed=0, tiny_image_gain=0.005)


def pipeline(models, **settings):
    m, mode = models, settings.pop("compile", False)
    return UltraPixelPipeline(m.stage_c, m.stage_b, m.stage_a, m.text_model, m.tokenizer,
                              settings=SamplerSettings(**settings), compile=mode)


@pytest.fixture(scope="module")
def calls(models):
    """Every UNet call of a step, as (name, model, args, kwargs): Stage C plain, capturing and guided,
    and Stage B, with the pipeline's own conditioning."""
    pipe = pipeline(models)
    cond, uncond = pipe.encode_text("a lighthouse at dusk")
    inputs = pipe._stage_c_inputs(cond, uncond)
    t = torch.full((2,), 0.5)
    x_lr, x_hr = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 12, 16)
    with torch.no_grad():
        _, guide = models.stage_c(x_lr, t, capture=True, **inputs)
    guide = guide.conditional_half_for_cfg()
    pooled = torch.cat([cond["clip_text_pooled"], uncond["clip_text_pooled"]])
    return [
        ("stage_c plain", models.stage_c, (x_hr, t), inputs),
        ("stage_c capturing", models.stage_c, (x_lr, t), {**inputs, "capture": True}),
        ("stage_c guided", models.stage_c, (x_hr, t), {**inputs, "lr_guide": guide}),
        ("stage_b", models.stage_b, (torch.randn(2, 4, 24, 32), t),
         {"clip_text_pooled": pooled, "effnet": torch.randn(2, 16, 12, 16), "return_dict": False}),
    ]


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16-autocast"])
def test_every_unet_forward_is_one_graph_with_no_breaks(calls, autocast):
    import torch._dynamo

    ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast)
    with torch.no_grad(), ctx:
        for name, model, args, kwargs in calls:
            torch._dynamo.reset()
            explained = torch._dynamo.explain(model)(*args, **kwargs)
            assert (explained.graph_count, explained.graph_break_count) == (1, 0), (name, explained.break_reasons)
            # fullgraph=True raises on any break; aot_eager traces the same graph through AOT autograd
            compiled = torch.compile(model, fullgraph=True, dynamic=False, backend="aot_eager")
            got, want = _first(compiled(*args, **kwargs)), _first(model(*args, **kwargs))
            assert got.shape == want.shape and torch.allclose(got.float(), want.float(), rtol=0.05, atol=0.05), name
    torch._dynamo.reset()


def test_regional_compile_covers_every_repeated_block_and_changes_nothing(models, calls):
    import torch._dynamo

    for model in (models.stage_c, models.stage_b):
        assert model._repeated_blocks  # diffusers' StableCascadeUNet declares none
    with torch.no_grad():
        want = [_first(model(*a, **kw)).clone() for _, model, a, kw in calls]
        try:
            for model in (models.stage_c, models.stage_b):
                # the "eager" backend runs the captured graphs as traced: any difference is a capture bug
                assert compile_stage(model, "regional", backend="eager") is model
                blocks = [m for m in model.modules() if type(m).__name__ in model._repeated_blocks]
                assert blocks and all(m._compiled_call_impl is not None for m in blocks)
            got = [_first(model(*a, **kw)) for _, model, a, kw in calls]
        finally:
            for model in (models.stage_c, models.stage_b):
                uncompile(model)
            torch._dynamo.reset()
    for (name, *_), g, w in zip(calls, got, want):
        assert torch.equal(g, w), name
    assert all(getattr(m, "_compiled_call_impl", None) is None for m in models.stage_c.modules())


def test_compile_modes_are_named_and_true_means_regional(models):
    from ultrabench.errors import UsageError
    from ultrabench.ultrapixel.compile import compile_mode

    assert [compile_mode(v) for v in (False, True, "off", "full", "reduce-overhead")] == \
        ["off", "regional", "off", "full", "reduce-overhead"]
    with pytest.raises(UsageError, match="compile 'fast' is not true, false or one of off, regional"):
        compile_mode("fast")
    r = invoke("methods", "--help")  # the CLI stays importable without torch work
    assert r.exit_code == 0


# -- attention kernel ----------------------------------------------------------------------------------
def test_auto_pins_the_kernel_torchs_dispatch_picks_and_records_it(models):
    pipe = pipeline(models)
    # on a CPU torch dispatches these queries to its flash kernel; "auto" names and pins that one
    assert pipe.attention == {"stage_c": "flash", "stage_b": "flash"}
    _, info = pipe.generate("a red kite", 1, 128, 128)
    assert info["attention_backend"] == {"stage_c": "flash", "stage_b": "flash"}
    # pinned "flash" is what the unpinned default computes, bit for bit; "math" is another kernel
    x, t = torch.randn(2, 16, 6, 6), torch.full((2,), 0.3)
    cond, uncond = pipe.encode_text("a red kite")
    inputs = pipe._stage_c_inputs(cond, uncond)
    from ultrabench.ultrapixel.attention import attention_kernel

    with torch.no_grad():
        free = models.stage_c(x, t, **inputs)
        with attention_kernel("flash"):
            flash = models.stage_c(x, t, **inputs)
        with attention_kernel("math"):
            math = models.stage_c(x, t, **inputs)
    assert torch.equal(free, flash) and not torch.equal(free, math)
    assert torch.allclose(free, math, atol=1e-4)


def test_a_kernel_that_cannot_run_here_is_one_line(models):
    from ultrabench.errors import UsageError

    with pytest.raises(UsageError, match=r"^ultrapixel: attention 'cudnn' cannot run torch.float32 queries of width 16 "
                                         r"on cpu"):
        pipeline(models, attention="cudnn")
    with pytest.raises(UsageError, match="attention 'xformers' is not one of auto, flash, cudnn, efficient, math"):
        pipeline(models, attention="xformers")


def test_unit_records_name_the_attention_kernel_compile_mode_and_stage_a_plan(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "speed"\nprompts = "builtin"\nnum_prompts = 1\nresolutions = ["128x128"]\n'
                    'metrics = ["clip"]\n[[methods]]\nname = "tiny-ultrapixel"\n'
                    'settings = {attention = "math", stage_a_tiled = "auto", steps = 2, decoder_steps = 2}\n')
    r = invoke("generate", "--spec", spec, "--out", tmp_path / "run")
    assert r.exit_code == 0, r.output
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "run").rglob("*.json")
                 if "attention_backend" in p.read_text()]
    info = record.get("info", record)
    assert info["attention_backend"] == {"stage_c": "math", "stage_b": "math"}
    assert info["compile"] == "off" and info["stage_a_tiled"] is False and info["stage_a_tiles"] == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.read_text().replace('stage_a_tiled = "auto"', 'stage_a_tiled = "sometimes"'))
    r = invoke("generate", "--spec", bad, "--out", tmp_path / "run2")
    assert r.exit_code != 0 and "stage_a_tiled = 'sometimes' is not one of False, True, 'auto'" in r.output
    assert not (tmp_path / "run2").exists() or not list((tmp_path / "run2").rglob("*.png"))


# -- host synchronisation --------------------------------------------------------------------------------
class HostSyncs(torch.overrides.TorchFunctionMode):
    """Counts the tensor calls that wait for the device: values read on the host and branches on them."""

    NAMES = {"item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__", "nonzero"}

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.NAMES:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def test_no_host_synchronisation_inside_the_sampling_loops(models):
    pipe = pipeline(models, steps=3, guided_steps=3, decoder_steps=2)
    cond, uncond = pipe.encode_text("a glacier")
    inputs = pipe._stage_c_inputs(cond, uncond)
    noise = gdf.NoiseSource(0, "cpu")
    grid = gdf.time_grid(3)
    x_lr, x_hr, x_b = (noise.initial(s) for s in pipe.latent_shapes(256, 256).values())
    with HostSyncs() as syncs:
        _, guide = pipe.lr_pass(inputs, x_lr, noise, grid)
        c_latent = pipe.hr_pass(inputs, x_hr, guide, noise, grid).x0
        pipe.stage_b_pass(c_latent, cond, uncond, x_b, noise)
    assert syncs.seen == []
    # the counter does see one: a loop whose model reads a value on the host
    with HostSyncs() as syncs:
        gdf.sample(lambda x2, t2, i: x2 * float(t2[0]), x_lr, grid, noise, 4.0, 0.7)
    assert syncs.seen == ["__float__"] * 3


# -- Stage A ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def full_width_stage_a():
    from diffusers.pipelines.deprecated.wuerstchen.modeling_paella_vq_model import PaellaVQModel

    kw = StageAConfig().vq_kwargs()
    kw.pop("scale_factor")
    torch.manual_seed(0)
    return PaellaVQModel(**kw).eval()


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16-autocast"])
def test_batched_tiles_give_the_image_of_tiles_decoded_one_by_one(full_width_stage_a, autocast):
    lat = torch.randn(1, 4, 56, 72, generator=torch.Generator().manual_seed(1))
    assert decode.count_tiles(56, 72, 32, 8) == 6
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        one = decode.decode_stage_a(full_width_stage_a, lat, 0.43, True, 32, 8, tile_batch=1)
        outs = [decode.decode_stage_a(full_width_stage_a, lat, 0.43, True, 32, 8, tile_batch=n) for n in (4, 6, 64)]
    for out in outs:
        assert out.shape == (1, 3, 224, 288)
        # convolutions batched or not round alike in bf16; in float32 oneDNN may pick another kernel
        assert torch.equal(out, one) if autocast else (out - one).abs().max() < 1e-6
        to8 = [(t.clamp(0, 1) * 255).round().to(torch.uint8) for t in (out, one)]
        assert torch.equal(*to8)


def test_auto_tiles_only_when_the_untiled_decode_would_not_fit(full_width_stage_a, monkeypatch):
    vq = full_width_stage_a
    need = decode.decode_peak_bytes(vq, 1024, 1024)  # a 4096 x 4096 image
    # the official README's A100 peak for this decode is 45.3 GB; the estimate is within 1%
    assert abs(need - 45.3e9) / 45.3e9 < 0.01
    per_tile = decode.decode_peak_bytes(vq, 256, 256)  # a 16th of it: 14 tiles fit at 0.9 headroom
    for free, want in [(2 * need, (False, 1)), (need, (True, 14)), (5 * per_tile, (True, 4)), (per_tile // 2, (True, 1))]:
        monkeypatch.setattr(decode, "free_memory_bytes", lambda device, free=free: free)
        assert decode.plan_decode(vq, 1024, 1024, "auto", 256, 32, 0, "cuda") == want, free
    # an explicit choice is kept whatever the memory; an explicit batch is capped at the tile count
    assert decode.plan_decode(vq, 1024, 1024, False, 256, 32, 0, "cuda") == (False, 1)
    assert decode.plan_decode(vq, 1024, 1024, True, 256, 32, 3, "cuda") == (True, 3)
    assert decode.plan_decode(vq, 1024, 1024, True, 256, 32, 99, "cuda") == (True, 25)
    # unknown free memory: decode as asked, untiled for "auto"
    monkeypatch.setattr(decode, "free_memory_bytes", lambda device: None)
    assert decode.plan_decode(vq, 1024, 1024, "auto", 256, 32, 0, "cuda") == (False, 1)


def test_the_pipeline_plans_stage_a_on_the_free_memory_and_records_it(models, monkeypatch):
    pipe = pipeline(models, stage_a_tiled="auto", stage_a_tile=32, stage_a_overlap=8)
    monkeypatch.setattr(decode, "free_memory_bytes", lambda device: 10 ** 15)
    img_untiled, info = pipe.generate("a harbour", 2, 256, 256)
    assert (info["stage_a_tiled"], info["stage_a_tiles"]) == (False, 1)
    small = decode.decode_peak_bytes(models.stage_a, 32, 32) * 3  # room for 2 tiles at a time (0.9 headroom)
    monkeypatch.setattr(decode, "free_memory_bytes", lambda device: small)
    img_tiled, info = pipe.generate("a harbour", 2, 256, 256)
    assert (info["stage_a_tiled"], info["stage_a_tiles"], info["stage_a_tile_batch"]) == (True, 9, 2)
    assert img_tiled.shape == img_untiled.shape and (img_tiled - img_untiled).abs().mean() < 0.02


# -- named settings that change numbers -------------------------------------------------------------------
def test_numerics_settings_are_off_by_default_and_named():
    from ultrabench.ultrapixel.method import UltraPixel

    s = SamplerSettings()
    assert (s.channels_last, s.tf32, s.stage_b_dtype, s.stage_a_tiled, s.attention) == (False, False, "fp16", False,
                                                                                         "auto")
    d = UltraPixel.default_settings
    assert (d["channels_last"], d["tf32"], d["compile"], d["stage_b_dtype"]) == (False, False, False, "fp16")


def test_channels_last_is_applied_and_moves_the_image_only_slightly(models):
    base, _ = pipeline(models).generate("a windmill", 4, 128, 128)
    try:
        pipe = pipeline(models, channels_last=True)
        conv = next(m for m in models.stage_a.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        fast, _ = pipe.generate("a windmill", 4, 128, 128)
    finally:
        pipeline(models)  # back to the contiguous format for the module's other tests
    assert (fast - base).abs().max() < 1e-3
