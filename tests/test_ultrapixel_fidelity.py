"""What makes ultrabench's UltraPixel the official method (issue #11), pinned without the official code:
the x0 hand-offs, the guidance network's positional encoding under bf16, guidance stopping after
step 19, the text stack's tokenizer check, and the `official` noise mode."""

import math
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ultrabench.ultrapixel.configs import SamplerSettings  # noqa: E402
from ultrabench.ultrapixel.pipeline import UltraPixelPipeline  # noqa: E402
from ultrabench.ultrapixel.stage_c import LRGuide  # noqa: E402

# -- stubs: stages whose x0 prediction is far from their x, and which record what they are given ---------


class StubStageC(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))
        self.config = SimpleNamespace(clip_image_in_channels=8)
        self.calls = []  # (latent h x w, guided, capture)

    def forward(self, sample, timestep_ratio, clip_text_pooled, clip_text=None, clip_img=None, lr_guide=None, capture=False):
        self.calls.append((tuple(sample.shape[-2:]), lr_guide is not None, capture))
        eps = self.w * sample + 0.1
        if capture:
            f = sample.mean(1, keepdim=True).repeat(1, 4, 1, 1)
            return eps, LRGuide([f], [f])
        return eps


class StubStageB(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.3))
        self.effnet = []

    def forward(self, sample, timestep_ratio, clip_text_pooled, effnet=None, return_dict=True):
        self.effnet.append(effnet.detach().clone())
        return (self.w * sample - 0.05,)


