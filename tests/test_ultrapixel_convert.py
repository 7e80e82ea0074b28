import pytest

torch = pytest.importorskip("torch")

from ultrabench.ultrapixel import convert  # noqa: E402
from ultrabench.ultrapixel.build import _stage_a, _stage_b, _stage_c  # noqa: E402
from ultrabench.ultrapixel.configs import GuidanceConfig, tiny_config  # noqa: E402
from ultrabench.ultrapixel.guidance import guidance_parameter_count  # noqa: E402


def to_official_unet(state):
    """Our (diffusers) layout -> the StableCascade file layout: fuse q/k/v, `to_out.0` -> `attn.out_proj`."""
    out = {}
    for k, v in state.items():
        if ".to_q." in k:
            kind = k.rsplit(".", 1)[1]
            stem = k[: -len(f"to_q.{kind}")]
            out[f"{stem}attn.in_proj_{kind}"] = torch.cat(
                [v, state[f"{stem}to_k.{kind}"], state[f"{stem}to_v.{kind}"]], dim=0
            )
        elif ".to_k." in k or ".to_v." in k:
            continue
        elif ".to_out.0." in k:
            out[k.replace("to_out.0.", "attn.out_proj.")] = v
        else:
            out[k] = v
    return out


def official_ultrapixel(stage_c_state):
    """Keys as in ultrapixel_t2i.safetensors: module.64.L.* (encoder), module.65.L.* (decoder)."""
    out = {}
    for k, v in stage_c_state.items():
        if k.startswith("agg_net_up."):
            out["module.65." + k[len("agg_net_up.") :]] = v
        elif k.startswith("agg_net."):
            out["module.64." + k[len("agg_net.") :]] = v
    return out


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = tiny_config()
    return cfg, _stage_c(cfg)


def test_official_parameter_count():
    assert 4 * guidance_parameter_count(GuidanceConfig()) == 105_524_224


def test_stage_c_and_ultrapixel_load_strictly(tiny):
    cfg, model = tiny
    src = {k: v.clone() + 1 for k, v in model.state_dict().items()}
    base = to_official_unet({k: v for k, v in src.items() if not convert.is_guidance_key(k)})
    assert any(k.endswith("attn.in_proj_weight") for k in base)
    assert not any(".to_q." in k for k in base)
    up = official_ultrapixel(src)
    assert any(k.startswith("module.64.1.") for k in up) and any(k.startswith("module.65.0.") for k in up)
    fresh = _stage_c(cfg)
    convert.load_strict(fresh, convert.convert_stage_c(base), "Stage C", only=lambda k: not convert.is_guidance_key(k))
    convert.load_strict(fresh, convert.convert_ultrapixel(up), "UltraPixel", only=convert.is_guidance_key)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, src[k]), k


def test_in_proj_split_matches_diffusers_conversion(tiny):
    _, model = tiny
    base = to_official_unet({k: v for k, v in model.state_dict().items() if not convert.is_guidance_key(k)})
    from diffusers.loaders.single_file_utils import convert_stable_cascade_unet_single_file_to_diffusers

    ref = convert_stable_cascade_unet_single_file_to_diffusers(dict(base))
    ours = convert.convert_stage_c(base)
    assert set(ref) == set(ours)
    assert all(torch.equal(ref[k], ours[k]) for k in ref)


def test_missing_and_unexpected_keys_are_named(tiny):
    cfg, model = tiny
    up = official_ultrapixel(model.state_dict())
    missing = dict(up)
    del missing["module.65.1.toout.0.weight"]
    with pytest.raises(convert.CheckpointMismatchError, match=r"missing 1 key\(s\): agg_net_up\.1\.toout\.0\.weight"):
        convert.load_strict(_stage_c(cfg), convert.convert_ultrapixel(missing), "UltraPixel", only=convert.is_guidance_key)
    extra = dict(up)
    extra["module.64.0.bogus.weight"] = torch.zeros(1)
    with pytest.raises(convert.CheckpointMismatchError, match=r"unexpected 1 key\(s\): agg_net\.0\.bogus\.weight"):
        convert.load_strict(_stage_c(cfg), convert.convert_ultrapixel(extra), "UltraPixel", only=convert.is_guidance_key)
    with pytest.raises(convert.CheckpointMismatchError, match="module.3.norm"):
        convert.convert_ultrapixel({"module.3.norm.weight": torch.zeros(1)})
    bad = {k: v for k, v in model.state_dict().items() if not convert.is_guidance_key(k)}
    bad["clf.1.weight"] = torch.zeros(3)
    with pytest.raises(convert.CheckpointMismatchError, match="shape mismatch.*clf.1.weight"):
        convert.load_strict(_stage_c(cfg), bad, "Stage C", only=lambda k: not convert.is_guidance_key(k))


def test_stage_b_and_stage_a_official_layout():
    cfg = tiny_config()
    b = _stage_b(cfg)
    state = to_official_unet(b.state_dict())
    state = {k.replace("clip_txt_pooled_mapper.", "clip_mapper."): v for k, v in state.items()}
    convert.load_strict(_stage_b(cfg), convert.convert_stage_b(state), "Stage B")
    a = _stage_a(cfg)
    sa = {("vquantizer.codebook.weight" if k == "vquantizer.embedding.weight" else k): v for k, v in a.state_dict().items()}
    convert.load_strict(_stage_a(cfg), convert.convert_stage_a(sa), "Stage A")


