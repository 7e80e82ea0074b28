"""FD-DINOv2 features: the torch.hub and transformers layouts, dgm-eval's preprocessing, and equality
with torch-fidelity's DINOv2 extractor.

The torch-fidelity comparison needs the torch.hub `facebookresearch/dinov2` code, which is not a
dependency. `test_matches_torch_fidelity_golden` holds values recorded once from it with
tests/golden/record_dinov2_golden.py (torch-fidelity 0.4.0, facebookresearch/dinov2 at b8931f7,
float32 on CPU): the weights of `golden_state_dict()` loaded into the hub's DinoVisionTransformer at
this reduced size, and `golden_images()` through `FeatureExtractorDinoV2.forward`. With a checkout at
DINOV2_HUB_CHECKOUT, `test_matches_torch_fidelity_live` reruns that comparison.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ultrabench.metrics.extractors import dinov2 as dv

GOLDEN = Path(__file__).parent / "golden" / "dinov2_torch_fidelity.json"
CHECKOUT = os.environ.get("DINOV2_HUB_CHECKOUT")


def golden_state_dict(seed: int = 1234) -> dict:
    """Hub-layout weights of the STANDIN architecture from numpy's generator (stable across torch versions)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, v in dv.DinoViT(dv.STANDIN).state_dict().items():
        shape = tuple(v.shape)
        if k.endswith("gamma"):
            a = rng.uniform(0.5, 1.0, shape)
        elif k.endswith("norm1.weight") or k.endswith("norm2.weight") or k == "norm.weight":
            a = 1.0 + 0.2 * rng.standard_normal(shape)
        elif len(shape) >= 2 and "token" not in k and k != "pos_embed":
            a = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
        else:
            a = rng.standard_normal(shape) * (0.05 if k.endswith("bias") else 0.5)
        out[k] = torch.from_numpy(a.astype(np.float32))
    return out