class StubStageA(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def decode(self, latents):
        self.seen.append(latents.detach().clone())
        return SimpleNamespace(sample=latents[:, :3].repeat_interleave(4, -1).repeat_interleave(4, -2))


class StubText(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(128, 8)

    def forward(self, input_ids, attention_mask=None, output_hidden_states=True):
        h = self.emb(input_ids)
        return SimpleNamespace(hidden_states=[h], text_embeds=h.mean(1))


class StubTokenizer:
    model_max_length = 77

    def __call__(self, texts, truncation=True, padding="max_length", max_length=77, return_tensors="pt"):
        return {"input_ids": torch.tensor([[len(t) % 128] * max_length for t in texts])}


def stub_pipeline(**settings):
    parts = StubStageC(), StubStageB(), StubStageA(), StubText(), StubTokenizer()
    return UltraPixelPipeline(*parts, device="cpu", settings=SamplerSettings(**settings)), parts


def test_each_stage_hands_on_its_last_x0_prediction():
    pipe, (c, b, a, _, _) = stub_pipeline(steps=3, decoder_steps=2)
    trace = {}
    pipe.generate("a lighthouse", 5, 64, 64, trace=trace)
    # Stage B's conditioning is Stage C's last x0 (uncond: zeros), not the latent after the last step
    effnet = b.effnet[0]
    assert torch.equal(effnet[:1], trace["hr_x0"][-1]) and torch.equal(effnet[1:], torch.zeros_like(effnet[1:]))
    assert (trace["hr_x0"][-1] - trace["hr"][-1]).abs().max() > 1e-3  # the last step's noise term
    # Stage A decodes Stage B's last x0 (times the official 0.43), not its last x
    assert torch.allclose(a.seen[0], trace["b_x0"][-1] * 0.43)
    assert not torch.allclose(a.seen[0], trace["b"][-1] * 0.43, atol=1e-3)
    assert torch.equal(trace["stage_c_latent"], trace["hr_x0"][-1]) and torch.equal(trace["stage_b_latent"], trace["b_x0"][-1])


def test_guidance_stops_after_step_19():
    pipe, (c, *_) = stub_pipeline(steps=25, decoder_steps=1)
    pipe.generate("a lighthouse", 5, 64, 64)
    lr, hr = c.calls[:25], c.calls[25:]
    assert len(hr) == 25
    # LR pass: never guided, features captured at its last step (t = 0.04 here)
    assert [cap for _, g, cap in lr] == [False] * 24 + [True] and not any(g for _, g, _ in lr)
    # HR pass: guided at steps 0..19, as the official `if i <= 19`; steps 20..24 unguided
    assert [g for _, g, _ in hr] == [True] * 20 + [False] * 5


def test_no_guidance_runs_stable_cascade_alone():
    pipe, (c, *_) = stub_pipeline(steps=4, decoder_steps=1, guided_steps=0)
    pipe.generate("a lighthouse", 5, 64, 64)
    assert len(c.calls) == 4 and not any(g or cap for _, g, cap in c.calls)


def test_stage_b_precision_under_autocast():
    from ultrabench.errors import UsageError

    for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        parts = StubStageC(), StubStageB(), StubStageA(), StubText(), StubTokenizer()
        UltraPixelPipeline(*parts, autocast_dtype=torch.bfloat16, settings=SamplerSettings(stage_b_dtype=name))
        assert parts[1].w.dtype == dtype
    parts = StubStageC(), StubStageB(), StubStageA(), StubText(), StubTokenizer()
    UltraPixelPipeline(*parts, settings=SamplerSettings())  # float32 run: Stage B stays as built
    assert parts[1].w.dtype == torch.float32
    with pytest.raises(UsageError, match="stage_b_dtype 'fp8'"):
        UltraPixelPipeline(*parts, autocast_dtype=torch.bfloat16, settings=SamplerSettings(stage_b_dtype="fp8"))


# -- the guidance network's Fourier features ---------------------------------------------------------------


def test_positional_encoding_is_the_official_matmul_under_bf16_autocast():
    import numpy as np

    from ultrabench.ultrapixel.configs import GuidanceConfig
    from ultrabench.ultrapixel.guidance import GuidanceBlock, hr_coordinate_grid

    block = GuidanceBlock(GuidanceConfig(ind=8, ch=8, n_head=2, n_groups=4, f_dim=8, pe_dim=128))
    coord = hr_coordinate_grid(96, 96, torch.device("cpu")).reshape(1, -1, 2)  # the 4096^2 HR latent
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = block.fourier_features(coord)
        # the official HypoMlp.convert_posenc, restated
        w = torch.exp(torch.linspace(0, np.log(1024), 64))
        x = torch.matmul(coord.unsqueeze(-1), w.unsqueeze(0)).view(1, coord.shape[1], -1)
        ref = torch.cat([torch.cos(np.pi * x), torch.sin(np.pi * x)], dim=-1)
    assert got.dtype == ref.dtype == torch.bfloat16
    assert torch.equal(got, ref)
    # what a float32 elementwise product gives instead: about a third of the features off by > 0.1
    x32 = (coord.unsqueeze(-1) * w).flatten(-2)
    exact = torch.cat([torch.cos(math.pi * x32), torch.sin(math.pi * x32)], dim=-1)
    assert ((got.float() - exact).abs() > 0.1).float().mean() > 0.25
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=False):
        assert torch.allclose(block.fourier_features(coord), exact, atol=1e-4)


def test_attention_blocks_round_as_torch_multihead_attention_under_bf16_autocast():
    from diffusers.models.unets.unet_stable_cascade import SDCascadeAttnBlock

    from ultrabench.ultrapixel.configs import tiny_config
    from ultrabench.ultrapixel.stage_b import UltraPixelStageB
    from ultrabench.ultrapixel.stage_c import UltraPixelStageC

    cfg = tiny_config()
    from ultrabench.ultrapixel.attention import MultiheadAttentionProcessor, use_multihead_attention

    for model in (UltraPixelStageC.from_configs(cfg.stage_c, cfg.guidance), UltraPixelStageB(**cfg.stage_b.unet_kwargs())):
        procs = [type(m.attention.processor) for m in model.modules() if isinstance(m, SDCascadeAttnBlock)]
        assert procs and set(procs) == {MultiheadAttentionProcessor}
    torch.manual_seed(0)
    c, heads, cond = 64, 2, 32
    block = SDCascadeAttnBlock(c, cond, heads, self_attn=True).to(torch.bfloat16).eval()
    plain = SDCascadeAttnBlock(c, cond, heads, self_attn=True).to(torch.bfloat16).eval()
    plain.load_state_dict(block.state_dict())
    use_multihead_attention(block)
    # the released block, restated: LayerNorm2d, SiLU + Linear on the conditioning, nn.MultiheadAttention
    mha = nn.MultiheadAttention(c, heads, bias=True, batch_first=True).to(torch.bfloat16).eval()
    a = block.attention
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([a.to_q.weight, a.to_k.weight, a.to_v.weight]))
        mha.in_proj_bias.copy_(torch.cat([a.to_q.bias, a.to_k.bias, a.to_v.bias]))
        mha.out_proj.weight.copy_(a.to_out[0].weight)
        mha.out_proj.bias.copy_(a.to_out[0].bias)
    x, clip = torch.randn(2, c, 22, 26) * 3, torch.randn(2, 8, cond)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        kv = block.kv_mapper(clip)
        n = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (c,), eps=1e-6).permute(0, 3, 1, 2)
        q = n.reshape(2, c, -1).permute(0, 2, 1)
        ref = x + mha(q, torch.cat([q, kv], 1), torch.cat([q, kv], 1), need_weights=False)[0].permute(0, 2, 1).reshape(x.shape)
        got, theirs = block(x, clip), plain(x, clip)
    assert torch.equal(got, ref)
    assert not torch.equal(theirs, ref)  # diffusers' own processor rounds differently under bf16
    with torch.no_grad():  # the same maths in float32
        assert torch.allclose(block.float()(x, clip), plain.float()(x, clip), rtol=1e-5, atol=1e-5)