def test_read_state_dict_pickle_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    sd = {"module.64.0.wtokens": torch.randn(2, 3, dtype=torch.bfloat16)}
    pkl = tmp_path / "ultrapixel_t2i.safetensors"  # a pickle under a .safetensors name, like the release
    torch.save(sd, pkl)
    assert torch.equal(convert.read_state_dict(pkl)["module.64.0.wtokens"], sd["module.64.0.wtokens"])
    real = tmp_path / "real.safetensors"
    save_file(sd, str(real))
    assert torch.equal(convert.read_state_dict(real)["module.64.0.wtokens"], sd["module.64.0.wtokens"])


def test_diffusers_format_folders_load_strictly(tmp_path):
    """The diffusers repos (prior/, decoder_lite/, vqgan/, sharded) plus the UltraPixel file."""
    from safetensors.torch import save_file

    from ultrabench.tiny.tokenizer import write_clip_tokenizer_files
    from ultrabench.ultrapixel.build import WeightPaths, _text_model_from_config, build_from_files

    cfg = tiny_config()
    torch.manual_seed(1)
    c, b, a, text = _stage_c(cfg), _stage_b(cfg), _stage_a(cfg), _text_model_from_config(cfg)
    prior = tmp_path / "prior"
    prior.mkdir()
    base = [(k, v.contiguous()) for k, v in c.state_dict().items() if not convert.is_guidance_key(k)]
    half = len(base) // 2  # two shards, as the real prior/ folder has several
    save_file(dict(base[:half]), str(prior / "diffusion_pytorch_model-00001-of-00002.safetensors"))
    save_file(dict(base[half:]), str(prior / "diffusion_pytorch_model-00002-of-00002.safetensors"))
    torch.save(official_ultrapixel(c.state_dict()), tmp_path / "ultrapixel_t2i.safetensors")  # a pickle, as released
    b.save_pretrained(tmp_path / "decoder_lite", max_shard_size="200KB")
    a.save_pretrained(tmp_path / "vqgan")
    text.save_pretrained(tmp_path / "text_encoder")
    write_clip_tokenizer_files(tmp_path / "tokenizer", pad_token="!")  # pads like the official (LAION) one
    assert len(list((tmp_path / "decoder_lite").glob("*.safetensors"))) > 1
    models = build_from_files(
        WeightPaths(prior, tmp_path / "decoder_lite", tmp_path / "vqgan", tmp_path / "ultrapixel_t2i.safetensors",
                    tmp_path / "text_encoder", tmp_path / "tokenizer"), cfg, dtype=torch.float32)
    for got, want in ((models.stage_c, c), (models.stage_b, b), (models.stage_a, a)):
        ref = want.state_dict()
        assert set(got.state_dict()) == set(ref)
        assert all(torch.equal(v, ref[k]) for k, v in got.state_dict().items())


def test_diffusers_layout_names_the_repo_folders():
    from ultrabench.errors import UsageError
    from ultrabench.ultrapixel.method import UltraPixel

    files = {wf.role: wf for wf in UltraPixel({"layout": "diffusers"}).weight_files()}
    assert files["stage_c"].repo_id == "stabilityai/stable-cascade-prior" and files["stage_c"].allow_patterns == ("prior/*",)
    assert files["stage_b_lite"].allow_patterns == ("decoder_lite/*",) and files["stage_a"].allow_patterns == ("vqgan/*",)
    # refused when the method is built (and so when the spec loads), before any file is looked for
    with pytest.raises(UsageError, match="setting layout = 'both' is not one of 'official', 'diffusers'"):
        UltraPixel({"layout": "both"})


def test_a_diffusers_folder_with_two_variants_reads_one(tmp_path):
    from safetensors.torch import save_file

    from ultrabench.errors import UltrabenchError
    from ultrabench.ultrapixel import convert

    w = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 3
    folder = tmp_path / "prior"
    folder.mkdir()
    # the default (fp32) weights in two shards, the bf16 variant in one, as the hub repos lay them out
    save_file({"a": w}, folder / "diffusion_pytorch_model-00001-of-00002.safetensors")
    save_file({"b": w}, folder / "diffusion_pytorch_model-00002-of-00002.safetensors")
    save_file({"a": w.bfloat16(), "b": w.bfloat16()}, folder / "diffusion_pytorch_model.bf16.safetensors")
    bf16 = convert.read_state_dict(folder, ("bf16", None))
    assert {k: v.dtype for k, v in bf16.items()} == {"a": torch.bfloat16, "b": torch.bfloat16}
    full = convert.read_state_dict(folder, (None, "bf16"))
    assert {k: v.dtype for k, v in full.items()} == {"a": torch.float32, "b": torch.float32}
    assert torch.equal(full["a"], w)  # not overwritten by the rounded copy that sorts after it
    for p in folder.glob("diffusion_pytorch_model-*"):
        p.rename(p.with_name(p.name.replace("model-", "model.ema-")))
    with pytest.raises(UltrabenchError, match=r"several weight variants \(bf16, ema\); none of \(none\)"):
        convert.read_state_dict(folder, (None,))