def golden_images() -> np.ndarray:
    """(3, 224, 224, 3) uint8: noise, a colour ramp, a checkerboard."""
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:224, 0:224]
    ramp = np.stack([xx, yy, (xx + yy) // 2], -1).astype(np.uint8)
    check = np.where(((yy // 28 + xx // 28) % 2)[..., None] == 1, [230, 40, 90], [20, 200, 60]).astype(np.uint8)
    return np.stack([noise, ramp, check])


def _hub_to_hf(sd: dict, depth: int) -> dict:
    """Inverse of the conversion, written from the transformers names independently of the module."""
    out = {"embeddings.cls_token": sd["cls_token"], "embeddings.mask_token": sd["mask_token"],
           "embeddings.position_embeddings": sd["pos_embed"],
           "embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
           "embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
           "layernorm.weight": sd["norm.weight"], "layernorm.bias": sd["norm.bias"]}
    for i in range(depth):
        b, h = f"blocks.{i}.", f"encoder.layer.{i}."
        for kind in ("weight", "bias"):
            q, k, v = sd[b + f"attn.qkv.{kind}"].chunk(3)
            out.update({h + f"attention.attention.query.{kind}": q, h + f"attention.attention.key.{kind}": k,
                        h + f"attention.attention.value.{kind}": v,
                        h + f"attention.output.dense.{kind}": sd[b + f"attn.proj.{kind}"],
                        h + f"norm1.{kind}": sd[b + f"norm1.{kind}"], h + f"norm2.{kind}": sd[b + f"norm2.{kind}"],
                        h + f"mlp.fc1.{kind}": sd[b + f"mlp.fc1.{kind}"], h + f"mlp.fc2.{kind}": sd[b + f"mlp.fc2.{kind}"]})
        out[h + "layer_scale1.lambda1"] = sd[b + "ls1.gamma"]
        out[h + "layer_scale2.lambda1"] = sd[b + "ls2.gamma"]
    return {k: v.contiguous() for k, v in out.items()}


def _hf_folder(d: Path, sd: dict, arch: dv.DinoArch) -> Path:
    from transformers import Dinov2Config, Dinov2Model

    cfg = Dinov2Config(hidden_size=arch.embed_dim, num_hidden_layers=arch.depth, num_attention_heads=arch.heads,
                       patch_size=arch.patch, image_size=arch.img_size, mlp_ratio=int(arch.mlp_ratio))
    m = Dinov2Model(cfg)
    missing, unexpected = m.load_state_dict(_hub_to_hf_in_memory(m, sd, arch.depth), strict=False)
    assert not missing and not unexpected
    m.save_pretrained(d)  # the on-disk names transformers publishes (attention.attention.query, ...)
    return d


def _hub_to_hf_in_memory(m, sd, depth):
    # transformers >= 5 names the projections q_proj/k_proj/v_proj/o_proj in memory and maps them back on save
    disk = _hub_to_hf(sd, depth)
    names = set(m.state_dict())
    if "encoder.layer.0.attention.attention.query.weight" in names:
        return disk
    ren = {"attention.attention.query": "attention.q_proj", "attention.attention.key": "attention.k_proj",
           "attention.attention.value": "attention.v_proj", "attention.output.dense": "attention.o_proj"}
    out = {}
    for k, v in disk.items():
        for a, b in ren.items():
            k = k.replace(a, b)
        out[k] = v
    return out


def _dgm_eval_transform(img: Image.Image) -> torch.Tensor:
    """dgm-eval's DINOv2Encoder.transform (default, no clean_resize), restated with torchvision."""
    import torchvision.transforms as T

    return T.Compose([T.Resize((224, 224), T.InterpolationMode.BICUBIC), T.ToTensor(),
                      T.Normalize(dv.IMAGENET_MEAN, dv.IMAGENET_STD)])(img)


# --------------------------------------------------------------------------------------------
def test_vitl14_hub_layout_has_every_key_of_the_published_file():
    with torch.device("meta"):
        sd = dv.DinoViT(dv.VITL14).state_dict()
    # dinov2_vitl14_pretrain.pth: 7 top-level tensors + 14 per block, 24 blocks, no head, no registers
    assert len(sd) == 7 + 24 * 14
    assert tuple(sd["pos_embed"].shape) == (1, 37 * 37 + 1, 1024)
    assert tuple(sd["patch_embed.proj.weight"].shape) == (1024, 3, 14, 14)
    assert tuple(sd["blocks.23.attn.qkv.weight"].shape) == (3072, 1024)
    assert tuple(sd["blocks.0.mlp.fc1.weight"].shape) == (4096, 1024)
    assert tuple(sd["blocks.0.ls2.gamma"].shape) == (1024,) and tuple(sd["mask_token"].shape) == (1, 1024)
    assert sum(v.numel() for v in sd.values()) == 304_368_640


def test_hf_checkpoint_keys_are_all_consumed_and_extra_keys_refused(tmp_path):
    from safetensors.torch import load_file

    sd = golden_state_dict()
    d = _hf_folder(tmp_path / "hf", sd, dv.STANDIN)
    disk = load_file(str(d / "model.safetensors"))
    assert "encoder.layer.1.attention.attention.value.weight" in disk
    hub = dv.hub_state_dict_from_hf(disk, dv.STANDIN.depth)
    assert set(hub) == set(sd) and all(torch.equal(hub[k], sd[k]) for k in sd)
    with pytest.raises(ValueError, match="unexpected keys"):
        dv.hub_state_dict_from_hf({**disk, "pooler.dense.weight": torch.zeros(1)}, dv.STANDIN.depth)
    with pytest.raises(KeyError):
        dv.hub_state_dict_from_hf({k: v for k, v in disk.items() if "layer_scale2" not in k}, dv.STANDIN.depth)
    from safetensors.torch import save_file

    from ultrabench.errors import UsageError

    save_file({k: v for k, v in disk.items() if "layer_scale2" not in k}, str(d / "model.safetensors"))
    with pytest.raises(UsageError, match="not a transformers Dinov2Model checkpoint.*layer_scale2") as e:
        dv.DinoV2Extractor.from_files(d)
    assert "\n" not in str(e.value)


def test_both_layouts_load_to_identical_features(tmp_path):
    sd = golden_state_dict()
    pth = tmp_path / "hub.pth"
    torch.save(sd, pth)
    hub = dv.DinoV2Extractor.from_files(pth, arch=dv.STANDIN)
    hf = dv.DinoV2Extractor.from_files(_hf_folder(tmp_path / "hf", sd, dv.STANDIN))
    imgs = list(golden_images())
    a, b = hub.image_features(imgs), hf.image_features(imgs)
    assert a.shape == (3, 64) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert hub.layout == "torch.hub state dict" and hf.layout == "transformers Dinov2Model folder"
    assert hub.weights_sha256 != hf.weights_sha256


def test_hf_folder_equals_transformers_on_the_native_grid_and_differs_by_the_offset_at_224(tmp_path):
    from transformers import Dinov2Model

    d = _hf_folder(tmp_path / "hf", golden_state_dict(), dv.STANDIN)
    ours = dv.DinoV2Extractor.from_files(d).module
    ref = Dinov2Model.from_pretrained(d).eval()
    rng = np.random.default_rng(3)
    x518 = torch.from_numpy(rng.standard_normal((2, 3, 518, 518)).astype(np.float32))
    x224 = x518[:, :, :224, :224].contiguous()
    with torch.no_grad():
        np.testing.assert_allclose(ours(x518).numpy(), ref(pixel_values=x518).pooler_output.numpy(), rtol=1e-4, atol=1e-5)
        gap = (ours(x224) - ref(pixel_values=x224).pooler_output).abs().max().item()
    # transformers resizes the 37x37 grid to exactly 16x16; the hub code samples at scale 16.1/37
    assert gap > 1e-4


def test_preprocessing_is_dgm_evals_for_full_images_and_299_crops(tmp_path):
    from ultrabench.scoring.views import resize_square as square

    ex = dv.DinoV2Extractor.standin(tmp_path)
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 256, (384, 512, 3), dtype=np.uint8))
    crop = rng.integers(0, 256, (299, 299, 3), dtype=np.uint8)
    view = square(big)
    assert view.shape == (224, 224, 3) and view.dtype == np.uint8
    ref_in = torch.stack([_dgm_eval_transform(big), _dgm_eval_transform(Image.fromarray(crop))])
    np.testing.assert_allclose(ex.preprocess([view, crop]).numpy(), ref_in.numpy(), rtol=0, atol=1e-6)
    with torch.no_grad():
        ref = ex.module(ref_in).double().numpy()
    np.testing.assert_allclose(ex.image_features([view, crop]), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        ex.image_features([view.astype(np.float32)])


def test_standin_file_is_stable_and_loads_through_from_files(tmp_path):
    a = dv.DinoV2Extractor.standin(tmp_path)
    p = dv.standin_dinov2_file(tmp_path)
    b = dv.DinoV2Extractor.standin(tmp_path)
    assert a.random_weights and a.weights_sha256 == b.weights_sha256 and p.is_file()
    info = a.info()
    assert info["id"] == "dinov2:vit-d64x2-p14" and "PIL bicubic" in info["input"]
    assert "TF1 bilinear" in info["differs_from_torch_fidelity"]
    f = a.image_features(list(golden_images()))
    assert np.isfinite(f).all() and f.std(axis=0).mean() > 0.05  # images are told apart
    sd = torch.load(p, weights_only=True)
    assert set(sd) == set(dv.DinoViT(dv.STANDIN).state_dict())


def test_matches_torch_fidelity_golden(tmp_path):
    rec = json.loads(GOLDEN.read_text())
    pth = tmp_path / "golden.pth"
    torch.save(golden_state_dict(rec["seed"]), pth)
    ours = dv.DinoV2Extractor.from_files(pth, arch=dv.STANDIN).image_features(list(golden_images()))
    ref = np.asarray(rec["features"])
    assert ref.shape == ours.shape == (3, 64)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parity
@pytest.mark.skipif(not CHECKOUT, reason="set DINOV2_HUB_CHECKOUT to a facebookresearch/dinov2 checkout")
def test_matches_torch_fidelity_live(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("rec", GOLDEN.parent / "record_dinov2_golden.py")
    rec = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rec)
    ref = rec.torch_fidelity_features(CHECKOUT, golden_state_dict(), golden_images())
    pth = tmp_path / "w.pth"
    torch.save(golden_state_dict(), pth)
    ours = dv.DinoV2Extractor.from_files(pth, arch=dv.STANDIN).image_features(list(golden_images()))
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


# --------------------------------------------------------------------------------------------
# resolving the weights
def test_missing_weights_is_one_line_naming_both_places(tmp_path, monkeypatch):
    from ultrabench.errors import MissingWeightsError
    from ultrabench.weights import WeightResolver

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(MissingWeightsError) as e:
        dv.load(WeightResolver())
    msg = str(e.value)
    assert "\n" not in msg and dv.HUB_FILENAME in msg and dv.HF_REPO in msg and dv.HUB_URL in msg


def test_hub_file_is_found_where_torch_hub_keeps_it_and_a_wrong_file_is_named(tmp_path, monkeypatch):
    from ultrabench.errors import UsageError
    from ultrabench.weights import WeightResolver

    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    ck = tmp_path / "torch" / "hub" / "checkpoints" / dv.HUB_FILENAME
    ck.parent.mkdir(parents=True)
    torch.save(golden_state_dict(), ck)  # the stand-in size under the real name: not a ViT-L/14
    with pytest.raises(UsageError, match="not the DINOv2 ViT-L/14 hub file"):
        dv.load(WeightResolver())


def test_hf_repo_is_loaded_from_the_hub_cache(tmp_path, monkeypatch):
    from ultrabench.weights import WeightResolver

    commit = "0123456789abcdef0123456789abcdef01234567"
    hub = tmp_path / "hub"
    repo = hub / f"models--{dv.HF_REPO.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("ULTRABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub))
    _hf_folder(repo / "snapshots" / commit, golden_state_dict(), dv.STANDIN)
    ex = dv.load(WeightResolver())
    assert ex.layout == "transformers Dinov2Model folder" and not ex.random_weights
    assert ex.image_features(list(golden_images()[:1])).shape == (1, 64)