def _official_stage_b_join(model, sample, t, pooled, effnet):
    """The released Stage B forward, restated on `model`'s own layers: the effnet latent resized in
    float32 (`effnet.float()`) and `pixels_mapper`'s output lifted to float32 before the sums."""
    from torch.nn import functional as F

    r = model.get_timestep_ratio_embedding(t)
    r = torch.cat([r, model.get_timestep_ratio_embedding(torch.zeros_like(t))], dim=1)  # sca
    clip = model.get_clip_embeddings(clip_txt_pooled=pooled)
    x = model.embedding(sample)
    x = x + model.effnet_mapper(F.interpolate(effnet.float(), size=x.shape[-2:], mode="bilinear", align_corners=True))
    pixels = model.pixels_mapper(sample.new_zeros(sample.size(0), 3, 8, 8)).float()
    x = x + F.interpolate(pixels, size=x.shape[-2:], mode="bilinear", align_corners=True)
    return model.clf(model._up_decode(model._down_encode(x, r, clip), r, clip))


def test_stage_b_joins_its_conditionings_in_float32_under_bf16_autocast():
    from diffusers.models.unets.unet_stable_cascade import StableCascadeUNet

    from ultrabench.ultrapixel import sampler as gdf
    from ultrabench.ultrapixel.build import build_random
    from ultrabench.ultrapixel.configs import tiny_config

    models = build_random(tiny_config(), seed=3, dtype=torch.bfloat16)
    pipe = UltraPixelPipeline(models.stage_c, models.stage_b, models.stage_a, models.text_model, models.tokenizer,
                              autocast_dtype=torch.bfloat16, settings=SamplerSettings(decoder_steps=1))
    stage_b = pipe.stage_b  # fp16 weights, as the official decode_b leaves them
    level0 = []
    hook = stage_b.down_blocks[0][0].register_forward_pre_hook(lambda m, args: level0.append(args[0].dtype))
    cond, uncond = pipe.encode_text("a lighthouse", autocast=False)
    g = torch.Generator().manual_seed(0)
    c_latent = torch.randn(1, 16, 3, 3, generator=g) * 3
    pipe.stage_b_pass(c_latent, cond, uncond, torch.randn(1, 4, 26, 30, generator=g), gdf.NoiseSource(1, "cpu"))
    hook.remove()
    assert level0 == [torch.float32]  # level 0's residual stream is float32, as released

    x, t = torch.randn(2, 4, 26, 30, generator=g), torch.full((2,), 0.6)
    pooled = torch.cat([cond["clip_text_pooled"], uncond["clip_text_pooled"]])
    # float32, as the pipeline hands Stage C's latent on; bf16, whose resize the official code lifts
    for effnet in (torch.randn(2, 16, 3, 3, generator=g) * 3, (torch.randn(2, 16, 3, 3, generator=g) * 3).bfloat16()):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            got = stage_b(x, t, clip_text_pooled=pooled, effnet=effnet, return_dict=False)[0]
            ref = _official_stage_b_join(stage_b, x, t, pooled, effnet)
            theirs = StableCascadeUNet.forward(stage_b, x, t, clip_text_pooled=pooled, effnet=effnet, return_dict=False)[0]
        assert torch.equal(got, ref)
        assert not torch.equal(theirs, ref)  # diffusers' forward adds both terms in bf16
    with torch.no_grad():  # in float32 the lifts are no-ops: diffusers' own result
        stage_b.float()
        assert torch.equal(stage_b(x, t, clip_text_pooled=pooled, effnet=effnet.float(), return_dict=False)[0],
                           StableCascadeUNet.forward(stage_b, x, t, clip_text_pooled=pooled, effnet=effnet.float(),
                                                     return_dict=False)[0])


def test_stage_b_resizes_are_the_eager_kernel_compiled_or_not():
    """Stage B's bilinear resizes are one opaque op: the eager kernel's bits under autocast, and the
    same bits compiled (AOT autograd decomposes a plain `F.interpolate` into ops that round differently)."""
    import torch._dynamo

    from ultrabench.ultrapixel.stage_b import bilinear_resize

    z = torch.randn(2, 16, 10, 11, generator=torch.Generator().manual_seed(0)) * 3
    plain = torch.compile(lambda q: nn.functional.interpolate(q, (98, 114), mode="bilinear", align_corners=True),
                          fullgraph=True, backend="aot_eager")
    ours = torch.compile(lambda q: bilinear_resize(q, 98, 114), fullgraph=True, backend="aot_eager")
    try:
        for dtype in (torch.float32, torch.bfloat16):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                ref = nn.functional.interpolate(z.to(dtype), (98, 114), mode="bilinear", align_corners=True)
                assert torch.equal(bilinear_resize(z.to(dtype), 98, 114), ref) and ref.dtype == dtype
                assert torch.equal(ours(z.to(dtype)), ref)
                if dtype == torch.float32:
                    assert not torch.equal(plain(z), ref)  # why the op is opaque
    finally:
        torch._dynamo.reset()

def test_lr_tokens_are_projected_from_contiguous_patches_under_bf16_autocast():
    from ultrabench.ultrapixel.guidance import LRTokenizer

    torch.manual_seed(0)
    tok = LRTokenizer(32, 1024).to(torch.bfloat16)
    f = torch.randn(1, 32, 22, 26).repeat(2, 1, 1, 1).bfloat16()  # the conditional half, repeated for CFG
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got = tok(f)
        # the released ImgrecTokenizer, restated: unfold 1x1 patches, permute, contiguous, Linear
        patches = nn.functional.unfold(f, 1).permute(0, 2, 1).contiguous()
        ref = tok.prefc(patches) + tok.posemb[: patches.shape[1]].unsqueeze(0)
    assert torch.equal(got, ref)


def test_ultrapixel_declares_the_licences_of_its_weights():
    from ultrabench.methods.registry import method_licence
    from ultrabench.ultrapixel.method import UltraPixel

    lic = method_licence(UltraPixel)
    assert "Apache-2.0" in lic and "Stability AI Non-Commercial" in lic and "AGPL" not in lic


# -- the text stack ----------------------------------------------------------------------------------------


def test_a_tokenizer_that_pads_differently_is_refused(tmp_path):
    from ultrabench.tiny.tokenizer import write_clip_tokenizer_files
    from ultrabench.ultrapixel.build import WeightPaths, build_from_files
    from ultrabench.ultrapixel.configs import tiny_config
    from ultrabench.ultrapixel.text_stack import TokenizerMismatchError

    openai_style = write_clip_tokenizer_files(tmp_path / "pads-with-end")  # as stable-cascade's tokenizer/
    laion_style = write_clip_tokenizer_files(tmp_path / "pads-with-bang", pad_token="!")
    absent = tmp_path / "absent.safetensors"
    with pytest.raises(TokenizerMismatchError) as err:
        build_from_files(WeightPaths(absent, absent, absent, absent, openai_style, openai_style), tiny_config())
    msg = str(err.value)
    assert "\n" not in msg and "position 2: 49407 instead of 0, a padding position" in msg
    assert "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k" in msg
    # a LAION-style folder (what the official repository holds) passes
    from transformers import AutoTokenizer

    from ultrabench.ultrapixel.text_stack import check_tokenizer

    check_tokenizer(AutoTokenizer.from_pretrained(str(laion_style)), str(laion_style))


def test_the_text_stack_defaults_to_the_official_repository():
    from ultrabench.ultrapixel.method import UltraPixel

    clip = {w.role: w for w in UltraPixel().weight_files()}["clip_text_g"]
    assert clip.repo_id == "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"
    assert not any("open_clip" in p for p in clip.allow_patterns)


# -- the official noise mode -------------------------------------------------------------------------------


def test_skip_words_matches_drawing_them():
    from ultrabench.ultrapixel.official_noise import skip_words

    a, b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    skip_words(a, 5_000_017)
    torch.empty(5_000_017).uniform_(generator=b)  # a float32 uniform_ takes one word per element
    assert torch.equal(a.get_state(), b.get_state())


def _replay_official_script(seed: int, image_index: int, shapes: dict, steps: int, decoder_steps: int):
    """test_t2i.py's draws on a CPU, replayed independently: the global generator seeded, then modules
    that draw what the official ones draw built in the script's order, then earlier images' noise."""
    import torchvision

    def effnet():  # modules/effnet.py: torchvision's efficientnet_v2_s().features + a 1x1 conv
        torchvision.models.efficientnet_v2_s()
        nn.Conv2d(1280, 16, 1, bias=False)

    def xavier(*shape):
        nn.init.xavier_uniform_(torch.empty(*shape))

    def init_wb(rows, cols):  # inr_fea_res_lite.init_wb
        nn.init.kaiming_uniform_(torch.empty(cols, rows - 1), a=math.sqrt(5))
        torch.empty(cols, 1).uniform_(-1, 1)

    transinr_weights = [(1024, 2048, 1, 1), (1024, 1024), (1024, 1024), (2048, 1024), (1024, 1024), (1024, 1024),
                        (256, 1024), (1024, 1024), (2048, 1024, 1, 1), (4096, 64), (4096, 64), (2048, 2048, 1, 1),
                        (2048, 2048, 1, 1), (512, 4096), (2048, 512)]

    torch.manual_seed(seed)
    # WurstCore_t2i.setup_models
    effnet()
    nn.Sequential(nn.Conv2d(16, 512, 1), nn.Conv2d(512, 512, 3), nn.ConvTranspose2d(512, 256, 2, 2),
                  nn.Conv2d(256, 256, 3), nn.ConvTranspose2d(256, 128, 2, 2), nn.Conv2d(128, 128, 3),
                  nn.ConvTranspose2d(128, 128, 2, 2), nn.Conv2d(128, 128, 3), nn.Conv2d(128, 3, 1))  # previewer
    # StageC() on the meta device draws nothing; _init_extra_parameter builds 4 TransInr_withnorm ...
    for _ in range(4):
        nn.Conv2d(2048, 1024, 1)
        nn.Linear(1024, 1024)
        torch.randn(1024, 1024)
        init_wb(257, 1024)
        nn.Linear(1024, 256)
        init_wb(1025, 1024)
        nn.Linear(1024, 1024)
        torch.randn(128, 1024)
        nn.Conv2d(1024, 2048, 1)
        nn.Conv2d(2048, 2048, 1)
        nn.Conv2d(2048, 2048, 1)
        for shape in transinr_weights:  # the block's own apply(_init_weights)
            xavier(*shape)
    for _ in range(16):  # ... and 16 ScaleNormalize_res
        nn.Conv2d(2048, 2048, 1)
        nn.Conv2d(2048, 2048, 1)
    for _ in range(4):  # agg_net.apply / agg_net_up.apply
        for shape in transinr_weights:
            xavier(*shape)
    for _ in range(16):  # norm_up_blocks.apply / norm_down_blocks.apply
        for shape in ((4096, 64), (2048, 2048, 1, 1), (2048, 2048, 1, 1)):
            xavier(*shape)
    # CLIP from_pretrained with transformers 4.44: text projection, vision class embedding, vision projection
    torch.empty(1280, 1280).normal_()
    torch.randn(1024)
    torch.empty(768, 1024).normal_()
    # WurstCoreB.setup_models: effnet again, Stage A (StageB on the meta device draws nothing)
    effnet()

    def res_block(c):
        layers = [nn.Conv2d(c, c, 3, groups=c), nn.Linear(c, 4 * c), nn.Linear(4 * c, c)]
        for m in layers:
            nn.init.xavier_uniform_(m.weight)

    nn.Conv2d(12, 192, 1)
    res_block(192)
    nn.Conv2d(192, 384, 4, 2, 1)
    res_block(384)
    nn.Conv2d(384, 4, 1, bias=False)
    nn.Embedding(8192, 4).weight.data.uniform_(-1 / 8192, 1 / 8192)
    nn.Conv2d(4, 384, 1)
    for _ in range(12):
        res_block(384)
    nn.ConvTranspose2d(384, 192, 4, 2, 1)
    res_block(192)
    nn.Conv2d(192, 12, 1)
    # images before this one: each draws HR, LR, the steps' noise (CPU device), Stage B's latent and steps
    for _ in range(image_index):
        torch.randn(shapes["hr"]), torch.randn(shapes["lr"])
        for shape in [shapes["lr"]] * steps + [shapes["hr"]] * steps:
            torch.randn_like(torch.empty(shape))
        torch.randn(shapes["b"])
        for _ in range(decoder_steps):
            torch.randn_like(torch.empty(shapes["b"]))
    hr, lr = torch.randn(shapes["hr"]), torch.randn(shapes["lr"])
    return hr, lr, torch.randn(shapes["lr"])  # the first LR step's noise on a CPU


@pytest.mark.slow
def test_official_noise_mode_equals_an_independent_replay_of_the_script():
    from ultrabench.resolution import Resolution
    from ultrabench.ultrapixel.method import TinyUltraPixel
    from ultrabench.ultrapixel.official_noise import official_noise_source

    shapes = {"hr": (1, 16, 2, 2), "lr": (1, 16, 24, 24), "b": (1, 4, 16, 16)}  # 64 x 64
    saved = torch.random.get_rng_state()
    try:
        want_hr, want_lr, want_step = _replay_official_script(77, 2, shapes, steps=2, decoder_steps=2)
    finally:
        torch.random.set_rng_state(saved)
    src = official_noise_source(77, 2, "cpu", shapes, steps=2, decoder_steps=2)
    assert torch.equal(src.initial(shapes["hr"]), want_hr)
    assert torch.equal(src.initial(shapes["lr"]), want_lr)
    assert torch.equal(src.step(want_lr), want_step)

    # through the method: the unit's sample index is the script's image number, and it is recorded
    m = TinyUltraPixel({"noise": "official", "official_seed": 77, "steps": 2, "decoder_steps": 2})
    m.load()
    seen = {}
    generate = m._pipe.generate

    def spy(*a, noise=None, **k):
        seen["hr"] = noise.initial(shapes["hr"])
        return generate(*a, noise=official_noise_source(77, 2, "cpu", shapes, 2, 2), **k)

    m._pipe.generate = spy
    unit = SimpleNamespace(prompt="a lighthouse", seed=123456, sample_index=2)
    img = m.generate_units([unit], Resolution(64, 64))[0]
    assert torch.equal(seen["hr"], want_hr)
    assert img.info["noise"] == "official" and img.info["official_image_index"] == 2
    assert img.info["official_seed"] == 77 and m.recorded_settings()["noise"] == "official"


def test_per_unit_noise_stays_the_default():
    from ultrabench.errors import UsageError
    from ultrabench.resolution import Resolution
    from ultrabench.ultrapixel.method import TinyUltraPixel, UltraPixel

    assert UltraPixel().recorded_settings()["noise"] == TinyUltraPixel().recorded_settings()["noise"] == "per-unit"
    with pytest.raises(UsageError, match="noise 'script' is not one of per-unit, official"):
        TinyUltraPixel({"noise": "script"}).generate(["x"], [1], Resolution(64, 64))
